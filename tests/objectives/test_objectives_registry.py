"""Objective names, directions, tasks and user objectives."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from seqtune.errors import UserError
from seqtune.objectives import BUILTINS, load_user_function, parse_objective, task_metrics


@pytest.mark.parametrize(
    ("name", "direction", "task"),
    [
        ("val_rmse", "minimize", "forecast"),
        ("val_mae", "minimize", "forecast"),
        ("val_f1", "maximize", "classify"),
        ("val_batch_f1", "maximize", "classify"),
        ("val_accuracy", "maximize", "classify"),
        ("val_precision", "maximize", "classify"),
        ("val_recall", "maximize", "classify"),
        ("val_pr_auc", "maximize", "classify"),
    ],
)
def test_builtin_directions(name: str, direction: str, task: str) -> None:
    obj = parse_objective(name, task)
    assert (obj.name, obj.direction, obj.task) == (name, direction, task)
    assert obj.to_spec() == name


def test_unknown_objective_suggests_the_close_name() -> None:
    with pytest.raises(UserError, match="did you mean 'val_rmse'") as err:
        parse_objective("val_rmes", "forecast")
    assert err.value.field == "objective"


def test_objective_of_the_other_task_is_refused() -> None:
    with pytest.raises(UserError, match="classify objective but data.task is 'forecast'"):
        parse_objective("val_f1", "forecast")


def test_a_builtin_direction_cannot_be_flipped() -> None:
    with pytest.raises(UserError) as err:
        parse_objective({"name": "val_rmse", "direction": "maximize"}, "forecast")
    assert err.value.field == "objective.direction"


def test_user_objective_needs_a_direction() -> None:
    with pytest.raises(UserError, match="needs a direction"):
        parse_objective("mymod:smape", "forecast")
    obj = parse_objective({"name": "mymod:smape", "direction": "minimize"}, "forecast")
    assert (obj.name, obj.function) == ("smape", "mymod:smape")
    assert obj.to_spec() == {"name": "mymod:smape", "direction": "minimize"}


def test_user_objective_is_imported_from_the_spec_folder(tmp_path: Path) -> None:
    (tmp_path / "my_metrics_mod.py").write_text(
        "import numpy as np\ndef smape(y, p):\n    return float(np.mean(np.abs(y - p)))\n"
    )
    fn = load_user_function("my_metrics_mod:smape", tmp_path)
    assert fn(np.array([1.0, 2.0]), np.array([2.0, 2.0])) == 0.5
    assert str(tmp_path) not in sys.path


def test_user_objective_import_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('boom')\n")
    with pytest.raises(UserError, match="cannot import module 'broken_mod': RuntimeError: boom"):
        load_user_function("broken_mod:f", tmp_path)
    with pytest.raises(UserError, match="no function 'nope'"):
        load_user_function("json:nope", tmp_path)


def test_task_metrics_cover_every_builtin_of_the_task() -> None:
    forecast = task_metrics("forecast", 32)
    classify = task_metrics("classify", 32)
    assert set(forecast) | set(classify) == set(BUILTINS)
    y, p = np.array([1, 0, 1, 1]), np.array([0.9, 0.2, 0.4, 0.8])
    assert classify["val_f1"](y, p) == pytest.approx(0.8)
