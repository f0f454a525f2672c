"""The data file's checksum: what a study records at launch and checks wherever it reads
its data again (resume, export, workers, each isolated trial)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from seqtune.errors import UserError


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_digest(csv: Path, digest: str | None) -> None:
    if digest is None:  # a study launched before checksums were kept
        return
    if not csv.is_file():
        raise UserError("the study's data file is missing", str(csv))
    now = file_digest(csv)
    if now != digest:
        raise UserError(
            f"changed since the study was launched (sha256 {digest[:12]}…, now {now[:12]}…): "
            "its trials were scored on the launch's data; restore that file, or launch a "
            "new study on the new data",
            str(csv),
        )
