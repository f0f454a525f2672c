"""Airline, last 48 months: does selecting on rolling folds, with repeats and a seed ensemble
refit at export, give a model that holds on the test part? Run through the tool itself.

Part (a) fits the classical references (``_references.py``, shared with ``second_series.py``)
on the same 96 months and scores their one-step-ahead
forecasts of the 48 test months (parameters fixed after the 96 months, each forecast from the
true values before it, exactly as seqtune's windows): persistence, seasonal naive, seasonal
random walk (``y[t-1] + y[t-12] - y[t-13]``), Holt-Winters (additive trend, additive or
multiplicative season) and SARIMA(0,1,1)(0,1,1)12 on logs. Needs statsmodels
(``pip install -e '.[bench]'``).

Part (b) runs, for each study seed and protocol, ``seqtune launch`` then ``seqtune export`` as
subprocesses, on a copy of ``--spec`` (default ``examples/airline_folds.yaml``) where only
``data.split``, ``search`` and ``seed`` (= the study seed) differ:

- ``holdout``: no folds (the spec's split without ``folds``/``step``/``gap``: one validation
  part of ``val`` rows right before the test part); export keeps the best trial's own model;
- ``folds``: ``folds: --folds``; export refits the choice on every row before the test part;
- ``folds+repeats``: ``repeats: --repeats`` seeds per fold, ``ensemble: 1``;
- ``folds+repeats+ensemble``: the same with ``ensemble: --ensemble`` seeds refit at export.

The test RMSE is read from each export's ``best.yaml`` (``result.test.rmse``); the wall time is
launch + export, process start included. Printed: per study, the validation value, test RMSE
and choice; per protocol, test RMSE median / min / max over seeds, how many are <= 15, and the
median wall time; the 1-minute load average at each study's end (other jobs share the
machine).

Usage (defaults: 5 seeds, the spec's trial budget, two studies at a time)::

    python benchmarks/model_selection.py [--spec examples/airline_folds.yaml] [--seeds 5]
        [--trials N] [--folds 4] [--repeats 2] [--ensemble 5] [--jobs 2]
        [--protocols holdout,folds,...] [--results DIR] [--classical-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table  # noqa: E402
from _references import references, rmse  # noqa: E402

CSV = ROOT / "data" / "airline.csv"
TEST = 48
PERIOD = 12
PROTOCOLS = ("holdout", "folds", "folds+repeats", "folds+repeats+ensemble")


# -- (a) classical references ----------------------------------------------------------------


def load(split: dict[str, Any]) -> Any:
    from seqtune.data import DataSpec, load_table

    raw = {"csv": str(CSV), "target": "Passengers", "period": PERIOD, "split": split}
    return load_table(DataSpec.from_dict(raw, ROOT))


def classical(y: np.ndarray) -> list[tuple[str, float]]:
    """Test RMSE of the one-step-ahead forecasts of the classical references."""
    actual = y[y.size - TEST :]
    return [(name, rmse(actual, pred)) for name, pred in references(y, TEST, PERIOD)]


def ridge_by_folds(folds: int, val: int) -> tuple[str, float, float]:
    """seqtune's ridge baseline (``models.baselines``) with its look_back (1..24) and transform
    chosen by mean RMSE over the rolling folds, refit on the 96 months: (choice, folds mean,
    test RMSE)."""
    from seqtune.data.transforms import TRANSFORMS
    from seqtune.models.baselines import score_baselines
    from seqtune.objectives.metrics import rmse as metric

    tab = load({"val": val, "test": TEST, "folds": folds})
    scores = {}
    for transform in TRANSFORMS:
        for look_back in range(1, 25):
            per_fold = [
                score_baselines(tab.fold_windows(i, look_back, transform), metric, ["val"])
                for i in range(folds)
            ]
            scores[(transform, look_back)] = float(np.mean([p["ridge"]["val"] for p in per_fold]))
    transform, look_back = min(scores, key=scores.__getitem__)
    test = score_baselines(tab.refit_windows(look_back, transform), metric, ["test"])
    choice = f"ridge on windows ({transform}, look_back {look_back}, by folds)"
    return choice, scores[(transform, look_back)], test["ridge"]["test"]


# -- (b) the protocols, through seqtune launch + export -----------------------------------------


def protocol_spec(
    base: dict[str, Any], base_dir: Path, protocol: str, seed: int, args: argparse.Namespace
) -> dict[str, Any]:
    """The base spec with only ``data.split``, ``search`` and ``seed`` changed."""
    spec = yaml.safe_load(yaml.safe_dump(base))  # a deep copy
    spec["seed"] = seed
    spec["study"] = f"{protocol.replace('+', '-')}-s{seed}"
    spec["data"]["csv"] = str((base_dir / spec["data"]["csv"]).resolve())
    split = {k: v for k, v in spec["data"]["split"].items() if k not in ("folds", "step", "gap")}
    if protocol != "holdout":
        split = {**spec["data"]["split"], "folds": args.folds}
    spec["data"]["split"] = split
    search = spec.setdefault("search", {})
    if args.trials is not None:
        search["trials"] = args.trials
    search["repeats"] = args.repeats if "repeats" in protocol else 1
    search["ensemble"] = args.ensemble if protocol.endswith("ensemble") else 1
    return spec


def run_study(spec: dict[str, Any], work: Path) -> dict[str, Any]:
    """``seqtune launch`` + ``seqtune export`` in subprocesses; the exported result."""
    path = work / "specs" / f"{spec['study']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    study = work / "results" / spec["study"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    cli = [sys.executable, "-m", "seqtune.cli"]
    start = time.perf_counter()
    with open(work / "logs" / f"{spec['study']}.log", "w") as log:
        for verb in (
            ["launch", str(path), "--results", str(work / "results")],
            ["export", str(study)],
        ):
            done = subprocess.run(cli + verb, env=env, stdout=log, stderr=subprocess.STDOUT)
            if done.returncode:
                log.flush()
                tail = Path(log.name).read_text().strip().splitlines()[-1:]
                raise RuntimeError(f"seqtune {verb[0]} exited {done.returncode}: {tail}")
    seconds = time.perf_counter() - start
    exported = yaml.safe_load((study / "best.yaml").read_text())
    result = exported["result"]
    return {
        "test": float(result["test"]["rmse"]),
        "value": float(result["objective"]["value"]),
        "seconds": seconds,
        "load": os.getloadavg()[0],
        "choice": exported["space"],
    }


def describe(space: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in space.items())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", type=Path, default=ROOT / "examples" / "airline_folds.yaml")
    ap.add_argument("--seeds", type=int, default=5, help="study seeds (1..N)")
    ap.add_argument("--trials", type=int, help="trials per study (default: the spec's)")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2, help="seeds per fold (folds+repeats...)")
    ap.add_argument("--ensemble", type=int, default=5, help="seeds refit at export (+ensemble)")
    ap.add_argument("--jobs", type=int, default=2, help="studies run at the same time")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--results", type=Path, help="keep specs, logs, studies here (default: temp)")
    ap.add_argument("--classical-only", action="store_true")
    args = ap.parse_args(argv)

    protocols = [p for p in args.protocols.split(",") if p]
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        ap.error(f"unknown protocol(s) {', '.join(sorted(unknown))}; known: {', '.join(PROTOCOLS)}")
    base = yaml.safe_load(args.spec.read_text())
    y = pd.read_csv(CSV)["Passengers"].to_numpy(np.float64)
    print(f"airline: {y.size - TEST} months before the test part, {TEST} test months\n")
    references = [(name, f"{value:.2f}") for name, value in classical(y)]
    choice, _, ridge_test = ridge_by_folds(args.folds, int(base["data"]["split"]["val"]))
    references.append((choice, f"{ridge_test:.2f}"))
    print(table(["reference (fit on the 96 months)", "test RMSE"], references))
    if args.classical_only:
        return

    seeds = list(range(1, args.seeds + 1))
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.results or Path(tmp)).resolve()
        for sub in ("specs", "logs", "results"):
            (work / sub).mkdir(parents=True, exist_ok=True)
        specs = [
            (p, s, protocol_spec(base, args.spec.resolve().parent, p, s, args))
            for s in seeds
            for p in protocols
        ]
        search = specs[0][2]["search"]
        print(
            f"\nseqtune launch + export on {args.spec.name}: {search.get('trials')} trials per "
            f"study, {len(seeds)} study seeds, folds {args.folds}, repeats {args.repeats}, "
            f"ensemble {args.ensemble}, {args.jobs} studies at a time; load "
            f"{os.getloadavg()[0]:.1f} at start",
            flush=True,
        )
        print("\nstudies (validation value -> test RMSE, wall time, load at its end):", flush=True)
        runs: dict[tuple[str, int], dict[str, Any]] = {}
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run_study, spec, work): (p, s) for p, s, spec in specs}
            for future in as_completed(futures):
                p, s = futures[future]
                try:
                    runs[p, s] = r = future.result()
                except RuntimeError as exc:
                    print(f"  seed {s} {p:22s} failed: {exc}", flush=True)
                    continue
                print(
                    f"  seed {s} {p:22s} {r['value']:6.2f} -> {r['test']:6.2f} "
                    f"({r['seconds']:4.0f} s, load {r['load']:.1f})  {describe(r['choice'])}",
                    flush=True,
                )
        total = time.perf_counter() - start
    rows = []
    for p in protocols:
        done = [runs[p, s] for s in seeds if (p, s) in runs]
        if not done:
            continue
        scores = [r["test"] for r in done]
        rows.append(
            (
                p,
                f"{statistics.median(scores):.2f}",
                f"{min(scores):.2f}",
                f"{max(scores):.2f}",
                f"{sum(v <= 15.0 for v in scores)}/{len(scores)}",
                f"{statistics.median(r['seconds'] for r in done):.0f}",
            )
        )
    print()
    print(table(["protocol", "test RMSE median", "min", "max", "<= 15", "seconds"], rows))
    loads = [r["load"] for r in runs.values()]
    print(
        f"\ntotal wall time {total:.0f} s ({args.jobs} studies at a time); 1-minute load at the "
        f"studies' ends {min(loads):.1f}-{max(loads):.1f}"
    )


if __name__ == "__main__":
    main()
