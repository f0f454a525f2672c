"""Benchmark — K models in one compiled call (``seqtune.models.engine``) against K separate
trainings and against Keras ``fit``.

Per problem and K (1, 2, 4, 8, 16), each side trains the same configuration:

- wide stacked / unrolled / loop: one :class:`~seqtune.models.engine.Wide` of K members
  (seeds 0..K-1, same rows, validation predicted every epoch), ``design="stacked"``
  (weights stacked along a K axis, batched matmuls) with its LSTM fused (0.3.2's default:
  one BlockLSTM kernel per member) or unrolled (``lstm="unrolled"``: every step written out
  as batched ops, 0.3.1), and ``design="loop"`` (the K Keras models called one after the
  other in one graph); XLA (``jit=True``) runs the unrolled one;
- separate fit: ``seqtune.models.training.fit`` of one model with ``validation_x`` (what a
  trial runs today); K separate trainings cost K times its figures;
- Keras fit: ``model.compile(Adam(lr), loss)``, ``model.fit(x, y, batch_size, epochs)``, no
  validation.

"ms / model-epoch" = the median epoch time after the first, divided by K. "1st s" = the
start of training (models built, data loaded) to the end of the first epoch, minus one
steady epoch: the per-run fixed cost of tracing (and, for the loop design, cloning the
models once). "reuse 1st s" = the same for a second run of the same shapes, which takes
the kept engine (weights and data re-assigned, nothing traced); "build s" = building the K
members' models with ``build_model`` (each ~0.2 s, paid by a solo trial too). Runs alternate
the sides, ``--repeats`` times; medians. One thread per process (seqtune's default).

Problems: airline LSTM(32) on 12 steps at full batch (the tutorial spec's data, 65
windows); and the drone-sized stream (``seqtune.datasets.generate_drone_deauth``,
``--drone-rows`` rows, 5-row windows, 70/15/15 chronological split, standard-scaled):
LSTM(32) → Dropout(0.2) → 2 × [Dense(64, relu) → Dropout(0.2)] → sigmoid at batch 32, or
full batch with ``--drone-batch``.

    python benchmarks/wide.py [--repeats 3] [--epochs 60] [--ks 1 2 4 8 16] [--keep-session]

``--keep-session`` leaves out the ``keras.backend.clear_session()`` before each wide run;
that call clears TensorFlow's kernel cache, so with it "reuse 1st s" includes
re-instantiating the kept graph, without it only the (re-)loading of weights and data.

Measured (2026-11-30, 2 cores under load 8-14 from other jobs: absolute times 3-5x the
quiet figures of docs/benchmarks.md; ratios within a table are what count), airline,
``--skip drone`` (medians of 3): ms per model-epoch stacked 23 / 20 / 18 / 14 / 5.9 for
K = 1 / 2 / 4 / 8 / 16 against separate fits 32 / 29 / 35 / 16 / 14 (fit/stacked 1.4, 1.4,
1.9, 1.1, 2.4); loop 24 / 16 / 18 / 20; XLA at K = 8 10.7 (first epoch 60 s); Keras fit
164-398. Tracing ("1st s") stacked 3-9 s at every K, loop 8 / 16 / 32 / 72 s for K = 1..8;
reuse after clear_session 0.9-2.7 s. With ``--keep-session --ks 1 8 --repeats 2 --epochs
30 --loop-max 0 --xla-ks``: stacked 18.3 / 15.0 ms per model-epoch against 23.3 / 20.6
separate, trace 4.9 / 5.5 s, reused first epoch 0.043 / 0.057 s, building the K models
0.11 / 1.5 s. Drone (``--skip airline --repeats 1 --loop-max 4``): stacked 3.6-6.0 s per
model-epoch, separate fits 3.3-7.0 s, Keras 4.9-9.3 s: no gain measurable at batch 32.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _common import airline_runner, machine, median, table

Problem = dict[str, Any]


def airline(look_back: int = 12, units: int = 32) -> Problem:
    from seqtune.models.builders import reshape_x
    from seqtune.tasks import task_of

    spec, runner, base = airline_runner()
    values = {**base, "look_back": look_back, "units": units, "batch_size": 1024}
    windows = runner.windows(values)
    layout = spec.layout
    x, y = windows.part("train")
    head, n_out = task_of(windows.task).head(windows)
    return {
        "name": f"airline LSTM({units}), {look_back} steps, full batch",
        "kind": spec.kind,
        "layout": layout,
        "values": values,
        "x": reshape_x(x, layout),
        "y": y,
        "xv": reshape_x(windows.part("val")[0], layout),
        "head": head,
        "dropout": False,
        "shape": {"look_back": look_back, "n_features": windows.n_features, "n_outputs": n_out},
    }


def drone(rows: int, batch_size: int) -> Problem:
    from seqtune.datasets import FEATURE_COLUMNS, LABEL_COLUMN, generate_drone_deauth

    frame = generate_drone_deauth(n_rows=rows, seed=0)
    x = frame[list(FEATURE_COLUMNS)].to_numpy(np.float64)
    y = frame[LABEL_COLUMN].to_numpy(np.float32)
    cut_train, cut_val = int(0.7 * rows), int(0.85 * rows)
    mean, std = x[:cut_train].mean(0), x[:cut_train].std(0) + 1e-9
    x = ((x - mean) / std).astype(np.float32)
    width = 5
    win = np.lib.stride_tricks.sliding_window_view(x, (width, x.shape[1]))[:, 0]
    lab = y[width - 1 :]
    end_train, end_val = cut_train - width + 1, cut_val - width + 1
    values = {
        "look_back": width,
        "units": 32,
        "dropout": 0.2,
        "num_hidden_layers": 2,
        "dense_units": 64,
        "dense_dropout": 0.2,
        "learning_rate": 1e-3,
        "batch_size": batch_size,
    }
    return {
        "name": f"drone {rows} rows, LSTM(32)+2xDense(64), batch {batch_size}",
        "kind": "lstm",
        "layout": "timesteps",
        "values": values,
        "x": np.ascontiguousarray(win[:end_train]),
        "y": lab[:end_train].reshape(-1, 1),
        "xv": np.ascontiguousarray(win[end_train:end_val]),
        "head": "sigmoid",
        "dropout": True,
        "shape": {"look_back": width, "n_features": x.shape[1], "n_outputs": 1},
    }


def _epochs_timed(run: Callable[[], Any], start: float) -> dict[str, float]:
    ends = []
    for _ in run():
        ends.append(time.perf_counter())
    steady = median([b - a for a, b in zip(ends, ends[1:], strict=False)])
    return {"epoch": steady, "first": ends[0] - start - steady}


KEEP_SESSION = False  # --keep-session: no keras.backend.clear_session() before wide runs


def wide_run(
    p: Problem, k: int, epochs: int, design: str, jit: bool = False, lstm: str = "fused"
) -> dict[str, float]:
    """Two runs of K members: the first traces (or takes a kept engine of an earlier
    repeat: those are cleared first), the second reuses its engine."""
    import keras

    from seqtune.models.engine import Member, Wide, build_members, clear_engines
    from seqtune.models.params import resolve

    clear_engines()
    lr = float(resolve(p["kind"], p["values"])["learning_rate"])
    bs = int(p["values"]["batch_size"])
    out: dict[str, float] = {}
    for label, seeds in (("", range(k)), ("reuse ", range(100, 100 + k))):
        if not KEEP_SESSION:
            keras.backend.clear_session()  # as Runner does per trial: clears TF's kernel cache
        start = time.perf_counter()
        models = build_members(
            p["kind"], p["layout"], p["values"], list(seeds), head=p["head"], **p["shape"]
        )
        built = time.perf_counter()
        members = [Member(s, p["x"], p["y"], validation_x=p["xv"]) for s in seeds]
        wide = Wide(
            models,
            members,
            head=p["head"],
            learning_rate=lr,
            batch_size=bs,
            design=design,
            jit=jit,
            lstm=lstm,
        )
        assert wide.reused == bool(label)
        r = _epochs_timed(lambda w=wide: w.run(epochs), built)
        out[label + "epoch"] = r["epoch"] / k
        out[label + "first"] = r["first"]
        out[label + "build"] = built - start
    return out


def separate_fit(p: Problem, epochs: int) -> dict[str, float]:
    import keras

    from seqtune.models.builders import build_model
    from seqtune.models.params import resolve
    from seqtune.models.training import fit

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build_model(p["kind"], p["layout"], p["values"], head=p["head"], **p["shape"])
    start = time.perf_counter()
    ends: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            ends.append(time.perf_counter())

    fit(
        model,
        p["x"],
        p["y"],
        head=p["head"],
        learning_rate=float(resolve(p["kind"], p["values"])["learning_rate"]),
        batch_size=int(p["values"]["batch_size"]),
        epochs=epochs,
        seed=0,
        validation_x=p["xv"],
        callbacks=[Timer()],
    )
    steady = median([b - a for a, b in zip(ends, ends[1:], strict=False)])
    return {"epoch": steady, "first": ends[0] - start - steady}


def keras_fit(p: Problem, epochs: int) -> dict[str, float]:
    import keras

    from seqtune.models.builders import build_model
    from seqtune.models.params import resolve
    from seqtune.models.training import make_loss

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = build_model(p["kind"], p["layout"], p["values"], head=p["head"], **p["shape"])
    lr = float(resolve(p["kind"], p["values"])["learning_rate"])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=make_loss(p["head"]))
    ends: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            ends.append(time.perf_counter())

    start = time.perf_counter()
    model.fit(
        p["x"],
        p["y"],
        batch_size=int(p["values"]["batch_size"]),
        epochs=epochs,
        verbose=0,
        callbacks=[Timer()],
    )
    steady = median([b - a for a, b in zip(ends, ends[1:], strict=False)])
    return {"epoch": steady, "first": ends[0] - start - steady}


def bench(
    p: Problem, ks: list[int], epochs: int, repeats: int, loop_max: int, xla_ks: list[int]
) -> list[list[Any]]:
    rows = []
    for k in ks:
        sides: dict[str, Callable[[], dict[str, float]]] = {
            "stacked": lambda k=k: wide_run(p, k, epochs, "stacked"),
            "unrolled": lambda k=k: wide_run(p, k, epochs, "stacked", lstm="unrolled"),
            "fit": lambda: separate_fit(p, epochs),
            "keras": lambda: keras_fit(p, max(3, epochs // 10)),
        }
        if k <= loop_max:
            sides["loop"] = lambda k=k: wide_run(p, k, epochs, "loop")
        if k in xla_ks and not p["dropout"]:
            sides["xla"] = lambda k=k: wide_run(p, k, epochs, "stacked", True, "unrolled")
        runs: dict[str, list[dict[str, float]]] = {s: [] for s in sides}
        names = list(sides)
        for i in range(repeats):
            for s in names[i % len(names) :] + names[: i % len(names)]:
                runs[s].append(sides[s]())

        def med(side: str, key: str, runs: dict[str, list[dict[str, float]]] = runs) -> float:
            if side not in runs:
                return float("nan")
            return median([r[key] for r in runs[side]])

        fit_ms = med("fit", "epoch") * 1e3
        rows.append(
            [
                k,
                med("stacked", "epoch") * 1e3,
                med("unrolled", "epoch") * 1e3,
                med("loop", "epoch") * 1e3,
                med("xla", "epoch") * 1e3,
                fit_ms,
                med("keras", "epoch") * 1e3,
                fit_ms / (med("stacked", "epoch") * 1e3),
                med("stacked", "first"),
                med("stacked", "reuse first"),
                med("unrolled", "first"),
                med("loop", "first"),
                med("loop", "reuse first"),
                med("xla", "first"),
                med("fit", "first"),
                med("stacked", "build"),
            ]
        )
        print(f"  done: K={k}", flush=True)
    return rows


HEADERS = [
    "K",
    "stacked ms/model-ep",
    "unrolled ms/model-ep",
    "loop ms/model-ep",
    "XLA ms/model-ep",
    "separate fit ms/ep",
    "Keras fit ms/ep",
    "fit/stacked",
    "stacked 1st s",
    "stacked reuse 1st s",
    "unrolled 1st s",
    "loop 1st s",
    "loop reuse 1st s",
    "XLA 1st s",
    "fit 1st s",
    "build K s",
]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=60, help="airline epochs per run")
    ap.add_argument("--drone-epochs", type=int, default=3)
    ap.add_argument("--drone-rows", type=int, default=22000)
    ap.add_argument("--drone-batch", type=int, default=32)
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    ap.add_argument("--loop-max", type=int, default=8, help="largest K run with design=loop")
    ap.add_argument("--xla-ks", type=int, nargs="*", default=[8], help="K run with jit=True")
    ap.add_argument(
        "--keep-session",
        action="store_true",
        help="no clear_session() between wide runs (it makes a reused engine re-instantiate)",
    )
    ap.add_argument("--skip", choices=["airline", "drone"], default=None)
    args = ap.parse_args(argv)
    global KEEP_SESSION
    KEEP_SESSION = args.keep_session

    from seqtune.models.runtime import configure_from_env

    configure_from_env()  # one thread, as every seqtune process
    print(f"# K models per compiled call — {machine()}")
    problems = []
    if args.skip != "airline":
        problems.append((airline(), args.epochs))
    if args.skip != "drone":
        problems.append((drone(args.drone_rows, args.drone_batch), args.drone_epochs))
    for p, epochs in problems:
        separate_fit(p, 2)  # warm up TensorFlow once
        print(f"\n## {p['name']}: {len(p['x'])} training windows, {epochs} epochs", flush=True)
        rows = bench(p, args.ks, epochs, args.repeats, args.loop_max, args.xla_ks)
        print(f"\nmedians of {args.repeats} runs; fit/stacked = separate fit ms / stacked ms\n")
        print(table(HEADERS, rows))
    print(
        "\n'1st s' = start of training to the end of epoch 1 minus a steady epoch (tracing);"
        "\n'reuse' = a second run of the same shapes on the kept engine (no tracing);"
        "\n'build K s' = building the K members' Keras models (not in '1st s')."
    )


if __name__ == "__main__":
    main()
