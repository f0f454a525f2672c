"""Where a command may write: the one rule behind every ``-o``.

1. **A study's own files are never written by an output** (``spec.yaml``, ``study.json``,
   ``trials.csv``, the storage, the locks, ``keras_tuner/``, ``checkpoints/``: see
   :data:`seqtune.store.files.STUDY_OWN`), nor any file the command itself reads (the
   spec it trains, the export it predicts with, the data). ``--force`` does not change this.
2. **An existing file is replaced only with ``--force``**, unless it is the command's own
   earlier output, recognised by its content: an export of the same study (``export``),
   a seqtune report page (``report``), a seqtune figure (``plot``), a seqtune forecast
   (``predict``), a generated stream (``datasets``). ``train``'s models cannot be told
   from any other Keras file, so ``train -o`` over an existing file needs ``--force``.
3. **Unwritable places are refused before the work**: a folder given for a file, a
   missing folder that cannot be made, a read-only file system.

A link at the output's path is replaced, never written through (the write goes to a new
file beside it that is renamed over the link); with rule 2 it needs ``--force`` anyway.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from seqtune.errors import UserError
from seqtune.store.files import META_FILE, STUDY_OWN


def study_file_owner(path: Path) -> Path | None:
    """The study folder ``path`` would be a file of (``results/S`` for ``results/S/spec.yaml``
    or ``results/S/checkpoints/trial_3.keras``), or None."""
    try:
        parent = path.parent.resolve()
    except OSError:
        return None
    name = path.name  # the entry of ``folder`` the path lies in
    for folder in (parent, *parent.parents):
        if (folder / META_FILE).is_file() and name in STUDY_OWN:
            return folder
        name = folder.name
    return None


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    path: Path,
    *,
    force: bool = False,
    suffixes: tuple[str, ...] = (),
    reads: Iterable[Path] = (),
    own: Callable[[Path], bool] | None = None,
    flag: str = "-o",
) -> None:
    """Refuse an output path that breaks the module's rule, in one line naming it.

    Parameters
    ----------
    path
        The file the command is about to write.
    force
        ``--force``: an existing file (not a study's own, not an input) may be replaced.
    suffixes
        Accepted endings (lower case, with the dot); empty: any.
    reads
        The files the command reads; never written over.
    own
        Whether an existing file is the command's own earlier output (replaced freely).
    flag
        The option named in messages.

    Examples
    --------
    >>> from pathlib import Path
    >>> check_output(Path("forecast.csv"), suffixes=(".csv",))  # doctest: +SKIP
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise UserError("is a folder, expected a file name", str(path))
    owner = study_file_owner(path)
    if owner is not None:
        raise UserError(
            f"is a file of the study in {owner}; no command writes over a study's own "
            "files: choose another output name",
            str(path),
        )
    for read in reads:
        if _same(path, Path(read)):
            raise UserError("is a file this command reads; choose another output name", str(path))
    if suffixes and path.suffix.lower() not in suffixes:
        raise UserError(f"the output file must end in {' or '.join(suffixes)}", flag)
    exists = path.exists() or path.is_symlink()
    if exists and not force and not (own is not None and not path.is_symlink() and own(path)):
        raise UserError(
            "exists and is not this command's own earlier output; pass --force to "
            "replace it, or choose another name",
            str(path),
        )
    check_writable(path.parent)


def check_writable(folder: Path) -> None:
    """UserError when files cannot be created in ``folder`` (or, if it is missing, in the
    nearest folder above that exists): read-only file system, no permission."""
    folder = Path(folder).absolute()
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError("is not a folder", str(probe))
    if os.access(probe, os.W_OK | os.X_OK):
        return
    # os.access answers EROFS for a read-only mount even as root
    why = "is read-only" if _read_only(probe) else "is not writable by this user"
    raise UserError(f"{why}: the output cannot be written there", str(probe))


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError as exc:
        return exc.errno == errno.EROFS


def starts_with(path: Path, *prefixes: bytes, within: int = 4096) -> bool:
    """Whether the file's first ``within`` bytes start with (or, for a prefix given as
    ``b"*..."``, contain) one of ``prefixes``: how earlier outputs are recognised."""
    try:
        with Path(path).open("rb") as fh:
            head = fh.read(within)
    except OSError:
        return False
    for prefix in prefixes:
        if prefix.startswith(b"*"):
            if prefix[1:] in head:
                return True
        elif head.startswith(prefix):
            return True
    return False
