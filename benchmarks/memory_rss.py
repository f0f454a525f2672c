"""Resident memory over a long study in one process: RSS after 5 trials vs after N.

    python benchmarks/memory_rss.py [--backend tpe|hyperband] [--trials 50] [--wide]

Runs a real airline study (small models, few epochs) through seqtune's study API and
prints the process RSS after each trial; the bound stated in docs/speed.md is checked at the
end (exit 1 if exceeded). The default study is an LSTM with look_back 1-12 and 0-2 Dense
layers on the holdout: its LSTM is fused (0.3.2 on: every window length on one trace; in
0.3.1 the windows were padded to 8 or 16 steps), so its trials train on the kept engines
(``Runner.trainer_for``), one per layer structure (3 layer counts; 0.3.1: x 2 window
buckets), which keep the Keras session; each trace keeps a few MiB.
``--wide``: 4 rolling-origin folds x 2 repeats, K = 8 models a trial trained side by side
on the kept engines. A study made before 0.3.1 (windows unpadded,
12 window lengths) trained these holdout trials with the compiled fit, which clears the
session each trial.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: RSS after the last trial may exceed RSS after trial 5 by at most this much.
BOUND_MIB = 150.0


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", default="tpe", choices=("tpe", "random", "hyperband"))
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--wide", action="store_true", help="4 folds x 2 repeats a trial")
    args = p.parse_args()

    from seqtune.spec import Spec
    from seqtune.study.lifecycle import Study

    raw = {
        "study": "rss",
        "seed": 1,
        "data": {
            "csv": str(ROOT / "data" / "airline.csv"),
            "target": "Passengers",
            "split": {"val": 0.13, "test": 0.33},
            "period": 12,
        },
        "model": {"kind": "lstm"},
        "space": {
            "transform": {"choice": ["none", "log_diff", "seasonal_diff"]},
            "look_back": {"int": [1, 12]},
            "units": {"int": [4, 32], "step": 4},
            "num_hidden_layers": {"int": [0, 2]},
            "dense_units": {"int": [4, 16], "step": 4, "per": "num_hidden_layers"},
            "batch_size": {"choice": [16, 32]},
        },
        "objective": "val_rmse",
        "search": {
            "backend": args.backend,
            "trials": args.trials,
            "max_epochs": 5,
            "patience": None,
            "pruner": "none",
        },
    }
    if args.backend == "hyperband":
        raw["search"] = {
            "backend": "hyperband",
            "trials": args.trials,
            "max_epochs": 9,
            "patience": None,
        }
    if args.wide:
        raw["data"]["split"] = {"val": 12, "test": 48, "folds": 4}
        raw["search"]["repeats"] = 2
    with tempfile.TemporaryDirectory() as tmp:
        spec = Spec.from_dict(raw, Path(tmp))
        study, runner = Study.launch(spec, Path(tmp) / "results")
        samples: list[float] = []
        start = time.perf_counter()
        original = study.write_trials

        def write_and_measure() -> None:
            original()
            samples.append(rss_mib())

        study.write_trials = write_and_measure  # type: ignore[method-assign]
        study.run(runner, out=open(os.devnull, "w"))  # noqa: SIM115
        seconds = time.perf_counter() - start
    n = len(samples) - 1  # the last sample is the final flush
    after5, last = samples[4], samples[n - 1]
    wide = ", 4 folds x 2 repeats" if args.wide else ""
    print(f"backend {args.backend}{wide}: {n} trials in {seconds:.0f} s")
    print(f"RSS after trial 5:  {after5:8.1f} MiB")
    print(
        f"RSS after trial {n}: {last:8.1f} MiB   (+{last - after5:.1f} MiB; bound {BOUND_MIB:.0f})"
    )
    print("RSS by trial: " + " ".join(f"{s:.0f}" for s in samples[:n]))
    return 0 if last - after5 <= BOUND_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
