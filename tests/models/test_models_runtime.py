"""Thread settings: one thread per process unless SEQTUNE_THREADS says otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from seqtune.errors import UserError
from seqtune.models.runtime import threads_from_env


@pytest.mark.parametrize(("raw", "expected"), [(None, 1), ("", 1), ("1", 1), ("4", 4), ("0", None)])
def test_threads_from_the_environment(
    raw: str | None, expected: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if raw is None:
        monkeypatch.delenv("SEQTUNE_THREADS", raising=False)
    else:
        monkeypatch.setenv("SEQTUNE_THREADS", raw)
    assert threads_from_env() == expected


@pytest.mark.parametrize("raw", ["-1", "two", "1.5"])
def test_a_bad_thread_count_is_refused_naming_the_variable(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQTUNE_THREADS", raw)
    with pytest.raises(UserError, match="SEQTUNE_THREADS"):
        threads_from_env()


def test_the_cli_refuses_a_bad_thread_count_in_one_line(
    tmp_path: Path, spec_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQTUNE_THREADS", "many")
    out = run_cli("launch", str(spec_file), "--results", str(tmp_path / "results"))
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "SEQTUNE_THREADS" in out.stderr
    assert not (tmp_path / "results").exists()
