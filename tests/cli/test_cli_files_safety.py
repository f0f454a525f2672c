"""Files a command must never touch, and an export that is all or nothing (issue 29).

Each case is one a user (or someone sharing a results folder with them) can cause: a
symbolic link planted in a study folder, ``-o`` pointed at a study's own files or at
another export's, an export stopped half-way. One small exported study is made once and
copied for every case that changes it.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, cli_here, launched_and_exported, tiny_spec

from seqtune.store.files import write_together


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An airline study of two short trials, exported (best.yaml, best.keras,
    predictions.csv beside it)."""
    search = {"backend": "tpe", "trials": 2, "max_epochs": 2, "patience": 2}
    return launched_and_exported(tmp_path_factory.mktemp("safety"), tiny_spec(search=search))


@pytest.fixture
def study(exported: Path, tmp_path: Path) -> Path:
    """A private copy of the exported study (its spec names the data by absolute path)."""
    copy = tmp_path / "results" / "tiny"
    shutil.copytree(exported, copy)
    return copy


def one_line(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    """Refused: exit 2, one line on stderr naming what is wrong, no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n")
    return path


@pytest.mark.parametrize("name", [".export.lock", ".lock"])
def test_a_link_at_a_lock_is_not_written_through(study: Path, tmp_path: Path, name: str) -> None:
    notes = victim(tmp_path)
    lock = study / name
    lock.unlink(missing_ok=True)
    lock.symlink_to(notes)
    verb = ("export",) if name == ".export.lock" else ("resume", "--trials", "3")
    one_line(cli_here(*verb, str(study)), "symbolic link")
    assert notes.read_text() == "my notes\n"


@pytest.mark.parametrize("name", ["trials.csv", "optuna.db", "checkpoints"])
def test_a_link_anywhere_in_the_study_folder_is_refused(
    study: Path, tmp_path: Path, name: str
) -> None:
    notes = victim(tmp_path)
    target = study / name
    if target.is_dir():  # a link inside checkpoints/
        target = target / "trial_9.keras"
    else:
        notes.write_bytes(target.read_bytes())
        target.unlink()
    target.symlink_to(notes)
    before = notes.read_bytes()
    for verb in (("status",), ("export",), ("resume", "--trials", "3")):
        one_line(cli_here(*verb, str(study)), "symbolic link", str(target.name))
    assert notes.read_bytes() == before


def test_outputs_never_replace_a_studys_own_files(study: Path) -> None:
    own = {p: p.read_bytes() for p in (study / "optuna.db", study / "spec.yaml")}
    best = study / "best.yaml"
    one_line(cli_here("train", str(best), "-o", str(study / "optuna.db")), "file of the study")
    one_line(
        cli_here("train", str(best), "-o", str(study / "optuna.db"), "--force"),
        "file of the study",
    )
    one_line(cli_here("export", str(study), "-o", str(study / "spec.yaml")), "file of the study")
    one_line(
        cli_here("predict", str(study), "-o", str(study / "checkpoints" / "x.csv")),
        "file of the study",
    )
    one_line(cli_here("predict", str(study), "-o", str(best)), "reads")
    one_line(cli_here("train", str(best), "-o", str(study / "best.keras"), "--force"), "reads")
    for path, data in own.items():
        assert path.read_bytes() == data


def test_an_existing_file_is_replaced_only_with_force_or_when_it_is_the_commands_own(
    study: Path, tmp_path: Path
) -> None:
    notes = victim(tmp_path / "")
    one_line(cli_here("predict", str(study), "-o", str(notes)), "--force")
    assert notes.read_text() == "my notes\n"
    out = tmp_path / "forecast.csv"
    for _ in range(2):  # its own earlier forecast is replaced freely
        done = cli_here("predict", str(study), "-o", str(out))
        assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("step,h,prediction")
    done = cli_here("predict", str(study), "-o", str(notes), "--force")
    assert done.returncode == 0, done.stderr
    assert notes.read_text().startswith("step,h,prediction")


def test_export_o_does_not_overwrite_another_exports_files(study: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    theirs = elsewhere / "predictions.csv"
    theirs.write_text("someone else's forecasts\n")
    one_line(cli_here("export", str(study), "-o", str(elsewhere / "best.yaml")), "--force")
    assert theirs.read_text() == "someone else's forecasts\n"
    assert not (elsewhere / "best.yaml").exists() and not (elsewhere / "best.keras").exists()
    # into a fresh folder, then again: the second replaces its own earlier export
    mine = tmp_path / "mine" / "best.yaml"
    for _ in range(2):
        done = cli_here("export", str(study), "-o", str(mine))
        assert done.returncode == 0, done.stderr
    done = cli_here("export", str(study), "-o", str(elsewhere / "best.yaml"), "--force")
    assert done.returncode == 0, done.stderr
    assert theirs.read_text().startswith("step,part,origin")


def test_a_model_that_is_not_the_exports_own_is_refused(study: Path, tmp_path: Path) -> None:
    """A kill between the renames of an export (or a file copied in by hand) leaves a model
    beside a best.yaml it does not belong to: predict and report say to export again."""
    (study / "best.keras").write_bytes((study / "checkpoints").iterdir().__next__().read_bytes())
    one_line(cli_here("predict", str(study)), "best.keras", "export")
    (study / "best.keras").write_bytes(b"PK\x03\x04 damaged")
    one_line(cli_here("predict", str(study)), "best.keras", "export")
    done = cli_here("plot", str(study), "--what", "forecast", "-o", str(tmp_path / "f.png"))
    one_line(done, "best.keras", "export")


def test_a_failed_write_leaves_the_old_files_and_no_temporary_ones(tmp_path: Path) -> None:
    old = {name: f"old {name}" for name in ("best.keras", "predictions.csv", "best.yaml")}
    for name, text in old.items():
        (tmp_path / name).write_text(text)

    def fail(path: Path) -> None:
        raise OSError("disk full")

    files = [
        (tmp_path / "best.keras", lambda p: p.write_text("new")),
        (tmp_path / "predictions.csv", fail),
        (tmp_path / "best.yaml", lambda p: p.write_text("new")),
    ]
    with pytest.raises(OSError):
        write_together(files)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == old


def test_a_killed_writers_staging_folder_is_removed_by_the_next(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    stale = tmp_path / f".seqtune-{dead.stdout.strip()}-abc"
    stale.mkdir()
    (stale / "best.keras").write_text("half")
    write_together([(tmp_path / "a.txt", lambda p: p.write_text("a"))])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_outputs_honour_the_umask(study: Path, tmp_path: Path, umask: int) -> None:
    out = tmp_path / "again"
    code = (
        f"import os, sys; os.umask({umask}); from seqtune.cli import main; "
        f"sys.exit(main(['export', {str(study)!r}, '-o', {str(out / 'best.yaml')!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0, done.stderr
    for name in ("best.yaml", "best.keras", "predictions.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~umask, name


def test_a_damaged_model_of_an_older_export_is_one_clear_line(study: Path) -> None:
    """An export written before result.files: no checksum to compare, but a damaged model
    still says what it is, not Keras' "File not found"."""
    best = study / "best.yaml"
    text = best.read_text()
    assert "files:" in text
    kept = [line for line in text.splitlines() if "files:" not in line]
    best.write_text("\n".join(kept) + "\n")  # flow style: one line
    (study / "best.keras").write_bytes(b"PK\x03\x04 damaged")
    one_line(cli_here("predict", str(study)), "best.keras", "damaged", "export")


def test_report_on_a_damaged_storage_says_what_to_do(study: Path, tmp_path: Path) -> None:
    (study / "optuna.db").write_bytes(b"not a database at all" * 10)
    for verb in (("report", str(study)), ("plot", str(study), "--what", "history")):
        out = (("-o", str(tmp_path / "x.png")),) if verb[0] == "plot" else ()
        args = [*verb, *(a for pair in out for a in pair)]
        one_line(cli_here(*args), "optuna.db", "restore")


def test_an_optuna_journal_lock_is_the_one_link_allowed(tmp_path: Path) -> None:
    """Optuna's journal storage (``--workers``) locks by linking ``X.lock`` to its journal
    ``X``: a running study holds that link, and commands beside it must not take it for a
    planted one. A ``.lock`` link pointing anywhere else still is."""
    from seqtune.errors import UserError
    from seqtune.store.files import refuse_links

    journal = tmp_path / "optuna.journal"
    journal.write_text("")
    (tmp_path / "optuna.journal.lock").symlink_to(journal)
    refuse_links(tmp_path)
    (tmp_path / "other.lock").symlink_to(victim(tmp_path))
    with pytest.raises(UserError, match="other.lock"):
        refuse_links(tmp_path)
