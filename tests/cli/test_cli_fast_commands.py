"""The read-only commands load only what they need (issue 26): ``status`` (text, ``--json``,
``--watch``), ``check``, ``--help`` and ``--version`` never import TensorFlow, Keras or
keras-tuner, each run in a fresh process on a small finished study."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, run_cli, tiny_spec, write_spec

pytestmark = pytest.mark.slow  # a study is launched (and trains) once for the module

HEAVY = ("tensorflow", "keras", "keras_tuner", "matplotlib")
#: What a status read from the folder's own files needs none of
SLOW = (*HEAVY, "optuna", "sqlalchemy", "pandas", "sklearn", "statsmodels")

#: Runs ``main(argv)`` in a fresh interpreter and prints, last, the heavy modules it loaded
PROBE = f"""
import json, sys
from seqtune.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as stop:  # --help, --version
    code = stop.code
print(json.dumps({{"code": code, "loaded": [m for m in {SLOW!r} if m in sys.modules]}}))
"""


def probe(*argv: str, cwd: Path) -> tuple[int, list[str], str, str]:
    """``seqtune ARGV`` in a fresh process: exit code, modules of :data:`SLOW` loaded,
    stdout before the probe's own line, stderr."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    *out, last = done.stdout.splitlines()
    found = json.loads(last)
    return found["code"], found["loaded"], "\n".join(out), done.stderr


def heavy(loaded: list[str]) -> list[str]:
    """The modules of :data:`HEAVY` among ``loaded``."""
    return [m for m in loaded if m in HEAVY]


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-trial tpe study (made once; launching it loads TensorFlow, in its own
    process). The baseline caches are removed, so ``status`` computes them itself."""
    folder = tmp_path_factory.mktemp("fast")
    spec = tiny_spec(search={"trials": 2, "max_epochs": 2, "patience": 1})
    path = write_spec(folder / "tiny.yaml", spec)
    done = run_cli("launch", str(path), "--results", str(folder / "results"), cwd=folder)
    assert done.returncode == 0, done.stderr
    study = folder / "results" / "tiny"
    for cache in study.glob(".*baselines.json"):
        cache.unlink()
    return study


def test_status_loads_no_tensorflow(study: Path) -> None:
    code, loaded, out, err = probe("status", str(study), cwd=study.parent)
    assert (code, heavy(loaded), err) == (0, [], "")
    assert "2/2 finished" in out and "best: trial" in out
    assert "baselines on the validation part" in out and "persistence" in out
    assert (study / ".baselines.json").is_file()  # computed without TensorFlow, and kept


def test_status_json_loads_no_tensorflow_and_matches_the_text(study: Path) -> None:
    code, loaded, out, err = probe("status", str(study), "--json", cwd=study.parent)
    assert (code, heavy(loaded), err) == (0, [], "")
    status = json.loads(out)
    assert status["finished"] == 2 and status["best"] is not None
    assert status["baselines"]["reason"] is None and "ridge" in status["baselines"]["scores"]


def test_status_watch_of_a_finished_study_draws_once_and_ends(study: Path) -> None:
    code, loaded, out, err = probe("status", str(study), "--watch", "0.1", cwd=study.parent)
    assert (code, heavy(loaded), err) == (0, [], "")
    assert out.count("2/2 finished") == 1 and "run by no process" in out


def test_check_help_and_version_load_no_tensorflow(study: Path) -> None:
    spec = study.parent.parent / "tiny.yaml"
    code, loaded, out, _ = probe("check", str(spec), cwd=study.parent)
    assert (code, heavy(loaded)) == (0, [])
    assert "rows" in out
    for argv in (["--help"], ["--version"], ["status", "--help"]):
        code, loaded, out, _ = probe(*argv, cwd=study.parent)
        assert (code, heavy(loaded)) == (0, []), argv
        assert out.strip(), argv


def test_a_hyperband_folder_is_recognised_before_opening(tmp_path: Path) -> None:
    """``status`` loads TensorFlow quietly (before keras-tuner does) only for a hyperband
    study: it reads the backend from study.json first."""
    from argparse import Namespace

    from seqtune.cli import _reads_keras_tuner

    (tmp_path / "study.json").write_text(json.dumps({"backend": "hyperband"}))
    assert _reads_keras_tuner(Namespace(study_dir=tmp_path))
    (tmp_path / "study.json").write_text(json.dumps({"backend": "tpe"}))
    assert not _reads_keras_tuner(Namespace(study_dir=tmp_path))
    (tmp_path / "study.json").write_text("{damaged")
    assert not _reads_keras_tuner(Namespace(study_dir=tmp_path))
    assert not _reads_keras_tuner(Namespace(study_dir=None))


def test_watch_on_a_terminal_draws_the_trials_before_the_baselines(
    study: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqtune.cli import main

    capsys.readouterr()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["status", str(study), "--watch", "0.1"]) == 0
    out = capsys.readouterr().out
    first, _, rest = out.partition("baselines: being scored…")
    assert "2/2 finished" in first and "best: trial" in first and "baselines on" not in first
    assert "2/2 finished" in rest and "baselines on the validation part" in rest
    assert first.startswith("\x1b[H\x1b[2J") and rest.count("\x1b[H\x1b[2J") == 1


def test_ctrl_c_ends_the_watch_in_one_line(study: Path) -> None:
    """While a process holds the study (here the test, as a launch would), the watch goes
    on; Ctrl-C ends it with exit 0 and one line, the study untouched."""
    import signal

    from seqtune.store.lock import StudyLock

    lock = StudyLock.acquire(study, "seqtune launch")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "seqtune.cli", "status", str(study), "--watch", "0.2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        assert proc.stdout is not None
        for line in proc.stdout:  # the first whole frame ends with who runs the study
            if "run by pid" in line:
                break
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        lock.release()
    assert proc.returncode == 0
    assert err == "seqtune status: stopped watching (the study itself was not stopped)\n"


def test_status_from_the_folders_files_is_the_full_status(study: Path) -> None:
    """The first status computes the baselines (the full path) and keeps them; the next
    reads the folder's own files, importing none of Optuna, SQLAlchemy or pandas, and
    prints the same, byte for byte. A stale or damaged kept file is read again in full."""
    for cache in study.glob(".*baselines.json"):
        cache.unlink()
    code, loaded, full, _ = probe("status", str(study), "--json", cwd=study.parent)
    assert code == 0 and "optuna" in loaded and "pandas" in loaded
    kept = study / ".status_baselines.json"
    assert kept.is_file()
    code, loaded, quick, err = probe("status", str(study), "--json", cwd=study.parent)
    assert (code, loaded, err) == (0, [], "")
    assert quick == full
    code, loaded, text, _ = probe("status", str(study), cwd=study.parent)
    assert (code, loaded) == (0, []) and "baselines on the validation part" in text
    kept.write_text("{damaged")
    code, loaded, again, _ = probe("status", str(study), "--json", cwd=study.parent)
    assert code == 0 and "optuna" in loaded and again == full


def test_a_changed_data_file_is_read_in_full(study: Path, tmp_path: Path) -> None:
    """Data changed since the launch: the files alone cannot vouch for the baselines, and
    status says why, as it did before (the full path)."""
    import shutil

    from seqtune.study.reading import quick_status

    copy = tmp_path / "copy"
    shutil.copytree(study, copy)
    raw = json.loads((copy / "study.json").read_text())
    csv = copy / "data.csv"
    shutil.copy(raw["data_path"], csv)
    with csv.open("a") as out:
        out.write("1961-01,500\n")
    raw["data_path"] = str(csv)
    (copy / "study.json").write_text(json.dumps(raw))
    spec = yaml.safe_load((copy / "spec.yaml").read_text())
    spec["data"]["csv"] = str(csv)
    (copy / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    assert quick_status(copy, baselines=False) is not None  # the trials alone: fine
    assert quick_status(copy) is None
    code, _, out, _ = probe("status", str(copy), "--json", cwd=tmp_path)
    assert code == 0 and "changed" in json.loads(out)["baselines"]["reason"]
