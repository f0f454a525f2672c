"""Fault injection, damaged state: every file a study writes, on every backend, truncated,
emptied, overwritten with garbage, given the wrong JSON/YAML shape, or deleted — then
``status`` and ``resume`` run on it as a user would.

Each case must end cleanly: exit 0 (the damage did not matter, or was repaired), or one
line on stderr naming what is wrong (exit 1 or 2), never a traceback. And no data may be
lost: once the damaged file is put back, the study shows every trial it had. The studies
are made with the shared suite's formula runner (seconds, no real training).
"""

from __future__ import annotations

import random
import re
import shutil
from pathlib import Path

import pytest
from test_backends_shared import FormulaRunner, make_spec

from seqtune.cli import main
from seqtune.study.lifecycle import Study

BACKENDS = ["tpe", "hyperband"]
DAMAGES = ["truncated", "empty", "garbage", "wrong_shape", "deleted"]
COMMANDS = ["status", "resume"]
TRIALS = 4


def _make(root: Path, backend: str) -> Path:
    root.mkdir(parents=True)
    spec = make_spec(root, backend, TRIALS)
    study, _ = Study.launch(spec, root / "results")
    study.run(FormulaRunner("minimize"))  # type: ignore[arg-type]
    study.close()
    return study.path


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("pristine")
    return {backend: _make(base / backend, backend) for backend in BACKENDS}


def file_kinds(study: Path) -> set[str]:
    """Every kind of file the study wrote, per-trial ones named as trial 0's."""
    out = set()
    for path in study.rglob("*"):
        if path.is_file() and not path.name.startswith(".lock"):
            rel = str(path.relative_to(study))
            rel = re.sub(r"trial_00\d\d", "trial_0000", rel)
            rel = re.sub(r"trial_\d+\.keras", "trial_0.keras", rel)
            out.add(rel)
    return out


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(random.Random(len(data)).randbytes(max(64, len(data))))
    elif how == "wrong_shape":
        path.write_text("[1, 2]\n" if path.suffix in (".json", ".yaml", ".csv") else "{}\n")
    else:
        path.unlink()


def finished(study: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str, object]]:
    import json

    capsys.readouterr()
    assert main(["status", "--json", str(study)]) == 0, capsys.readouterr().err
    records = json.loads(capsys.readouterr().out)["trial_records"]
    return [(r["number"], r["state"], r["value"]) for r in records]


def cases() -> list[tuple[str, str, str, str]]:
    # the files a study of each backend writes (test_the_case_list_covers_every_file keeps
    # this list in step with what the code writes); per-trial files: trial 0's
    files = {
        "tpe": ["checkpoints/trial_0.keras", "optuna.db", "spec.yaml", "study.json", "trials.csv"],
        "hyperband": [
            "checkpoints/trial_0.keras",
            "keras_tuner/hyperband/oracle.json",
            "keras_tuner/hyperband/trial_0000/checkpoint.weights.h5",
            "keras_tuner/hyperband/trial_0000/seqtune.json",
            "keras_tuner/hyperband/trial_0000/trial.json",
            "keras_tuner/schedule.json",
            "spec.yaml",
            "study.json",
            "trials.csv",
        ],
    }
    return [
        (backend, rel, how, command)
        for backend in BACKENDS
        for rel in files[backend]
        for how in DAMAGES
        for command in COMMANDS
    ]


CASES = cases()


def test_the_case_list_covers_every_file(pristine: dict[str, Path]) -> None:
    for backend, study in pristine.items():
        listed = {rel for b, rel, _, _ in CASES if b == backend}
        assert file_kinds(study) == listed, backend


@pytest.mark.parametrize(("backend", "rel", "how", "command"), CASES)
def test_damaged_file_is_refused_or_recovered_and_nothing_is_lost(
    tmp_path: Path,
    pristine: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    backend: str,
    rel: str,
    how: str,
    command: str,
) -> None:
    source = pristine[backend]
    if not (source / rel).is_file():
        pytest.skip(f"this study wrote no {rel}")
    study = tmp_path / "results" / source.name
    shutil.copytree(source, study)
    before = finished(study, capsys)
    assert len([b for b in before if b[1] == "complete"]) >= 1

    damage(study / rel, how)
    capsys.readouterr()
    code = main([command, str(study)])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    assert code in (0, 1, 2), err
    if code:
        lines = [line for line in err.splitlines() if line.strip()]
        mine = [line for line in lines if line.startswith(f"seqtune {command}:")]
        assert len(mine) == 1, err  # one line says what is wrong
        assert all(line.startswith(("seqtune ", "resuming ", "[", "hyperband:")) for line in lines)

    # put the file back: every trial the study had is still there, as it was
    target = study / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / rel, target)
    after = finished(study, capsys)
    assert [t for t in after if t in before] == [t for t in before if t[1] != "running"]
