"""Benchmark 5 — parallel: trials per minute with 1 and 2 worker processes on one study.

One study (TPE on Optuna) in a JournalStorage file; N worker processes open it and run
trials until the shared budget is spent, as ``seqtune launch --workers N`` does. The
trials all train one fixed configuration (airline, LSTM(32) on 12 steps, batch 16,
``--epochs`` epochs, no pruning), so trials per minute measure throughput alone. Each
setting also fixes TensorFlow's threads per process (intra-op / inter-op; "default" is
TensorFlow's choice). Two rates: "wall" runs from starting the workers to the last one's
exit, so it includes each process' start (importing TensorFlow, a few seconds that a long
study pays once); "steady" runs from the first trial's start to the last trial's end, as
the storage recorded them — the rate of a study long enough for the start not to matter.
Each round runs every setting once, the order rotating; a ratio is the median over rounds
of a setting's rate divided by the first setting's rate in the same round (this machine's
speed drifts by 15–20 % within minutes).

    python benchmarks/parallel.py [--trials 24] [--epochs 30] [--repeats 3]
    python benchmarks/parallel.py --cli   # the same through `seqtune launch --workers N`
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, TUTORIAL_SPEC, machine, median, table

VALUES = {"look_back": 12, "units": 32, "batch_size": 16}
# (label, workers, intra-op threads, inter-op threads); None = TensorFlow's default
SETTINGS: list[tuple[str, int, int | None, int | None]] = [
    ("1 worker, default threads", 1, None, None),
    ("1 worker, 1 thread", 1, 1, 1),
    ("2 workers, default threads", 2, None, None),
    ("2 workers, 1 thread each", 2, 1, 1),
]


def fixed_spec_dict(trials: int, epochs: int) -> dict[str, Any]:
    from seqtune.exported.export import fixed_values
    from seqtune.spec import Spec

    spec = Spec.from_file(TUTORIAL_SPEC)
    raw = spec.to_dict(relative_to=spec.base_dir)
    raw["study"] = "parallel"
    raw["space"] = {**fixed_values(spec), **VALUES}
    raw["search"] = {
        "backend": "tpe",
        "trials": trials,
        "max_epochs": epochs,
        "patience": None,
        "pruner": "none",
    }
    raw["data"]["csv"] = str((spec.base_dir / raw["data"]["csv"]).resolve())
    return raw


def worker(study_dir: Path, storage: str, intra: int | None, inter: int | None) -> None:
    """One worker process: set the threads before TensorFlow runs anything, then trials."""
    import tensorflow as tf

    if intra is not None:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    if inter is not None:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    import io

    from seqtune.study.lifecycle import Study, prepare

    study = Study.open(study_dir, storage)
    _, runner = prepare(study.spec)
    study.run(runner, out=io.StringIO())


def trial_span(study_dir: Path, storage: str | None) -> float:
    """Seconds from the first trial's start to the last trial's end."""
    from seqtune.study.lifecycle import Study

    trials = Study.open(study_dir, storage).backend.study.get_trials(deepcopy=False)
    start = min(t.datetime_start for t in trials if t.datetime_start)
    end = max(t.datetime_complete for t in trials if t.datetime_complete)
    return (end - start).total_seconds()


def run_setting(
    workers: int, intra: int | None, inter: int | None, trials: int, epochs: int, root: Path
) -> tuple[float, float]:
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import Study

    spec = Spec.from_dict(fixed_spec_dict(trials, epochs), ROOT)
    journal = root / "optuna.journal"
    Study.launch(spec, root, storage=f"journal:{journal}")
    cmd = [sys.executable, __file__, "--worker", str(root / spec.study), f"journal:{journal}"]
    cmd += [str(intra or 0), str(inter or 0)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL) for _ in range(workers)]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    if any(codes):
        raise SystemExit(f"a worker failed (exit codes {codes})")
    return wall, trial_span(root / spec.study, f"journal:{journal}")


def run_cli(workers: int, trials: int, epochs: int, root: Path) -> tuple[float, float]:
    import yaml

    spec_file = root / "parallel.yaml"
    spec_file.write_text(yaml.safe_dump(fixed_spec_dict(trials, epochs), sort_keys=False))
    cmd = [sys.executable, "-m", "seqtune.cli", "launch", str(spec_file)]
    cmd += ["--results", str(root / "results"), "--workers", str(workers)]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    study_dir = root / "results" / "parallel"
    return wall, trial_span(study_dir, None)  # the storage the study was launched with


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        intra, inter = int(argv[3]) or None, int(argv[4]) or None
        worker(Path(argv[1]), argv[2], intra, inter)
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=24, help="budget of the study")
    p.add_argument("--epochs", type=int, default=30, help="epochs of every trial")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--cli", action="store_true", help="use `seqtune launch --workers N`")
    args = p.parse_args(argv)

    print(f"# parallel trials — {machine()}", flush=True)
    settings = [(f"{w} worker(s), seqtune launch", w, None, None) for w in (1, 2)]
    chosen = settings if args.cli else SETTINGS
    walls: list[list[float]] = [[] for _ in chosen]
    spans: list[list[float]] = [[] for _ in chosen]
    for r in range(args.repeats):  # every setting once per round, who goes first rotating
        for k in [*range(r % len(chosen), len(chosen)), *range(r % len(chosen))]:
            _, workers, intra, inter = chosen[k]
            with tempfile.TemporaryDirectory() as tmp:
                if args.cli:
                    wall, span = run_cli(workers, args.trials, args.epochs, Path(tmp))
                else:
                    wall, span = run_setting(
                        workers, intra, inter, args.trials, args.epochs, Path(tmp)
                    )
            walls[k].append(wall)
            spans[k].append(span)
        print(f"  round {r + 1} done", flush=True)
    rows = []
    for k, (label, *_) in enumerate(chosen):
        # paired: this setting's rate over the first setting's in the same round
        wall_ratio = median([w0 / w for w, w0 in zip(walls[k], walls[0], strict=True)])
        span_ratio = median([s0 / s for s, s0 in zip(spans[k], spans[0], strict=True)])
        rows.append(
            [
                label,
                median(walls[k]),
                args.trials / median(walls[k]) * 60,
                wall_ratio,
                args.trials / median(spans[k]) * 60,
                span_ratio,
            ]
        )
    print(
        f"\n{args.trials} trials of {args.epochs} epochs per study; medians of {args.repeats} "
        "rounds (each setting once per round, the order rotating); ratio = median over rounds "
        "of trials per minute / the first setting's in the same round; wall includes starting "
        "the processes, steady runs from the first trial's start to the last trial's end\n"
    )
    header = ["setting", "wall s", "wall trials/min", "ratio", "steady trials/min", "ratio"]
    print(table(header, rows))


if __name__ == "__main__":
    main()
