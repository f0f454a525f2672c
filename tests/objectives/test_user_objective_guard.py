"""A user objective that raises, exits, hangs or returns a non-number: one line, exit 2,
refused at launch before anything is written."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, tiny_spec, write_spec

from seqtune.errors import UserError
from seqtune.objectives.guard import DEFAULT_TIMEOUT, call_user, probe, sample_pair
from seqtune.spec import Spec, validate_with_data

BROKEN = {
    "raises": ("def f(y, p):\n    return 1 / 0\n", "raised ZeroDivisionError: division by zero"),
    "sys_exit": ("import sys\ndef f(y, p):\n    sys.exit(3)\n", "called sys.exit(3)"),
    "os_exit": ("import os\ndef f(y, p):\n    os._exit(4)\n", "called os._exit(4)"),
    "hangs": ("import time\ndef f(y, p):\n    time.sleep(600)\n", "did not return within 1 s"),
    "none": ("def f(y, p):\n    return None\n", "returned None (NoneType), not a number"),
    "text": ("def f(y, p):\n    return 'good'\n", "returned 'good' (str), not a number"),
    "array": ("def f(y, p):\n    return y - p\n", "not a number"),
}


def _module(tmp_path: Path, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(source)
    sys.modules.pop(name, None)


def _spec(tmp_path: Path, module: str, **objective: object) -> Spec:
    raw = tiny_spec()
    raw["objective"] = {"name": f"{module}:f", "direction": "minimize", **objective}
    return Spec.from_dict(raw, tmp_path)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_launch_check_refuses_a_broken_user_objective_in_one_line(
    tmp_path: Path, case: str
) -> None:
    source, expected = BROKEN[case]
    _module(tmp_path, f"broken_{case}", source)
    spec = _spec(tmp_path, f"broken_{case}", timeout=1)
    start = time.monotonic()
    with pytest.raises(UserError) as caught:
        validate_with_data(spec)
    assert time.monotonic() - start < 10
    text = str(caught.value)
    assert text.startswith(f"objective: user objective broken_{case}:f ")
    assert expected in text and "\n" not in text


def test_launch_check_accepts_an_objective_that_is_nan_on_the_sample(tmp_path: Path) -> None:
    """NaN is a number an objective may give on a tiny fake sample; the study then fails
    the trials whose objective is never finite, with that reason."""
    _module(tmp_path, "nan_on_sample", "def f(y, p):\n    return float('nan')\n")
    validate_with_data(_spec(tmp_path, "nan_on_sample"))


def test_the_guard_restores_os_exit_the_alarm_handler_and_a_running_timer() -> None:
    real_exit, handler = os._exit, signal.getsignal(signal.SIGALRM)

    def hangs(y: np.ndarray, p: np.ndarray) -> float:
        time.sleep(600)
        return 0.0

    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    signal.setitimer(signal.ITIMER_REAL, 100.0)
    try:
        with pytest.raises(UserError):
            call_user(hangs, "m:hangs", *sample_pair("forecast"), timeout=0.2)
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < left < 100  # the caller's timer is running again
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, handler)
    assert os._exit is real_exit


@pytest.mark.parametrize(("task", "n_classes"), [("forecast", 2), ("classify", 2), ("classify", 3)])
def test_a_sound_user_objective_passes_the_check(task: str, n_classes: int) -> None:
    def score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        if task == "forecast":
            return float(np.mean(np.abs(y_true - y_pred) / np.abs(y_true)))
        classes = y_pred.argmax(axis=1) if y_pred.ndim == 2 else (y_pred > 0.5).astype(int)
        return np.float32(np.mean(classes == y_true))  # numpy scalars are numbers too

    y_true, y_pred = sample_pair(task, n_classes)
    if task == "classify":
        assert y_true.dtype == np.int64 and set(y_true) == set(range(n_classes))
        assert y_pred.shape == ((12,) if n_classes == 2 else (12, n_classes))
    assert 0 < probe(score, "m:score", task, n_classes) < 1


@pytest.mark.parametrize("bad", [0, -1, "soon", True, [5]])
def test_the_timeout_key_is_checked(tmp_path: Path, bad: object) -> None:
    _module(tmp_path, "fine", "def f(y, p):\n    return 1.0\n")
    with pytest.raises(UserError, match=r"^objective\.timeout: expected seconds"):
        _spec(tmp_path, "fine", timeout=bad)


def test_the_timeout_key_defaults_and_round_trips(tmp_path: Path) -> None:
    _module(tmp_path, "fine", "def f(y, p):\n    return 1.0\n")
    assert _spec(tmp_path, "fine").objective.timeout == DEFAULT_TIMEOUT
    assert "timeout" not in _spec(tmp_path, "fine").objective.to_spec()
    spec = _spec(tmp_path, "fine", timeout=5)
    assert spec.objective.to_spec()["timeout"] == 5.0
    assert _spec(tmp_path, "fine", timeout=None).objective.timeout is None
    raw = tiny_spec()
    raw["objective"] = {"name": "val_rmse", "timeout": 5}
    with pytest.raises(UserError, match="only a user objective"):
        Spec.from_dict(raw, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["none", "os_exit", "hangs"])
def test_launch_refuses_it_with_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    source, expected = BROKEN[case]
    (tmp_path / "mine.py").write_text(source)
    raw = tiny_spec(search={"trials": 2, "max_epochs": 2})
    raw["objective"] = {"name": "mine:f", "direction": "minimize", "timeout": 1}
    spec = write_spec(tmp_path / "tiny.yaml", raw)
    run = run_cli("launch", str(spec), "--results", str(tmp_path / "results"), timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("seqtune launch: objective: user objective mine:f ")
    assert expected in run.stderr
    assert not (tmp_path / "results").exists()
