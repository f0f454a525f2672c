"""Benchmark 2 — a drone-sized stream: training samples per second, seqtune against the
original notebook's way.

Data: random numbers of the drone stream's shape — ``--rows`` rows (22,000) × ``--features``
(30) features and a 0/1 ``class`` column (about 2:1) — written to a temporary CSV; no
generator, no real data. Both sides train on the same 5-row windows (chronological split,
val 15 %, test 15 %, standard scaler fitted on the training rows) with the identical model:
LSTM(units) → Dropout(0.2) → 2 × [Dense(64, relu) → Dropout(0.2)] → Dense(1, sigmoid).

- notebook: ``model.compile(Adam(1e-3), "binary_crossentropy", metrics=["accuracy"])`` and
  ``model.fit(x, y, batch_size=32, epochs, validation_data=(x_val, y_val))``, as the
  notebook did (it watched a validation metric every epoch);
- seqtune:  one trial through ``Runner.run`` (objective val_f1 on the whole validation set
  every epoch, best epoch kept).

Samples per second = training windows / median epoch time (epochs after the first, which
holds the tracing). Medians over ``--repeats`` alternating runs.

    python benchmarks/drone_throughput.py [--epochs 4] [--repeats 2] [--units 32 128]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import epoch_timer, machine, median, table


def write_stream(path: Path, rows: int, features: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    y = (rng.random(rows) < 2 / 3).astype(np.int64)
    header = ",".join([f"f{i}" for i in range(features)] + ["class"])
    data = np.column_stack([x, y]).astype(object)
    np.savetxt(path, data, delimiter=",", header=header, comments="", fmt="%s")


def make_runner(csv: Path, units: int, epochs: int) -> tuple[Any, dict[str, Any]]:
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    values = {
        "look_back": 5,
        "units": units,
        "dropout": 0.2,
        "num_hidden_layers": 2,
        "dense_units": 64,
        "dense_dropout": 0.2,
        "learning_rate": 0.001,
        "batch_size": 32,
    }
    raw = {
        "study": "drone-throughput",
        "seed": 0,
        "data": {
            "csv": str(csv),
            "target": "class",
            "task": "classify",
            "split": {"val": 0.15, "test": 0.15},
            "scaler": "standard",
        },
        "model": {"kind": "lstm", "layout": "timesteps"},
        "space": values,
        "objective": "val_f1",
        "search": {"backend": "tpe", "trials": 1, "max_epochs": epochs, "patience": None},
    }
    spec = Spec.from_dict(raw, csv.parent)
    _, runner = prepare(spec)
    return runner, values


def seqtune_epochs(runner: Any, values: dict[str, Any], epochs: int) -> tuple[float, float]:
    timer = epoch_timer()
    runner.on_epoch = timer
    runner.run(values, 0, epochs=epochs)
    return median(timer.steady), timer.first


def notebook_epochs(runner: Any, values: dict[str, Any], epochs: int) -> tuple[float, float]:
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    windows = runner.windows(values)
    model = runner.build(values, windows)
    (x, y), (xv, yv) = windows.part("train"), windows.part("val")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=float(values["learning_rate"])),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    timer = epoch_timer()
    model.fit(
        x,
        y.astype(np.float32),
        batch_size=int(values["batch_size"]),
        epochs=epochs,
        validation_data=(xv, yv.astype(np.float32)),
        verbose=0,
        callbacks=[timer],
    )
    return median(timer.steady), timer.first


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=22000)
    p.add_argument("--features", type=int, default=30)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--units", type=int, nargs="+", default=[32, 128])
    args = p.parse_args(argv)

    print(f"# drone-sized throughput — {machine()}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "stream.csv"
        write_stream(csv, args.rows, args.features)
        for units in args.units:
            runner, values = make_runner(csv, units, args.epochs)
            n = runner.windows(values).x_train.shape[0]
            ours, theirs = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                ours.append((*seqtune_epochs(runner, values, args.epochs), start))
                theirs.append(notebook_epochs(runner, values, args.epochs))
            s_epoch = median([r[0] for r in ours])
            k_epoch = median([r[0] for r in theirs])
            rows.append(
                [
                    f"LSTM({units}) + 2 x Dense(64), batch 32",
                    n,
                    n / s_epoch,
                    n / k_epoch,
                    k_epoch / s_epoch,
                    median([r[1] for r in ours]),
                    median([r[1] for r in theirs]),
                ]
            )
            print(f"  done: units {units}", flush=True)
    print(
        f"\n{args.rows} rows x {args.features} features, 5-row windows, {args.epochs} epochs, "
        f"medians of {args.repeats} runs; ratio = seqtune / notebook samples per second\n"
    )
    print(
        table(
            [
                "model",
                "train windows",
                "seqtune samples/s",
                "notebook samples/s",
                "ratio",
                "seqtune 1st s",
                "notebook 1st s",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
