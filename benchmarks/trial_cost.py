"""Benchmark — what a trial costs in seqtune's own trial loop (``Runner.run``), one model
against folds × repeats trained side by side.

Four modes of one airline configuration (``examples/airline_folds.yaml``'s space, a fixed
point of it: MLP on a seasonal difference, look_back 13, one Dense(16), batch 16):

- ``holdout fit``: one model on the holdout split, the compiled fit
  (``training.train_epochs``; every trial clears the Keras session and traces its epoch
  function): how seqtune before 0.3.0 trained it, and still trains an older study's trials;
- ``holdout``: the same model as a one-member :class:`~seqtune.models.engine.Wide` (0.3.0 on:
  the engine kept per layer structure, re-loaded, nothing traced);
- ``folds``: 4 rolling-origin folds, 1 seed: K = 4 models in one compiled call per epoch;
- ``folds x repeats``: 4 folds x 2 seeds: K = 8.

Per trial: "fixed s" = the start of ``Runner.run`` to the end of its first epoch, minus one
steady epoch (windows, building the models, tracing or re-loading the engine); "ms/epoch"
= the median of the later epochs; "ms/model-epoch" = that divided by K. Each mode runs
``--trials`` trials in one process, alternating a *same* configuration (the engine kept by
the previous trial of the same shapes is reused, nothing traced) with, when ``--vary``, a
configuration of other shapes (look_back 14: every trial of the pair traces anew). Modes
alternate, ``--rounds`` times; medians over trials. One thread (seqtune's default).

    python benchmarks/trial_cost.py [--trials 6] [--epochs 30] [--rounds 2] [--vary]
        [--model mlp|lstm]

``--model lstm``: LSTM(32) on 12 steps at full batch instead (the speed issue's yardstick).
``--lstm fused|unrolled``: the engine's LSTM kernel (``Runner(lstm=)``): ``fused`` (0.3.2's
default: one BlockLSTM kernel per member, any window length on one trace) or ``unrolled``
(0.3.1: the steps written out). ``--lstm compare``: the engine modes twice, fused and
unrolled, alternating in one process.
``--pad on|off`` (unrolled only): the engine pads LSTM windows to a multiple of 8 steps
(0.3.1's default where look_back is searched, as here) or unrolls each window as it is:
with ``--model lstm --vary`` the two window lengths (12, 13) then share one engine (unrolled
over 16 steps), or each traces its own. ``--pad compare``: the engine modes twice, padded
and unpadded, alternating in one process (what the padding steps cost, as ratios from one
run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = Path(__file__).resolve().parents[1]
VALUES: dict[str, Any] = {
    "transform": "seasonal_diff",
    "look_back": 13,
    "num_hidden_layers": 1,
    "dense_units_0": 16,
    "learning_rate": 0.003,
    "batch_size": 16,
}
#: ``--model lstm``: the LSTM(32) of the speed issue, 12 steps, full batch (one batch an epoch)
LSTM_VALUES: dict[str, Any] = {
    "transform": "seasonal_diff",
    "look_back": 12,
    "units": 32,
    "num_hidden_layers": 0,
    "learning_rate": 0.003,
    "batch_size": 128,
}
#: mode: (data.split, search.repeats, Runner.holdout)
MODES = {
    "holdout fit": ({"val": 12, "test": 48}, 1, "fit"),
    "holdout": ({"val": 12, "test": 48}, 1, "wide"),
    "folds": ({"val": 12, "test": 48, "folds": 4}, 1, "auto"),
    "folds x repeats": ({"val": 12, "test": 48, "folds": 4}, 2, "auto"),
}


def runner_for(
    split: dict[str, Any],
    repeats: int,
    model: str = "mlp",
    holdout: str = "auto",
    pad: str = "auto",
    lstm: str = "fused",
) -> Any:
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    raw = Spec.from_file(ROOT / "examples" / "airline_folds.yaml").to_dict()
    raw["data"]["split"] = split
    if model == "lstm":
        raw["model"] = {"kind": "lstm", "layout": "timesteps"}
    raw["search"].update({"repeats": repeats, "patience": None})
    spec = Spec.from_dict(raw, ROOT / "examples", ROOT / "examples" / "airline_folds.yaml")
    spec = replace(spec, search=replace(spec.search, pruner="none"))
    return prepare(spec, holdout=holdout, pad=pad, lstm=lstm)[1]


def one_trial(runner: Any, values: dict[str, Any], epochs: int, seed: int) -> tuple[float, float]:
    """(fixed seconds, median ms per epoch) of one trial."""
    stamps: list[float] = []
    runner.on_epoch = lambda _i: stamps.append(time.perf_counter())
    start = time.perf_counter()
    runner.run(values, seed, epochs=epochs)
    steps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    epoch = statistics.median(steps)
    return stamps[0] - start - epoch, epoch * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--vary", action="store_true", help="every other trial of other shapes")
    ap.add_argument("--model", choices=("mlp", "lstm"), default="mlp")
    ap.add_argument("--pad", choices=("auto", "on", "off", "compare"), default="auto")
    ap.add_argument("--lstm", choices=("fused", "unrolled", "compare"), default="fused")
    args = ap.parse_args(argv)
    if args.pad in ("on", "compare") and args.lstm != "unrolled":
        ap.error("--pad on|compare is for --lstm unrolled")

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    base = LSTM_VALUES if args.model == "lstm" else VALUES
    other = {**base, "look_back": base["look_back"] + 1}
    pad = "on" if args.pad == "compare" else args.pad
    lstm = "fused" if args.lstm == "compare" else args.lstm
    modes = {name: (*mode, pad, lstm) for name, mode in MODES.items()}
    for name in ("holdout", "folds x repeats"):
        if args.pad == "compare":
            modes[f"{name}, unpadded"] = (*MODES[name], "off", lstm)
        if args.lstm == "compare":
            modes[f"{name}, unrolled"] = (*MODES[name], "auto", "unrolled")
    runners = {
        name: runner_for(split, r, args.model, wide, pad, lstm)
        for name, (split, r, wide, pad, lstm) in modes.items()
    }
    got: dict[str, dict[str, list[float]]] = {
        name: {"first": [], "fixed": [], "epoch": []} for name in modes
    }
    for _ in range(args.rounds):
        for name, runner in runners.items():
            for t in range(args.trials):
                values = other if args.vary and t % 2 else base
                fixed, epoch = one_trial(runner, values, args.epochs, seed=t)
                got[name]["first" if t == 0 else "fixed"].append(fixed)
                got[name]["epoch"].append(epoch)
    print(
        f"airline {args.model}, {args.epochs} epochs a trial, {args.trials} trials x "
        f"{args.rounds} rounds, lstm {args.lstm}, pad {args.pad} "
        f"(padding: {runners['holdout'].pad_steps}), "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'mode':<27} {'K':>3} {'1st fixed s':>11} {'fixed s':>8} {'ms/epoch':>9} "
        f"{'ms/model-epoch':>15}"
    )
    for name, (split, repeats, *_) in modes.items():
        k = split.get("folds", 1) * repeats
        g = got[name]
        epoch = statistics.median(g["epoch"])
        print(
            f"{name:<27} {k:>3} {statistics.median(g['first']):>11.3f} "
            f"{statistics.median(g['fixed']):>8.3f} {epoch:>9.2f} {epoch / k:>15.2f}"
        )


if __name__ == "__main__":
    main()
