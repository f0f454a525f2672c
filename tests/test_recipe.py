"""seqtune.recipe: the sizes, period, look_back and transforms ``seqtune init`` decides,
on synthetic frames of each frequency, and that the spec it writes passes every check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from seqtune.checks import check_spec
from seqtune.errors import UserError
from seqtune.recipe import (
    Split,
    allowed_transforms,
    look_back_range,
    make_recipe,
    size_split,
    study_name,
    usable_period,
    write_recipe,
)
from seqtune.spec import Spec


def _series(rows: int, freq: str | None, *, offset: float = 100.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    y = offset + 0.1 * t + 5 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, rows)
    frame = pd.DataFrame({"y": y})
    if freq is not None:
        stamps = pd.date_range("2000-01-01", periods=rows, freq=freq)
        frame.insert(0, "when", stamps.strftime("%Y-%m-%d %H:%M:%S"))
    return frame


def _recipe(tmp_path: Path, frame: pd.DataFrame, **kwargs: object):  # type: ignore[no-untyped-def]
    csv = tmp_path / "my series.csv"
    frame.to_csv(csv, index=False)
    return make_recipe(csv, "y", spec_dir=tmp_path, **kwargs)  # type: ignore[arg-type]


def _checked(tmp_path: Path, recipe) -> dict:  # type: ignore[no-untyped-def]
    out = write_recipe(recipe, tmp_path / "spec.yaml", force=True)
    report = check_spec(Spec.from_file(out))
    assert report["problems"] == []
    return yaml.safe_load(out.read_text())


@pytest.mark.parametrize(
    ("freq", "rows", "period", "look_back"),
    [
        ("MS", 144, 12, (12, 24)),
        ("QS", 200, 4, (4, 12)),
        ("D", 730, 7, (7, 21)),
        ("h", 24 * 60, 24, (24, 48)),
        ("YS", 120, None, (2, 12)),
        (None, 300, None, (2, 24)),
    ],
)
def test_period_and_look_back_follow_the_time_column(
    tmp_path: Path, freq: str | None, rows: int, period: int | None, look_back: tuple[int, int]
) -> None:
    recipe = _recipe(tmp_path, _series(rows, freq))
    assert recipe.period == period
    assert recipe.look_back == look_back
    assert recipe.time == ("when" if freq else None)
    spec = _checked(tmp_path, recipe)
    assert spec["study"] == "my-series"
    assert spec["data"]["csv"] == "my series.csv"  # beside the spec: relative to it
    assert spec["space"]["look_back"] == {"int": list(look_back)}
    seasonal = "seasonal_diff" in spec["space"]["transform"]["choice"]
    assert seasonal == (period is not None)


def test_a_short_weekly_series_uses_no_season(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, _series(150, "W"))  # under 4 seasons of 52 weeks
    assert recipe.period is None
    assert any("fewer than 4 seasons" in r for r in recipe.reasons)
    assert "seasonal_diff" not in recipe.transforms
    _checked(tmp_path, recipe)


def test_logs_only_for_a_positive_target(tmp_path: Path) -> None:
    positive = _recipe(tmp_path, _series(144, "MS"))
    assert {"log_diff", "log_seasonal_diff"} <= set(positive.transforms)
    negative = _recipe(tmp_path, _series(144, "MS", offset=-100.0))
    assert not any(t.startswith("log") for t in negative.transforms)
    assert any("not always positive" in r for r in negative.reasons)
    _checked(tmp_path, negative)


def test_a_horizon_widens_each_fold_to_two_horizons(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, _series(144, "MS"), horizon=12)
    assert recipe.split is not None
    assert recipe.split.val == 24 and recipe.split.test >= 24 and recipe.split.folds >= 1
    spec = _checked(tmp_path, recipe)
    assert spec["data"]["horizon"] == 12


@pytest.mark.parametrize(
    ("rows", "period", "horizon", "expected"),
    [
        (144, 12, 1, Split(24, 12, 4)),
        (300, 12, 1, Split(60, 12, 4)),
        (732, 12, 1, Split(144, 36, 4)),
        (100, None, 1, Split(20, 8, 4)),
        (40, None, 1, Split(8, 5, 3)),
        (144, 12, 12, Split(24, 24, 2)),
    ],
)
def test_split_sizes(rows: int, period: int | None, horizon: int, expected: Split) -> None:
    split = size_split(rows, period, horizon)
    assert split == expected
    assert split.test >= 2 * horizon and split.val >= 2 * horizon
    assert rows - split.test - split.folds * split.val >= 0.4 * rows


def test_too_few_rows_are_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="only 20 rows"):
        size_split(20, None)
    with pytest.raises(UserError, match="too few .* shorter --horizon"):
        size_split(60, None, horizon=12)
    with pytest.raises(UserError, match="only 25 rows"):
        _recipe(tmp_path, _series(25, "MS"))


def test_the_pieces_one_by_one() -> None:
    assert usable_period(12, 144, 1) == 12
    assert usable_period(52, 150, 1) is None
    assert usable_period(None, 1000, 1) is None
    assert allowed_transforms(np.array([0.0, 1.0]), 12) == ("none", "diff", "seasonal_diff")
    assert look_back_range(12, 60, Split(12, 12, 1)) == (12, 12)  # capped by training rows
    assert study_name(Path("/x/Sales 2024 (v2).csv")) == "Sales-2024-v2"
    assert study_name(Path("___.csv")) == "study"


def test_a_classify_recipe(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=300, freq="min").astype(str),
            "a": rng.normal(size=300),
            "b": rng.normal(size=300),
            "label": (rng.random(300) < 0.2).astype(int),
        }
    )
    csv = tmp_path / "events.csv"
    frame.to_csv(csv, index=False)
    recipe = make_recipe(csv, "label", task="classify", spec_dir=tmp_path)
    assert recipe.objective == "val_f1" and recipe.task == "classify"
    spec = _checked(tmp_path, recipe)
    assert spec["data"]["drop"] == ["when"]
    assert spec["data"]["class_weight"] == "balanced"
    with pytest.raises(UserError, match="--horizon"):
        make_recipe(csv, "label", task="classify", horizon=3)


def test_an_irregular_time_column_found_by_name_is_left_out_with_a_reason(
    tmp_path: Path,
) -> None:
    frame = _series(144, "MS")
    frame.loc[10, "when"] = "2001-07-01 00:00:00"  # out of order: not a regular index
    recipe = _recipe(tmp_path, frame)
    assert recipe.time is None and recipe.period is None
    assert recipe.reasons[0].startswith("no time index: column 'when' is not a regular one")
    _checked(tmp_path, recipe)
    with pytest.raises(UserError, match="data.time"):  # given with --time: refused
        _recipe(tmp_path, frame, time="when")


def test_a_parquet_file_is_read_as_a_csv(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    path = tmp_path / "sales.parquet"
    _series(144, "MS").to_parquet(path)
    recipe = make_recipe(path, "y", spec_dir=tmp_path)
    assert recipe.period == 12 and recipe.study == "sales"
    assert _checked(tmp_path, recipe)["data"]["csv"] == "sales.parquet"
