"""What ``seqtune report`` and ``seqtune plot`` do, behind the CLI's two dispatch functions."""

from __future__ import annotations

from pathlib import Path

from seqtune.errors import UserError

REPORT_FILE = "report.html"
PLOTS = ("history", "importance", "forecast", "curves")


def check_study_dir(study_dir: Path) -> None:
    """The cheap checks of a study folder, made before TensorFlow loads (a mistyped path is
    refused at once); :func:`seqtune.report.source.read_study` checks the rest."""
    from seqtune.store.files import META_FILE, SPEC_FILE

    if not study_dir.exists():
        raise UserError("no such study folder", str(study_dir))
    if not study_dir.is_dir():
        raise UserError("is a file, expected a study folder", str(study_dir))
    if not (study_dir / SPEC_FILE).is_file() or not (study_dir / META_FILE).is_file():
        raise UserError(
            f"not a study folder (no {SPEC_FILE} / {META_FILE}); "
            "launch one with `seqtune launch SPEC`",
            str(study_dir),
        )


#: What a page (report) or a PNG (plot) of seqtune's holds near its start.
HTML_MARK, PNG_MARK = b"*<title>seqtune report", b"*seqtune"


def _check_output(output: Path, suffix: str, force: bool, mark: bytes) -> None:
    """The rule of :mod:`seqtune.store.outputs`: an existing file is replaced only when it
    is an earlier page or figure of seqtune's, or with ``force``."""
    from seqtune.store.outputs import check_output, starts_with

    check_output(output, force=force, suffixes=(suffix,), own=lambda p: starts_with(p, mark))


def report(
    study_dir: Path, output: Path | None = None, storage: str | None = None, force: bool = False
) -> Path:
    """Write the study's report page; return its path."""
    if output is not None:
        _check_output(output, ".html", force, HTML_MARK)
    from seqtune.report import page
    from seqtune.report.source import read_study

    data = read_study(study_dir, storage)
    return page.write(data, output if output is not None else data.path / REPORT_FILE)


def plot(
    study_dir: Path, what: str, output: Path, storage: str | None = None, force: bool = False
) -> Path:
    """Write one figure as PNG; UserError (one line) when it cannot be drawn."""
    _check_output(output, ".png", force, PNG_MARK)
    from seqtune.report import figures
    from seqtune.report.evaluation import evaluate_export
    from seqtune.report.missing import Unavailable
    from seqtune.report.source import read_study

    data = read_study(study_dir, storage)
    makers = {
        "history": lambda: figures.history(data),
        "importance": lambda: figures.importance(data),
        "curves": lambda: figures.curves(data),
        "forecast": lambda: figures.forecast(evaluate_export(data)),
    }
    try:
        fig = makers[what]()
    except Unavailable as why:
        raise UserError(f"cannot draw {what}: {why}", str(data.path)) from None
    from seqtune.store.files import write_bytes

    write_bytes(output, figures.png(fig))
    return output
