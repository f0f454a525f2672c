"""SIGINT and SIGTERM as a stop request that every backend treats like Ctrl-C.

The signal handler only records the request; :func:`check_stop` raises
:class:`Interrupted` at a safe point (before a trial, at every epoch boundary, while
waiting for an isolated trial). Raising from the handler itself would land anywhere,
including inside TensorFlow while it traces a function, where an exception corrupts the
interpreter's state (seen as ``SystemError`` or a segmentation fault). A second signal
stops the process at once without recording the running trial; ``resume`` recovers it.

One place is safe to raise in, and may never reach a check: a user objective (pure Python,
which may hang). While one runs (``seqtune.objectives.guard.in_user_code``), the first
signal raises :class:`Interrupted` right away. The immediate exit uses the real
``os._exit``, which the guard replaces during a user call.

``Interrupted`` derives from ``KeyboardInterrupt`` on purpose: keras-tuner catches every
``Exception`` raised by a trial and carries on, which would swallow a stop request.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from seqtune.objectives.guard import in_user_code, real_exit

_pending: list[int] = []  # the signal numbers received while the block runs
_depth: list[int] = []  # the blocks entered (the outermost installs the handlers)


class Interrupted(KeyboardInterrupt):
    """The study was stopped by a signal; the running trial is recorded as interrupted."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def check_stop() -> None:
    """Raise :class:`Interrupted` if a stop was requested."""
    if _pending:
        raise Interrupted(_pending[0])


def stop_requested() -> bool:
    return bool(_pending)


@contextmanager
def signals_as_interrupt() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM request a stop (see :func:`check_stop`).
    Re-entrant: a block inside another keeps the outer handlers and any request already
    received (a launch installs them before TensorFlow loads, the trial loop again)."""
    if _depth:
        _depth.append(1)
        try:
            yield
        finally:
            _depth.pop()
        return

    def handler(signum: int, frame: Any) -> None:
        if _pending:  # asked twice: stop now, the running trial is recovered by resume
            os.write(2, b"stopping now; the running trial is recovered by `seqtune resume`\n")
            real_exit(128 + signum)  # not os._exit: a user objective may be running
        _pending.append(signum)
        if in_user_code():  # pure Python that may never reach a check: stop it here
            raise Interrupted(signum)

    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _pending.clear()
    for s in old:
        signal.signal(s, handler)
    _depth.append(1)
    try:
        yield
    finally:
        _depth.pop()
        for s, h in old.items():
            signal.signal(s, h)
        _pending.clear()
