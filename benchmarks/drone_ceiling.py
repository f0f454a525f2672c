"""What limits F1 on the synthetic drone de-authentication stream.

On the test part of the TPE example's framing (``examples/deauth_lstm_tpe.yaml``: split
val 0.15 / test 0.2, ``label_at: next``, so the window of rows t-L .. t-1 predicts the
label of row t), prints the F1 (class 1 = attack) of:

- ``traffic oracle, same row``: predicts row t's label with the regime row t's frames were
  drawn from (:func:`seqtune.datasets.drone.drone_deauth_traffic`). No model can know more
  about row t than its regime: this is the ceiling the boundary offset alone sets;
- ``traffic oracle, last row seen``: the regime of row t-1, the last row a window sees;
- ``generator filter``: a causal detector that knows the generator: an exact
  explicit-duration (semi-Markov) forward filter over the traffic periods, with the
  generator's own probabilities of each frame's kind, length class, retry flag, data rate
  and gap (no telemetry), predicting P(attack traffic at row t | rows before t) > 0.5;
- with ``--baselines``: the logistic and gradient-boosting window baselines of
  :mod:`seqtune.models.baselines`, fitted on the training windows (as ``export`` scores
  them on the test part), and where their errors lie.

Errors are counted by the distance of the row to the nearest label boundary (a change of
``class``), and the label noise (rows whose label is not their traffic's regime) is
reported. Run::

    PYTHONPATH=src python benchmarks/drone_ceiling.py [--seeds 0 1 2] [--look-back 19]
        [--rows 22000] [--baselines]

Needs scikit-learn only with ``--baselines``; no TensorFlow.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from seqtune.data import DataSpec, load_table
from seqtune.datasets import drone
from seqtune.objectives import metrics

SPLIT = {"val": 0.15, "test": 0.2}
#: distance bands to the nearest label boundary (rows): inside the offset, just beyond, far
BANDS = ((0, 5), (6, 15), (16, 10**9))


def f1_of(truth: np.ndarray, predicted: np.ndarray) -> float:
    return metrics.f1(np.asarray(truth, np.int64), np.asarray(predicted, np.float64))


def boundary_distance(label: np.ndarray) -> np.ndarray:
    """Rows from each row to the nearest label change (a change between rows i-1 and i is
    at distance 0 from row i and from row i-1)."""
    n = label.size
    change = np.flatnonzero(np.diff(label.astype(np.int64)) != 0) + 1  # first row of a period
    rows = np.arange(n)
    j = np.searchsorted(change, rows, side="right")  # change[j - 1] <= row < change[j]
    padded = np.concatenate(([-(10**9)], change, [10**9]))
    after = rows - padded[j]  # rows since the last change at or before the row
    before = padded[j + 1] - 1 - rows  # rows until the last row before the next change
    return np.minimum(after, before)


# -- the generator-aware filter -----------------------------------------------------------------


def _log_emissions(frame: pd.DataFrame) -> np.ndarray:
    """(n, 2) log-probabilities of each row's observed frame fields under normal (0) and
    attack (1) traffic, with the generator's own constants (spoofed share: its mean)."""
    kinds = [k[0] for k in drone._KINDS]
    typ = frame["wlan.fc.type"].to_numpy()
    sub = frame["wlan.fc.subtype"].to_numpy()
    reason = frame["wlan.fixed.reason_code"].to_numpy()
    length = frame["frame.len"].to_numpy()
    retry = frame["wlan.fc.retry"].to_numpy()
    rate = frame["radiotap.datarate"].to_numpy()
    delta = frame["frame.time_delta"].to_numpy()
    n = len(frame)
    kind = np.full(n, -1)
    for i, (_name, t, s, _src, _seq) in enumerate(drone._KINDS[:-1]):
        kind[(typ == t) & (sub == s)] = i
    qos = (typ == 2) & (sub == 8)
    kind[qos] = np.where(length[qos] >= 200, kinds.index("qos_data_drone"), 1)
    kind[(typ == 0) & (sub == 12)] = kinds.index("deauth")
    spoofed = reason == 7
    assert (kind[~spoofed] >= 0).all()
    q = float(np.mean(drone.SPOOF_FRACTION_RANGE))
    eps = 1e-9
    mix_n = drone._MIX_NORMAL / drone._MIX_NORMAL.sum()
    mix_a = drone._MIX_ATTACK / drone._MIX_ATTACK.sum()
    k = np.maximum(kind, 0)
    log = np.zeros((n, 2))
    log[:, 0] = np.where(spoofed, np.log(eps), np.log(mix_n[k] + eps))
    log[:, 1] = np.where(spoofed, np.log(q), np.log((1 - q) * mix_a[k] + eps))
    # video or state packet from the drone
    drone_qos = ~spoofed & (kind == kinds.index("qos_data_drone"))
    video = length >= 1000
    for j, p_video in enumerate((0.7, 0.5)):
        log[drone_qos, j] += np.log(np.where(video, p_video, 1 - p_video)[drone_qos])
    # retry flag
    ack = ~spoofed & (kind == kinds.index("ack"))
    can_retry = ~spoofed & ~ack & (kind != kinds.index("beacon"))
    for j, p in enumerate((0.05, 0.25)):
        log[can_retry, j] += np.log(np.where(retry == 1, p, 1 - p)[can_retry])
    # data rates of data frames, ACK rates
    data = ~spoofed & (typ == 2)
    for j, probs in enumerate((drone._RATE_P_NORMAL, drone._RATE_P_ATTACK)):
        p_rate = probs / probs.sum()
        lookup = {float(r): float(p) for r, p in zip(drone._RATES, p_rate, strict=True)}
        log[data, j] += np.log([lookup.get(float(r), eps) for r in rate[data]])
    for j, (p24, p1) in enumerate(((0.85, 0.03), (0.55, 0.15))):
        p_ack = {24.0: (1 - p1) * p24, 6.0: (1 - p1) * (1 - p24), 1.0: p1}
        log[ack, j] += np.log([p_ack.get(float(r), eps) for r in rate[ack]])
    # gaps: exponential (means 40 ms / 15 ms, 12 ms before a spoofed frame); ACKs: no news
    gap = np.maximum(delta - 2e-5, 0.0)
    timed = ~ack
    means = (np.full(n, 0.040), np.where(spoofed, 0.012, 0.015))
    for j, mean in enumerate(means):
        log[timed, j] += (-np.log(mean) - gap / mean)[timed]
    return log


def _duration_model(attack_ratio: float) -> tuple[list[int], list[float]]:
    """Each regime's minimum length and per-row end probability after it (normal, attack),
    as :func:`seqtune.datasets.drone._regimes` draws them."""
    means = np.array([(1.0 - attack_ratio), attack_ratio]) * drone.CYCLE_ROWS
    mins = np.maximum(1, np.floor(drone.MIN_RUN_FRACTION * means)).astype(int)
    hazard = 1.0 / (means - mins + 1.0)
    return [int(m) for m in mins], [float(h) for h in hazard]


def generator_filter(frame: pd.DataFrame, attack_ratio: float = 2 / 3) -> np.ndarray:
    """P(attack traffic at row t | the frame fields of rows 0 .. t-1), for every row t: an
    exact forward filter over (regime, age) with each regime's minimum length."""
    log_e = _log_emissions(frame)
    mins, hazard = _duration_model(attack_ratio)
    sizes = mins  # ages 0 .. min-1, the last one meaning "min-1 or more"
    offsets = [0, sizes[0]]
    n_states = sum(sizes)
    regime = np.repeat([0, 1], sizes)
    alpha = np.zeros(n_states)
    alpha[offsets[0] + sizes[0] - 1] = 1 - attack_ratio  # start anywhere: as if past the minimum
    alpha[offsets[1] + sizes[1] - 1] = attack_ratio
    out = np.empty(len(frame))
    for t in range(len(frame)):
        # predict row t from rows < t
        nxt = np.zeros(n_states)
        for s in (0, 1):
            o, m, h = offsets[s], sizes[s], hazard[s]
            block = alpha[o : o + m]
            nxt[o + 1 : o + m] += block[:-1]  # age + 1 before the minimum
            nxt[o + m - 1] += block[-1] * (1 - h)  # stays
            other = offsets[1 - s]
            nxt[other] += block[-1] * h  # ends: the other regime starts at age 0
        out[t] = nxt[regime == 1].sum() / nxt.sum()
        # then take row t's frame in
        like = np.exp(log_e[t] - log_e[t].max())
        alpha = nxt * like[regime]
        alpha /= alpha.sum()
    return out


def windowed_filter(frame: pd.DataFrame, look_back: int, attack_ratio: float = 2 / 3) -> np.ndarray:
    """:func:`generator_filter` reading only the ``look_back`` rows before row t (what a
    window model sees), started from the chain's long-run distribution over (regime, age)."""
    log_e = _log_emissions(frame)
    n = len(frame)
    mins, hazard = _duration_model(attack_ratio)
    sizes, offsets = mins, [0, mins[0]]
    n_states = sum(sizes)
    regime = np.repeat([0, 1], sizes)
    start = np.zeros(n_states)
    for s, weight in ((0, 1 - attack_ratio), (1, attack_ratio)):
        ages = np.ones(sizes[s])
        ages[-1] = 1.0 / hazard[s]  # the open-ended last age holds 1/h rows per period
        start[offsets[s] : offsets[s] + sizes[s]] = weight * ages / ages.sum()
    out = np.full(n, np.nan)
    rows = np.arange(look_back, n)
    alpha = np.tile(start, (rows.size, 1))
    for step in range(look_back + 1):
        nxt = np.zeros_like(alpha)
        for s in (0, 1):
            o, m, h = offsets[s], sizes[s], hazard[s]
            block = alpha[:, o : o + m]
            nxt[:, o + 1 : o + m] += block[:, :-1]
            nxt[:, o + m - 1] += block[:, -1] * (1 - h)
            nxt[:, offsets[1 - s]] += block[:, -1] * h
        if step == look_back:
            out[rows] = nxt[:, regime == 1].sum(axis=1) / nxt.sum(axis=1)
            break
        e = log_e[rows - look_back + step]
        like = np.exp(e - e.max(axis=1, keepdims=True))
        alpha = nxt * like[:, regime]
        alpha /= alpha.sum(axis=1, keepdims=True)
    return out


# -- one stream ---------------------------------------------------------------------------------


def analyse(seed: int, rows: int, look_back: int, with_baselines: bool) -> dict[str, object]:
    frame = drone.generate_drone_deauth(n_rows=rows, seed=seed)
    label = frame[drone.LABEL_COLUMN].to_numpy()
    traffic = drone.drone_deauth_traffic(n_rows=rows, seed=seed).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        frame.to_csv(Path(tmp) / "d.csv", index=False)
        raw = {
            "csv": "d.csv",
            "target": "class",
            "task": "classify",
            "split": SPLIT,
            "scaler": "standard",
            "label_at": "next",
            "class_weight": "balanced",
        }
        windows = load_table(DataSpec.from_dict(raw, Path(tmp))).windows(look_back)
    test = windows.target_rows("test")
    truth = label[test]
    distance = boundary_distance(label)[test]
    predictions: dict[str, np.ndarray] = {
        "traffic oracle, same row": traffic[test].astype(np.float64),
        "traffic oracle, last row seen": traffic[test - 1].astype(np.float64),
    }
    start = time.perf_counter()
    predictions["generator filter (frames, whole past)"] = generator_filter(frame)[test]
    seconds = {"generator filter (frames, whole past)": time.perf_counter() - start}
    name = f"generator filter (frames, {look_back}-row window)"
    start = time.perf_counter()
    predictions[name] = windowed_filter(frame, look_back)[test]
    seconds[name] = time.perf_counter() - start
    if with_baselines:
        from seqtune.models import baselines as bl

        x_train, y_train = windows.part("train")
        x_test = windows.part("test")[0]
        weights = windows.sample_weight_train
        for name, fit in (("logistic", bl.logistic), ("gradient boosting", bl.gradient_boosting)):
            start = time.perf_counter()
            (predictions[name],) = fit(x_train, y_train, [x_test], 2, weights)
            seconds[name] = time.perf_counter() - start
    noisy = label != traffic
    part_noise = float(noisy[test].mean())
    attack_lengths = np.diff(np.flatnonzero(np.diff(np.concatenate(([0], label, [0]))) != 0))[
        ::2
    ]  # runs of 1s (starting from the first 1)
    return {
        "seed": seed,
        "rows": rows,
        "test_rows": int(test.size),
        "label_noise_all": float(noisy.mean()),
        "label_noise_test": part_noise,
        "attack_runs": int(attack_lengths.size),
        "shortest_attack": int(attack_lengths.min()) if attack_lengths.size else 0,
        "f1": {k: f1_of(truth, p) for k, p in predictions.items()},
        "errors": {
            k: [
                int(((p > 0.5) != truth)[(distance >= lo) & (distance <= hi)].sum())
                for lo, hi in BANDS
            ]
            for k, p in predictions.items()
        },
        "band_rows": [int(((distance >= lo) & (distance <= hi)).sum()) for lo, hi in BANDS],
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rows", type=int, default=22000)
    parser.add_argument("--look-back", type=int, default=19)
    parser.add_argument("--baselines", action="store_true")
    args = parser.parse_args(argv)
    for seed in args.seeds:
        found = analyse(seed, args.rows, args.look_back, args.baselines)
        print(
            f"stream seed {seed}: {found['rows']} rows, test part {found['test_rows']} windows "
            f"(look_back {args.look_back}); label != traffic on "
            f"{100 * found['label_noise_all']:.2f} % of all rows, "
            f"{100 * found['label_noise_test']:.2f} % of the test rows; "
            f"{found['attack_runs']} attack periods, the shortest {found['shortest_attack']} rows"
        )
        bands = ", ".join(f"{lo}-{hi if hi < 10**9 else ''}" for lo, hi in BANDS)
        print(f"  {'':40}{'F1':>7}   errors at distance {bands} rows from a boundary")
        print(f"  {'(rows in each band)':40}{'':>7}   {found['band_rows']}")
        for name, f1 in found["f1"].items():  # type: ignore[attr-defined]
            took = found["seconds"].get(name)  # type: ignore[attr-defined]
            extra = f"  ({took:.1f} s)" if took is not None else ""
            print(f"  {name:40}{f1:>7.4f}   {found['errors'][name]}{extra}")  # type: ignore[index]


if __name__ == "__main__":
    main()
