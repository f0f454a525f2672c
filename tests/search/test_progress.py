"""The progress a study prints: plain lines where the output is not a terminal (logs, CI),
a status line rewritten in place on a terminal; `status --watch` until the study ends."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, tiny_spec, write_spec
from test_backends_shared import FormulaRunner, make_spec

from seqtune.cli import main
from seqtune.search.progress import Progress
from seqtune.search.records import TrialRecord
from seqtune.study.lifecycle import Study


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def record(number: int, value: float | None, state: str = "complete") -> TrialRecord:
    return TrialRecord(
        number=number,
        state=state,
        params={"units": 8},
        value=value,
        epochs=5,
        best_epoch=3,
        seconds=1.25,
        seed=1,
        reason=None if value else "diverged",
        metrics={},
    )


def test_plain_output_is_one_line_per_trial_as_before() -> None:
    out = io.StringIO()
    progress = Progress(out, budget=3, objective="val_rmse", max_epochs=5)
    assert not progress.live
    progress.epoch_ended(2)  # nothing drawn off a terminal
    progress.trial_finished(record(0, 12.5), done=1, best=12.5)
    progress.trial_finished(record(1, None, "failed"), done=2, best=12.5)
    progress.close()
    assert out.getvalue().splitlines() == [
        "[1/3] trial 0 complete: val_rmse=12.5 · 5 epochs 1.2s · best 12.5",
        "[2/3] trial 1 failed: failed (diverged) · 5 epochs 1.2s · best 12.5",
    ]


def test_a_terminal_gets_a_status_line_rewritten_in_place() -> None:
    out = Terminal()
    progress = Progress(out, budget=4, objective="val_rmse", max_epochs=50, done=1)
    assert progress.live
    progress.epoch_ended(9)
    assert out.getvalue().endswith(
        "1/4 trials · best val_rmse - · 0:00 elapsed · ETA - · running: epoch 10/50"
    )
    progress.trial_finished(record(1, 7.0), done=2, best=7.0)
    text = out.getvalue()
    assert "\r\x1b[2K[2/4] trial 1 complete: val_rmse=7" in text  # the trial's line, kept
    assert text.endswith("running: -")  # and the status line below it
    assert "ETA 0:" in text.rsplit("\r", 1)[-1]  # one trial done here: an estimate
    progress.close()
    assert out.getvalue().endswith("\r\x1b[2K")  # the terminal is left clean


def test_status_watch_ends_when_the_study_is_done(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study, _ = Study.launch(make_spec(tmp_path, "tpe", trials=3), tmp_path / "results")
    study.run(FormulaRunner("minimize"))  # type: ignore[arg-type]
    study.close()
    capsys.readouterr()
    assert main(["status", str(study.path), "--watch", "0.1"]) == 0
    out = capsys.readouterr().out
    assert out.count("3/3 finished") == 1 and "run by no process" in out
    assert main(["status", str(study.path), "--watch", "--json"]) == 2


@pytest.mark.slow
def test_launch_on_a_terminal_shows_the_live_line(tmp_path: Path) -> None:
    search = {"backend": "tpe", "trials": 2, "max_epochs": 12, "patience": None}
    spec = write_spec(tmp_path / "tiny.yaml", tiny_spec(search=search))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "seqtune.cli",
            "launch",
            str(spec),
            "--results",
            str(tmp_path / "results"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.time() + 300
    while time.time() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(leader)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "running: epoch " in text and "/12" in text  # the running trial's epoch
    assert "[2/2] trial 1 complete" in text and "best trial" in text
