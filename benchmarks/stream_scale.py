"""Benchmark — streams of 100k to 1M rows (issue 28): wall, CPU and peak RSS per step.

For each size, the generated drone de-auth stream (``seqtune datasets drone-deauth --rows
N``) and one fixed configuration (LSTM(64) → Dropout(0.2) → 2 × [Dense(64, relu) →
Dropout(0.2)] → sigmoid, look_back 19, batch 32, Adam 1e-3, balanced class weights,
chronological split val 0.15 / test 0.2): each step runs in its own process under
``/usr/bin/time -v``, so every figure is that process's own:

- ``check``: ``seqtune check`` of the spec (reads the CSV, checks it, counts windows);
- ``trial``: one trial of 1 epoch as a study runs it (``Runner.run``: the compiled fit or
  the kept engine, as ``trainer_for`` chooses; validation F1 after the epoch) — ``epoch s``
  is the trial's own time (it includes tracing: 2-5 s);
- ``train``: ``seqtune train`` of the spec with 1 epoch, what ``export`` does for the
  trial (the trial again on the kept engine, then the test part, the baselines);
- ``keras``: the reference — the same windows of the same scaled matrix
  (``keras.utils.timeseries_dataset_from_array``, shuffled, batch 32), the same model,
  plain ``model.compile`` + ``model.fit`` for 1 epoch with the validation windows as
  ``validation_data`` (no class weights: the loss differs, the work does not).

    python benchmarks/stream_scale.py [--rows 100000 250000 1000000] [--steps ...]

Prints one table (and writes it to ``--out`` as markdown when given).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, machine, table

SPEC = """\
study: stream-scale
seed: 42
data:
  csv: {csv}
  target: class
  task: classify
  split: {{val: 0.15, test: 0.2}}
  scaler: standard
  label_at: next
  class_weight: balanced
model: {{kind: lstm, layout: timesteps}}
space:
  look_back: 19
  units: 64
  dropout: 0.2
  num_hidden_layers: 2
  dense_units: 64
  dense_dropout: 0.2
  learning_rate: 0.001
  batch_size: 32
objective: val_f1
search: {{backend: tpe, trials: 1, max_epochs: 1, patience: null, pruner: none}}
"""
STEPS = ("check", "trial", "train", "keras")


def timed(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd`` under ``/usr/bin/time -v``: wall s, CPU s (user + sys), peak RSS GiB and
    the last line of its stdout (a child's JSON)."""
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    err = done.stderr

    def field(name: str) -> str:
        found = re.search(rf"{re.escape(name)}: (.+)", err)
        assert found is not None, name
        return found.group(1).strip()

    parts = [float(p) for p in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")]
    wall = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)")) / 2**20
    lines = [ln for ln in done.stdout.strip().splitlines() if ln.strip()]
    return {"wall": wall, "cpu": cpu, "rss": rss, "out": lines[-1] if lines else ""}


def child_trial(spec_path: str) -> None:
    """One trial of 1 epoch through the study's runner; prints its seconds and value."""
    from seqtune.exported.export import fixed_values
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    spec = Spec.from_file(spec_path)
    values = fixed_values(spec)
    _, runner = prepare(spec)
    windows = runner.windows(values)
    trainer = runner.trainer_for(values, windows)
    outcome = runner.run(values, spec.seed, epochs=1)
    print(json.dumps({"epoch": outcome.seconds, "value": outcome.value, "trainer": trainer}))


def child_keras(spec_path: str) -> None:
    """The reference: plain ``fit`` on ``timeseries_dataset_from_array`` of the same
    scaled matrix and the same windows (train and validation)."""
    import keras
    import numpy as np

    from seqtune.exported.export import fixed_values
    from seqtune.models.builders import build_model
    from seqtune.spec import Spec
    from seqtune.study.lifecycle import prepare

    spec = Spec.from_file(spec_path)
    values = fixed_values(spec)
    _, runner = prepare(spec)
    windows = runner.windows(values)
    look_back = windows.look_back
    assert windows.matrix is not None

    def dataset(part: str, shuffle: bool) -> Any:
        _, starts = windows.window_starts(part)
        first, last = int(starts[0]), int(starts[-1])
        labels = np.zeros(windows.matrix.shape[0], np.float32)
        labels[starts] = windows.part(part)[1]  # the label of the window starting there
        return keras.utils.timeseries_dataset_from_array(
            np.ascontiguousarray(windows.matrix),
            labels,
            sequence_length=look_back,
            batch_size=32,
            shuffle=shuffle,
            seed=1,
            start_index=first,
            end_index=last + look_back,
        )

    keras.utils.set_random_seed(spec.seed)
    model = build_model(
        "lstm",
        "timesteps",
        values,
        look_back=look_back,
        n_features=windows.n_features,
        n_outputs=1,
        head="sigmoid",
    )
    model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
    train, val = dataset("train", True), dataset("val", False)
    start = time.perf_counter()
    model.fit(train, validation_data=val, epochs=1, verbose=0)
    print(json.dumps({"epoch": time.perf_counter() - start}))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[100_000, 250_000, 1_000_000])
    p.add_argument("--steps", nargs="+", default=list(STEPS), choices=STEPS)
    p.add_argument("--out", type=Path, help="also write the table here (markdown)")
    p.add_argument("--child", nargs=2, metavar=("STEP", "SPEC"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        step, spec = args.child
        {"trial": child_trial, "keras": child_keras}[step](spec)
        return 0

    seqtune = [sys.executable, "-m", "seqtune.cli"]
    env_path = str(ROOT / "src")
    os.environ["PYTHONPATH"] = env_path + os.pathsep + os.environ.get("PYTHONPATH", "")
    print(machine(), flush=True)
    rows: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="stream-scale-") as tmp:
        for n in args.rows:
            csv = Path(tmp) / f"drone_{n}.csv"
            made = timed([*seqtune, "datasets", "drone-deauth", "--rows", str(n), "-o", str(csv)])
            spec = Path(tmp) / f"spec_{n}.yaml"
            spec.write_text(SPEC.format(csv=csv))
            print(f"{n} rows: generated in {made['wall']:.1f} s", flush=True)
            for step in args.steps:
                if step == "check":
                    got = timed([*seqtune, "check", str(spec)])
                elif step == "train":
                    got = timed([*seqtune, "train", str(spec), "--json"])
                else:
                    got = timed([sys.executable, __file__, "--child", step, str(spec)])
                epoch = float("nan")
                note = ""
                if step in ("trial", "keras"):
                    out = json.loads(got["out"])
                    epoch = float(out["epoch"])
                    note = out.get("trainer", "keras fit")
                row = [f"{n:,}", step, got["wall"], got["cpu"], got["rss"], epoch, note]
                rows.append(row)
                print(table(HEADERS, [row]).splitlines()[-1], flush=True)
    text = table(HEADERS, rows)
    print(text)
    if args.out is not None:
        args.out.write_text(markdown(rows))
    return 0


HEADERS = ["rows", "step", "wall s", "CPU s", "peak RSS GiB", "epoch s", "trainer"]


def markdown(rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "-" if v != v else f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"
        return str(v)

    lines = ["| " + " | ".join(HEADERS) + " |", "|" + " ---: |" * len(HEADERS)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
