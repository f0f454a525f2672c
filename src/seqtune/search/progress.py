"""What a running study prints.

Where the output is not a terminal (a log file, CI), one plain line per finished trial, as
seqtune always printed. On a terminal, the same lines plus one status line kept at the
bottom and rewritten in place: trials finished / budget, best so far, elapsed, ETA and the
running trial's epoch. Counts and the best value come from the storage, so with
``--workers`` every worker's trials count. The status line is redrawn at most ten times a
second, from the training loop's epoch boundary: nothing of it runs while a model trains.
"""

from __future__ import annotations

import time
from typing import TextIO

from seqtune.search.records import TrialRecord

REDRAW_SECONDS = 0.1


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """The study's progress output (see the module docstring)."""

    def __init__(
        self,
        out: TextIO,
        budget: int,
        objective: str,
        max_epochs: int,
        done: int = 0,
        live: bool | None = None,
    ) -> None:
        self.out, self.budget, self.objective, self.max_epochs = out, budget, objective, max_epochs
        self.live = _is_terminal(out) if live is None else live
        self.start = time.monotonic()
        self.done_at_start = self.done = done
        self.best: float | None = None
        self.epoch: int | None = None
        self._drawn_at = -1.0
        self._bar = False

    # ---- events ---------------------------------------------------------------------
    def trial_finished(self, record: TrialRecord, done: int, best: float | None) -> None:
        self.done, self.best, self.epoch = done, best, None
        value = f"{self.objective}={record.value:.6g}" if record.value is not None else record.state
        why = f" ({record.reason})" if record.reason and record.state != "complete" else ""
        best_txt = f"{best:.6g}" if best is not None else "-"
        secs = f"{record.seconds:.1f}s" if record.seconds is not None else ""
        self._line(
            f"[{done}/{self.budget}] trial {record.number} {record.state}: {value}{why} · "
            f"{record.epochs or 0} epochs {secs} · best {best_txt}"
        )

    def epoch_ended(self, epoch: int) -> None:
        self.epoch = epoch
        if self.live and time.monotonic() - self._drawn_at >= REDRAW_SECONDS:
            self._draw()

    def close(self) -> None:
        if self._bar:
            self.out.write("\r\x1b[2K")
            self.out.flush()
            self._bar = False

    # ---- output ---------------------------------------------------------------------
    def status_line(self) -> str:
        elapsed = time.monotonic() - self.start
        finished_here = self.done - self.done_at_start
        left = max(self.budget - self.done, 0)
        eta = _clock(elapsed / finished_here * left) if finished_here and left else "-"
        best = f"{self.best:.6g}" if self.best is not None else "-"
        epoch = f"epoch {self.epoch + 1}/{self.max_epochs}" if self.epoch is not None else "-"
        return (
            f"{self.done}/{self.budget} trials · best {self.objective} {best} · "
            f"{_clock(elapsed)} elapsed · ETA {eta} · running: {epoch}"
        )

    def _line(self, text: str) -> None:
        if self.live:
            self.out.write("\r\x1b[2K" + text + "\n")
            self._draw()
        else:
            print(text, file=self.out, flush=True)

    def _draw(self) -> None:
        self.out.write("\r\x1b[2K" + self.status_line())
        self.out.flush()
        self._bar = True
        self._drawn_at = time.monotonic()


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
