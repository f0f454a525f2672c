"""Helpers shared by the benchmark scripts: quiet TensorFlow, timers, the airline runner,
and a plain-text table. Not a benchmark itself."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL_SPEC = ROOT / "examples" / "airline_tutorial_lstm_timesteps_lb3.yaml"
SEARCH_SPEC = ROOT / "examples" / "airline_lstm_holdout.yaml"  # the 0.2 quick start


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def machine() -> str:
    """One line about where the numbers come from (load matters on a shared machine)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    import tensorflow as tf

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {load:.1f} at start; TensorFlow {tf.__version__}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "-"
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )

    lines = [line(headers), "  ".join("-" * w for w in widths)]
    lines += [line(r) for r in cells]
    return "\n".join(lines)


def epoch_timer() -> Any:
    """A Keras callback recording the wall time of each epoch's end; also callable with
    the epoch's index, as seqtune's ``Runner.on_epoch`` (then the clock starts when the
    timer is made, just before the trial: "first" includes building the model)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.start = time.perf_counter()
            self.ends: list[float] = []

        def on_train_begin(self, logs: dict | None = None) -> None:
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.ends.append(time.perf_counter())

        def __call__(self, epoch: int) -> None:
            self.ends.append(time.perf_counter())

        @property
        def first(self) -> float:
            """Seconds from the start of training to the end of the first epoch (tracing)."""
            return self.ends[0] - self.start if self.ends else float("nan")

        @property
        def steady(self) -> list[float]:
            """Seconds of every epoch after the first."""
            return [b - a for a, b in zip(self.ends, self.ends[1:], strict=False)]

    return EpochTimer()


def airline_runner(spec_path: Path = TUTORIAL_SPEC) -> tuple[Any, Any, dict[str, Any]]:
    """(spec, runner, fixed values) of an airline spec whose parameters are all fixed."""
    from seqtune.exported.export import fixed_values
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    spec = Spec.from_file(spec_path)
    _, runner = prepare(spec)
    return spec, runner, fixed_values(spec)


def exported_studies(paths: Sequence[Path]) -> list[Path]:
    """Exported study folders (best.yaml and predictions.csv): each path itself, or the
    studies of a ``panel.py`` output folder."""
    found: list[Path] = []
    for path in paths:
        if (path / "predictions.csv").exists():
            found.append(path)
        else:
            found.extend(sorted(path.glob("runs/*-h*/results/*")))
    return [p for p in found if (p / "predictions.csv").exists() and (p / "best.yaml").exists()]


def study_label(path: Path, taken: Any) -> str:
    """A study's name in a table: its series' run folder in a panel output, else its own;
    a name already in ``taken`` gets primes (the same series from two panel runs)."""
    name = path.parent.parent.name if "runs" in path.parts else path.name
    while name in taken:
        name += "'"
    return name


def ratio_lines(scores: dict[str, dict[str, float]], width: int = 12) -> list[str]:
    """``{study: {column: value}}`` as text lines: a row per study, then the median,
    geometric mean and worst (largest) value of each column."""
    import math

    columns = list(next(iter(scores.values())))
    lines = ["study".ljust(16) + "".join(c.rjust(width) for c in columns)]
    for name, row in scores.items():
        lines.append(name[:15].ljust(16) + "".join(f"{row[c]:{width}.4g}" for c in columns))
    aggregates = (
        ("median", statistics.median),
        ("geomean", lambda v: math.exp(sum(math.log(x) for x in v) / len(v))),
        ("worst", max),
    )
    for label, agg in aggregates:
        cells = [agg([row[c] for row in scores.values()]) for c in columns]
        lines.append(label.ljust(16) + "".join(f"{cell:{width}.4g}" for cell in cells))
    return lines


def ratio_main(doc: str, measure: Any, width: int = 12, progress: bool = False) -> None:
    """The command line of a script scoring exported studies: ``paths`` (study folders or
    panel.py outputs) and ``--absolute``; ``measure(path)`` gives ``(ratios, scores)``;
    prints :func:`ratio_lines` (and each study's line as it comes with ``progress``)."""
    import argparse

    from seqtune.quiet import quiet_libraries

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="study folders or panel.py outputs")
    parser.add_argument("--absolute", action="store_true", help="the scores, not the ratios")
    args = parser.parse_args()
    quiet_libraries(own_warnings=False)
    table: dict[str, dict[str, float]] = {}
    for path in exported_studies(args.paths):
        name = study_label(path, table)
        ratios, scores = measure(path)
        table[name] = scores if args.absolute else ratios
        if progress:
            print(name, " ".join(f"{k} {v:.4g}" for k, v in table[name].items()), flush=True)
    if not table:
        raise SystemExit("no exported study with predictions.csv under the paths given")
    print("\n".join(ratio_lines(table, width)))


def rmse(actual: Any, forecast: Any) -> float:
    import numpy as np

    return float(np.sqrt(np.mean((np.asarray(actual) - np.asarray(forecast)) ** 2)))


def mae(actual: Any, forecast: Any) -> float:
    import numpy as np

    return float(np.mean(np.abs(np.asarray(actual) - np.asarray(forecast))))


#: a study's objective over every step of every test origin (as result.test has it)
ERRORS = {"rmse": rmse, "mae": mae}
