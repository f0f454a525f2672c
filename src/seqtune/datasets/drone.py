"""Seeded generator of fused drone telemetry + 802.11 frames with de-authentication attacks.

The original study that seqtune's second reference problem comes from captured the Wi-Fi
traffic around a Tello-class drone with a monitor-mode card, joined every captured frame
with the drone's latest state packet, and labelled each row 1 when it was captured during
a de-authentication attack. That capture is not public, so this module makes a stream with
the same schema: one row per captured frame, every column numeric, a 0/1 ``class`` column.

How it works (``docs/drone_deauth.md`` has the full description and the baseline figures):

1. **Regimes.** Normal and attack periods alternate (a two-state semi-Markov chain): each
   period lasts a minimum length plus a geometric number of rows, with the means chosen so
   that ``attack_ratio`` of the rows are attack (defaults: attack periods of 75 + Geom rows,
   mean 150; normal periods of 37 + Geom rows, mean 75). The label ``class`` is the period.
2. **Label/traffic offset.** The traffic itself switches a few rows (up to
   ``BOUNDARY_JITTER``) before or after the labelled boundary, as it does when an attack
   period is labelled from an operator's log: rows at the edges carry the "wrong" traffic.
3. **Frames.** Normal traffic is a mix of QoS data (video and state from the drone, commands
   from the phone), data, null-function, ACK, beacon and the odd probe/auth frame, at high
   data rates, with a steady frame rate. During an attack a fraction of the rows (drawn per
   burst, 30-60 %) are spoofed de-authentication frames (``wlan.fc.subtype`` 12, reason 7,
   their own signal strength and sequence counter, 1 Mbit/s); the other attack rows are
   ordinary frames whose mix, data rates, retries and timing shift only somewhat (more
   probes and re-associations, lower rates, more retries, shorter gaps), so many attack
   rows look exactly like normal ones.
4. **Telemetry.** The drone flies a smooth trajectory (noise-driven, damped velocities;
   positions are their integral), sampled at 10 Hz and held until the next sample. The
   battery drains, the temperatures rise slowly, the barometer follows the height. An attack
   makes the drone hover, sink and wobble (vertical speed, acceleration and attitude
   variance rise), after a delay of 0.2-0.3 s and a smooth response of about half a second.

Everything is vectorised numpy driven by one ``numpy.random.Generator``, so a seed gives
the same frame on every machine with the same numpy.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from seqtune.errors import UserError
from seqtune.store.files import file_mode

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Frame columns, as a ``tshark -T fields`` export names them.
FRAME_COLUMNS: tuple[str, ...] = (
    "frame.time_delta",
    "frame.len",
    "wlan.fc.type",
    "wlan.fc.subtype",
    "wlan.fc.retry",
    "wlan.duration",
    "wlan.seq",
    "wlan.fixed.reason_code",
    "radiotap.dbm_antsignal",
    "radiotap.datarate",
)
#: Telemetry columns, as the Tello state string names them (``time`` renamed ``flight_time``).
TELEMETRY_COLUMNS: tuple[str, ...] = (
    "x",
    "y",
    "z",
    "pitch",
    "roll",
    "yaw",
    "vgx",
    "vgy",
    "vgz",
    "templ",
    "temph",
    "tof",
    "h",
    "bat",
    "baro",
    "flight_time",
    "agx",
    "agy",
    "agz",
)
#: The label: 1 when the row was captured during an attack period.
LABEL_COLUMN = "class"
#: Every input feature, in the order of the generated frame.
FEATURE_COLUMNS: tuple[str, ...] = FRAME_COLUMNS + TELEMETRY_COLUMNS
#: The full schema, in column order.
DRONE_DEAUTH_COLUMNS: tuple[str, ...] = FEATURE_COLUMNS + (LABEL_COLUMN,)

MIN_ROWS = 500
MAX_ROWS = 20_000_000
#: Mean length in rows of one normal period plus one attack period.
CYCLE_ROWS = 225.0
#: Every period lasts at least this fraction of its mean length.
MIN_RUN_FRACTION = 0.5
#: The traffic switches up to this many rows before or after the labelled boundary.
BOUNDARY_JITTER = 5
#: Per-burst fraction of attack rows that are spoofed de-authentication frames.
SPOOF_FRACTION_RANGE = (0.30, 0.60)
#: Telemetry sampling period (s); Tello sends its state string at about 10 Hz.
TELEMETRY_PERIOD_S = 0.1

# Frame kinds: (wlan.fc.type, wlan.fc.subtype, transmitter, carries a sequence number).
_DRONE, _PHONE, _NONE, _ATTACKER = 0, 1, 2, 3
_KINDS: tuple[tuple[str, int, int, int, bool], ...] = (
    ("qos_data_drone", 2, 8, _DRONE, True),
    ("qos_data_phone", 2, 8, _PHONE, True),
    ("data", 2, 0, _DRONE, True),
    ("null", 2, 4, _PHONE, True),
    ("ack", 1, 13, _NONE, False),
    ("beacon", 0, 8, _DRONE, True),
    ("probe_req", 0, 4, _PHONE, True),
    ("probe_resp", 0, 5, _DRONE, True),
    ("auth", 0, 11, _PHONE, True),
    ("reassoc_req", 0, 2, _PHONE, True),
    ("deauth", 0, 12, _DRONE, True),
    ("deauth_spoofed", 0, 12, _ATTACKER, True),
)
_K = {name: i for i, (name, *_rest) in enumerate(_KINDS)}
_TYPE = np.array([k[1] for k in _KINDS], dtype=np.int64)
_SUBTYPE = np.array([k[2] for k in _KINDS], dtype=np.int64)
_SOURCE = np.array([k[3] for k in _KINDS], dtype=np.int64)
_HAS_SEQ = np.array([k[4] for k in _KINDS], dtype=bool)

# Mix of legitimate frames (probabilities over _KINDS[:-1]) in each regime.
_MIX_NORMAL = np.array([0.40, 0.11, 0.05, 0.03, 0.25, 0.10, 0.02, 0.02, 0.004, 0.004, 0.002])
_MIX_ATTACK = np.array([0.26, 0.08, 0.04, 0.06, 0.24, 0.12, 0.09, 0.06, 0.03, 0.02, 0.0])

# Legacy rates (Mbit/s) for data frames and their probabilities in each regime.
_RATES = np.array([54.0, 48.0, 36.0, 24.0, 18.0, 12.0, 11.0, 6.0, 5.5, 2.0, 1.0])
_RATE_P_NORMAL = np.array([0.34, 0.24, 0.15, 0.10, 0.06, 0.04, 0.03, 0.02, 0.01, 0.005, 0.005])
_RATE_P_ATTACK = np.array([0.10, 0.10, 0.12, 0.14, 0.12, 0.11, 0.09, 0.08, 0.06, 0.04, 0.04])

_RADIOTAP_LEN = 36  # radiotap header bytes captured in front of every frame
_NAV_DSSS = {1.0: 314, 2.0: 162, 5.5: 117, 11.0: 106}  # wlan.duration (us) for the ACK at rate
_NAV_OFDM = 44


def _check_args(n_rows: object, seed: object, attack_ratio: object) -> None:
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer):
        raise UserError(f"must be an integer, got {n_rows!r}", "n_rows")
    if n_rows < MIN_ROWS:
        raise UserError(f"must be at least {MIN_ROWS}, got {n_rows}", "n_rows")
    if n_rows > MAX_ROWS:
        raise UserError(f"must be at most {MAX_ROWS}, got {n_rows}", "n_rows")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise UserError(f"must be an integer, got {seed!r}", "seed")
    if seed < 0:
        raise UserError(f"must be non-negative, got {seed}", "seed")
    if isinstance(attack_ratio, bool) or not isinstance(attack_ratio, int | float | np.floating):
        raise UserError(f"must be a number, got {attack_ratio!r}", "attack_ratio")
    if not (math.isfinite(float(attack_ratio)) and 0.0 < float(attack_ratio) < 1.0):
        raise UserError(f"must be strictly between 0 and 1, got {attack_ratio}", "attack_ratio")


def generate_drone_deauth(
    n_rows: int = 22000, seed: int = 0, attack_ratio: float = 2 / 3
) -> pd.DataFrame:
    """A synthetic drone de-auth stream: ``n_rows`` rows, columns ``DRONE_DEAUTH_COLUMNS``.

    ``attack_ratio`` is the expected fraction of rows labelled ``class`` 1 (attack periods).
    The same ``seed`` gives the same frame; every column is numeric and has no NaN.
    Raises ``UserError`` (field = the argument's name) for a bad argument.
    """
    _check_args(n_rows, seed, attack_ratio)
    n = int(n_rows)
    rng = np.random.default_rng(int(seed))

    label, traffic, run_id, n_runs = _regimes(rng, n, float(attack_ratio))
    kind = _frame_kinds(rng, traffic, run_id, n_runs)
    delta = _time_deltas(rng, kind, traffic)
    t = np.cumsum(delta)
    telemetry, pos = _telemetry(rng, t, traffic)
    frames = _frame_fields(rng, kind, traffic, run_id, n_runs, pos)
    frames["frame.time_delta"] = np.round(delta, 6)

    data: dict[str, npt.NDArray[np.generic]] = {c: frames[c] for c in FRAME_COLUMNS}
    data.update({c: telemetry[c] for c in TELEMETRY_COLUMNS})
    data[LABEL_COLUMN] = label.astype(np.int64)
    return pd.DataFrame(data, columns=list(DRONE_DEAUTH_COLUMNS))


def drone_deauth_traffic(
    n_rows: int = 22000, seed: int = 0, attack_ratio: float = 2 / 3
) -> npt.NDArray[np.bool_]:
    """The regime each row's frames were drawn from (True: attack traffic) in the stream
    :func:`generate_drone_deauth` makes with the same arguments: its ``class`` column before
    the boundary offset (step 2 of the module's description). Not an input of any model:
    it tells what the stream allows, e.g. the F1 of a model that knew the traffic exactly.

    Examples
    --------
    >>> traffic = drone_deauth_traffic(n_rows=2000, seed=1)
    >>> label = generate_drone_deauth(n_rows=2000, seed=1)["class"].to_numpy()
    >>> traffic.shape, bool(0.9 < (traffic == label).mean() < 1.0)
    ((2000,), True)
    """
    _check_args(n_rows, seed, attack_ratio)
    _, traffic, _, _ = _regimes(np.random.default_rng(int(seed)), int(n_rows), float(attack_ratio))
    return traffic


def write_drone_deauth(
    path: str | os.PathLike[str],
    n_rows: int = 22000,
    seed: int = 0,
    attack_ratio: float = 2 / 3,
) -> Path:
    """Generate a stream and write it as CSV to ``path`` atomically (temp file + ``os.replace``).

    Returns the path written. Refuses (``UserError``, field ``path``) a path that is an
    existing directory, whose parent folder does not exist, or that cannot be written;
    bad generator arguments raise ``UserError`` naming the argument, before anything is written.
    """
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{target} is a directory; give a file path such as drone.csv", "path")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"folder {parent} does not exist", "path")
    frame = generate_drone_deauth(n_rows=n_rows, seed=seed, attack_ratio=attack_ratio)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise UserError(f"cannot write in {parent}: {exc.strerror or exc}", "path") from exc
    try:
        os.fchmod(fd, file_mode())  # the user's umask, not mkstemp's 0600
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            frame.to_csv(handle, index=False)
        os.replace(tmp_name, target)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise UserError(f"cannot write {target}: {exc.strerror or exc}", "path") from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


# --------------------------------------------------------------------------- regimes


def _regimes(
    rng: np.random.Generator, n: int, attack_ratio: float
) -> tuple[BoolArray, BoolArray, IntArray, int]:
    """Labelled periods, the (jittered) traffic regime, and each row's traffic-burst index."""
    means = np.array([(1.0 - attack_ratio) * CYCLE_ROWS, attack_ratio * CYCLE_ROWS])
    mins = np.maximum(1, np.floor(MIN_RUN_FRACTION * means)).astype(np.int64)
    extra_p = 1.0 / (means - mins + 1.0)  # geometric on {1, 2, ...}, minus 1 below
    first = int(rng.random() < attack_ratio)

    # Draw periods (states alternate) until they cover every row plus the jitter past the end.
    needed = n + BOUNDARY_JITTER
    lengths = np.zeros(0, dtype=np.int64)
    while lengths.sum() < needed:
        batch = 2 * int(needed / CYCLE_ROWS) + 8
        states = (first + lengths.size + np.arange(batch)) % 2
        lengths = np.concatenate((lengths, mins[states] + rng.geometric(extra_p[states]) - 1))
    ends = np.cumsum(lengths)
    last = int(np.searchsorted(ends, needed, side="left")) + 1
    lengths, ends = lengths[:last], ends[:last]
    states = (first + np.arange(last)) % 2

    label = np.repeat(states.astype(bool), lengths)[:n]

    jitter = rng.integers(-BOUNDARY_JITTER, BOUNDARY_JITTER + 1, size=last)
    shifted = np.maximum.accumulate(np.clip(ends + jitter, 0, None))
    shifted[-1] = max(int(shifted[-1]), n)
    traffic_lengths = np.diff(np.concatenate(([0], shifted)))
    traffic = np.repeat(states.astype(bool), traffic_lengths)[:n]
    run_id = np.repeat(np.arange(last, dtype=np.int64), traffic_lengths)[:n]
    return label, traffic, run_id, last


# --------------------------------------------------------------------------- frames


def _frame_kinds(
    rng: np.random.Generator, traffic: BoolArray, run_id: IntArray, n_runs: int
) -> IntArray:
    n = traffic.size
    u = rng.random(n)
    cdf_n = np.cumsum(_MIX_NORMAL / _MIX_NORMAL.sum())
    cdf_a = np.cumsum(_MIX_ATTACK / _MIX_ATTACK.sum())
    kind = np.where(
        traffic,
        np.searchsorted(cdf_a, u, side="right"),
        np.searchsorted(cdf_n, u, side="right"),
    ).astype(np.int64)
    kind = np.minimum(kind, len(_MIX_NORMAL) - 1)
    spoof_p = rng.uniform(*SPOOF_FRACTION_RANGE, size=n_runs)[run_id]
    spoofed = traffic & (rng.random(n) < spoof_p)
    kind[spoofed] = _K["deauth_spoofed"]
    return kind


def _time_deltas(rng: np.random.Generator, kind: IntArray, traffic: BoolArray) -> FloatArray:
    """Gaps between captured frames (s): exponential, mean 40 ms normally, 15 ms in an attack,
    12 ms before a spoofed frame; an ACK comes 50-400 us after the frame it acknowledges."""
    n = kind.size
    mean = np.where(traffic, 0.015, 0.040)
    mean = np.where(kind == _K["deauth_spoofed"], 0.012, mean)
    delta = rng.exponential(1.0, n) * mean + 2e-5
    # An ACK follows the frame it acknowledges after SIFS plus that frame's airtime.
    ack = kind == _K["ack"]
    delta[ack] = rng.uniform(5e-5, 4e-4, int(ack.sum()))
    return delta


def _frame_fields(
    rng: np.random.Generator,
    kind: IntArray,
    traffic: BoolArray,
    run_id: IntArray,
    n_runs: int,
    pos: dict[str, FloatArray],
) -> dict[str, npt.NDArray[np.generic]]:
    n = kind.size
    source = _SOURCE[kind]
    spoofed = kind == _K["deauth_spoofed"]
    legit = ~spoofed

    # Data rate: management frames at the 1 Mbit/s basic rate, data frames adapt their rate,
    # lower while the link is disturbed; ACKs at an OFDM control rate.
    p_rate = np.where(traffic[:, None], _RATE_P_ATTACK, _RATE_P_NORMAL)
    cdf = np.cumsum(p_rate / p_rate.sum(axis=1, keepdims=True), axis=1)
    idx = np.minimum((rng.random(n)[:, None] > cdf).sum(axis=1), _RATES.size - 1)
    rate = _RATES[idx]
    is_mgmt = _TYPE[kind] == 0
    rate = np.where(is_mgmt, 1.0, rate)
    ack = kind == _K["ack"]
    ack_rate = np.where(rng.random(n) < np.where(traffic, 0.55, 0.85), 24.0, 6.0)
    ack_rate = np.where(rng.random(n) < np.where(traffic, 0.15, 0.03), 1.0, ack_rate)
    rate = np.where(ack, ack_rate, rate)

    # Retry flag: disturbed links retransmit more; ACKs, beacons and spoofed frames never retry.
    can_retry = ~ack & (kind != _K["beacon"]) & legit
    retry = can_retry & (rng.random(n) < np.where(traffic, 0.25, 0.05))

    # Duration/NAV: 0 for ACKs and broadcasts, else the ACK's airtime at the frame's rate.
    nav = np.full(n, _NAV_OFDM, dtype=np.int64)
    for r, d in _NAV_DSSS.items():
        nav[rate == r] = d
    broadcast = ack | (kind == _K["beacon"]) | (kind == _K["probe_req"])
    duration = np.where(broadcast, 0, nav)
    duration = np.where(spoofed, 314, duration)  # aireplay-ng's fixed value

    # Frame length (bytes, radiotap header included).
    length = np.zeros(n, dtype=np.int64)
    rt = _RADIOTAP_LEN

    def fill(name: str, values: npt.ArrayLike) -> None:
        mask = kind == _K[name]
        length[mask] = np.broadcast_to(np.asarray(values), mask.shape)[mask]

    video = rng.random(n) < np.where(traffic, 0.5, 0.7)
    fill(
        "qos_data_drone",
        np.where(video, rng.integers(900, 1461, n), rng.integers(130, 165, n)) + rt + 66,
    )
    fill("qos_data_phone", rng.integers(10, 41, n) + rt + 66)
    fill("data", rng.integers(28, 300, n) + rt + 36)
    fill("null", rt + 28)
    fill("ack", rt + 14)
    fill("beacon", rt + 244 + rng.integers(0, 2, n))
    fill("probe_req", rt + 28 + rng.integers(60, 141, n))
    fill("probe_resp", rt + 240)
    fill("auth", rt + 34)
    fill("reassoc_req", rt + 34 + rng.integers(90, 121, n))
    fill("deauth", rt + 30)
    fill("deauth_spoofed", rt + 30)

    # Sequence numbers: one 12-bit counter per transmitter; a retry repeats the last number.
    # The attacker's counter restarts at a random value in every burst: it breaks the drone's.
    seq = np.zeros(n, dtype=np.int64)
    has_seq = _HAS_SEQ[kind]
    for src in (_DRONE, _PHONE):
        mask = has_seq & (source == src)
        count = np.cumsum(mask & ~retry)
        start = int(rng.integers(0, 4096))
        seq[mask] = (start + count[mask] - 1) % 4096
    count = np.cumsum(spoofed)
    run_start = np.searchsorted(run_id, np.arange(n_runs), side="left")
    before = np.concatenate(([0], count))[np.minimum(run_start, n)]
    burst_start = rng.integers(0, 4096, size=n_runs)
    seq[spoofed] = (burst_start[run_id] + count - before[run_id] - 1)[spoofed] % 4096

    # Signal strength at the monitor (dBm): the phone sits next to it, the drone's fades with
    # distance, the attacker's is its own (shifting from burst to burst).
    dist_m = np.sqrt(pos["x"] ** 2 + (pos["y"] + 150.0) ** 2 + pos["h"] ** 2) / 100.0
    drone_dbm = -38.0 - 20.0 * np.log10(np.maximum(dist_m, 0.5))
    ack_from_drone = rng.random(n) < 0.5
    src_eff = np.where(ack, np.where(ack_from_drone, _DRONE, _PHONE), source)
    attacker_dbm = rng.normal(-47.0, 4.0, size=n_runs)[run_id]
    signal = np.select(
        [src_eff == _DRONE, src_eff == _PHONE],
        [drone_dbm + rng.normal(0.0, 3.0, n), rng.normal(-36.0, 3.0, n)],
        attacker_dbm + rng.normal(0.0, 3.5, n),
    )
    signal = np.clip(np.round(signal), -95, -10).astype(np.int64)

    reason = np.where(spoofed, 7, np.where(kind == _K["deauth"], 3, 0)).astype(np.int64)
    return {
        "frame.len": length,
        "wlan.fc.type": _TYPE[kind],
        "wlan.fc.subtype": _SUBTYPE[kind],
        "wlan.fc.retry": retry.astype(np.int64),
        "wlan.duration": duration.astype(np.int64),
        "wlan.seq": seq,
        "wlan.fixed.reason_code": reason,
        "radiotap.dbm_antsignal": signal,
        "radiotap.datarate": rate,
    }


# --------------------------------------------------------------------------- telemetry


def _damped_process(
    rng: np.random.Generator, m: int, dt: float, period_s: float, damping: float, std: float
) -> tuple[FloatArray, FloatArray]:
    """A noise-driven damped oscillator sampled every ``dt``: (position, its velocity per second).

    The velocity is a random walk (driven by smoothed noise, so accelerations stay finite)
    pulled back by damping and by a spring towards zero; the position is its integral:
    smooth, bounded wandering with standard deviation ``std``. Computed as a convolution.
    """
    omega = 2.0 * math.pi / period_s
    wd = omega * math.sqrt(1.0 - damping**2)
    tk = np.arange(int(math.ceil(6.0 / (damping * omega) / dt)) + 1) * dt
    decay = np.exp(-damping * omega * tk)
    smooth = np.exp(-0.5 * (np.arange(-9, 10) / 3.0) ** 2)  # Gaussian, sigma 3 samples
    h_pos = np.convolve(decay * np.sin(wd * tk) / wd, smooth)
    h_vel = np.convolve(decay * (np.cos(wd * tk) - damping * omega / wd * np.sin(wd * tk)), smooth)
    scale = std / math.sqrt(float(np.sum(h_pos**2)))
    noise = rng.standard_normal(m + h_pos.size - 1)
    pos = np.convolve(noise, h_pos, mode="valid") * scale
    vel = np.convolve(noise, h_vel, mode="valid") * scale
    return pos, vel


def _lagged(signal: FloatArray, delay: int, tau: float) -> FloatArray:
    """Causal, smooth response of ``signal``: a pure delay, then two first-order lags of time
    constant ``tau`` samples in series (so the response and its slope have no jumps)."""
    k = np.arange(int(12 * tau) + 1)
    first_order = np.exp(-k / tau)
    kernel = np.concatenate((np.zeros(delay), np.convolve(first_order, first_order)[: k.size]))
    kernel /= kernel.sum()
    return np.convolve(signal, kernel)[: signal.size]


def _telemetry(
    rng: np.random.Generator, t: FloatArray, traffic: BoolArray
) -> tuple[dict[str, npt.NDArray[np.generic]], dict[str, FloatArray]]:
    dt = TELEMETRY_PERIOD_S
    m = int(t[-1] / dt) + 2
    grid = np.arange(m) * dt
    row_at = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, t.size - 1)
    attacked = traffic[row_at].astype(np.float64)
    effect = _lagged(attacked, delay=2, tau=2.0)  # 0.2 s delay, then ~0.4 s to respond
    sink = _lagged(attacked, delay=3, tau=5.0)  # altitude loss builds up more slowly

    # Horizontal flight: noise-driven damped velocities integrated into positions that wander
    # around the take-off point. While attacked the drone hovers: its flight "clock" slows
    # down (a time warp of the planned path), and it wobbles around where it is.
    hover = 1.0 - 0.85 * effect
    progress = np.concatenate(([0.0], np.cumsum(hover[:-1]))) * dt
    x_plan, _ = _damped_process(rng, m, dt, period_s=12.0, damping=0.5, std=150.0)
    y_plan, _ = _damped_process(rng, m, dt, period_s=12.0, damping=0.5, std=150.0)
    wob_x, _ = _damped_process(rng, m, dt, period_s=1.5, damping=0.3, std=1.0)
    wob_y, _ = _damped_process(rng, m, dt, period_s=1.7, damping=0.3, std=1.0)
    x = np.interp(progress, grid, x_plan - x_plan[0]) + 4.0 * effect * wob_x
    y = np.interp(progress, grid, y_plan - y_plan[0]) + 4.0 * effect * wob_y
    vx, vy = np.gradient(x, dt), np.gradient(y, dt)

    # Height: a wandering cruise altitude, minus a sink and a wobble while attacked.
    h_nom, _ = _damped_process(rng, m, dt, period_s=20.0, damping=0.7, std=25.0)
    wob_z, _ = _damped_process(rng, m, dt, period_s=1.5, damping=0.3, std=1.0)
    h = np.maximum(120.0 + h_nom - 40.0 * sink + 20.0 * effect * wob_z, 20.0)
    vz = np.gradient(h, dt)
    ax, ay, az = np.gradient(vx, dt), np.gradient(vy, dt), np.gradient(vz, dt)

    # Attitude follows the horizontal acceleration; heading wanders slowly.
    shake = 1.0 + 3.0 * effect
    pitch = np.degrees(np.arctan2(ax, 981.0)) + rng.normal(0.0, 0.6, m) * shake
    roll = np.degrees(np.arctan2(ay, 981.0)) + rng.normal(0.0, 0.6, m) * shake
    yaw_plan, _ = _damped_process(rng, m, dt, period_s=15.0, damping=0.5, std=60.0)
    yaw = float(rng.uniform(-180.0, 180.0)) + np.interp(progress, grid, yaw_plan - yaw_plan[0])
    yaw = (yaw + 180.0) % 360.0 - 180.0

    # Slow quantities: battery, temperatures, barometer, motor time.
    bat0 = float(rng.integers(88, 101))
    drain = min(0.1, (bat0 - 10.0) / max(grid[-1], 1.0))  # %/s, never below 10 % at the end
    bat = bat0 - drain * grid
    temp0 = float(rng.integers(52, 60))
    templ = temp0 + 26.0 * (1.0 - np.exp(-grid / 900.0)) + rng.normal(0.0, 0.4, m)
    temph = templ + 2.0 + (rng.random(m) < 0.5)
    baro_drift, _ = _damped_process(rng, m, dt, period_s=120.0, damping=0.7, std=0.15)
    baro = float(rng.uniform(30.0, 400.0)) + h / 100.0 + baro_drift + rng.normal(0.0, 0.08, m)
    flight_time = float(rng.integers(3, 10)) + grid

    vib = 6.0 * shake
    agx = 1000.0 * ax / 981.0 + rng.normal(0.0, 1.0, m) * vib
    agy = 1000.0 * ay / 981.0 + rng.normal(0.0, 1.0, m) * vib
    agz = -1000.0 - 1000.0 * az / 981.0 + rng.normal(0.0, 1.0, m) * vib
    z_odo, _ = _damped_process(rng, m, dt, period_s=60.0, damping=0.7, std=4.0)
    vz_meas = vz + rng.normal(0.0, 2.0, m) * shake

    def ints(values: FloatArray) -> IntArray:
        return np.round(values).astype(np.int64)

    sample = np.clip((t / dt).astype(np.int64), 0, m - 1)  # latest state received before the frame
    on_grid: dict[str, npt.NDArray[np.generic]] = {
        "x": ints(x),
        "y": ints(y),
        "z": ints(h + z_odo),
        "pitch": ints(pitch),
        "roll": ints(roll),
        "yaw": ints(yaw),
        "vgx": ints(vx / 10.0),
        "vgy": ints(vy / 10.0),
        "vgz": ints(vz_meas / 10.0),
        "templ": ints(templ),
        "temph": ints(temph),
        "tof": ints(h + 10.0 + rng.normal(0.0, 1.5, m)),
        "h": ints(h),
        "bat": np.clip(np.floor(bat), 1, 100).astype(np.int64),
        "baro": np.round(baro, 2),
        "flight_time": np.floor(flight_time).astype(np.int64),
        "agx": np.round(agx, 2),
        "agy": np.round(agy, 2),
        "agz": np.round(agz, 2),
    }
    rows = {name: values[sample] for name, values in on_grid.items()}
    positions = {"x": x[sample], "y": y[sample], "h": h[sample]}
    return rows, positions
