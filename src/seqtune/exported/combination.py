"""The exported forecaster as a combination of the network and statistical models.

At export (and in ``train``) the network's fold validation forecasts — the ones prediction
intervals are calibrated on — are set beside those of AutoETS, AutoTheta and AutoARIMA
fitted on each fold's training rows and filtered through the same validation rows
(:func:`fold_forecasts`); :func:`seqtune.models.combination.choose` picks the rule and the
weights on those folds alone. The chosen statistical members are then fitted on every row
before the test part (as the network's refit is) and the export's forecast is
``sum(weight × member)``: predictions.csv, ``result.test``, the intervals (calibrated on the
combined fold forecasts), ``predict`` and the report all read it.

What a forecast needs of the members travels in best.state.json (:meth:`Combination.
to_state`): the weights, each statistical member's specification and fitted parameters
(:attr:`seqtune.models.statistical.Fitted.state`), and the target values the members were
fitted on with their labels: a statistical model is filtered from the first row it was
fitted on, so at predict time the recent rows are placed after those rows
(:func:`member_series`) — by their time labels with ``data.time``, else by their values.

Off with ``search: {combine: false}``; off for a study launched before seqtune 0.5.0
unless its spec asks (:func:`wanted`); off, in one line, when the statistical baselines are
(``SEQTUNE_BASELINE_SECONDS=0``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from seqtune.errors import UserError
from seqtune.models import combination as rules
from seqtune.models import statistical

#: The first seqtune version whose studies combine at export by default.
SINCE = (0, 5, 0)
#: The first version whose studies combine with :data:`seqtune.models.combination.DEFAULT`
#: (``pooled``); a study made before combines with :data:`BEFORE_POOLED`, as its version did.
POOLED_SINCE = (0, 5, 1)
#: The default rule of studies made by 0.5.0 (and of ``combine: true`` on older ones).
BEFORE_POOLED = "average"
#: How the members are named where people read them.
NAMES = {
    "network": "network",
    "auto_ets": "AutoETS",
    "auto_theta": "AutoTheta",
    "auto_arima": "AutoARIMA",
}


def wanted(setting: bool | str | None, version: str | None) -> str | None:
    """The rule to combine with: the default of the version that made the study
    (:data:`seqtune.models.combination.DEFAULT`, ``pooled``, from 0.5.1; ``average`` before),
    the one the spec names, ``auto`` (the rule the left-out folds choose), or None (no
    combination). ``setting`` is the spec's ``search.combine`` (None: not given);
    ``version`` the seqtune that launched the study (None: a fixed spec, e.g. ``train``).

    Examples
    --------
    >>> wanted(None, "0.4.0"), wanted(None, "0.5.0"), wanted(None, "0.5.1"), wanted(True, "0.3.0")
    (None, 'average', 'pooled', 'average')
    >>> wanted("auto", "0.5.0"), wanted(False, None), wanted(None, None)
    ('auto', None, 'pooled')
    """
    from seqtune.search.versions import parse_version

    if setting is False:
        return None
    if isinstance(setting, str):
        return setting
    if version is None:
        return rules.DEFAULT
    made = parse_version(version)
    if setting is None and (made is None or made < SINCE):
        return None
    return rules.DEFAULT if made is not None and made >= POOLED_SINCE else BEFORE_POOLED


@dataclass
class Combination:
    """The chosen combination: ``choice`` (rule, members, weights, fold scores), each
    statistical member fitted on every row before the test part, the target values
    (``history``) and labels they were fitted on, and the label after them."""

    choice: rules.Choice
    fitted: dict[str, statistical.Fitted]
    history: np.ndarray
    labels: list[Any]
    next_label: Any
    network_test: dict[str, Any] = field(default_factory=dict)
    #: each statistical member's fold validation forecasts (not saved)
    folds: dict[str, np.ndarray] = field(default_factory=dict)
    #: the row of the study's data ``history`` starts at (the members are fitted on the last
    #: rows of a long series, :data:`seqtune.models.statistical.FIT_MAX_ROWS`)
    start: int = 0

    @property
    def combines(self) -> bool:
        """Whether any statistical model has a weight (else: the network alone)."""
        return any(m != rules.NETWORK for m in self.choice.members)

    def describe(self) -> str:
        """``0.62 × network + 0.38 × AutoETS ETS(M,Ad,M)``."""
        return describe(self.choice.members, self.choice.weights, self._models())

    def _models(self) -> dict[str, str]:
        return {n: f.describe for n, f in self.fitted.items()}

    def members_forecasts(
        self, y: np.ndarray, rows: np.ndarray, horizon: int, start: int = 0
    ) -> dict[str, Any]:
        """Each statistical member's forecasts of ``rows`` of the series ``y``, filtered from
        row ``start`` (the row of ``y`` the members' ``history`` starts at)."""
        rows = np.asarray(rows) - start
        return {n: f.forecasts(y[start:], rows, horizon) for n, f in self.fitted.items()}

    def to_result(self) -> dict[str, Any]:
        """``result.combination`` of best.yaml."""
        return {
            "rule": self.choice.rule,
            "members": [
                {
                    "name": n,
                    "model": self._models().get(n, "network"),
                    "weight": round(w, 6),
                }
                for n, w in zip(self.choice.members, self.choice.weights, strict=True)
            ],
            "text": self.describe(),
            "fold_scores": {r: round(v, 10) for r, v in self.choice.scores.items()},
            "network_test": {
                k: round(v, 10) if isinstance(v, float) else v for k, v in self.network_test.items()
            },
        }

    def to_state(self) -> dict[str, Any]:
        """``combination`` of best.state.json: what predict needs (plain JSON)."""
        return {
            "rule": self.choice.rule,
            "members": list(self.choice.members),
            "weights": [float(w) for w in self.choice.weights],
            "models": {n: f.state for n, f in self.fitted.items()},
            "history": [float(v) for v in self.history],
            "labels": [_plain(v) for v in self.labels],
            "next_label": _plain(self.next_label),
            "start": int(self.start),
        }

    @classmethod
    def from_state(cls, raw: Any) -> Combination:
        """ValueError saying what, for anything but a state :meth:`to_state` wrote."""
        if not isinstance(raw, dict):
            raise ValueError("combination: expected a mapping")
        members = [str(m) for m in raw["members"]]
        weights = [float(w) for w in raw["weights"]]
        if len(members) != len(weights) or rules.NETWORK not in members:
            raise ValueError("combination: members and weights do not match")
        models = raw.get("models") or {}
        fitted = {n: statistical.Fitted.from_state(models[n]) for n in members if n != "network"}
        history = np.asarray(raw["history"], np.float64)
        labels = list(raw["labels"])
        if history.ndim != 1 or len(labels) != history.size:
            raise ValueError("combination: history and labels do not match")
        choice = rules.Choice(str(raw.get("rule", "")), tuple(members), tuple(weights), {})
        start = int(raw.get("start", 0))  # written since 0.5.2: 0 before (every row)
        if start < 0:
            raise ValueError("combination: start must be a row number")
        return cls(choice, fitted, history, labels, raw.get("next_label"), start=start)


def describe(members: Any, weights: Any, models: dict[str, str]) -> str:
    """``0.62 × network + 0.38 × AutoETS ETS(M,Ad,M)``.

    Examples
    --------
    >>> describe(["network", "auto_ets"], [0.62, 0.38], {"auto_ets": "ETS(M,Ad,M)"})
    '0.62 × network + 0.38 × AutoETS ETS(M,Ad,M)'
    """
    cells = []
    for name, w in zip(members, weights, strict=True):
        label = NAMES.get(name, name)
        if name in models:
            label += f" {models[name]}"
        cells.append(f"{w:.2f} × {label}")
    return " + ".join(cells)


def _plain(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, int | float | str) or value is None:
        return value
    return str(value)


def fold_forecasts(
    runner: Any, values: dict[str, Any], validation: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray] | None:
    """``(actual, {member: forecasts}, groups)`` on the rows the network's ``validation``
    forecasts cover (every fold's validation part, or the holdout's): each statistical
    model fitted on each fold's training rows, never the test part. A model that fails
    on a fold is left out; None when the rows do not line up with the network's."""
    from seqtune.study.baselines import FIT_ERRORS, fit_and_filter, validation_windows

    actual, network = (np.asarray(a, np.float64) for a in validation)
    found = validation_windows(runner, values)
    per: dict[str, list[np.ndarray]] = {n: [] for n in statistical.STATISTICAL}
    truths, groups = [], []
    for i, w in enumerate(found):
        rows = w.target_rows("val")
        truths.append(np.asarray(w.true_original("val"), np.float64).reshape(rows.size, -1))
        groups.append(np.full(rows.size, i))
        for name in list(per):
            try:
                got = fit_and_filter(name, w, "val", "val")[1].reshape(rows.size, -1)
            except FIT_ERRORS:
                per.pop(name)
                continue
            if not np.all(np.isfinite(got)):
                per.pop(name)
                continue
            per[name].append(got)
    truth = np.concatenate(truths) if truths else np.zeros((0, 1))
    if truth.shape != actual.shape or not np.allclose(truth, actual, rtol=1e-6, atol=1e-9):
        return None
    labels = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    if len(found) == 1:  # a holdout: its validation part cut into blocks
        labels = rules.blocks(len(actual))
    members = {rules.NETWORK: network, **{n: np.concatenate(f) for n, f in per.items()}}
    return actual, members, labels


def build(
    runner: Any,
    values: dict[str, Any],
    validation: tuple[np.ndarray, np.ndarray] | None,
    windows: Any,
    rule: str,
) -> tuple[Combination | None, str | None]:
    """The combination of ``rule`` (one of the rules, or ``auto``: the one the left-out
    folds choose), its weights fitted on the folds, its members fitted on every row of
    ``windows`` before the test part; or None and one line saying why there is none."""
    from seqtune.study.baselines import fits_kept, study_folder_of

    if statistical.time_limit() == 0:
        return None, (f"no combination: the statistical baselines are off ({statistical.ENV}=0)")
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        return None, "no combination: statsmodels is not installed"
    if validation is None:
        return None, "no combination: the trial left no validation forecasts"
    with fits_kept(study_folder_of(runner.spec)):  # what status fitted on the same rows
        return _build(runner, values, validation, windows, rule)


def _build(
    runner: Any,
    values: dict[str, Any],
    validation: tuple[np.ndarray, np.ndarray],
    windows: Any,
    rule: str,
) -> tuple[Combination | None, str | None]:
    """:func:`build` once its inputs are there."""
    from seqtune.study.baselines import FIT_ERRORS, fit_stop, objective_metric

    found = fold_forecasts(runner, values, validation)
    if found is None:
        return None, "no combination: the folds' rows do not line up with the network's"
    actual, members, groups = found
    horizon = int(windows.horizon)
    metric = objective_metric(runner, values)

    def score(a: np.ndarray, f: np.ndarray) -> float:
        shape = (-1,) if horizon == 1 else (-1, horizon)
        return float(metric(a.reshape(shape), f.reshape(shape)))

    direction = runner.spec.objective.direction
    choice = rules.choose(members, actual, groups, score, direction, rule)
    y = np.asarray(windows.target_values, np.float64)
    stop = fit_stop(windows, "test")
    first = statistical.fit_start(stop)  # a long series: its last rows (bounded cost)
    fitted: dict[str, statistical.Fitted] = {}
    for name in choice.members:
        if name == rules.NETWORK:
            continue
        try:
            fitted[name] = statistical.fit(name, y[first:stop], windows.period)
        except FIT_ERRORS as exc:
            # e.g. a search cut at its time limit on a busy machine after a failed first fit
            label = NAMES.get(name, name)
            return None, (
                f"no combination: {label} could not be fitted on the rows before the test "
                f"part ({type(exc).__name__}: {exc})"
            )
    labels = runner.table.labels_of(np.arange(first, stop))
    after = runner.table.labels_of([stop])[0] if stop < runner.table.n_rows else None
    folds = {n: f for n, f in members.items() if n in fitted}
    history = y[first:stop].copy()
    combo = Combination(choice, fitted, history, labels, after, folds=folds, start=first)
    return combo, None


def combined_runner(runner: Any, combo: Combination, windows: Any) -> Any:
    """A copy of ``runner`` whose ``predict`` gives the combined forecast on ``windows``'
    parts (``evaluate``, predictions.csv and the intervals' summary read it)."""
    out = copy.copy(runner)
    network = runner.predict

    def predict(model: Any, w: Any, part: str) -> np.ndarray:
        return combined_forecast(combo, network(model, w, part), w, part)

    out.predict = predict
    return out


def combined_forecast(combo: Combination, network: Any, windows: Any, part: str) -> np.ndarray:
    """The combined forecast of ``windows``' ``part`` from the network's forecasts of it
    (``network``) and each statistical member's."""
    y = np.asarray(windows.target_values, np.float64)
    pred = np.asarray(network, np.float64)
    rows = windows.target_rows(part)
    both = _beside(combo, pred, y, rows, int(windows.horizon), combo.start)
    return rules.combine(both, *_weights(combo))


def member_columns(runner: Any, combo: Combination, model: Any, windows: Any) -> Any:
    """``part -> {column: forecasts}``: the network alone and each statistical member on
    ``windows``' part, the trailing columns of predictions.csv."""
    y = np.asarray(windows.target_values, np.float64)

    def columns(part: str) -> dict[str, np.ndarray]:
        pred = np.asarray(runner.predict(model, windows, part), np.float64)
        pred = pred.reshape(len(pred), -1)
        return _beside(combo, pred, y, windows.target_rows(part), int(windows.horizon), combo.start)

    return columns


def _beside(
    combo: Combination,
    network: np.ndarray,
    y: np.ndarray,
    rows: np.ndarray,
    horizon: int,
    start: int = 0,
) -> dict[str, np.ndarray]:
    """``{member: forecasts}``: the network's ``network`` and each statistical member's
    forecasts of ``rows`` of the series ``y`` (filtered from its row ``start``), in the
    network's shape."""
    found = combo.members_forecasts(y, rows, horizon, start)
    return {
        rules.NETWORK: network,
        **{n: np.asarray(f).reshape(network.shape) for n, f in found.items()},
    }


def _weights(combo: Combination) -> tuple[list[str], list[float]]:
    return list(combo.choice.members), list(combo.choice.weights)


def combined_validation(
    combo: Combination, validation: tuple[np.ndarray, np.ndarray], members: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """``(actual, combined forecast)`` on the folds: what the intervals calibrate on."""
    actual, network = validation
    both = {**members, rules.NETWORK: network}
    return actual, rules.combine(both, *_weights(combo))


def member_series(combo: Combination, y: np.ndarray, labels: list[Any], where: str) -> np.ndarray:
    """The series the statistical members filter at predict time: the rows they were
    fitted on, then the recent rows ``y`` (labelled ``labels``) from where they begin —
    by time label (a recent row that is a fitted row, or the row after them), else by
    value (the recent rows' first values are fitted rows'); recent rows that begin before
    the fitted rows (the members of a long series are fitted on its last rows) are read
    from the first fitted row on. UserError naming ``where``
    when the recent rows cannot be placed."""
    history = combo.history
    texts = [str(v) for v in combo.labels]
    first = str(labels[0]) if labels else None
    y = np.asarray(y, np.float64)
    if first is not None and not isinstance(labels[0], int):
        if first in texts:
            return np.concatenate([history[: texts.index(first)], y])
        if combo.next_label is not None and first == str(combo.next_label):
            return np.concatenate([history, y])
        # recent rows from before the fitted ones (the members of a long series were
        # fitted on its last rows): read from the first fitted row on
        recent = [str(v) for v in labels]
        if texts and texts[0] in recent:
            return y[recent.index(texts[0]) :]
    elif y.size and history.size:
        at = _runs_on_as(history, y)  # the recent rows begin at a fitted row
        if at is not None:
            return np.concatenate([history[:at], y])
        at = _runs_on_as(y, history)  # or before the fitted rows: read from the first
        if at is not None:
            return y[at:]
    raise UserError(
        "the statistical member(s) of the combined forecaster read the series from the rows "
        "they were fitted on: give recent rows that start within the model's data or right "
        f"after its {len(history)} rows",
        where,
    )


def _runs_on_as(series: np.ndarray, head: np.ndarray) -> int | None:
    """The first row of ``series`` from which it runs on as ``head`` does (equal values
    over their overlap), or None; only the rows equal to ``head``'s first value are tried.

    Examples
    --------
    >>> _runs_on_as(np.array([5.0, 1.0, 2.0, 3.0]), np.array([2.0, 3.0, 4.0]))
    2
    """
    close = {"rtol": 1e-9, "atol": 1e-12}
    for start in np.flatnonzero(np.isclose(series, head[0], **close)):
        m = min(head.size, series.size - start)
        if np.allclose(series[start : start + m], head[:m], **close):
            return int(start)
    return None


def forecast_path(
    combo: Combination, network: np.ndarray, y: np.ndarray, labels: list[Any], where: str
) -> np.ndarray:
    """The combined forecast of the ``horizon`` steps after the recent rows ``y``, from
    the network's ``network`` ((1, horizon))."""
    series = member_series(combo, y, labels, where)
    both = _beside(combo, network, series, np.array([series.size]), network.shape[1])
    return rules.combine(both, *_weights(combo))
