"""The report page: one self-contained HTML file (PNG figures inline as base64, the CSS and
the few lines of script inline; no request to anything outside the file)."""

from __future__ import annotations

import base64
import html
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from seqtune.kinds import kind_text
from seqtune.report import figures
from seqtune.report.evaluation import ClassifyEval, ForecastEval, evaluate_export
from seqtune.report.missing import Unavailable
from seqtune.report.source import StudyData
from seqtune.search.records import counts

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1060px;
color:#222;padding:0 16px}
h1{margin-bottom:4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f4f4f4}
table.summary th{width:190px}
table.trials th{cursor:pointer;user-select:none}table.trials th:hover{background:#e6eefc}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#eaf6ea}
img{max-width:100%;height:auto;display:block;margin:8px 0}
p.left-out{color:#8a5a00;background:#fff8e6;border-left:3px solid #e0a800;padding:6px 10px}
.muted{color:#666;font-size:13px}code{background:#f4f4f4;padding:0 3px}
"""

# Sorting the trials table, and a note of how many images decoded (read by the tests
# through a headless browser's DOM dump: data-rendered = images with naturalWidth > 0).
SCRIPT = """
document.querySelectorAll('table.trials th').forEach(function(th, col){
  th.addEventListener('click', function(){
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
    function key(r){ var c = r.cells[col]; var v = c.dataset.v !== undefined ? c.dataset.v
      : c.textContent; var n = parseFloat(v); return (v !== '' && !isNaN(n)) ? n : v; }
    rows.sort(function(a, b){ var x = key(a), y = key(b);
      if (x === y) return 0; if (x === '') return 1; if (y === '') return -1;
      var t = typeof x === typeof y ? (x < y ? -1 : 1) : (typeof x === 'number' ? -1 : 1);
      return asc ? t : -t; });
    rows.forEach(function(r){ body.appendChild(r); });
  });
});
window.addEventListener('load', function(){
  var imgs = Array.prototype.slice.call(document.images);
  document.body.dataset.images = imgs.length;
  document.body.dataset.rendered = imgs.filter(function(i){ return i.naturalWidth > 0; }).length;
});
"""


class Page:
    """Sections of HTML, and the sentences saying what was left out and why."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.left_out: list[str] = []

    def add(self, text: str) -> None:
        self.parts.append(text)

    def figure(self, make: Callable[[], Figure], alt: str) -> bool:
        """The figure as an inline PNG, or the reason it is left out; True if drawn."""
        try:
            fig = make()
        except Unavailable as why:
            self.note(str(why))
            return False
        data = base64.b64encode(figures.png(fig)).decode("ascii")
        self.add(f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">')
        return True

    def note(self, sentence: str) -> None:
        self.left_out.append(sentence)
        self.add(f'<p class="left-out">{esc(sentence)}</p>')


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def build(data: StudyData) -> str:
    """The whole page for a study read by :func:`seqtune.report.source.read_study`."""
    page = Page()
    page.add(_header(data))
    page.add("<h2>Optimization history</h2>")
    page.figure(lambda: figures.history(data), "optimization history")
    page.add("<h2>Parameter importances</h2>")
    if page.figure(lambda: figures.importance(data), "parameter importances"):
        page.add(
            '<p class="muted">Optuna\'s PED-ANOVA evaluator: how much each parameter sets '
            "the best 10% of complete trials apart from the others (fANOVA, Optuna's "
            "default, needs scikit-learn and fits noise on a few dozen trials). Parameters "
            "that exist only in some trials (per-layer copies) are assessed where present.</p>"
        )
    page.add("<h2>Slices</h2>")
    page.figure(lambda: figures.slices(data), "objective against each searched parameter")
    page.add("<h2>Learning curves</h2>")
    page.figure(lambda: figures.curves(data), "learning curves of the best trials")
    page.add("<h2>Exported model on the test part</h2>")
    _test_section(page, data)
    page.add(f"<h2>All trials ({len(data.records)})</h2>")
    page.add(_trials_table(data))
    body = "\n".join(page.parts)
    left = ""
    if page.left_out:
        items = "".join(f"<li>{esc(s)}</li>" for s in page.left_out)
        left = f'<div class="muted"><b>Left out of this report:</b><ul>{items}</ul></div>'
    body = body.replace("<!--LEFT-OUT-->", left, 1)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>seqtune report · {esc(data.spec.study)}</title>"
        f"<style>{CSS}</style></head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n"
        "</body></html>\n"
    )


def _test_section(page: Page, data: StudyData) -> None:
    try:
        ev = evaluate_export(data)
    except Unavailable as why:
        page.note(str(why))
        return
    page.figure(lambda: figures.forecast(ev), "exported model on the test part")
    if isinstance(ev, ForecastEval):
        rows = "".join(
            f"<tr><td>{esc(name)}</td><td class=num>{s['rmse']:.4f}</td>"
            f"<td class=num>{s['mae']:.4f}</td></tr>"
            for name, s in ev.metrics.items()
        )
        page.add(
            "<table><thead><tr><th>forecast</th><th>RMSE</th><th>MAE</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
        if "seasonal naive" not in ev.predictions:
            page.add(
                '<p class="muted">Seasonal naive is left out: the spec sets no '
                "<code>data.period</code>.</p>"
            )
        if ev.baselines:
            _baselines_table(page, data, ev.baselines)
        if ev.horizon > 1:
            _steps_section(page, ev)
    elif isinstance(ev, ClassifyEval):
        rows = "".join(
            f"<tr><td>{esc(k)}</td><td class=num>{v:.4f}</td></tr>" for k, v in ev.metrics.items()
        )
        page.add(
            f"<table><thead><tr><th>test metric</th><th>value</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    if isinstance(ev, ForecastEval) and ev.combination:
        page.add(
            '<p class="muted">The model\'s forecast is a combination, its weights chosen on '
            f"the folds: {esc(ev.combination)} (best.yaml's <code>result.combination</code>)."
            "</p>"
        )
    stated = {k: v for k, v in ev.exported.items() if isinstance(v, int | float)}
    if stated:
        page.add(
            '<p class="muted">best.yaml\'s <code>result.test</code>: '
            + esc(", ".join(f"{k} {v:.6g}" for k, v in stated.items()))
            + " (the model row above is recomputed from best.keras the same way).</p>"
        )
    if isinstance(ev, ForecastEval) and ev.covered:
        page.add(
            '<p class="muted">Prediction intervals (split conformal, from the validation '
            "errors the export kept; <code>seqtune predict --level</code>): "
            + esc(
                ", ".join(
                    f"the {k} % interval covers {100 * v:.0f} % of the test part"
                    for k, v in ev.covered.items()
                )
            )
            + ".</p>"
        )


def _baselines_table(page: Page, data: StudyData, found: dict[str, Any]) -> None:
    """best.yaml's ``result.baselines``: each baseline's objective on the validation part
    (the folds' mean) and the test part, the seconds the statistical ones took to fit and
    filter, and the model each chose on the rows before the test part."""

    def cell(value: Any, fmt: str) -> str:
        return format(value, fmt) if isinstance(value, int | float) else ""

    rows = "".join(
        f"<tr><td>{esc(name.replace('_', ' '))}</td>"
        f"<td class=num>{cell(parts.get('val'), '.4f')}</td>"
        f"<td class=num>{cell(parts.get('test'), '.4f')}</td>"
        f"<td class=num>{cell(parts.get('seconds'), '.1f')}</td>"
        f"<td>{esc(parts.get('model', ''))}</td></tr>"
        for name, parts in found.items()
        if isinstance(parts, dict)
    )
    objective = esc(data.spec.objective.name)
    page.add(
        f"<table><thead><tr><th>baseline</th><th>{objective} (validation)</th>"
        "<th>test</th><th>seconds</th><th>model</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _steps_section(page: Page, ev: ForecastEval) -> None:
    """Over a horizon H > 1: each step's errors, as a figure and a table (test part for the
    model and the baselines, and the exported trial's validation errors per step)."""
    page.add(f"<h3>Errors by forecast step (h = 1..{ev.horizon})</h3>")
    page.figure(lambda: figures.steps(ev), "errors by forecast step")
    columns: list[tuple[str, Any]] = []
    for name, found in ev.by_step.items():
        for metric in ("rmse", "mae"):
            columns.append((f"{name} test {metric.upper()}", found[metric]))
    for metric in ("rmse", "mae"):
        if len(ev.val_by_step.get(metric, [])) == ev.horizon:
            columns.append((f"model val {metric.upper()}", ev.val_by_step[metric]))
    head = "".join(f"<th>{esc(title)}</th>" for title, _ in columns)
    rows = "".join(
        f"<tr><td class=num>{h + 1}</td>"
        + "".join(f"<td class=num>{float(values[h]):.4f}</td>" for _, values in columns)
        + "</tr>"
        for h in range(ev.horizon)
    )
    page.add(
        f"<table class=steps><thead><tr><th>h</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _header(data: StudyData) -> str:
    spec = data.spec
    from seqtune.study.lifecycle import make_backend

    budget = make_backend(data.path, spec, None).budget()  # reads the spec only
    n = counts(data.records)
    finished = sum(1 for r in data.records if r.counts_toward_budget)
    seconds = sum(r.seconds or 0.0 for r in data.records)
    searched = ", ".join(
        f"{d.name} {json.dumps(d.to_dict(), default=str)}" for d in _top_level_searched(data)
    )
    s = spec.search
    backend = s.backend + (
        f", pruner {s.pruner}"
        if s.backend != "hyperband"
        else f", factor {s.factor}, {s.hyperband_iterations} iteration(s)"
    )
    best = data.best
    rows = [
        (
            "data",
            f"{spec.data.csv_text} · target {spec.data.target} · task {spec.data.task}"
            + (f" · period {spec.data.period}" if spec.data.period else ""),
        ),
        ("model", f"{kind_text(spec)}, layout {spec.layout}"),
        ("searched parameters", searched or "none"),
        ("backend", backend),
        ("objective", f"{spec.objective.name} ({spec.objective.direction})"),
        (
            "budget",
            f"{finished}/{budget} trials finished · max_epochs {s.max_epochs} · "
            f"patience {s.patience}",
        ),
        ("trials", " · ".join(f"{k} {v}" for k, v in n.items())),
        ("wall time", _wall_time(data, seconds)),
        (
            "best",
            "none yet"
            if best is None
            else f"trial {best.number}: {spec.objective.name} = {best.value:.6g}",
        ),
        (
            "state",
            f"still running ({data.running_by}): a snapshot as of now"
            if data.running_by
            else "not running",
        ),
    ]
    table = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    when = time.strftime("%Y-%m-%d %H:%M")
    return (
        f"<h1>{esc(spec.study)}</h1><p class=muted>seqtune report of {esc(data.path)}, "
        f"made {esc(when)}</p><table class=summary>{table}</table><!--LEFT-OUT-->"
    )


def _top_level_searched(data: StudyData) -> list[Any]:
    from seqtune.spaces.domains import Fixed

    space = data.spec.space
    return [space[name] for name in space.names if not isinstance(space[name], Fixed)]


def _wall_time(data: StudyData, seconds: float) -> str:
    """From the first trial's start to the last one's end (Optuna keeps both), beside the
    trials' own seconds (which leave out start-up, export, workers' overlap); Hyperband
    keeps no timestamps: the sum, said so."""
    trials = getattr(data, "optuna_trials", None) or []
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    if starts and ends:
        wall = (max(ends) - min(starts)).total_seconds()
        return (
            f"{_duration(wall)} (first trial's start to last trial's end; the trials' own "
            f"seconds sum to {_duration(seconds)})"
        )
    return f"{_duration(seconds)} (sum of the trials' seconds: no timestamps are kept)"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {sec:02d} s"


def _trials_table(data: StudyData) -> str:
    best = data.best
    head = (
        "trial",
        "state",
        data.spec.objective.name,
        "epochs",
        "best epoch",
        "seconds",
        "params",
        "reason",
    )
    out = [
        "<table class=trials><thead><tr>"
        + "".join(f"<th title='click to sort'>{esc(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
    ]
    for r in data.records:
        cls = " class=best" if best is not None and r.number == best.number else ""
        value = "" if r.value is None else f"{r.value:.6g}"
        cells = [
            f"<td class=num>{r.number}</td>",
            f"<td>{esc(r.state)}</td>",
            f"<td class=num data-v='{'' if r.value is None else repr(float(r.value))}'>"
            f"{value}</td>",
            f"<td class=num>{'' if r.epochs is None else r.epochs}</td>",
            f"<td class=num>{'' if r.best_epoch is None else r.best_epoch + 1}</td>",
            f"<td class=num>{'' if r.seconds is None else f'{r.seconds:.1f}'}</td>",
            f"<td>{esc(', '.join(f'{k}={v}' for k, v in r.params.items()))}</td>",
            f"<td>{esc(r.reason or '')}</td>",
        ]
        out.append(f"<tr{cls}>{''.join(cells)}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def write(data: StudyData, output: Path) -> Path:
    from seqtune.store.files import write_text

    write_text(output, build(data))
    return output
