"""The drone de-auth stream generator: schema, determinism, regimes, writing, difficulty."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqtune.datasets import (
    DRONE_DEAUTH_COLUMNS,
    FEATURE_COLUMNS,
    FRAME_COLUMNS,
    LABEL_COLUMN,
    TELEMETRY_COLUMNS,
    generate_drone_deauth,
    write_drone_deauth,
)
from seqtune.errors import UserError

EXPECTED_COLUMNS = [
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
    "class",
]


@pytest.fixture(scope="module")
def default_stream() -> pd.DataFrame:
    return generate_drone_deauth()


def _runs(labels: np.ndarray, value: int) -> list[int]:
    """Lengths of the maximal runs of ``value`` in ``labels``, without the two cut-off edge runs."""
    change = np.flatnonzero(np.diff(labels)) + 1
    return [len(run) for run in np.split(labels, change)[1:-1] if run[0] == value]


# ----------------------------------------------------------------- determinism and schema


def test_same_seed_gives_identical_frame() -> None:
    a = generate_drone_deauth(n_rows=3000, seed=7)
    b = generate_drone_deauth(n_rows=3000, seed=7)
    pd.testing.assert_frame_equal(a, b)


def test_different_seed_gives_different_frame() -> None:
    a = generate_drone_deauth(n_rows=3000, seed=7)
    b = generate_drone_deauth(n_rows=3000, seed=8)
    assert not a.equals(b)
    assert not np.array_equal(a[LABEL_COLUMN].to_numpy(), b[LABEL_COLUMN].to_numpy())


def test_schema_is_exact_numeric_and_complete(default_stream: pd.DataFrame) -> None:
    assert list(default_stream.columns) == EXPECTED_COLUMNS
    assert list(DRONE_DEAUTH_COLUMNS) == EXPECTED_COLUMNS
    assert list(FEATURE_COLUMNS) == EXPECTED_COLUMNS[:-1]
    assert set(FRAME_COLUMNS) | set(TELEMETRY_COLUMNS) == set(FEATURE_COLUMNS)
    assert LABEL_COLUMN == "class"
    for column in default_stream.columns:
        assert pd.api.types.is_numeric_dtype(default_stream[column]), column
    assert not default_stream.isna().any().any()
    assert np.isfinite(default_stream.to_numpy(dtype=np.float64)).all()
    assert set(default_stream[LABEL_COLUMN].unique()) == {0, 1}


@pytest.mark.parametrize("n_rows", [500, 501, 6000, 22000, 30001])
def test_n_rows_respected(n_rows: int) -> None:
    assert len(generate_drone_deauth(n_rows=n_rows, seed=3)) == n_rows


def test_default_is_22000_rows(default_stream: pd.DataFrame) -> None:
    assert len(default_stream) == 22000


def test_generation_is_fast() -> None:
    import time

    start = time.perf_counter()
    generate_drone_deauth(n_rows=22000, seed=11)
    assert time.perf_counter() - start < 1.0


# ----------------------------------------------------------------- regimes


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ratio", [2 / 3, 0.5, 0.3, 0.85])
def test_attack_ratio_within_tolerance(seed: int, ratio: float) -> None:
    labels = generate_drone_deauth(n_rows=22000, seed=seed, attack_ratio=ratio)[LABEL_COLUMN]
    assert abs(labels.mean() - ratio) <= 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_attacks_come_in_bursts(seed: int) -> None:
    labels = generate_drone_deauth(n_rows=22000, seed=seed)[LABEL_COLUMN].to_numpy()
    attack_runs = _runs(labels, 1)
    assert len(attack_runs) >= 20  # many separate bursts, not one block
    assert np.mean(attack_runs) >= 20
    assert min(_runs(labels, 0)) >= 10  # normal periods are not single-row gaps either


def test_deauth_frames_are_frequent_in_attacks_but_not_every_row(
    default_stream: pd.DataFrame,
) -> None:
    deauth = default_stream["wlan.fc.subtype"].eq(12) & default_stream["wlan.fc.type"].eq(0)
    attack = default_stream[LABEL_COLUMN].eq(1)
    share_in_attack = deauth[attack].mean()
    assert 0.25 <= share_in_attack <= 0.65
    assert deauth[~attack].mean() < 0.05  # only boundary rows and the odd legitimate one
    # Plenty of attack rows are ordinary data/ACK/beacon frames.
    assert (attack & ~deauth).sum() > 0.3 * attack.sum()


def test_fields_behave_like_a_capture(default_stream: pd.DataFrame) -> None:
    df = default_stream
    assert df["wlan.seq"].between(0, 4095).all()
    assert df["wlan.fc.retry"].isin([0, 1]).all()
    assert set(df["wlan.fc.type"].unique()) <= {0, 1, 2}
    assert (df["frame.time_delta"] > 0).all()
    assert df["radiotap.dbm_antsignal"].between(-95, -10).all()
    # Battery drains, temperature rises, motor time runs, the barometer follows the height.
    assert df["bat"].iloc[-1] < df["bat"].iloc[0]
    assert df["templ"].iloc[-500:].mean() > df["templ"].iloc[:500].mean()
    assert df["flight_time"].is_monotonic_increasing
    assert np.corrcoef(df["baro"], df["h"])[0, 1] > 0.5
    # The drone's frames count their sequence numbers up (mod 4096) between retries.
    data = df[df["wlan.fc.type"].eq(2) & df["frame.len"].gt(1000)]["wlan.seq"].to_numpy()
    steps = np.diff(data) % 4096
    assert np.median(steps) < 10


def test_drone_reacts_to_attacks(default_stream: pd.DataFrame) -> None:
    df = default_stream
    attack = df[LABEL_COLUMN].eq(1)
    assert df.loc[attack, "vgz"].std() > 1.1 * df.loc[~attack, "vgz"].std()
    assert df.loc[attack, "agz"].std() > 1.1 * df.loc[~attack, "agz"].std()
    speed = np.hypot(df["vgx"], df["vgy"])
    assert speed[attack].mean() < speed[~attack].mean()


# ----------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_rows": 499}, "n_rows"),
        ({"n_rows": 0}, "n_rows"),
        ({"n_rows": 1000.0}, "n_rows"),
        ({"n_rows": True}, "n_rows"),
        ({"n_rows": "1000"}, "n_rows"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"attack_ratio": 0.0}, "attack_ratio"),
        ({"attack_ratio": 1.0}, "attack_ratio"),
        ({"attack_ratio": -0.2}, "attack_ratio"),
        ({"attack_ratio": float("nan")}, "attack_ratio"),
        ({"attack_ratio": "0.5"}, "attack_ratio"),
    ],
)
def test_bad_arguments_raise_user_error_naming_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(UserError) as info:
        generate_drone_deauth(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_write_validates_generator_arguments_before_writing(tmp_path: Path) -> None:
    target = tmp_path / "drone.csv"
    with pytest.raises(UserError) as info:
        write_drone_deauth(target, n_rows=10, seed=0)
    assert info.value.field == "n_rows"
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------- writing


def test_write_round_trips_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "drone.csv"
    written = write_drone_deauth(target, n_rows=1500, seed=4)
    assert written == target
    assert [p.name for p in tmp_path.iterdir()] == ["drone.csv"]
    back = pd.read_csv(target)
    expected = generate_drone_deauth(n_rows=1500, seed=4)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)


def test_write_accepts_a_string_path_and_replaces_an_old_file(tmp_path: Path) -> None:
    target = tmp_path / "drone.csv"
    target.write_text("old content\n")
    write_drone_deauth(str(target), n_rows=600, seed=1)
    assert target.read_text().splitlines()[0] == ",".join(EXPECTED_COLUMNS)
    assert len(pd.read_csv(target)) == 600


def test_write_refuses_a_directory_path(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    with pytest.raises(UserError) as info:
        write_drone_deauth(folder, n_rows=600, seed=0)
    assert info.value.field == "path"
    assert list(folder.iterdir()) == []


def test_write_refuses_a_missing_parent_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        write_drone_deauth(tmp_path / "missing" / "drone.csv", n_rows=600, seed=0)
    assert info.value.field == "path"


@pytest.mark.skipif(
    sys.platform == "win32" or (hasattr(os, "geteuid") and os.geteuid() == 0),
    reason="permissions are not enforced for root or on Windows",
)
def test_write_refuses_an_unwritable_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(UserError) as info:
            write_drone_deauth(folder / "drone.csv", n_rows=600, seed=0)
        assert info.value.field == "path"
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []


def test_write_turns_a_permission_error_into_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(UserError) as info:
        write_drone_deauth(tmp_path / "drone.csv", n_rows=600, seed=0)
    assert info.value.field == "path"
    assert "Permission denied" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_write_is_atomic_when_writing_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "drone.csv"
    target.write_text("previous good file\n")

    def broken_to_csv(self: pd.DataFrame, *args: object, **kwargs: object) -> None:
        handle = args[0]
        handle.write("frame.time_delta,half a row")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(UserError) as info:
        write_drone_deauth(target, n_rows=600, seed=0)
    assert info.value.field == "path"
    assert target.read_text() == "previous good file\n"  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["drone.csv"]  # no temp file left


# ----------------------------------------------------------------- difficulty


def test_one_row_is_not_enough_but_a_window_is() -> None:
    """Single-row logistic regression stays well below 0.97 F1; a 5-row window beats it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.preprocessing import StandardScaler

    frame = generate_drone_deauth(n_rows=6000, seed=0)
    x = frame[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
    y = frame[LABEL_COLUMN].to_numpy()
    cut = int(0.7 * len(frame))
    scaler = StandardScaler().fit(x[:cut])
    x_train, x_test = scaler.transform(x[:cut]), scaler.transform(x[cut:])

    one_row = LogisticRegression(solver="newton-cholesky", max_iter=200).fit(x_train, y[:cut])
    f1_one = f1_score(y[cut:], one_row.predict(x_test))

    width = 5

    def windows(a: np.ndarray) -> np.ndarray:
        view = np.lib.stride_tricks.sliding_window_view(a, (width, a.shape[1]))[:, 0]
        return view.reshape(view.shape[0], -1)

    windowed = LogisticRegression(solver="newton-cholesky", max_iter=200).fit(
        windows(x_train), y[width - 1 : cut]
    )
    f1_window = f1_score(y[cut + width - 1 :], windowed.predict(windows(x_test)))

    assert f1_one < 0.97
    assert f1_window > f1_one + 0.03
    assert f1_window > 0.85
