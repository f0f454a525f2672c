"""One function per figure; each returns a matplotlib Figure or raises Unavailable.

Figures are made with ``matplotlib.figure.Figure`` directly (no pyplot, no global state,
no GUI backend: a PNG is rendered by Agg) and only by ``seqtune report`` and ``seqtune
plot``, never during a search.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from seqtune.kinds import SEARCHED
from seqtune.report.evaluation import ClassifyEval, ForecastEval
from seqtune.report.importance import importances
from seqtune.report.missing import Unavailable
from seqtune.report.source import StudyData
from seqtune.spaces.domains import Choice, Domain, Float, Int

CURVES_TOP = 5
PATHS_SHOWN = 4  # forecast paths drawn over a horizon: the first, last and evenly between
DPI = 100
STATE_STYLE = {  # marker, colour
    "complete": ("o", "tab:blue"),
    "pruned": ("x", "tab:orange"),
    "failed": ("v", "tab:red"),
    "interrupted": ("v", "tab:gray"),
    "running": ("^", "tab:green"),
}


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (Agg)."""
    buf = io.BytesIO()
    # the Software text chunk marks the file as seqtune's (plot -o replaces its own figures)
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": "seqtune"})
    return buf.getvalue()


def _objective_label(data: StudyData) -> str:
    return f"{data.spec.objective.name} ({data.direction})"


def history(data: StudyData) -> Figure:
    """Every trial's value by trial number, the best-so-far line; pruned trials at the last
    value they reported (Optuna), failed and interrupted ones marked along the bottom."""
    if not data.records:
        raise Unavailable("The optimization history is left out: no trial has run yet.")
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.add_subplot()
    curves = data.curves() or {}
    better = min if data.direction == "minimize" else max
    done = sorted(data.complete, key=lambda r: r.number)
    if done:
        for label, marker, group in _by_kind(data, done):
            ax.plot(
                [r.number for r in group],
                [r.value for r in group],
                marker,
                color="tab:blue",
                label=label,
                alpha=0.8,
            )
        xs, ys, best = [], [], None
        for r in done:
            best = r.value if best is None else better(best, r.value)  # type: ignore[type-var]
            xs.append(r.number)
            ys.append(best)
        xs.append(max(r.number for r in data.records))
        ys.append(ys[-1])
        ax.step(xs, ys, where="post", color="tab:green", label="best so far")
    pruned = [(r.number, _last(curves.get(r.number))) for r in data.records if r.state == "pruned"]
    shown = [(n, v) for n, v in pruned if v is not None]
    if shown:
        ax.plot(
            *zip(*shown, strict=True), "x", color="tab:orange", label="pruned (last reported value)"
        )
    bottom = [
        r
        for r in data.records
        if r.state in ("failed", "interrupted", "running")
        or (r.state == "pruned" and _last(curves.get(r.number)) is None)
    ]
    for state in ("pruned", "failed", "interrupted", "running"):
        numbers = [r.number for r in bottom if r.state == state]
        if numbers:
            marker, colour = STATE_STYLE[state]
            ax.plot(
                numbers,
                [0.03] * len(numbers),
                marker,
                color=colour,
                transform=ax.get_xaxis_transform(),
                label=f"{state} (no value)",
                clip_on=False,
            )
    if not done:
        ax.text(
            0.5, 0.5, "no complete trial yet", transform=ax.transAxes, ha="center", color="gray"
        )
    ax.set_xlabel("trial")
    ax.set_ylabel(_objective_label(data))
    _log_if_wide(ax, [r.value for r in done] + [v for _, v in shown])
    ax.set_title(f"Optimization history · {len(data.records)} trials")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


#: The marker of each model kind's complete trials when the kind is searched.
KIND_MARKERS = {"linear": "s", "mlp": "o", "lstm": "D"}


def _by_kind(data: StudyData, done: list[Any]) -> list[tuple[str, str, list[Any]]]:
    """``(label, marker, trials)`` of the complete trials: one group, or one per model
    kind (its own marker) when the spec searches the kind."""
    kinds = data.spec.kinds
    if data.spec.kind != SEARCHED:
        return [("complete", "o", done)]
    groups = []
    for kind in kinds:
        group = [r for r in done if r.params.get("kind") == kind]
        if group:
            groups.append((f"complete · {kind}", KIND_MARKERS.get(kind, "o"), group))
    return groups


#: A value axis spanning more than this ratio (positive values) is drawn on a log scale:
#: one diverged or pruned trial at 60 flattens every real one near 2.4 on a linear axis.
LOG_SPAN = 20.0


def _log_if_wide(ax: Any, values: list[Any]) -> None:
    """Put the y axis on a log scale when ``values`` are positive and span orders of
    magnitude (more than :data:`LOG_SPAN` times)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if finite and min(finite) > 0 and max(finite) / min(finite) > LOG_SPAN:
        ax.set_yscale("log")


def _last(curve: dict[int, float] | None) -> float | None:
    if not curve:
        return None
    return curve[max(curve)]


def importance(data: StudyData) -> Figure:
    """PED-ANOVA importances (see report/importance.py) as horizontal bars."""
    values = importances(data)
    names = list(values)[::-1]
    fig = Figure(figsize=(10, 0.9 + 0.35 * len(names)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(names, [values[n] for n in names], color="tab:blue")
    for i, n in enumerate(names):
        ax.text(values[n], i, f" {values[n]:.2f}", va="center", fontsize="small")
    ax.set_xlim(0, max(values.values()) * 1.15 or 1)
    ax.set_xlabel("importance (PED-ANOVA, sums to 1)")
    ax.set_title(
        f"Parameter importances for {data.spec.objective.name} · "
        f"{len(data.complete)} complete trials"
    )
    return fig


def slices(data: StudyData) -> Figure:
    """The objective of each complete trial against each searched parameter, coloured by
    trial number (later trials darker)."""
    done = data.complete
    if not done:
        raise Unavailable("The slice view is left out: no trial is complete yet.")
    domains = data.searched()
    if not domains:
        raise Unavailable("The slice view is left out: the spec searches no parameter.")
    cols = min(3, len(domains))
    rows = math.ceil(len(domains) / cols)
    fig = Figure(figsize=(10, 2.6 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharey=True)
    numbers = np.array([r.number for r in done])
    norm = (numbers - numbers.min()) / max(1, numbers.max() - numbers.min())
    rng = np.random.default_rng(0)
    for ax, domain in zip(axes.flat, domains, strict=False):
        _slice(ax, domain, done, norm, rng)
    for ax in list(axes.flat)[len(domains) :]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(data.spec.objective.name)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    # the colours' legend: which trials came first (TPE's later draws cluster on the best)
    trial_order = Normalize(float(numbers.min()), float(max(numbers.max(), numbers.min() + 1)))
    bar = fig.colorbar(
        ScalarMappable(norm=trial_order, cmap="viridis_r"),
        ax=list(axes.flat)[: len(domains)],
        shrink=0.9,
        pad=0.01,
    )
    bar.set_label("trial number (later trials darker)", fontsize="small")
    fig.suptitle(f"Slices: {_objective_label(data)} against each searched parameter")
    return fig


def _slice(ax: Any, domain: Domain, done: list[Any], norm: np.ndarray, rng: Any) -> None:
    pairs = [
        (r.params[domain.name], r.value, c)
        for r, c in zip(done, norm, strict=True)
        if domain.name in r.params
    ]
    ax.set_title(domain.name, fontsize="medium")
    ax.grid(alpha=0.3)
    if not pairs:
        ax.text(
            0.5,
            0.5,
            "not active in any\ncomplete trial",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="gray",
        )
        return
    xs, ys, cs = zip(*pairs, strict=True)
    if isinstance(domain, Choice):
        labels = [str(c) for c in domain.choices]
        pos = np.array([labels.index(str(x)) if str(x) in labels else -1 for x in xs], float)
        pos += rng.uniform(-0.12, 0.12, pos.size)
        ax.scatter(pos, ys, c=cs, cmap="viridis_r", vmin=0, vmax=1, s=22)
        ax.set_xticks(range(len(labels)), labels, fontsize="small")
        ax.set_xlim(-0.5, len(labels) - 0.5)
        return
    ax.scatter(np.asarray(xs, float), ys, c=cs, cmap="viridis_r", vmin=0, vmax=1, s=22)
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

    # few, small ticks: a log-scaled learning_rate's labels overlapped in a third of the width
    if isinstance(domain, Int | Float) and domain.log:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(numticks=4))
        ax.xaxis.set_minor_formatter(NullFormatter())  # 2×10⁻³, 3×10⁻³ ... overlapped
    else:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=isinstance(domain, Int)))
    ax.tick_params(axis="x", labelsize="small")


def curves(data: StudyData, top: int = CURVES_TOP) -> Figure:
    """Per-epoch objective of the best ``top`` complete trials (Optuna's intermediate values:
    what each trial reported to the pruner after every epoch); a star at each best epoch."""
    stored = data.curves()
    if stored is None:
        raise Unavailable(
            "Learning curves are left out: keras-tuner keeps one value per Hyperband trial "
            "(its best epoch's), not the objective of every epoch."
        )
    reverse = data.direction == "maximize"
    ranked = sorted(data.complete, key=lambda r: r.value, reverse=reverse)  # type: ignore[arg-type, return-value]
    chosen = [r for r in ranked if stored.get(r.number)][:top]
    if not chosen:
        raise Unavailable(
            "Learning curves are left out: no complete trial has per-epoch values stored."
        )
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.add_subplot()
    for r in chosen:
        curve = stored[r.number]
        epochs = np.array(list(curve)) + 1
        kind = f" ({r.params['kind']})" if "kind" in r.params else ""
        label = f"trial {r.number}{kind}: {r.value:.4g}"
        (line,) = ax.plot(epochs, list(curve.values()), label=label)
        if r.best_epoch is not None and r.best_epoch in curve:
            ax.plot(
                r.best_epoch + 1, curve[r.best_epoch], "*", color=line.get_color(), markersize=11
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(_objective_label(data))
    _log_if_wide(ax, [v for r in chosen for v in stored[r.number].values()])
    ax.set_title(f"Learning curves of the best {len(chosen)} trials (★ best epoch)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


FORECAST_STYLES = {
    "model": ("tab:blue", "-"),
    "persistence": ("tab:orange", "--"),
    "seasonal naive": ("tab:purple", ":"),
    "ridge": ("tab:green", "-."),
}


def _x(ev: ForecastEval, rows: np.ndarray) -> np.ndarray:
    """Where table rows are drawn: at their time (``data.time``), else their row number."""
    if ev.time_values is None:
        return rows
    return ev.time_values[np.asarray(rows, dtype=np.int64)]


def _x_label(ev: ForecastEval) -> str:
    return "time (test part)" if ev.time_values is not None else "row of the data file (test part)"


def _forecast_label(ev: ForecastEval, name: str) -> str:
    label = name if name != "seasonal naive" else f"seasonal naive (period {ev.period})"
    if name == "model" and ev.trial is not None:
        label = f"model (trial {ev.trial})"
    if name == "model" and ev.combination:
        label = label.replace("model", "model, combined", 1)
    return label


def forecast(ev: ForecastEval | ClassifyEval) -> Figure:
    """Forecast: test part, actual vs the exported model and the baselines (over a horizon
    H > 1, the H-step paths from a few origins). Classify: the confusion matrix and the
    precision–recall curve."""
    if isinstance(ev, ClassifyEval):
        return classification(ev)
    if ev.horizon > 1:
        return _forecast_paths(ev)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax = fig.add_subplot()
    x = _x(ev, ev.rows)
    _bands(ax, ev, x, slice(None))
    ax.plot(x, ev.actual, color="black", lw=2, label="actual")
    for name, values in ev.predictions.items():
        colour, ls = FORECAST_STYLES.get(name, ("tab:gray", "-."))
        score = ev.metrics[name]
        ax.plot(
            x,
            values,
            color=colour,
            ls=ls,
            lw=1.6,
            label=f"{_forecast_label(ev, name)}: RMSE {score['rmse']:.4g}, MAE {score['mae']:.4g}",
        )
    ax.set_xlabel(_x_label(ev))
    ax.set_ylabel("target, original units")
    ax.set_title("Exported model on the test part, one step ahead")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def _bands(ax: Any, ev: ForecastEval, x: np.ndarray, at: Any, legend: bool = True) -> None:
    """The model's prediction intervals (widest first, lightest), each labelled with what it
    covered of the test part; nothing for an export that keeps none."""
    for i, (level, (lower, upper)) in enumerate(
        sorted(ev.bands.items(), key=lambda kv: -float(kv[0]))
    ):
        covered = ev.covered.get(level)
        label = f"model, {level} % interval"
        if covered is not None:
            label += f" (covers {100 * covered:.0f} % of the test part)"
        ax.fill_between(
            x,
            lower[at],
            upper[at],
            color="tab:blue",
            alpha=0.12 + 0.12 * i,
            lw=0,
            label=label if legend else "_nolegend_",
        )


def path_origins(n: int, shown: int = PATHS_SHOWN) -> list[int]:
    """Which of ``n`` test windows get their path drawn: the first, the last and evenly
    spaced ones between, at most ``shown``."""
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(n, shown))})


def _forecast_paths(ev: ForecastEval) -> Figure:
    """Over a horizon: the true test series and, from a few origins, each forecast's H steps
    (the legend's RMSE and MAE are over every origin and step)."""
    n, h = ev.actual.shape
    steps = np.arange(h)
    target_rows = (ev.rows[:, None] + steps).ravel()
    rows, first = np.unique(target_rows, return_index=True)
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(_x(ev, rows), ev.actual.ravel()[first], color="black", lw=2, label="actual")
    chosen = path_origins(n)
    for name, values in ev.predictions.items():
        colour, ls = FORECAST_STYLES.get(name, ("tab:gray", "-."))
        score = ev.metrics[name]
        label = f"{_forecast_label(ev, name)}: RMSE {score['rmse']:.4g}, MAE {score['mae']:.4g}"
        for k in chosen:
            ax.plot(_x(ev, ev.rows[k] + steps), values[k], color=colour, ls=ls, lw=1.6, label=label)
            label = "_nolegend_"
        if name == "model":
            ax.plot(_x(ev, ev.rows[chosen]), values[chosen, 0], "o", color=colour, ms=4)
            for i, k in enumerate(chosen):
                _bands(ax, ev, _x(ev, ev.rows[k] + steps), k, legend=i == 0)
    ax.set_xlabel(_x_label(ev))
    ax.set_ylabel("target, original units")
    paths = f"from {len(chosen)} of {n} origins" if len(chosen) < n else f"from {n} origin(s)"
    ax.set_title(f"Exported model on the test part: {h} steps ahead {paths} (● step 1)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def steps(ev: ForecastEval | ClassifyEval) -> Figure:
    """Over a horizon H > 1: RMSE and MAE by step h = 1..H on the test part (the exported
    model and the baselines) beside the exported trial's validation errors per step."""
    if not isinstance(ev, ForecastEval) or ev.horizon < 2 or not ev.by_step:
        raise Unavailable("Errors by step are left out: the study forecasts one step ahead.")
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    h = np.arange(1, ev.horizon + 1)
    for ax, metric in zip(axes, ("rmse", "mae"), strict=True):
        for name, found in ev.by_step.items():
            colour, ls = FORECAST_STYLES.get(name, ("tab:gray", "-."))
            label = f"{_forecast_label(ev, name)}, test"
            ax.plot(h, found[metric], color=colour, ls=ls, marker="o", ms=3, label=label)
        val = ev.val_by_step.get(metric)
        if val is not None and len(val) == ev.horizon:
            label = "model, validation (as the search kept it)"
            ax.plot(h, val, color="tab:blue", ls="--", marker="s", ms=3, alpha=0.7, label=label)
        ax.set_xlabel("step h")
        ax.set_ylabel(f"{metric.upper()}, original units")
        ax.set_xticks(h if ev.horizon <= 24 else h[:: max(1, ev.horizon // 12)])
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize="small")
    fig.suptitle(f"Errors by forecast step (h = 1..{ev.horizon})")
    return fig


def classification(ev: ClassifyEval) -> Figure:
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.3])
    cm = ev.confusion
    left.imshow(cm, cmap="Blues")
    k = cm.shape[0]
    labels = ev.classes[:k] + [str(i) for i in range(len(ev.classes), k)]
    left.set_xticks(range(k), labels)
    left.set_yticks(range(k), labels)
    threshold = cm.max() / 2 if cm.size else 0
    for i in range(k):
        for j in range(k):
            left.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                color="white" if cm[i, j] > threshold else "black",
            )
    left.set_xlabel("predicted")
    left.set_ylabel("true")
    left.set_title("Confusion matrix (test)")
    for label, recall, precision, ap in ev.pr_curves:
        right.step(recall, precision, where="post", label=f"class {label}: AP {ap:.3f}")
    right.set_xlim(0, 1.02)
    right.set_ylim(0, 1.02)
    right.set_xlabel("recall")
    right.set_ylabel("precision")
    right.set_title("Precision–recall (test)")
    right.grid(alpha=0.3)
    right.legend(fontsize="small", loc="lower left")
    return fig
