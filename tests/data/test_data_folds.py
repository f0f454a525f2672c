"""Rolling-origin folds: the plan's arithmetic, one-line errors, per-fold windows fitted on the
fold's training rows only, blocked classify folds, the refit view, and old specs unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqtune.data import DataSpec, Table, load_table
from seqtune.data.folds import plan_folds
from seqtune.data.scalers import Scaler
from seqtune.errors import UserError

AIRLINE = Path(__file__).resolve().parents[2] / "data" / "airline.csv"
SPLIT = {"val": 0.13, "test": 0.33}  # the quick start: train 77, val 19, test 48 of 144


def airline(split: dict[str, Any] | None = None, **data: Any) -> Table:
    raw = {"csv": str(AIRLINE), "target": "Passengers", "period": 12, **data}
    raw["split"] = {**SPLIT, **(split or {})}
    return load_table(DataSpec.from_dict(raw, Path(".")))


def spec(split: dict[str, Any], **data: Any) -> DataSpec:
    raw = {"csv": str(AIRLINE), "target": "Passengers", "split": split, **data}
    return DataSpec.from_dict(raw, Path("."))


def stream(tmp_path: Path, labels: np.ndarray, **data: Any) -> Table:
    rng = np.random.default_rng(0)
    n = labels.size
    frame = pd.DataFrame({"x": rng.normal(0, 1, n) + labels, "u": rng.normal(5, 2, n)})
    frame["class"] = labels
    frame.to_csv(tmp_path / "s.csv", index=False)
    raw = {"csv": "s.csv", "target": "class", "task": "classify", **data}
    return load_table(DataSpec.from_dict(raw, tmp_path))


def same_scaler(a: Scaler | None, b: Scaler | None) -> bool:
    assert a is not None and b is not None
    return (
        a.kind == b.kind and np.array_equal(a.offset, b.offset) and np.array_equal(a.scale, b.scale)
    )


# -- the plan ------------------------------------------------------------------------------


def test_plan_expanding_origins_end_at_the_test_part() -> None:
    plan = plan_folds(144, val=12, test=48, folds=4)
    assert plan.pre_test == 96
    assert [(f.train_stop, f.val_start, f.val_stop) for f in plan.folds] == [
        (48, 48, 60),
        (60, 60, 72),
        (72, 72, 84),
        (84, 84, 96),
    ]
    assert all(f.bounds()["train"][0] == 0 for f in plan.folds)  # expanding, from row 0
    assert all(f.bounds()["test"] == (f.val_stop, f.val_stop) for f in plan.folds)  # empty


def test_plan_step_and_gap() -> None:
    plan = plan_folds(144, val=12, test=48, folds=3, step=6, gap=2)
    assert [(f.train_stop, f.val_start, f.val_stop) for f in plan.folds] == [
        (70, 72, 84),
        (76, 78, 90),
        (82, 84, 96),
    ]
    assert {f.gap for f in plan.folds} == {2}
    assert plan.refit_bounds() == {"train": (0, 96), "val": (96, 96), "test": (96, 144)}


def test_plan_fractions_are_of_all_rows_like_val_and_test() -> None:
    plan = plan_folds(144, val=0.13, test=0.33, folds=2, step=0.05)
    assert plan[-1].val_rows == 19 and plan.pre_test == 96
    assert plan[1].val_stop - plan[0].val_stop == 7  # round(144 * 0.05)


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"val": 12, "test": 48, "folds": 8}, "data.split.folds", "at most 7 folds fit"),
        ({"val": 96, "test": 48}, "data.split.val", "no training rows"),
        ({"val": 90, "test": 48, "gap": 6}, "data.split.gap", "no training rows"),
        ({"val": 0.001, "test": 48}, "data.split.val", "0 validation rows"),
        ({"val": 12, "test": 0.001}, "data.split.test", "0 rows"),
        ({"val": 12, "test": 48, "folds": 2, "step": 0.001}, "data.split.step", "0 rows"),
    ],
)
def test_plan_refuses_in_one_line_naming_the_field(
    kwargs: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(UserError) as err:
        plan_folds(144, **kwargs)
    assert err.value.field == field
    assert words in err.value.message
    assert "\n" not in str(err.value)


# -- the spec ------------------------------------------------------------------------------


def test_old_spec_keeps_its_dict() -> None:
    old = spec({"val": 0.13, "test": 0.33})
    assert old.folds == 1 and old.step is None and old.gap == 0
    assert old.to_dict()["split"] == {"val": 0.13, "test": 0.33}


def test_fold_keys_round_trip() -> None:
    new = spec({"val": 12, "test": 48, "folds": 4, "step": 6, "gap": 1})
    assert new.to_dict()["split"] == {"val": 12, "test": 48, "folds": 4, "step": 6, "gap": 1}
    again = DataSpec.from_dict(new.to_dict(), Path("."))
    assert again == new


def test_spec_fingerprint_of_an_old_spec_is_unchanged(tmp_path: Path) -> None:
    from seqtune.spec import Spec

    raw = {
        "study": "s",
        "seed": 1,
        "data": {"csv": str(AIRLINE), "target": "Passengers", "split": dict(SPLIT)},
        "model": {"kind": "lstm"},
        "space": {"look_back": 3},
        "objective": "val_rmse",
        "search": {"backend": "tpe", "trials": 2, "max_epochs": 2},
    }
    fingerprint = Spec.from_dict(raw, tmp_path).fingerprint()
    assert fingerprint["data"]["split"] == {"val": 0.13, "test": 0.33}
    raw["data"]["split"] = {**SPLIT, "folds": 1}  # the default written out: same study
    assert Spec.from_dict(raw, tmp_path).fingerprint() == fingerprint
    raw["data"]["split"] = {**SPLIT, "folds": 3}
    assert Spec.from_dict(raw, tmp_path).fingerprint()["data"]["split"]["folds"] == 3


@pytest.mark.parametrize(
    ("split", "field"),
    [
        ({"folds": 0}, "data.split.folds"),
        ({"folds": 2.5}, "data.split.folds"),
        ({"folds": True}, "data.split.folds"),
        ({"folds": 3, "step": 0}, "data.split.step"),
        ({"folds": 3, "step": "6"}, "data.split.step"),
        ({"step": 6}, "data.split.step"),  # no effect with one fold
        ({"gap": -1}, "data.split.gap"),
        ({"gap": 0.5}, "data.split.gap"),
        ({"fold": 3}, "data.split.fold"),  # a typo: did you mean 'folds'?
    ],
)
def test_bad_fold_settings_are_one_line_errors(split: dict[str, Any], field: str) -> None:
    with pytest.raises(UserError) as err:
        spec({**SPLIT, **split})
    assert err.value.field == field
    assert "\n" not in str(err.value)


def test_stratified_takes_no_folds(tmp_path: Path) -> None:
    with pytest.raises(UserError) as err:
        DataSpec.from_dict(
            {
                "csv": "s.csv",
                "target": "class",
                "task": "classify",
                "split": {"method": "stratified", "folds": 3},
            },
            tmp_path,
        )
    assert err.value.field == "data.split.folds"


# -- windows per fold ----------------------------------------------------------------------


@pytest.mark.parametrize("transform", ["none", "log_diff", "log_seasonal_diff"])
@pytest.mark.parametrize("look_back", [1, 13])
def test_one_fold_reproduces_the_holdout_exactly(transform: str, look_back: int) -> None:
    table = airline()
    holdout = table.windows(look_back, transform)
    fold = table.fold_windows(0, look_back, transform)
    for part in ("train", "val"):
        np.testing.assert_array_equal(fold.part(part)[0], holdout.part(part)[0])
        np.testing.assert_array_equal(fold.part(part)[1], holdout.part(part)[1])
        np.testing.assert_array_equal(fold.target_rows(part), holdout.target_rows(part))
        np.testing.assert_array_equal(fold.true_original(part), holdout.true_original(part))
    assert same_scaler(fold.target_scaler, holdout.target_scaler)
    assert same_scaler(fold.feature_scaler, holdout.feature_scaler)
    assert fold.x_test.shape[0] == 0 and fold.y_test.shape[0] == 0  # a fold never reads test


@pytest.mark.parametrize("horizon", [1, 3])
def test_fold_targets_stay_in_their_part(horizon: int) -> None:
    table = airline({"val": 12, "test": 48, "folds": 4, "gap": 2}, horizon=horizon)
    for fold in table.fold_plan.folds:
        w = table.fold_windows(fold.index, 13, "log_seasonal_diff")
        train_rows = w.target_rows("train")
        val_rows = w.target_rows("val")
        assert train_rows.max() + horizon - 1 < fold.train_stop  # no training target in val
        assert val_rows.min() == fold.val_start  # validation inputs reach back before it
        assert val_rows.max() + horizon - 1 == fold.val_stop - 1
        assert len(val_rows) == fold.val_rows - horizon + 1


@pytest.mark.parametrize("transform", ["none", "log_diff", "seasonal_diff"])
def test_fold_scaler_never_sees_a_later_row(transform: str) -> None:
    """Rows after a fold's training part are replaced by absurd values: the fold's scalers
    and its training windows must not change."""
    table = airline({"val": 12, "test": 48, "folds": 3})
    for fold in table.fold_plan.folds:
        w = table.fold_windows(fold.index, 6, transform)
        poisoned = airline({"val": 12, "test": 48, "folds": 3})
        poisoned.y = poisoned.y.copy()
        poisoned.y[fold.train_stop :] *= 1000.0
        poisoned._data = poisoned._data.copy()
        poisoned._data[fold.train_stop :, 0] *= 1000.0
        p = poisoned.fold_windows(fold.index, 6, transform)
        assert same_scaler(p.target_scaler, w.target_scaler)
        assert same_scaler(p.feature_scaler, w.feature_scaler)
        np.testing.assert_array_equal(p.x_train, w.x_train)
        np.testing.assert_array_equal(p.y_train, w.y_train)


def test_later_folds_train_on_more_rows_with_their_own_scaler() -> None:
    table = airline({"val": 12, "test": 48, "folds": 3})
    windows = [table.fold_windows(i, 12, "none") for i in range(3)]
    sizes = [w.x_train.shape[0] for w in windows]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    tops = [w.target_scaler.offset[0] + w.target_scaler.scale[0] for w in windows]
    assert tops == [table.y[: fold.train_stop].max() for fold in table.fold_plan.folds]


def test_fold_windows_are_cached_per_fold() -> None:
    table = airline({"val": 12, "test": 48, "folds": 2})
    assert table.fold_windows(1, 3) is table.fold_windows(1, 3)
    assert table.fold_windows(0, 3) is not table.fold_windows(1, 3)
    with pytest.raises(IndexError):
        table.fold_windows(2, 3)


def test_refit_view_trains_on_every_row_before_test() -> None:
    table = airline({"val": 12, "test": 48, "folds": 4})
    w = table.refit_windows(13, "log_seasonal_diff")
    assert w.x_val.shape[0] == 0
    assert w.target_rows("train")[-1] == 95
    np.testing.assert_array_equal(w.target_rows("test"), np.arange(96, 144))
    z = w.z[12:96]
    assert w.target_scaler.offset[0] == pytest.approx(z.min())
    holdout = table.windows(13, "log_seasonal_diff")
    np.testing.assert_array_equal(w.true_original("test"), holdout.true_original("test"))


def test_fold_counts() -> None:
    table = airline({"val": 12, "test": 48, "folds": 4})
    counts = table.fold_counts(13, "log_seasonal_diff")
    assert counts == [
        {"train": 48 - 25, "val": 12},
        {"train": 60 - 25, "val": 12},
        {"train": 72 - 25, "val": 12},
        {"train": 84 - 25, "val": 12},
    ]


def test_capacity_checks_every_fold_before_anything_runs() -> None:
    table = airline({"val": 12, "test": 48, "folds": 6})  # first fold trains on rows 0-23
    table.check_capacity(12, ["none"])
    with pytest.raises(UserError) as err:
        table.check_capacity(22, ["log_seasonal_diff"])
    assert err.value.field == "space.look_back"
    assert "fold 1 of 6" in err.value.message and "largest look_back that fits is 10" in str(
        err.value
    )
    with pytest.raises(UserError) as err:
        airline({"val": 12, "test": 48, "folds": 9}).check_capacity(1, ["none"])
    assert err.value.field == "data.split.folds"


def test_old_spec_capacity_check_is_unchanged() -> None:
    """Without fold keys the capacity check is today's (no fold plan consulted)."""
    table = airline()
    assert not table.uses_folds
    with pytest.raises(UserError) as err:
        table.check_capacity(80, ["none"])
    assert err.value.field == "space.look_back"
    assert table._plan is None


# -- classify: blocked folds ---------------------------------------------------------------


@pytest.mark.parametrize("label_at", ["next", "last"])
def test_classify_fold_windows_never_straddle_a_boundary(tmp_path: Path, label_at: str) -> None:
    labels = np.random.default_rng(1).integers(0, 2, 200)
    table = stream(
        tmp_path, labels, split={"val": 20, "test": 40, "folds": 3, "gap": 2}, label_at=label_at
    )
    off = 1 if label_at == "next" else 0
    for fold in table.fold_plan.folds:
        w = table.fold_windows(fold.index, 5)
        first_input = w.target_rows("val") - off - 4
        assert first_input.min() == fold.val_start  # inputs never reach back before val
        assert w.target_rows("train").max() < fold.train_stop
        fitted = Scaler.fit("minmax", table.feature_values()[: fold.train_stop])
        assert same_scaler(w.feature_scaler, fitted)


def test_classify_fold_with_one_class_is_refused(tmp_path: Path) -> None:
    labels = np.random.default_rng(1).integers(0, 2, 200)
    labels[100:120] = 1  # fold 2's validation rows hold one class
    table = stream(tmp_path, labels, split={"val": 20, "test": 40, "folds": 4})
    with pytest.raises(UserError) as err:
        table.check_capacity(3, ["none"])
    assert err.value.field == "data.split.folds"
    assert "fold 2 of 4" in err.value.message and "val window" in err.value.message
