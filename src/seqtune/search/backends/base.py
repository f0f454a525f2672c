"""The small interface every search backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

from seqtune.search.records import TrialRecord
from seqtune.search.runner import Outcome, Runner
from seqtune.spec import Spec

#: Called after each finished trial, before the backend records it as complete, so the
#: study can checkpoint the model first; returns nothing.
BeforeComplete = Callable[[int, Outcome], None]
#: Called after each trial is recorded (complete, pruned or failed).
AfterTrial = Callable[[TrialRecord], None]


class Backend(ABC):
    """A search backend behind one interface: create/load state, recover, run, report."""

    name: str = ""

    def __init__(self, study_dir: Path, spec: Spec, storage: str | None = None) -> None:
        self.study_dir = study_dir
        self.spec = spec
        self.storage = storage

    @abstractmethod
    def create(self, replace_empty: bool = False) -> None:
        """Create fresh backend state. Raises UserError if the storage cannot be used.

        ``replace_empty``: a launch that was stopped may have created the study already;
        replace it if it holds no trial."""

    @abstractmethod
    def load(self) -> None:
        """Open existing backend state."""

    @abstractmethod
    def recover(self) -> list[int]:
        """Mark trials left running by a dead process as interrupted; return their numbers."""

    @abstractmethod
    def records(self) -> list[TrialRecord]:
        """Every trial so far, in order."""

    @abstractmethod
    def optimize(
        self, runner: Runner, budget: int, before_complete: BeforeComplete, after: AfterTrial
    ) -> None:
        """Run trials until ``budget`` trials count as finished (see TrialRecord)."""

    def close(self) -> None:
        """Release the backend's storage (connections, files). Idempotent."""
        return None

    def budget(self) -> int:
        """The study's total number of trials that count as finished."""
        return self.spec.search.trials if self.spec.search.trials is not None else 20

    def plan(self) -> str | None:
        """A line describing what the budget will cost, printed before the run."""
        return None

    def finished(self) -> int:
        return sum(1 for r in self.records() if r.counts_toward_budget)
