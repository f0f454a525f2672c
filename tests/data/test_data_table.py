"""load_table: reading the CSV and refusing bad input; missing-value policies; capacity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from seqtune.data import DataSpec, Table, load_table
from seqtune.errors import UserError


def write(tmp_path: Path, text: str, name: str = "d.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def table(tmp_path: Path, text: str, **data: Any) -> Table:
    write(tmp_path, text)
    raw = {"csv": "d.csv", "target": "y", **data}
    return load_table(DataSpec.from_dict(raw, tmp_path))


def refused(tmp_path: Path, text: str, field: str, phrase: str, **data: Any) -> UserError:
    with pytest.raises(UserError) as info:
        table(tmp_path, text, **data)
    assert info.value.field == field, str(info.value)
    assert phrase in info.value.message, str(info.value)
    assert "\n" not in str(info.value)
    return info.value


def series_csv(n: int = 40, extra: str = "") -> str:
    lines = ["Date,y,x" + (",e" if extra else "")]
    for i in range(n):
        lines.append(f"2000-{i},{10 + i % 7 + i},{i * 0.5}" + (f",{extra}" if extra else ""))
    return "\n".join(lines) + "\n"


def test_loads_used_columns_and_ignores_dates(tmp_path: Path) -> None:
    t = table(tmp_path, series_csv(), features=["y", "x"])
    assert t.n_rows == 40
    assert t.columns == ("y", "x")
    assert t.features == ("y", "x")


def test_forecast_default_features_is_target(tmp_path: Path) -> None:
    t = table(tmp_path, series_csv())
    assert t.features == ("y",)
    assert t.columns == ("y",)


def test_missing_file(tmp_path: Path) -> None:
    s = DataSpec.from_dict({"csv": "nope.csv", "target": "y"}, tmp_path)
    with pytest.raises(UserError) as info:
        load_table(s)
    assert info.value.field == "data.csv"
    assert "file not found" in info.value.message and "nope.csv" in info.value.message


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    s = DataSpec.from_dict({"csv": "d.csv", "target": "y"}, tmp_path)
    with pytest.raises(UserError, match="not a file"):
        load_table(s)


def test_empty_file(tmp_path: Path) -> None:
    refused(tmp_path, "", "data.csv", "file is empty")


def test_header_only(tmp_path: Path) -> None:
    refused(tmp_path, "Date,y\n", "data.csv", "no data rows")


def test_unreadable_binary(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_bytes(b"y,x\n\xff\xfe\xfa,1\n")
    s = DataSpec.from_dict({"csv": "d.csv", "target": "y"}, tmp_path)
    with pytest.raises(UserError) as info:
        load_table(s)
    assert info.value.field == "data.csv" and "cannot read" in info.value.message


def test_ragged_rows_unreadable(tmp_path: Path) -> None:
    refused(tmp_path, "y,x\n1,2\n3,4,5,6\n", "data.csv", "cannot read")


def test_missing_target_suggests(tmp_path: Path) -> None:
    err = refused(tmp_path, series_csv(), "data.target", "column 'Y' not found", target="Y")
    assert "did you mean 'y'" in err.message


def test_missing_feature_suggests(tmp_path: Path) -> None:
    err = refused(tmp_path, series_csv(), "data.features", "'xx' not found", features=["y", "xx"])
    assert "did you mean 'x'" in err.message


def test_missing_drop_column(tmp_path: Path) -> None:
    refused(tmp_path, series_csv(), "data.drop", "'Dat' not found", drop=["Dat"])


def test_semicolon_separator_hint(tmp_path: Path) -> None:
    refused(tmp_path, "Date;y\n1;2\n2;3\n", "data.target", "';' as separator")


def test_non_numeric_value_names_column_row_value(tmp_path: Path) -> None:
    text = "Date,y\n" + "".join(f"d{i},{i + 1}\n" for i in range(16)) + "d16,abc\nd17,5\n"
    err = refused(tmp_path, text, "data.csv", "column 'y' has a non-numeric value 'abc' at row 17")
    assert "d.csv" in err.message


def test_non_numeric_in_unused_column_is_fine(tmp_path: Path) -> None:
    t = table(tmp_path, series_csv(extra="hello"))
    assert t.columns == ("y",)


def test_nan_refused_by_default(tmp_path: Path) -> None:
    text = "y,x\n1,1\n2,2\n,3\n4,4\n"
    err = refused(tmp_path, text, "data.csv", "column 'y' has a missing value (NaN) at row 3")
    assert "data.missing" in err.message


def test_inf_refused_by_default(tmp_path: Path) -> None:
    text = "y,x\n1,1\n2,inf\n3,3\n"
    refused(tmp_path, text, "data.csv", "column 'x' has an infinite value", features=["y", "x"])


def test_nan_in_unused_column_is_fine(tmp_path: Path) -> None:
    t = table(tmp_path, "y,x\n1,1\n2,\n3,3\n")
    assert t.n_rows == 3


def test_missing_drop_policy(tmp_path: Path) -> None:
    text = "y,x\n1,1\n2,\n3,3\nnan,4\n5,5\n6,6\n"
    t = table(tmp_path, text, features=["y", "x"], missing="drop")
    assert t.n_rows == 4
    np.testing.assert_array_equal(t.y, [1, 3, 5, 6])
    np.testing.assert_array_equal(t.row_numbers, [1, 3, 5, 6])


def test_missing_ffill_policy(tmp_path: Path) -> None:
    text = "y,x\n1,1\n2,\n3,-inf\nnan,4\n5,5\n"
    t = table(tmp_path, text, features=["y", "x"], missing="ffill")
    assert t.n_rows == 5
    np.testing.assert_array_equal(t.y, [1, 2, 3, 3, 5])
    np.testing.assert_array_equal(t.feature_values()[:, 1], [1, 1, 1, 4, 5])


def test_ffill_leading_nan_refused(tmp_path: Path) -> None:
    text = "y,x\n1,\n2,2\n3,3\n"
    refused(
        tmp_path,
        text,
        "data.csv",
        "column 'x' is missing at row 1",
        features=["y", "x"],
        missing="ffill",
    )


def test_drop_all_rows_refused(tmp_path: Path) -> None:
    refused(tmp_path, "y,x\n,1\n,2\n", "data.csv", "every row", missing="drop")


def test_constant_forecast_target(tmp_path: Path) -> None:
    refused(tmp_path, "y\n3\n3\n3\n", "data.target", "constant")


def test_classify_target_must_be_integer(tmp_path: Path) -> None:
    text = "a,y\n1,0\n2,1\n3,0.5\n"
    refused(tmp_path, text, "data.target", "is 0.5 at row 3", task="classify")


def test_classify_single_class(tmp_path: Path) -> None:
    refused(tmp_path, "a,y\n1,1\n2,1\n3,1\n", "data.target", "single class", task="classify")


def test_classify_default_features_exclude_target_and_drop(tmp_path: Path) -> None:
    text = "time,a,b,c,y\n" + "".join(f"t{i},{i},{i * 2},{i % 3},{i % 2}\n" for i in range(30))
    t = table(tmp_path, text, task="classify", drop=["c"])
    assert t.features == ("a", "b")
    assert "y" not in t.features
    np.testing.assert_array_equal(t.classes, [0, 1])


def test_classify_autoregressive_default_features_include_target(tmp_path: Path) -> None:
    text = "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30))
    t = table(tmp_path, text, task="classify", autoregressive=True)
    assert t.features == ("a", "y")


def test_classify_no_feature_columns(tmp_path: Path) -> None:
    text = "time,y\n" + "".join(f"t{i},{i % 2}\n" for i in range(30))
    refused(tmp_path, text, "data.features", "no numeric column", task="classify")


def test_classify_mostly_numeric_column_with_typo_is_refused(tmp_path: Path) -> None:
    text = "a,b,y\n" + "".join(f"{i},{'oops' if i == 4 else i},{i % 2}\n" for i in range(30))
    refused(
        tmp_path,
        text,
        "data.csv",
        "column 'b' has a non-numeric value 'oops' at row 5",
        task="classify",
    )


def test_classify_labels_mapped_to_indices(tmp_path: Path) -> None:
    text = "a,y\n" + "".join(f"{i},{[7, -1, 3][i % 3]}\n" for i in range(30))
    t = table(tmp_path, text, task="classify")
    np.testing.assert_array_equal(t.classes, [-1, 3, 7])


def test_bool_column_is_numeric(tmp_path: Path) -> None:
    text = "a,y\n" + "".join(f"{i % 2 == 0},{i % 2}\n" for i in range(30))
    t = table(tmp_path, text, task="classify")
    assert t.features == ("a",)


# ---- check_transform -------------------------------------------------------------------


def test_check_transform(tmp_path: Path) -> None:
    t = table(tmp_path, "y\n" + "".join(f"{i}\n" for i in range(40)))
    for name, phrase in [
        ("log", "positive target, but 'y' is 0 at row 1"),
        ("log_diff", "positive target"),
        ("seasonal_diff", "data.period"),
        ("lg", "unknown transform 'lg' (did you mean 'log'?)"),
    ]:
        with pytest.raises(UserError) as info:
            t.check_transform(name)
        assert info.value.field == "space.transform"
        assert phrase in info.value.message
    t.check_transform("diff")
    t.check_transform("none")


def test_check_transform_classify_only_none(tmp_path: Path) -> None:
    text = "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30))
    t = table(tmp_path, text, task="classify")
    t.check_transform("none")
    with pytest.raises(UserError, match="only 'none'"):
        t.check_transform("diff")


# ---- check_capacity --------------------------------------------------------------------


def forecast_table(tmp_path: Path, n: int = 40, **data: Any) -> Table:
    frame = pd.DataFrame({"y": 10 + np.arange(n) + np.sin(np.arange(n))})
    frame.to_csv(tmp_path / "d.csv", index=False)
    return load_table(DataSpec.from_dict({"csv": "d.csv", "target": "y", **data}, tmp_path))


def test_capacity_forecast(tmp_path: Path) -> None:
    # n=40, val 0.15 -> 6, test 0.2 -> 8, train 26: look_back + lost <= 24.
    t = forecast_table(tmp_path, period=12)
    t.check_capacity(24, ["none"])
    t.check_capacity(23, ["diff", "none"])
    t.check_capacity(12, ["seasonal_diff"])
    with pytest.raises(UserError) as info:
        t.check_capacity(25, ["none"])
    assert info.value.field == "space.look_back"
    assert "look_back 25 leaves 1 train window" in info.value.message
    assert "largest look_back that fits is 24" in info.value.message
    with pytest.raises(UserError) as info:
        t.check_capacity(13, ["none", "seasonal_diff"])
    assert "plus 12 rows lost to 'seasonal_diff'" in info.value.message
    assert "largest look_back that fits is 12" in info.value.message


def test_capacity_windows_call_checks(tmp_path: Path) -> None:
    t = forecast_table(tmp_path)
    with pytest.raises(UserError) as info:
        t.windows(30)
    assert info.value.field == "space.look_back"
    with pytest.raises(UserError, match="at least 1"):
        t.windows(0)


def test_capacity_empty_part(tmp_path: Path) -> None:
    t = forecast_table(tmp_path, n=8, split={"val": 0.05, "test": 0.3})
    with pytest.raises(UserError) as info:
        t.check_capacity(1, ["none"])
    assert info.value.field == "data.split"
    assert "val fraction 0.05 of 8 rows gives 0 rows" in info.value.message


def test_capacity_series_too_short_for_any_look_back(tmp_path: Path) -> None:
    t = forecast_table(tmp_path, n=8, split={"val": 0.2, "test": 0.3})
    # 8 rows: test 2, val 2, train 4; seasonal with period 4 loses 4 rows -> 0 train windows.
    t2 = forecast_table(tmp_path, n=8, split={"val": 0.2, "test": 0.3}, period=4)
    t.check_capacity(2, ["none"])
    with pytest.raises(UserError) as info:
        t2.check_capacity(1, ["seasonal_diff"])
    assert info.value.field == "data.split"
    assert "even with look_back 1" in info.value.message


def test_capacity_classify_chronological(tmp_path: Path) -> None:
    # 40 rows: train 26, val 6, test 8; label_at next needs look_back + 1 rows in each part.
    text = "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40))
    t = table(tmp_path, text, task="classify")
    t.check_capacity(5)
    with pytest.raises(UserError) as info:
        t.check_capacity(6)
    assert info.value.field == "space.look_back"
    assert "leaves 0 val window" in info.value.message
    assert "largest look_back that fits is 5" in info.value.message
    assert t.window_counts(5) == {"train": 21, "val": 1, "test": 3}


def test_capacity_classify_label_last(tmp_path: Path) -> None:
    text = "a,y\n" + "".join(f"{i},{i % 2}\n" for i in range(40))
    t = table(tmp_path, text, task="classify", label_at="last")
    t.check_capacity(6)
    assert t.window_counts(6) == {"train": 21, "val": 1, "test": 3}
