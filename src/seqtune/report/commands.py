"""What ``seqtune report`` and ``seqtune plot`` do, behind the CLI's two dispatch functions."""

from __future__ import annotations

from pathlib import Path

from seqtune.errors import UserError

REPORT_FILE = "report.html"
PLOTS = ("history", "importance", "forecast", "curves")


def check_study_dir(study_dir: Path) -> None:
    """The cheap checks of a study folder, made before TensorFlow loads (a mistyped path is
    refused at once); :func:`seqtune.report.source.read_study` checks the rest."""
    from seqtune.search.files import META_FILE, SPEC_FILE

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


def _check_output(output: Path, suffix: str, flag: str = "-o") -> None:
    if output.is_dir():
        raise UserError("is a folder, expected a file name", str(output))
    if output.suffix.lower() != suffix:
        raise UserError(f"the output file must end in {suffix}", flag)


def report(study_dir: Path, output: Path | None = None, storage: str | None = None) -> Path:
    """Write the study's report page; return its path."""
    if output is not None:
        _check_output(output, ".html")
    from seqtune.report import page
    from seqtune.report.source import read_study

    data = read_study(study_dir, storage)
    return page.write(data, output if output is not None else data.path / REPORT_FILE)


def plot(study_dir: Path, what: str, output: Path, storage: str | None = None) -> Path:
    """Write one figure as PNG; UserError (one line) when it cannot be drawn."""
    _check_output(output, ".png")
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
    _write_bytes(output, figures.png(fig))
    return output


def _write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file beside ``path`` and ``os.replace`` (never half a file)."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
