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
