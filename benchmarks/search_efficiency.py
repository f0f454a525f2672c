"""Benchmark 3 — search efficiency on airline: wall time and trials until the best
validation RMSE reaches a target, for tpe, random and hyperband, over several seeds.

Every study searches the space of ``examples/airline_lstm_holdout.yaml`` (transform, look_back,
units, dropout, hidden layers, learning rate, batch size) through the ``seqtune.study.lifecycle``
API, as ``seqtune launch`` does: same budget for each backend — at most ``--trials`` trials
of at most ``--max-epochs`` epochs (hyperband: its own schedule for that max_epochs, factor
3, capped at ``--trials``); the study seed changes per run. For each target val_rmse,
"trials" counts finished trials (pruned ones included) up to the first whose val_rmse ≤
target; "wall" is the time from the start of the search to that trial's end. Studies that
never reach a target count as not reached; the medians are then over the runs that did,
and the table says how many.

    python benchmarks/search_efficiency.py --quick     # 5 seeds, 12 trials of ≤ 15 epochs
    python benchmarks/search_efficiency.py             # 5 seeds, 30 trials of ≤ 50 epochs

TPE draws its first 10 trials at random (Optuna's n_startup_trials), so with the quick
budget tpe and random differ in two trials only; the full run shows the difference.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import SEARCH_SPEC, machine, median, table

BACKENDS = ("tpe", "random", "hyperband")


class Progress(io.StringIO):
    """The study's progress stream: after every line, note how many trials are finished and
    the best value so far (read from the backend, not parsed from the text)."""

    def __init__(self, study: Any) -> None:
        super().__init__()
        self.study = study
        self.start = time.perf_counter()
        self.log: list[tuple[float, int, float | None]] = []

    def write(self, text: str) -> int:
        if text.strip():
            records = self.study.backend.records()
            done = sum(1 for r in records if r.counts_toward_budget)
            values = [r.value for r in records if r.state == "complete" and r.value is not None]
            best = min(values) if values else None
            if not self.log or done > self.log[-1][1]:
                self.log.append((time.perf_counter() - self.start, done, best))
        return super().write(text)


def run_study(backend: str, seed: int, trials: int, max_epochs: int, root: Path) -> Progress:
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import Study

    base = Spec.from_file(SEARCH_SPEC)
    raw = base.to_dict(relative_to=base.base_dir)
    raw["study"] = f"{backend}-{seed}"
    raw["seed"] = seed
    raw["search"] = {
        **raw["search"],
        "backend": backend,
        "trials": trials,
        "max_epochs": max_epochs,
    }
    if backend == "hyperband":
        raw["search"].pop("pruner", None)
    spec = Spec.from_dict(raw, base.base_dir, base.source)
    study, runner = Study.launch(spec, root)
    progress = Progress(study)
    study.run(runner, out=progress)
    return progress


def reached(progress: Progress, target: float) -> tuple[float, int] | None:
    for wall, done, best in progress.log:
        if best is not None and best <= target:
            return wall, done
    return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="12 trials of at most 15 epochs")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--trials", type=int, help="trial budget per study (default 30; quick 12)")
    p.add_argument("--max-epochs", type=int, help="epochs per trial at most (50; quick 15)")
    p.add_argument(
        "--targets",
        type=float,
        nargs="+",
        default=[12.0, 8.0, 6.5],
        help="val_rmse values to reach (default 12 8 6.5)",
    )
    p.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    args = p.parse_args(argv)
    trials = args.trials or (12 if args.quick else 30)
    max_epochs = args.max_epochs or (15 if args.quick else 50)

    print(f"# search efficiency — {machine()}")
    print(
        f"# {args.seeds} seeds x {', '.join(args.backends)}; at most {trials} trials of at most "
        f"{max_epochs} epochs; targets val_rmse <= {', '.join(f'{t:g}' for t in args.targets)}",
        flush=True,
    )
    results: dict[str, list[dict[str, Any]]] = {b: [] for b in args.backends}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for backend in args.backends:
                progress = run_study(backend, seed, trials, max_epochs, Path(tmp))
                final = progress.log[-1] if progress.log else (float("nan"), 0, None)
                hits = {t: reached(progress, t) for t in args.targets}
                results[backend].append(
                    {"hits": hits, "wall": final[0], "done": final[1], "best": final[2]}
                )
                got = ", ".join(
                    f"<= {t:g} after {h[1]} trials {h[0]:.1f}s" if h else f"<= {t:g} never"
                    for t, h in hits.items()
                )
                best = f"{final[2]:.2f}" if final[2] is not None else "-"
                print(
                    f"  seed {seed} {backend:<9} {final[1]} trials {final[0]:.1f}s, "
                    f"best {best}: {got}",
                    flush=True,
                )
    rows = []
    for backend, runs in results.items():
        row: list[Any] = [backend]
        for t in args.targets:
            hits = [r["hits"][t] for r in runs if r["hits"][t] is not None]
            row += [
                f"{len(hits)}/{len(runs)}",
                median([h[1] for h in hits]),
                median([h[0] for h in hits]),
            ]
        row += [
            median([r["best"] for r in runs if r["best"] is not None]),
            median([r["wall"] for r in runs]),
        ]
        rows.append(row)
    headers = ["backend"]
    for t in args.targets:
        headers += [f"<= {t:g}: reached", "trials", "wall s"]
    headers += ["best val_rmse", "study wall s"]
    print(
        f"\nmedians over {args.seeds} seeds ({trials} trials per study); "
        "trials and wall s until the best val_rmse first reached each target; "
        "'-' where no run reached it\n"
    )
    print(table(headers, rows))


if __name__ == "__main__":
    main()
