"""Shared fixtures: tiny specs on the shipped airline series, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRLINE = ROOT / "data" / "airline.csv"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


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


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    return write_spec(tmp_path / "tiny.yaml", tiny_spec())
