"""How a study trains, by the seqtune version that made it: the one home of version rules.

A study keeps training the way the version that launched it did, so that its resumed
trials are computed as its first ones (the ways agree to round-off, not bit for bit), and
an export records enough of it for ``seqtune train`` to refit the same way. Everything that
depends on the version is one :class:`Training` value, made once — from a study's
``study.json`` version (:meth:`Training.of_study`) or from an export's ``result``
(:meth:`Training.of_export`) — and passed whole to the runner, isolated trials,
``export``/``train`` and the Hyperband backend.

A new version's rule is one line of :data:`RULES`: the field, the first version it holds
for (the field's default), and the value of studies made before it — declared where it
applies, as Optuna declares its version rules, rather than a branch at each use.

Examples
--------
>>> Training.of_study("0.3.1")
Training(holdout='auto', pad='auto', lstm='unrolled', hyperband_schedule=True)
>>> Training.of_study(None).holdout  # a study.json without a version: the oldest rules
'fit'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any

from seqtune.errors import UserError
from seqtune.models.engine import LSTM_KERNELS

#: ``result.trainer`` of an export: how its holdout trial was trained — through the engine
#: kept per layer structure (``wide``) or the compiled fit (``fit``).
TRAINERS = ("wide", "fit")
#: How a runner trains holdout trials: ``auto`` picks per trial (``Runner.trainer_for``),
#: the others always train that way (``train`` of an export, a study made before 0.3.0).
HOLDOUT_MODES = ("auto", *TRAINERS)
#: How a runner treats an LSTM's window length in the unrolled engine: ``auto`` pads the
#: windows of short trials (``Runner.pads``) when the spec searches look_back over more
#: window lengths than it makes buckets, ``on`` pads them whatever the spec (``train`` of an
#: export that padded), ``off`` never (a study made before 0.3.1).
PAD_MODES = ("auto", "on", "off")
#: How the engine computes an LSTM: one fused kernel per member over every step, or the
#: steps written out.
LSTM_MODES = LSTM_KERNELS


@dataclass(frozen=True)
class Training:
    """Everything about how a study's trials train that depends on the version that
    made it. Checked once, here; a bad value raises ValueError naming it.

    Attributes
    ----------
    holdout
        One of :data:`HOLDOUT_MODES`.
    pad
        One of :data:`PAD_MODES`; ``on`` only with the unrolled LSTM.
    lstm
        One of :data:`LSTM_MODES`.
    hyperband_schedule
        Whether a Hyperband study fixed its bracket layout at launch in ``schedule.json``
        (a study made without one runs every bracket and the spec's iterations).
    """

    holdout: str = "auto"
    pad: str = "auto"
    lstm: str = "fused"
    hyperband_schedule: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (("holdout", HOLDOUT_MODES), ("pad", PAD_MODES)):
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        if self.lstm not in LSTM_MODES:
            raise ValueError(f"lstm must be one of {', '.join(LSTM_MODES)}, not {self.lstm!r}")
        if self.lstm == "fused" and self.pad == "on":
            raise ValueError("pad 'on' is for the unrolled LSTM (a fused one pads nothing)")

    @classmethod
    def of_study(cls, version: str | None) -> Training:
        """How a study launched by seqtune ``version`` (its study.json's; None or
        unreadable: the oldest) trains: every rule of :data:`RULES` it predates applies."""
        made = parse_version(version)
        old = {rule.field: rule.before for rule in RULES if made is None or made < rule.since}
        return replace(cls(), **old)

    @classmethod
    def of_export(cls, result: dict[str, Any] | None) -> Training:
        """How ``train`` refits an export: as its ``result`` records (``trainer``,
        ``pad_steps``, ``lstm_kernel``). A fixed spec without a result trains as a new
        study; an export written before a key existed trains as the versions before it.
        A bad value is refused in one line naming its key."""
        result = result or {}
        trainer = result.get("trainer", "wide" if not result else "fit")
        if trainer not in TRAINERS:
            raise UserError(f"{trainer!r} is not one of {', '.join(TRAINERS)}", "result.trainer")
        # a fixed spec without a result has one look_back, which is never padded
        pad_steps = result.get("pad_steps", False)
        if not isinstance(pad_steps, bool):
            raise UserError(f"{pad_steps!r} is not true or false", "result.pad_steps")
        lstm = result.get("lstm_kernel", "fused" if not result else "unrolled")
        if lstm not in LSTM_MODES:
            raise UserError(f"{lstm!r} is not one of {', '.join(LSTM_MODES)}", "result.lstm_kernel")
        if pad_steps and lstm == "fused":
            raise UserError("pad_steps is for the unrolled LSTM kernel", "result.pad_steps")
        return cls(holdout=trainer, pad="on" if pad_steps else "off", lstm=lstm)


def export_keys(*, trainer: str | None, pad_steps: bool, lstm: str | None) -> dict[str, Any]:
    """The keys an export's ``result`` records of how its trial trained, read back by
    :meth:`Training.of_export`: ``trainer`` (a holdout trial's, None for folds or
    repeats), ``pad_steps`` (only when the engine padded), ``lstm_kernel`` (an LSTM's,
    only when fused: an export without it is unrolled)."""
    keys: dict[str, Any] = {}
    if trainer is not None:
        keys["trainer"] = trainer
    if pad_steps:
        keys["pad_steps"] = True
    if lstm == "fused":
        keys["lstm_kernel"] = lstm
    return keys


@dataclass(frozen=True)
class Rule:
    """``field`` takes its default from version ``since`` on, ``before`` earlier."""

    field: str
    since: tuple[int, int, int]
    before: Any


#: One line per rule, oldest first. ``hyperband_schedule``: 0.1.0 ran every bracket.
#: ``holdout``: before 0.3.0 every holdout trial trained with the compiled fit.
#: ``pad``: before 0.3.1 the engine never padded LSTM windows.
#: ``lstm``: before 0.3.2 the engine unrolled the LSTM's steps.
RULES: tuple[Rule, ...] = (
    Rule("hyperband_schedule", (0, 1, 1), False),
    Rule("holdout", (0, 3, 0), "fit"),
    Rule("pad", (0, 3, 1), "off"),
    Rule("lstm", (0, 3, 2), "unrolled"),
)
assert {r.field for r in RULES} <= {f.name for f in fields(Training)}


def parse_version(version: str | None) -> tuple[int, ...] | None:
    """``"0.3.1"`` -> (0, 3, 1); ``"0.3.0rc1"``, ``"0.3.dev2"`` -> (0, 3, 0); None when it
    does not start with a version (a study that recorded none, or a damaged one)."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", str(version))
    if match is None:
        return None
    return tuple(int(p or 0) for p in match.groups())


def holdout_for(version: str | None) -> str:
    """:attr:`Training.holdout` of a study launched by ``version``."""
    return Training.of_study(version).holdout


def pad_for(version: str | None) -> str:
    """:attr:`Training.pad` of a study launched by ``version``."""
    return Training.of_study(version).pad


def lstm_for(version: str | None) -> str:
    """:attr:`Training.lstm` of a study launched by ``version``."""
    return Training.of_study(version).lstm
