"""Shared fixtures: tiny specs on the shipped airline series, and CLI runners (a fresh
process, or this one)."""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRLINE = ROOT / "data" / "airline.csv"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# AutoETS / AutoTheta / AutoARIMA cost seconds per fold: off in the suite (every forecast
# export and status would fit them); tests/models/test_statistical.py and
# tests/search/test_statistical_baselines.py turn them on with a time limit of their own
os.environ.setdefault("SEQTUNE_BASELINE_SECONDS", "0")


def tiny_spec(**changes: Any) -> dict[str, Any]:
    """A small airline study: a few trials of a few epochs."""
    spec: dict[str, Any] = {
        "study": "tiny",
        "seed": 7,
        "data": {
            "csv": str(AIRLINE),
            "target": "Passengers",
            "split": {"val": 0.13, "test": 0.33},
            "scaler": "minmax",
            "period": 12,
        },
        "model": {"kind": "lstm", "layout": "timesteps"},
        "space": {
            "transform": {"choice": ["none", "log_diff", "seasonal_diff"]},
            "look_back": {"int": [1, 4]},
            "units": {"int": [4, 12], "step": 4},
            "dropout": {"float": [0.0, 0.2], "step": 0.1},
            "num_hidden_layers": {"int": [0, 2]},
            "dense_units": {"int": [4, 8], "step": 4, "per": "num_hidden_layers"},
            "learning_rate": {"choice": [0.01, 0.003]},
            "batch_size": {"choice": [16, 32]},
        },
        "objective": "val_rmse",
        "search": {"backend": "tpe", "trials": 3, "max_epochs": 3, "patience": 2},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def run_cli(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 600,
    env_extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``seqtune`` as a user would, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "seqtune.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env_extra or {})},
    )


@contextlib.contextmanager
def _environment(extra: dict[str, str] | None) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in extra or {}}
    os.environ.update(extra or {})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def cli_here(
    *args: str, cwd: Path | None = None, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``seqtune`` in this process, TensorFlow loaded once (seconds saved per call):
    for the commands whose own process is not what a test is about (its exit code, stdout
    and stderr are the same). Not for specs with a user objective module: Python would
    import a module of that name once per process."""
    from seqtune.cli import main
    from seqtune.errors import UserError
    from seqtune.models.runtime import configure_from_env

    with contextlib.suppress(UserError):  # a bad SEQTUNE_THREADS: main() says so
        configure_from_env()  # the threads a seqtune process runs with (before the 1st op)
    out, err = io.StringIO(), io.StringIO()
    formatwarning = warnings.formatwarning  # main() sets seqtune's own for the process
    with (
        contextlib.chdir(cwd or Path.cwd()),
        _environment(env_extra),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        warnings.catch_warnings(),
    ):
        _fresh_process_warnings()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse's usage errors and --version
            code = exc.code if isinstance(exc.code, int) else 1
        finally:
            warnings.formatwarning = formatwarning
    return subprocess.CompletedProcess(["seqtune", *args], code, out.getvalue(), err.getvalue())


def _fresh_process_warnings() -> None:
    """Warnings filtered and printed on stderr as in a new ``python`` process (pytest
    would record them instead), so that a stray warning line is seen here too."""
    warnings.resetwarnings()
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show


def launched_and_exported(root: Path, spec: dict[str, Any]) -> Path:
    """Launch ``spec`` (written into ``root``) under ``root/results`` and export it; the
    study folder, with best.yaml, best.keras (and predictions.csv) beside its files."""
    path = write_spec(root / f"{spec['study']}.yaml", spec)
    done = cli_here("launch", str(path), "--results", str(root / "results"))
    assert done.returncode == 0, done.stderr
    study = root / "results" / spec["study"]
    done = cli_here("export", str(study))
    assert done.returncode == 0, done.stderr
    return study


def optuna_trials(study_dir: Path) -> list[tuple[int, str, int]]:
    """``(number, state, epochs reported)`` of every trial in a study folder's SQLite
    storage, read as another process reads a running study (read-only, never waiting for
    the writer); ``[]`` until the storage has its tables."""
    db = study_dir / "optuna.db"
    if not db.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            return conn.execute(
                "SELECT t.number, t.state, COUNT(v.trial_id) FROM trials t "
                "LEFT JOIN trial_intermediate_values v ON v.trial_id = t.trial_id "
                "GROUP BY t.trial_id ORDER BY t.number"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:  # not created yet, or the writer holds it this instant
        return []


def wait_until(
    predicate: Any, proc: subprocess.Popen[Any], seconds: float = 300, what: str = ""
) -> None:
    """Poll ``predicate`` until it holds; fail if ``proc`` ended first or time runs out."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert proc.poll() is None, f"the process ended (exit {proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="session", autouse=True)
def _seqtune_threads() -> None:
    """The test process trains with the threads every seqtune process uses, so that a
    trial run here and a refit in a fresh process (or the reverse) sum in the same order.
    Only where the collected tests already loaded TensorFlow: it must be set before its
    first operation, and loading it is slow."""
    if "tensorflow" in sys.modules:
        from seqtune.models.runtime import configure_from_env

        configure_from_env()


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    return write_spec(tmp_path / "tiny.yaml", tiny_spec())
