"""The owner of a study folder: an exclusive ``flock`` on ``<study>/.lock``.

``launch`` and ``resume`` take the lock before they create, clean or recover anything and
keep it until they exit; the worker processes they start inherit the locked descriptor, so
the study stays owned while any of them runs. The kernel releases the lock when the last
process holding it dies, however it dies (SIGKILL included), so a stale lock cannot exist
and nothing has to be cleaned up by hand. The file holds the owner's pid and command, for
the message a second process prints when it is refused.

The lock file is never deleted while the study folder exists. A launch that fails before
the study exists removes the whole folder, lock file included; a process that had opened
the old file meanwhile notices (the path no longer names the inode it locked) and tries
again.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from pathlib import Path

from seqtune.errors import UserError
from seqtune.store.files import LOCK_FILE, file_mode, refuse_links


class StudyLock:
    """An acquired lock on a study folder (see the module docstring)."""

    def __init__(
        self,
        folder: Path,
        fd: int,
        created: list[Path] | None = None,
        created_file: Path | None = None,
    ) -> None:
        self.folder, self.fd = folder, fd
        self.created_file = created_file  # the lock file, if this acquire made it
        # the folders acquire(create=True) made, outermost first: a launch that fails
        # removes them again (see remove_created)
        self.created = created or []

    def remove_created(self) -> None:
        """Remove the study folder and the parents that acquire() created — or, in a folder
        that was there before, the lock file if acquire() created it — while still holding
        the lock (a process that opened the lock file meanwhile starts over)."""
        if self.fd < 0:  # never once released: it may be another's now
            return
        if not self.created:  # a folder that was there: only the lock file, if ours
            if self.created_file is not None:
                self.created_file.unlink(missing_ok=True)
                self.created_file = None
            return
        created, self.created = self.created, []
        shutil.rmtree(self.folder, ignore_errors=True)
        for parent in reversed(created[:-1]):
            try:
                parent.rmdir()  # only if empty: another study may have appeared in it
            except OSError:
                break

    @classmethod
    def acquire(
        cls, folder: Path, command: str, *, create: bool = False, name: str = LOCK_FILE
    ) -> StudyLock:
        """Take the lock or raise UserError naming the process that holds it.

        ``create``: make the folder (and its parents) if missing (``launch``); ``name``:
        the lock file (export has its own)."""
        folder = Path(folder)
        created: list[Path] = []
        for _ in range(20):  # retried only when the folder was removed under us
            if create:
                created = created or [
                    p for p in (*reversed(folder.parents), folder) if not p.exists()
                ]
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise UserError(
                        f"cannot create the study folder: {exc.strerror}", str(folder)
                    ) from None
            path = folder / name
            made = not path.exists()
            try:
                # O_NOFOLLOW: a link planted at the lock's name is refused, never written
                # through (the holder's pid is written into this file)
                fd = os.open(
                    path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, file_mode()
                )
            except FileNotFoundError:
                if create:
                    continue
                raise UserError("no such study folder", str(folder)) from None
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise UserError(
                        "is a symbolic link; seqtune never writes through a link in a study "
                        "folder: remove it",
                        str(path),
                    ) from None
                if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                    raise UserError(
                        "the study folder is read-only: this command writes to it; "
                        "copy the folder somewhere writable",
                        str(folder),
                    ) from None
                raise UserError(f"cannot open {name}: {exc.strerror}", str(folder)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise UserError(
                    f"is in use by {holder}; wait for it to finish or stop it "
                    "(Ctrl-C or kill PID) — it records what it was doing, and "
                    "`seqtune resume` continues",
                    str(folder),
                ) from None
            if not _same_file(fd, path):  # removed by a launch that failed: start over
                os.close(fd)
                continue
            lock = cls(folder, fd, created, path if made else None)
            try:
                refuse_links(folder)  # what this owner will write to must be the folder's own
            except BaseException:
                lock.release()
                raise
            _write_holder(fd, command)
            return lock
        raise UserError(
            "the study folder keeps disappearing; is another launch running?", str(folder)
        )

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def inheritable(self) -> int:
        """The descriptor, made inheritable for a worker process (``pass_fds``)."""
        os.set_inheritable(self.fd, True)
        return self.fd

    def __del__(self) -> None:  # a dropped lock must not keep the study owned
        self.release()

    def __enter__(self) -> StudyLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(folder: Path) -> str | None:
    """Who holds the study's lock now (``"pid 123 (seqtune launch)"``), or None if nobody
    does. Only reads: works on a read-only copy (where nobody can hold it)."""
    try:
        fd = os.open(Path(folder) / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        except OSError:
            return None
        return None
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _write_holder(fd: int, command: str) -> None:
    text = f"{os.getpid()} {command}\n".encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
    except OSError:  # informative only; the lock itself is what counts
        pass


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    pid, _, command = text.partition(" ")
    if not pid.isdigit():
        return "another process"
    return f"pid {pid} ({command or 'seqtune'})"
