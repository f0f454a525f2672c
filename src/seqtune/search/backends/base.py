"""The small interface every search backend implements: ask, report, tell.

The trial loop (:class:`seqtune.search.loop.TrialLoop`) owns everything about running a
trial — seeds, the runner call, failure handling, checkpoints, records, stop checks. A
backend only decides: :meth:`Backend.ask` hands out the next :class:`TrialPlan`,
:meth:`Backend.report` hears each epoch's objective and says whether to stop (prune),
:meth:`Backend.tell` records how the trial ended. What a backend supports is declared on
its class (:attr:`Backend.server_storage`, :attr:`Backend.parallel_workers`,
:attr:`Backend.warm_starts`), never tested by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from seqtune.errors import UserError
from seqtune.search.records import TrialRecord
from seqtune.spec import Spec


def derive_seed(seed: int, number: int) -> int:
    """A trial's seed from the study seed and the trial number (stable across runs)."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0] % (2**31 - 1))


@dataclass(frozen=True)
class TrialPlan:
    """One trial to run, as the backend decided it."""

    number: int
    values: dict[str, Any]
    seed: int
    #: train until the model has seen this many epochs (None: the spec's max_epochs)
    epochs: int | None = None
    #: the epoch the model starts at (a warm start continues another trial's count)
    initial_epoch: int = 0
    #: weights to start from (Hyperband's next round continues an earlier trial)
    warm_start: Path | None = None
    #: where the loop saves the trial's final weights for later warm starts
    keep_weights: Path | None = None


@dataclass
class TrialResult:
    """How a trial ended, as the loop tells the backend.

    ``state``: ``complete`` (value set), ``pruned`` (the backend stopped it), ``failed``
    (a reason of its own: diverged, out of memory, never a finite objective; counts
    toward the budget) or ``interrupted`` (a stop request, a broken user objective, a bug:
    run again by ``resume``)."""

    state: str
    value: float | None = None
    epochs: int | None = None  # epochs the model reached (initial epoch included)
    best_epoch: int | None = None  # 0-based
    seconds: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str | None = None


class Backend(ABC):
    """A search backend: create/load state, recover, ask/report/tell, records."""

    name: str = ""
    #: runs on a database server shared by workers on many machines (``--storage URL``)
    server_storage: ClassVar[bool] = False
    #: several processes may ask and tell at once (``--workers``, ``seqtune worker``)
    parallel_workers: ClassVar[bool] = False
    #: hands out plans that continue an earlier trial's weights (TrialPlan.warm_start)
    warm_starts: ClassVar[bool] = False
    #: ``search`` settings of the spec this backend does not read (refused if set)
    ignored_settings: ClassVar[tuple[str, ...]] = ()

    def __init__(self, study_dir: Path, spec: Spec, storage: str | None = None) -> None:
        self.study_dir = study_dir
        self.spec = spec
        self.storage = storage

    # ---- state -----------------------------------------------------------------------
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
        """Mark trials left running by a dead process as interrupted (to be run again);
        return their numbers."""

    @abstractmethod
    def records(self) -> list[TrialRecord]:
        """Every trial so far, in order."""

    def close(self) -> None:
        """Release the backend's storage (connections, files). Idempotent."""
        return None

    # ---- the three calls of the trial loop -------------------------------------------
    @abstractmethod
    def ask(self, budget: int) -> TrialPlan | None:
        """The next trial to run, or None when ``budget`` trials count as finished (see
        TrialRecord) and nothing is queued. May wait (other workers' running trials)."""

    @abstractmethod
    def report(self, number: int, epoch: int, value: float) -> bool:
        """Trial ``number``'s objective after 0-based ``epoch``; True to stop it there."""

    @abstractmethod
    def tell(self, number: int, result: TrialResult) -> TrialRecord:
        """Record how trial ``number`` ended; return its record as stored."""

    # ---- budget ----------------------------------------------------------------------
    def budget(self) -> int:
        """The study's total number of trials that count as finished."""
        return self.spec.search.trials if self.spec.search.trials is not None else 20

    def set_budget(self, trials: int) -> None:
        """Make the backend's own state hold a total budget of ``trials`` (``resume
        --trials``, after every check passed; the spec's ``search.trials`` is already
        ``trials``). Nothing to do when the spec's budget is all there is (tpe, random); a
        backend whose state fixes its size (Hyperband's schedule) grows it here, atomically.
        """
        return None

    def plan(self) -> str | None:
        """A line describing what the budget will cost, printed before the run."""
        return None

    def finished(self) -> int:
        return sum(1 for r in self.records() if r.counts_toward_budget)


def refuse_changed_objective(
    spec: Spec, kept: str | None, kept_direction: str, kept_in: str, study_dir: Path | None
) -> None:
    """The objective a study was launched with wins over its spec.yaml: UserError when
    ``spec`` (spec.yaml now) names another objective or direction than the one kept at
    launch (``kept`` None: only the direction was kept). A study whose spec was edited to
    another objective would label one metric's values with another's name and pick its
    best across both. Every backend checks this on load, from wherever it keeps it."""
    name, direction = spec.objective.name, spec.objective.direction
    if (kept is None or kept == name) and kept_direction == direction:
        return
    launched = f"{kept} ({kept_direction})" if kept else kept_direction
    raise UserError(
        f"the study was launched with objective {launched}, kept in {kept_in}, but its "
        f"spec.yaml now says {name} ({direction}): restore spec.yaml, or launch a new study "
        "for the new objective",
        str(study_dir / "spec.yaml") if study_dir else "objective",
    )
