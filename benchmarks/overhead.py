"""Benchmark 4 — framework overhead: a seqtune trial against the bare training path it uses.

Three ways to train the same configuration for the same epochs (airline, no early stop):

- bare:  ``keras.backend.clear_session()``, seed, build the model, then
  ``seqtune.models.training.fit(..., validation_x=x_val)`` with no callbacks — the compiled
  training path and the validation forward pass a trial cannot do without;
- trial: ``Runner.run`` — adds the windows, the objective callback (inverse transform and
  val_rmse every epoch), best-epoch weights, the outcome;
- study: one trial of ``Study.run`` (TPE, SQLite) of a spec with the same fixed values —
  adds Optuna, trials.csv after every trial and the checkpoint of each new best model;
  once with ``pruner: none`` and once with the default ``median`` pruner (its callback
  reports every epoch to the storage and asks the pruner; with 5 rounds or fewer it has
  too few complete trials to prune, so every trial runs all epochs). Each study trial has
  its own seed; trial and bare use one seed.

Everything runs on the threads a seqtune process uses (``SEQTUNE_THREADS``, one by
default) and after ``gc.freeze()`` of the start-up objects, which ``Study.run`` does
before its first trial (without it, the ``gc.collect()`` in every ``clear_session()`` costs
each side about 0.25 s). Each round runs one of each side (bare, trial, a study's next
trial, the pruned study's next trial), the order rotating, ``--repeats`` rounds: the
machine's speed drifts by 20 % over minutes here, and alternating keeps that drift out of
the ratios. The table shows median seconds per trial and, for each side, the median over rounds
of its time divided by the same round's bare time (wall; "cpu" = this process' CPU time).
With more than 5 rounds the median pruner starts pruning; a pruned trial is left out.
Target: trial/bare ≤ 1.05.

    python benchmarks/overhead.py [--repeats 11] [--epochs 100]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import airline_runner, machine, median, table

CONFIGS: dict[str, dict[str, Any]] = {
    "tutorial: LSTM(4), 3 steps, batch 1": {},
    "LSTM(32), 12 steps, full batch": {"look_back": 12, "units": 32, "batch_size": 1024},
    "LSTM(32), 12 steps, batch 16": {"look_back": 12, "units": 32, "batch_size": 16},
}


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = clocks()
    return wall - start[0], cpu - start[1]


def bare(runner: Any, values: dict[str, Any], seed: int, epochs: int) -> tuple[float, float]:
    import keras

    from seqtune.models.builders import reshape_x
    from seqtune.models.params import resolve
    from seqtune.models.training import fit
    from seqtune.tasks import task_of

    windows = runner.windows(values)  # outside the clock: data, not training (0.02 ms)
    layout = runner.spec.layout
    x, y = windows.part("train")
    x, x_val = reshape_x(x, layout), reshape_x(windows.part("val")[0], layout)
    start = clocks()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = runner.build(values, windows)
    fit(
        model,
        x,
        y,
        head=task_of(windows.task).head(windows)[0],
        learning_rate=float(resolve(runner.spec.kind, values)["learning_rate"]),
        batch_size=int(values["batch_size"]),
        epochs=epochs,
        seed=seed,
        validation_x=x_val,
    )
    return since(start)


def trial(runner: Any, values: dict[str, Any], seed: int, epochs: int) -> tuple[float, float]:
    start = clocks()
    runner.run(values, seed, epochs=epochs)
    return since(start)


class OneTrialAtATime:
    """A study (TPE, SQLite) of the fixed values, run one trial per call, so its trials can
    alternate with bare and trial runs instead of running after them."""

    def __init__(self, spec: Any, values: dict[str, Any], epochs: int, pruner: str) -> None:
        from dataclasses import replace

        from seqtune.spec import Spec
        from seqtune.study.lifecycle import Study

        raw = spec.to_dict(relative_to=spec.base_dir)
        raw["space"] = dict(values)
        raw["search"] = {
            **raw["search"],
            "trials": 1,
            "max_epochs": epochs,
            "patience": None,
            "pruner": pruner,
        }
        self._tmp = tempfile.TemporaryDirectory()
        fixed = Spec.from_dict(raw, spec.base_dir, spec.source)
        self.study, self.runner = Study.launch(fixed, Path(self._tmp.name))
        self._replace = replace

    def __call__(self) -> tuple[float, float] | None:
        """The next trial's (wall, cpu) seconds; None if the pruner cut it short."""
        st = self.study
        search = self._replace(st.spec.search, trials=st.backend.finished() + 1)
        st.spec = st.backend.spec = self._replace(st.spec, search=search)
        start = clocks()
        st.run(self.runner, out=io.StringIO())
        took = since(start)
        return took if st.backend.records()[-1].state == "complete" else None

    def close(self) -> None:
        self._tmp.cleanup()


Runs = list[tuple[float, float] | None]


def seconds(runs: Runs) -> float:
    return median([x[0] for x in runs if x is not None])


def ratio(runs: Runs, bare_runs: Runs, clock: int = 0) -> float:
    """Median over rounds of a side's time / the same round's bare time (0 wall, 1 cpu)."""
    pairs = zip(runs, bare_runs, strict=True)
    return median([x[clock] / b[clock] for x, b in pairs if x is not None and b is not None])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=11)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args(argv)

    from seqtune.models.runtime import configure_from_env

    configure_from_env()  # the threads every seqtune process uses (one, by default)
    spec, runner, base = airline_runner()
    print(f"# framework overhead — {machine()}")
    trial(runner, base, spec.seed, 2)  # warm up TensorFlow once
    # as Study.run does before its first trial, so bare, trial and study all get it
    from seqtune.search.loop import freeze_startup_objects

    freeze_startup_objects()
    rows = []
    for name, change in CONFIGS.items():
        values = {**base, **change}
        sides: dict[str, Callable[[], tuple[float, float] | None]] = {
            "bare": lambda v=values: bare(runner, v, spec.seed, args.epochs),
            "trial": lambda v=values: trial(runner, v, spec.seed, args.epochs),
            "study": OneTrialAtATime(spec, values, args.epochs, "none"),
            "pruned": OneTrialAtATime(spec, values, args.epochs, "median"),
        }
        times: dict[str, Runs] = {k: [] for k in sides}
        order = list(sides)
        for i in range(args.repeats):  # one of each per round, who goes first rotating
            for side in order[i % 4 :] + order[: i % 4]:
                times[side].append(sides[side]())
        for fn in sides.values():
            if isinstance(fn, OneTrialAtATime):
                fn.close()
        rows.append(
            [name, *(seconds(times[k]) for k in sides)]
            + [ratio(times["trial"], times["bare"]), ratio(times["trial"], times["bare"], 1)]
            + [ratio(times["study"], times["bare"]), ratio(times["pruned"], times["bare"])]
        )
        print(f"  done: {name}", flush=True)
    print(
        f"\n{args.epochs} epochs per trial; seconds per trial, medians of {args.repeats} rounds "
        "(one of each side per round, the order rotating); ratios: median over rounds of the "
        "side / that round's bare run (a pruned trial is left out)\n"
    )
    print(
        table(
            [
                "configuration",
                "bare s",
                "trial s",
                "study s",
                "study+pruner s",
                "trial/bare",
                "(cpu)",
                "study/bare",
                "study+pruner/bare",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
