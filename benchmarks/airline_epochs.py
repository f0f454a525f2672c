"""Benchmark 1 — airline: epoch and trial time, seqtune against a plain Keras ``fit``.

Each configuration is trained both ways on the same windows with the identical model
(built by seqtune's builder from the same values), the same batch size and epochs:

- seqtune: one trial through ``Runner.run`` (windows, model, compiled fit, the validation
  objective every epoch, best-epoch weights kept; no early stop);
- Keras:   what the tutorial writes — ``model.compile(Adam(lr), "mse")`` then
  ``model.fit(x, y, epochs, batch_size, verbose=0)``, no validation at all.

Configurations: the tutorial's own model (LSTM(4) on 3 steps, batch_size 1, 100 epochs —
``examples/airline_tutorial_lstm_timesteps_lb3.yaml``), and an airline-sized LSTM(32) on
12 steps at full batch and at batch 8. Runs alternate seqtune / Keras ``--repeats`` times;
the table shows medians. "epoch" is the median of all epochs after the first (the first
holds the tracing); "trial" is the wall time of the whole trial, tracing included.

    python benchmarks/airline_epochs.py [--repeats 3] [--epochs 100]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import airline_runner, epoch_timer, machine, median, table

CONFIGS: dict[str, dict[str, Any]] = {
    "tutorial: LSTM(4), 3 steps, batch 1": {},
    "LSTM(32), 12 steps, full batch": {"look_back": 12, "units": 32, "batch_size": 1024},
    "LSTM(32), 12 steps, batch 8": {"look_back": 12, "units": 32, "batch_size": 8},
}


def seqtune_trial(runner: Any, values: dict[str, Any], seed: int, epochs: int) -> dict[str, float]:
    timer = epoch_timer()
    start = time.perf_counter()
    runner.on_epoch = timer
    out = runner.run(values, seed, epochs=epochs)
    return {
        "epoch": median(timer.steady),
        "first": timer.first,
        "trial": time.perf_counter() - start,
        "epochs": out.epochs_run,
    }


def keras_trial(runner: Any, values: dict[str, Any], seed: int, epochs: int) -> dict[str, float]:
    import keras

    from seqtune.models.params import resolve

    timer = epoch_timer()
    start = time.perf_counter()
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    windows = runner.windows(values)
    model = runner.build(values, windows)
    x, y = windows.part("train")
    lr = float(resolve(runner.spec.kind, values)["learning_rate"])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
    model.fit(
        x, y, epochs=epochs, batch_size=int(values["batch_size"]), verbose=0, callbacks=[timer]
    )
    return {
        "epoch": median(timer.steady),
        "first": timer.first,
        "trial": time.perf_counter() - start,
        "epochs": len(timer.ends),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=100)
    args = p.parse_args(argv)

    spec, runner, base = airline_runner()
    print(f"# airline epochs — {machine()}")
    seqtune_trial(runner, base, spec.seed, 2)  # warm up TensorFlow once
    rows = []
    for name, change in CONFIGS.items():
        values = {**base, **change}
        ours: list[dict[str, float]] = []
        theirs: list[dict[str, float]] = []
        for _ in range(args.repeats):
            ours.append(seqtune_trial(runner, values, spec.seed, args.epochs))
            theirs.append(keras_trial(runner, values, spec.seed, args.epochs))
        s = {k: median([r[k] for r in ours]) for k in ours[0]}
        k = {k: median([r[k] for r in theirs]) for k in theirs[0]}
        rows.append(
            [
                name,
                runner.windows(values).x_train.shape[0],
                s["epoch"] * 1e3,
                k["epoch"] * 1e3,
                k["epoch"] / s["epoch"],
                s["first"],
                k["first"],
                s["trial"],
                k["trial"],
                k["trial"] / s["trial"],
            ]
        )
        print(f"  done: {name}", flush=True)
    print(
        f"\n{args.epochs} epochs, medians of {args.repeats} runs each; "
        "ratio = Keras / seqtune (higher: seqtune faster)\n"
    )
    print(
        table(
            [
                "configuration",
                "windows",
                "seqtune epoch ms",
                "Keras epoch ms",
                "ratio",
                "seqtune 1st s",
                "Keras 1st s",
                "seqtune trial s",
                "Keras trial s",
                "ratio",
            ],
            rows,
        )
    )
    print(
        "\nseqtune's trial also predicts the validation set and computes val_rmse every epoch;"
        "\nKeras' does not. '1st' = start of training to the end of epoch 1 (tracing)."
    )


if __name__ == "__main__":
    main()
