"""The panel (issue 24): every series through the same recipe, against the statistical models.

Each series is written to a CSV of its own, then run as a user would run it, through the
command line and nothing else: ``seqtune init CSV --target COL --horizon H`` (the one
recipe, not tuned per series), ``seqtune launch`` and ``seqtune export``. The test part is
the recipe's (about the last fifth of the rows, whole seasons); ``best.yaml``'s
``result.test`` gives seqtune's RMSE and ``result.baselines`` the others' on the same rows:
persistence, the seasonal naive forecast, the training mean, a ridge regression on the
model's windows, and AutoETS, AutoTheta and AutoARIMA (fitted on every row before the test
part with ``SEQTUNE_BASELINE_SECONDS`` per model, then filtered through it).

Horizons: one step ahead, and ``H = period`` for the series that have one (``--horizons``).

Aggregates, as M4's relative measures: the geometric mean over the runs of seqtune's RMSE
divided by the best statistical model's (the lowest of AutoETS, AutoTheta, AutoARIMA,
seasonal naive and persistence on that run), the worst such ratio, and the runs where no
model (seqtune, the ridge or a statistical one) beats persistence or the mean.

The series are public and local: ``data/airline.csv``, ``data/co2.csv`` and data sets
shipped inside statsmodels (sunspots, Nile, El Niño, electrical equipment, US macro data,
German interest and inflation). Nothing is downloaded. ``--held-out`` runs six more (the
rest of statsmodels' US macro data) that no comparison of combination rules or recipes had
looked at when 0.5.1's were decided: the place to check such a decision.

Usage::

    nice -n 10 python benchmarks/panel.py --out /tmp/panel        # every series, h 1 and period
    python benchmarks/panel.py --series nile,airline --horizons 1 --trials 5 --out /tmp/p
    python benchmarks/panel.py --held-out --horizons 1 --baseline-seconds 10 --out /tmp/ho
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]

#: the models the ratio's denominator is the best of
STATISTICAL = ("auto_ets", "auto_theta", "auto_arima", "seasonal_naive", "persistence")
#: every column of the table, in order (seqtune first)
COLUMNS = (
    "seqtune",
    "auto_ets",
    "auto_arima",
    "auto_theta",
    "seasonal_naive",
    "persistence",
    "mean",
    "ridge",
)


def _statsmodels(name: str) -> pd.DataFrame:
    import importlib

    module = importlib.import_module(f"statsmodels.datasets.{name}")
    return module.load_pandas().data


def _quarterly(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A quarterly column with a quarter-start ``Date`` (period 4)."""
    dates = [
        f"{int(y)}-{3 * (int(q) - 1) + 1:02d}-01"
        for y, q in zip(frame["year"], frame["quarter"], strict=True)
    ]
    return pd.DataFrame({"Date": dates, column: frame[column].to_numpy()})


def _yearly(frame: pd.DataFrame, year: str, column: str) -> pd.DataFrame:
    """A yearly column with an integer ``Year`` (no period)."""
    return pd.DataFrame({"Year": frame[year].astype(int), column: frame[column].to_numpy()})


def _elnino() -> pd.DataFrame:
    wide = _statsmodels("elnino")
    months = wide.columns[1:]
    rows = [
        (f"{int(year)}-{i + 1:02d}", float(value))
        for year, values in zip(wide["YEAR"], wide[months].to_numpy(), strict=True)
        for i, value in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=["Date", "SST"])


def _elec_equip() -> pd.DataFrame:
    import statsmodels.datasets.elec_equip as elec

    frame = elec.load().data
    return pd.DataFrame(
        {"Date": frame.index.strftime("%Y-%m"), "Orders": frame.iloc[:, 0].to_numpy()}
    )


#: name -> (loader of a frame, target column); every loader reads local files only
SERIES: dict[str, tuple[Callable[[], pd.DataFrame], str]] = {
    "airline": (lambda: pd.read_csv(ROOT / "data" / "airline.csv"), "Passengers"),
    "co2": (lambda: pd.read_csv(ROOT / "data" / "co2.csv"), "CO2"),
    "elec_equip": (_elec_equip, "Orders"),
    "elnino": (_elnino, "SST"),
    "us_realgdp": (lambda: _quarterly(_statsmodels("macrodata"), "realgdp"), "realgdp"),
    "us_unemp": (lambda: _quarterly(_statsmodels("macrodata"), "unemp"), "unemp"),
    "us_infl": (lambda: _quarterly(_statsmodels("macrodata"), "infl"), "infl"),
    "us_tbilrate": (lambda: _quarterly(_statsmodels("macrodata"), "tbilrate"), "tbilrate"),
    "de_interest": (lambda: _quarterly(_statsmodels("interest_inflation"), "R"), "R"),
    "de_inflation": (lambda: _quarterly(_statsmodels("interest_inflation"), "Dp"), "Dp"),
    "sunspots": (lambda: _yearly(_statsmodels("sunspots"), "YEAR", "SUNACTIVITY"), "SUNACTIVITY"),
    "nile": (lambda: _yearly(_statsmodels("nile"), "year", "volume"), "volume"),
}
#: series no comparison of rules or recipes looked at before it was decided (0.5.1): the
#: rest of statsmodels' US macro data, quarterly; ``--held-out`` runs them
HELD_OUT: dict[str, tuple[Callable[[], pd.DataFrame], str]] = {
    f"us_{column}": (lambda column=column: _quarterly(_statsmodels("macrodata"), column), column)
    for column in ("realcons", "realinv", "realgovt", "realdpi", "cpi", "m1")
}
#: every series a run may name
KNOWN = {**SERIES, **HELD_OUT}


def _seqtune(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One ``seqtune`` command in a fresh process, as a user runs it."""
    command = [sys.executable, "-c", "import sys; from seqtune.cli import main; sys.exit(main())"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, check=False)


def _failed(step: str, done: subprocess.CompletedProcess[str]) -> str:
    last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
    return f"{step} exited {done.returncode}: {last}"


def run_one(
    name: str, horizon: int, work: Path, trials: int | None, env: dict[str, str]
) -> dict[str, Any]:
    """init -> launch -> export for one series and horizon; the scores of ``best.yaml``."""
    loader, target = KNOWN[name]
    folder = work / f"{name}-h{horizon}"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    loader().to_csv(csv, index=False)
    spec = folder / "spec.yaml"
    out: dict[str, Any] = {"series": name, "horizon": horizon}
    init = ["init", str(csv), "--target", target, "--out", str(spec), "--force", "--json"]
    if horizon != 1:
        init += ["--horizon", str(horizon)]
    done = _seqtune(*init, env=env)
    if done.returncode:
        return {**out, "error": _failed("init", done)}
    recipe = json.loads(done.stdout)
    out["recipe"] = {k: recipe[k] for k in ("rows", "period", "split", "look_back", "transforms")}
    launch = ["launch", str(spec), "--results", str(folder / "results"), "-q"]
    if trials is not None:
        launch += ["--trials", str(trials)]
    start = time.perf_counter()
    done = _seqtune(*launch, env=env)
    out["search_seconds"] = round(time.perf_counter() - start, 1)
    if done.returncode:
        return {**out, "error": _failed("launch", done)}
    study = folder / "results" / recipe["study"]
    start = time.perf_counter()
    done = _seqtune("export", str(study), "--json", "-q", env=env)
    out["export_seconds"] = round(time.perf_counter() - start, 1)
    if done.returncode:
        return {**out, "error": _failed("export", done)}
    exported = json.loads(done.stdout)
    result = exported["result"]
    out["warning"] = exported.get("warning")
    out["rmse"] = {"seqtune": float(result["test"]["rmse"])}
    for base, parts in (result.get("baselines") or {}).items():
        if isinstance(parts, dict) and isinstance(parts.get("test"), int | float):
            out["rmse"][base] = float(parts["test"])
    out["chosen"] = {
        k: v for k, v in (yaml.safe_load(Path(exported["spec"]).read_text())["space"]).items()
    }
    return out


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Ratios per run and the aggregates (geometric mean, worst, naive-only runs)."""
    ratios = []
    for run in runs:
        scores = run.get("rmse")
        if not scores:
            continue
        stat = {k: v for k, v in scores.items() if k in STATISTICAL}
        if not stat:
            continue
        best = min(stat, key=lambda k: stat[k])
        run["best_statistical"] = best
        run["ratio"] = scores["seqtune"] / stat[best]
        ratios.append(run["ratio"])
        winner = min(scores, key=lambda k: scores[k])
        run["best_overall"] = winner
        run["naive_wins"] = winner in ("persistence", "mean")
    out: dict[str, Any] = {"runs": len(runs), "scored": len(ratios)}
    if ratios:
        out["geometric_mean_ratio"] = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        out["worst_ratio"] = max(ratios)
        out["worse_than_1_05"] = sum(r > 1.05 for r in ratios)
        out["beats_best_statistical"] = sum(r < 1.0 for r in ratios)
        out["naive_wins"] = sum(bool(r.get("naive_wins")) for r in runs)
        for h in sorted({r["horizon"] for r in runs if "ratio" in r}):
            at = [r["ratio"] for r in runs if r.get("horizon") == h and "ratio" in r]
            out[f"geometric_mean_ratio_h{h}"] = math.exp(sum(math.log(x) for x in at) / len(at))
    return out


def markdown(runs: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """The runs as a markdown table (test RMSE; best per row in bold) and the aggregates."""
    head = ["series", "h", "rows", "test", *COLUMNS, "ratio", "search s", "seqtune chose"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 4 + "---:|" * (len(head) - 5) + "---|"]
    for run in runs:
        recipe = run.get("recipe") or {}
        split = recipe.get("split") or {}
        cells = [
            run["series"],
            str(run["horizon"]),
            str(recipe.get("rows", "")),
            str(split.get("test", "")),
        ]
        if "error" in run:
            lines.append("| " + " | ".join(cells) + f" | {run['error']} |")
            continue
        scores = run["rmse"]
        best = min(scores.values())
        for col in COLUMNS:
            v = scores.get(col)
            text = "-" if v is None else f"{v:.4g}"
            cells.append(f"**{text}**" if v is not None and v == best else text)
        cells.append(f"{run['ratio']:.3f}" if "ratio" in run else "-")
        cells.append(f"{run.get('search_seconds', float('nan')):.0f}")
        chosen = run.get("chosen") or {}
        cells.append(f"{chosen.get('transform', '?')}, look_back {chosen.get('look_back', '?')}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if "geometric_mean_ratio" in summary:
        per_h = ", ".join(
            f"h = {k.removeprefix('geometric_mean_ratio_h')}: {v:.3f}"
            for k, v in summary.items()
            if k.startswith("geometric_mean_ratio_h")
        )
        lines.append(
            f"seqtune / best statistical RMSE over {summary['scored']} runs: geometric mean "
            f"**{summary['geometric_mean_ratio']:.3f}** ({per_h}), worst "
            f"{summary['worst_ratio']:.3f}, {summary['worse_than_1_05']} run(s) above 1.05, "
            f"{summary['beats_best_statistical']} below 1; runs where persistence or the mean "
            f"beats every model: {summary['naive_wins']}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", default=",".join(SERIES), help="comma-separated names")
    p.add_argument(
        "--held-out", action="store_true", help=f"the held-out series: {', '.join(HELD_OUT)}"
    )
    p.add_argument(
        "--horizons", default="1,period", help="comma-separated: numbers and/or 'period'"
    )
    p.add_argument("--trials", type=int, help="override the recipe's trial budget")
    p.add_argument(
        "--baseline-seconds", default="60", help="SEQTUNE_BASELINE_SECONDS for the export"
    )
    p.add_argument("--out", type=Path, required=True, help="folder: panel.json, panel.md, runs")
    p.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        help="run nothing: combine these panel.json files (e.g. of two processes run side "
        "by side on parts of the series) into --out, in the order of KNOWN",
    )
    args = p.parse_args(argv)
    if args.merge:
        return _merge(args.merge, args.out)
    names = [n.strip() for n in args.series.split(",") if n.strip()]
    if args.held_out:
        names = list(HELD_OUT)
    unknown = [n for n in names if n not in KNOWN]
    if unknown:
        p.error(f"unknown series {unknown}; known: {', '.join(KNOWN)}")
    env = dict(os.environ)
    env["SEQTUNE_BASELINE_SECONDS"] = args.baseline_seconds
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    args.out.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    start = time.perf_counter()
    load = os.getloadavg()[0]
    for name in names:
        for h_text in [h.strip() for h in args.horizons.split(",") if h.strip()]:
            if h_text == "period":
                period = _period_of(name, args.out, env)
                if period is None:
                    continue
                horizon = period
            else:
                horizon = int(h_text)
            if any(r["series"] == name and r["horizon"] == horizon for r in runs):
                continue
            run = run_one(name, horizon, args.out / "runs", args.trials, env)
            runs.append(run)
            shown = run.get("error") or f"seqtune {run['rmse']['seqtune']:.4g}, " + ", ".join(
                f"{k} {v:.4g}" for k, v in run["rmse"].items() if k != "seqtune"
            )
            print(f"{name} h={horizon} ({run.get('search_seconds', 0):.0f} s): {shown}", flush=True)
            _save(args.out, runs, start, load, argv)
    summary = _save(args.out, runs, start, load, argv)
    print(markdown(runs, summary))
    return 0


def _merge(files: list[Path], out: Path) -> int:
    """One panel.json and panel.md of several runs' (each series and horizon once, the
    first file's run kept), ordered as :data:`KNOWN`."""
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    commands, seconds = [], 0
    for path in files:
        found = json.loads(path.read_text())
        commands.append(found["summary"].get("command", str(path)))
        seconds = max(seconds, int(found["summary"].get("wall_seconds", 0)))
        for run in found["runs"]:
            runs.setdefault((run["series"], run["horizon"]), run)
    order = list(KNOWN)
    merged = sorted(runs.values(), key=lambda r: (order.index(r["series"]), r["horizon"]))
    summary = summarize(merged)
    summary["wall_seconds"] = seconds
    summary["command"] = " ; ".join(commands)
    out.mkdir(parents=True, exist_ok=True)
    (out / "panel.json").write_text(json.dumps({"summary": summary, "runs": merged}, indent=2))
    (out / "panel.md").write_text(markdown(merged, summary))
    print(markdown(merged, summary))
    return 0


def _period_of(name: str, out: Path, env: dict[str, str]) -> int | None:
    """The period the recipe finds for a series (None: none, so no second horizon)."""
    loader, target = KNOWN[name]
    folder = out / "runs" / f"{name}-probe"
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / f"{name}.csv"
    loader().to_csv(csv, index=False)
    done = _seqtune(
        "init",
        str(csv),
        "--target",
        target,
        "--out",
        str(folder / "spec.yaml"),
        "--force",
        "--json",
        env=env,
    )
    if done.returncode:
        return None
    return json.loads(done.stdout).get("period")


def _save(
    out: Path, runs: list[dict[str, Any]], start: float, load: float, argv: list[str] | None
) -> dict[str, Any]:
    summary = summarize(runs)
    summary["wall_seconds"] = round(time.perf_counter() - start)
    summary["load_at_start"] = round(load, 2)
    summary["command"] = " ".join(["python benchmarks/panel.py", *(argv or sys.argv[1:])])
    (out / "panel.json").write_text(json.dumps({"summary": summary, "runs": runs}, indent=2))
    (out / "panel.md").write_text(markdown(runs, summary))
    return summary


if __name__ == "__main__":
    raise SystemExit(main())
