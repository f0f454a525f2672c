"""The HTML page: self-contained, one image per figure, every trial; degenerate studies;
read-only on a running study."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from report_studies import build_study, mixed_study, snapshot

from seqtune.report.commands import report
from seqtune.study.lifecycle import Study

ROOT = Path(__file__).resolve().parents[2]


def trial_rows(page: str) -> int:
    table = page.split("<table class=trials>", 1)[1].split("</table>", 1)[0]
    return table.split("<tbody>", 1)[1].count("<tr")


def assert_self_contained(page: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "<link" not in page and "<script src" not in page and "@import" not in page
    assert all(
        src.startswith("data:image/png;base64,")
        for src in re.findall(r'<img[^>]*src="([^"]*)"', page)
    )


def test_page_has_one_image_per_figure_and_every_trial(tmp_path: Path) -> None:
    study = mixed_study(tmp_path)
    out = report(study.path)
    assert out == study.path / "report.html"
    page = out.read_text()
    assert_self_contained(page)
    assert page.count("<img") == 4  # history, importances, slices, curves (no export yet)
    assert trial_rows(page) == 12
    assert "No export yet" in page
    assert "tpe, pruner none" in page and "val_rmse (minimize)" in page
    assert len(page) < 1_500_000


def test_a_study_with_no_complete_trial(tmp_path: Path) -> None:
    study = build_study(tmp_path, trials=3, fail=lambda v: True)
    page = report(study.path).read_text()
    assert page.count("<img") == 1  # the history, with the failed trials marked
    assert "need at least 2 complete trials, this study has 0" in page
    assert "no trial is complete yet" in page
    assert trial_rows(page) == 3
    assert "best</th><td>none yet" in page


def test_a_running_study_is_read_without_a_lock_or_a_write(tmp_path: Path) -> None:
    study = build_study(tmp_path, trials=4, close=False)  # this process holds lock and db
    try:
        study.backend.study.ask()  # a trial in progress
        assert (study.path / "optuna.db-wal").exists()
        before = snapshot(study.path)
        page = report(study.path, tmp_path / "elsewhere.html").read_text()
        assert snapshot(study.path) == before
        assert "running 1" in page and "still running (pid" in page
        assert trial_rows(page) == 5
    finally:
        study.close()


def test_a_closed_study_gets_no_sqlite_side_files(tmp_path: Path) -> None:
    study = build_study(tmp_path, trials=3)
    before = snapshot(study.path)
    report(study.path, tmp_path / "r.html")
    assert snapshot(study.path) == before
    assert not list(study.path.glob("optuna.db-*"))


def test_a_hyperband_study_says_what_is_left_out(tmp_path: Path) -> None:
    study = build_study(tmp_path, backend="hyperband", trials=6)
    before = snapshot(study.path)
    page = report(study.path, tmp_path / "hb.html").read_text()
    assert snapshot(study.path) == before  # keras-tuner's state is read, not rewritten
    assert_self_contained(page)
    assert page.count("<img") == 2  # history and slices
    assert "keras-tuner keeps one value per Hyperband trial" in page
    assert "this is a Hyperband (keras-tuner) study" in page
    assert trial_rows(page) == len(Study.open(study.path).backend.records())


def test_search_never_imports_the_report_and_the_cli_does_not_load_matplotlib() -> None:
    search = ROOT / "src" / "seqtune" / "search"
    assert not [p for p in search.rglob("*.py") if "seqtune.report" in p.read_text()]
    code = "import sys, seqtune.cli; assert 'matplotlib' not in sys.modules, 'loaded'"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", ["report.txt", "dir"])
def test_a_bad_output_name_is_refused(tmp_path: Path, name: str) -> None:
    from seqtune.errors import UserError

    (tmp_path / "dir").mkdir()
    with pytest.raises(UserError):
        report(tmp_path, tmp_path / name)


def test_text_a_trial_brings_is_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a failed trial's reason is free text (an exception's message): the page shows it as
    # text, never as markup (the page is built with f-strings, every value through one
    # escape)
    import report_studies

    from seqtune.search.runner import TrialFailed

    hostile = '<img src=x onerror="alert(1)"> & <script>alert(2)</script>'
    monkeypatch.setattr(report_studies, "TrialFailed", lambda _: TrialFailed(hostile))
    study = build_study(tmp_path, trials=3, fail=lambda v: True)
    page = report(study.path).read_text()
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &lt;script&gt;" in page
    assert "<img src=x" not in page and "<script>alert" not in page
