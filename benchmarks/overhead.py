"""Benchmark 4 — framework overhead: a seqtune trial against the bare training path it uses.

Three ways to train the same configuration for the same epochs (airline, no early stop):

- bare:  ``keras.backend.clear_session()``, seed, build the model, then
  ``seqtune.models.training.fit(..., validation_x=x_val)`` with no callbacks — the compiled
  training path and the validation forward pass a trial cannot do without;
- trial: ``Runner.run`` — adds the windows, the objective callback (inverse transform and
  val_rmse every epoch), best-epoch weights, the outcome;
- study: ``Study.run`` (TPE, SQLite) of a spec with the same fixed values — adds Optuna,
  trials.csv after every trial and the checkpoint of each new best model; once with
  ``pruner: none`` and once with the default ``median`` pruner (its callback reports every
  epoch to the storage). Each study trial has its own seed; trial and bare use one seed.

Bare and trial alternate ``--repeats`` times; each study runs ``--repeats`` trials. The
table shows median seconds per trial (wall; "cpu" = this process' CPU time, less sensitive
to other people's load) and the ratios to bare. Target: trial/bare ≤ 1.05.

    python benchmarks/overhead.py [--repeats 5] [--epochs 100]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
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
    from seqtune.search.runner import head_of

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
        head=head_of(windows)[0],
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


def study(
    spec: Any, values: dict[str, Any], trials: int, epochs: int, pruner: str
) -> tuple[float, float]:
    from seqtune.search.study import Study
    from seqtune.spec import Spec

    raw = spec.to_dict(relative_to=spec.base_dir)
    raw["space"] = dict(values)
    raw["search"] = {
        **raw["search"],
        "trials": trials,
        "max_epochs": epochs,
        "patience": None,
        "pruner": pruner,
    }
    fixed = Spec.from_dict(raw, spec.base_dir, spec.source)
    with tempfile.TemporaryDirectory() as tmp:
        st, runner = Study.launch(fixed, Path(tmp))
        start = clocks()
        st.run(runner, out=io.StringIO())
        wall, cpu = since(start)
        return wall / trials, cpu / trials


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args(argv)

    spec, runner, base = airline_runner()
    print(f"# framework overhead — {machine()}")
    trial(runner, base, spec.seed, 2)  # warm up TensorFlow once
    rows = []
    for name, change in CONFIGS.items():
        values = {**base, **change}
        b, t = [], []
        for _ in range(args.repeats):
            b.append(bare(runner, values, spec.seed, args.epochs))
            t.append(trial(runner, values, spec.seed, args.epochs))
        plain = study(spec, values, args.repeats, args.epochs, "none")
        pruned = study(spec, values, args.repeats, args.epochs, "median")
        mb = median([w for w, _ in b]), median([c for _, c in b])
        mt = median([w for w, _ in t]), median([c for _, c in t])
        rows.append(
            [
                name,
                mb[0],
                mt[0],
                plain[0],
                pruned[0],
                mt[0] / mb[0],
                mt[1] / mb[1],
                plain[0] / mb[0],
                pruned[0] / mb[0],
            ]
        )
        print(f"  done: {name}", flush=True)
    print(
        f"\n{args.epochs} epochs per trial; seconds per trial, medians of {args.repeats} runs "
        "(studies: mean over their trials)\n"
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
