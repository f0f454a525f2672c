"""Backend-neutral trial records: what status, trials.csv and export read."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

STATES = ("complete", "pruned", "failed", "running", "interrupted")


@dataclass
class TrialRecord:
    number: int
    state: str
    params: dict[str, Any]
    value: float | None = None
    epochs: int | None = None
    best_epoch: int | None = None
    seconds: float | None = None
    seed: int | None = None
    reason: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    retry_of: int | None = None  # run again after the worker of that trial was lost

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def counts_toward_budget(self) -> bool:
        """Finished trials count; interrupted (killed, Ctrl-C) ones are replaced."""
        return self.state in ("complete", "pruned", "failed")


def best_of(records: list[TrialRecord], direction: str) -> TrialRecord | None:
    done = [r for r in records if r.state == "complete" and r.value is not None]
    if not done:
        return None
    key = (lambda r: r.value) if direction == "minimize" else (lambda r: -r.value)  # type: ignore[operator]
    return min(done, key=key)


def counts(records: list[TrialRecord]) -> dict[str, int]:
    out = {s: 0 for s in STATES}
    for r in records:
        out[r.state] = out.get(r.state, 0) + 1
    return out


def csv_rows(records: list[TrialRecord]) -> tuple[list[str], list[list[Any]]]:
    header = [
        "number",
        "state",
        "value",
        "epochs",
        "best_epoch",
        "seconds",
        "seed",
        "params",
        "reason",
        "metrics",  # validation metrics at the best epoch, with each fold's value (JSON)
    ]
    rows = [
        [
            r.number,
            r.state,
            "" if r.value is None else repr(float(r.value)),
            "" if r.epochs is None else r.epochs,
            "" if r.best_epoch is None else r.best_epoch,
            "" if r.seconds is None else f"{r.seconds:.3f}",
            "" if r.seed is None else r.seed,
            json.dumps(r.params, sort_keys=False),
            r.reason or "",
            json.dumps(r.metrics, sort_keys=True) if r.metrics else "",
        ]
        for r in records
    ]
    return header, rows


def stored_record(
    number: int,
    state: str,
    attrs: dict[str, Any],
    value: float | None,
    took: float | None,
    retried_as: int | None = None,
    retry_of: int | None = None,
    params: dict[str, Any] | None = None,
) -> TrialRecord:
    """A trial as its storage keeps it, made a :class:`TrialRecord`: ``state`` in seqtune's
    words, ``attrs`` the user attributes seqtune wrote, ``took`` the seconds between the
    storage's start and completion times (used when the trial wrote none). A failed trial
    seqtune did not fail itself was failed by a worker that found its heartbeat stale.
    Optuna's backend and ``status``'s reading of the SQLite file both build records here.

    Examples
    --------
    >>> stored_record(3, "failed", {"params": {}}, None, 1.5).reason
    'its worker stopped sending heartbeats'
    """
    reason = attrs.get("reason")
    if state == "failed" and "interrupted" in attrs:
        state, reason = "interrupted", attrs["interrupted"]
    elif state == "failed" and reason is None:
        # seqtune gives every trial it fails a reason: this one was failed by a worker
        # that found its heartbeat stale (its own worker was killed or lost)
        state, reason = "interrupted", "its worker stopped sending heartbeats"
    if retried_as is not None:
        reason = f"{reason or 'lost'}; run again as trial {retried_as}"
    seconds = attrs.get("seconds")
    return TrialRecord(
        number=number,
        state=state,
        params=attrs.get("params", params if params is not None else {}),
        value=value if state == "complete" else None,
        epochs=attrs.get("epochs"),
        best_epoch=attrs.get("best_epoch"),
        seconds=took if seconds is None else seconds,
        seed=attrs.get("seed"),
        reason=reason,
        metrics=attrs.get("metrics", {}),
        retry_of=retry_of,
    )
