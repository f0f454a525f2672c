"""Benchmark — what padding an LSTM's windows costs per epoch on the kept engine.

Since 0.3.1 a study whose look_back is searched pads each LSTM window in front to a multiple
of 8 steps (``Wide(pad_steps=True)``), the padding masked, so that window lengths of one
bucket share one traced engine. The padding steps are computed like real ones; this script
measures how much that costs: LSTM(32) at full batch (80 rows, one feature, like an airline
holdout), K = 1 and 8 members, three cases per K, alternating, ``--repeats`` rounds:

- ``12 steps``: a window of 12 unrolled as it is (0.3.0);
- ``16 steps``: a window of 16 (what the bucket unrolls);
- ``12 padded to 16``: a window of 12 padded to 16, 4 steps masked (0.3.1);
- ``12 steps, fused``: a window of 12 through the fused LSTM kernel (0.3.2: one BlockLSTM
  per member, no padding, any window length on one trace).

Prints the median ms per epoch (after 3 warm-up epochs, over ``--epochs``) and each case's
ratio to the unpadded 12. One thread (seqtune's default).

    python benchmarks/padding.py [--repeats 3] [--epochs 40]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROWS, VALIDATION, UNITS, WARMUP = 80, 12, 32, 3
CASES = [
    ("12 steps", 12, False, "unrolled"),
    ("16 steps", 16, False, "unrolled"),
    ("12 padded to 16", 12, True, "unrolled"),
    ("12 steps, fused", 12, False, "fused"),
]


def epoch_ms(steps: int, k: int, pad: bool, lstm: str, epochs: int) -> float:
    """Mean ms per epoch over ``epochs`` epochs after the warm-up, on a fresh Wide."""
    import numpy as np

    from seqtune.models.engine import Member, Wide, build_members

    rng = np.random.default_rng(0)
    members = [
        Member(
            seed,
            rng.random((ROWS, steps, 1)).astype(np.float32),
            rng.random((ROWS, 1)).astype(np.float32),
            validation_x=rng.random((VALIDATION, steps, 1)).astype(np.float32),
        )
        for seed in range(k)
    ]
    models = build_members(
        "lstm",
        "timesteps",
        {"units": UNITS, "num_hidden_layers": 0},
        [m.seed for m in members],
        look_back=steps,
        n_features=1,
        n_outputs=1,
        head="linear",
    )
    with Wide(
        models,
        members,
        head="linear",
        learning_rate=0.003,
        batch_size=128,
        pad_steps=pad,
        lstm=lstm,
    ) as wide:
        list(wide.run(WARMUP))
        start = time.perf_counter()
        list(wide.run(WARMUP + epochs, WARMUP))
        return (time.perf_counter() - start) / epochs * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 8])
    args = ap.parse_args(argv)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    got: dict[tuple[int, str], list[float]] = {}
    for _ in range(args.repeats):
        for k in args.ks:
            for name, steps, pad, lstm in CASES:
                got.setdefault((k, name), []).append(epoch_ms(steps, k, pad, lstm, args.epochs))
    print(
        f"LSTM({UNITS}), {ROWS} rows full batch, {args.epochs} epochs x {args.repeats} "
        f"rounds, load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'K':>3} {'case':<17} {'ms/epoch':>9} {'vs 12 steps':>12}")
    for k in args.ks:
        base = statistics.median(got[(k, CASES[0][0])])
        for name, *_ in CASES:
            ms = statistics.median(got[(k, name)])
            print(f"{k:>3} {name:<17} {ms:>9.2f} {ms / base:>11.2f}x")


if __name__ == "__main__":
    main()
