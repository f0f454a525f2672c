"""Weights that combine a network's forecasts with statistical models', chosen on folds.

The members are ``network`` (the tuned model's fold validation forecasts) and the
statistical models fitted on each fold's training rows and filtered through the same
validation rows (:mod:`seqtune.models.statistical`). A rule turns the members' forecasts on
some rows into weights (non-negative, summing to 1):

- ``network``: the network alone (weight 1).
- ``average``: ½ network + ½ the statistical model with the least squared error.
- ``inverse``: every member weighted by the inverse of its mean squared error
  (Bates & Granger 1969).
- ``stacking``: the non-negative weights summing to 1 that minimise the squared error of
  the combined forecast (constrained least squares).
- ``pooled``: ½ network + ½ the mean of every statistical model (each ``1 / (2k)``): no
  choice among them on the folds, so no wrong one (docs/combination.md, "pooled"). ``auto``
  chooses among the four above, as it did before ``pooled``.

:func:`choose` scores each rule by leaving one group of rows out at a time (a fold's
validation part): weights fitted on the other groups, scored with the study's objective on
the one left out; a rule's score is the mean over the groups, as a trial's value is the
mean over its folds. With ``auto`` the rule with the best score wins (a tie goes to the
simpler rule, in the order above, so ``network`` wins when nothing beats it); otherwise the
rule asked for is taken. Its weights are then fitted on every group. Stacking always wins
on the rows it was fitted on; left-out groups make the comparison honest. A holdout's one
validation part is cut into up to :data:`BLOCKS` contiguous blocks for the same purpose.

:data:`DEFAULT` is ``pooled`` for studies made by 0.5.1 on (``average`` for 0.5.0's:
:func:`seqtune.exported.combination.wanted`). Fixed weights won: on the test parts of four
studies (airline one step and 12 steps ahead, CO2, an airline LSTM on one holdout) the
simple average beat the network alone on all four and the rules with fitted weights, and
the rule the left-out folds chose overfitted the folds (the "forecast combination puzzle").
Of the fixed partners, the mean of the three statistical models beat the best one on the
folds on three panel runs of twelve series, airline twelve months ahead over five seeds,
and six held-out series decided on beforehand, with a far better worst case; the airline
one-step quick start was the exception (docs/combination.md, "pooled").

Examples
--------
>>> import numpy as np
>>> actual = np.arange(12.0)
>>> found = {"network": actual + 1.0, "auto_ets": actual - 1.0}
>>> mse = lambda a, f: float(np.mean((a - f) ** 2))
>>> choice = choose(found, actual, np.repeat([0, 1, 2], 4), mse, "minimize", "auto")
>>> choice.rule, [round(w, 2) for w in choice.weights]
('average', [0.5, 0.5])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: The rules ``auto`` chooses among, simplest first (a tie goes to the earlier one).
AUTO_RULES = ("network", "average", "inverse", "stacking")
#: Every rule a study may name.
RULES = (*AUTO_RULES, "pooled")
#: The rule a study combines with unless its spec names another (or ``auto``); a study
#: made by 0.5.0 combines with ``average`` (seqtune.exported.combination.wanted).
DEFAULT = "pooled"
#: How a holdout's one validation part is cut for :func:`choose` (contiguous blocks).
BLOCKS = 4
NETWORK = "network"


@dataclass(frozen=True)
class Choice:
    """The rule chosen, its members (``network`` first) and their weights, and every
    rule's score on the left-out groups (``scores``, in the objective's units)."""

    rule: str
    members: tuple[str, ...]
    weights: tuple[float, ...]
    scores: dict[str, float]

    def apply(self, forecasts: dict[str, np.ndarray]) -> np.ndarray:
        """The combined forecast of ``forecasts`` ({member: forecasts}, same shapes)."""
        return combine(forecasts, self.members, self.weights)


def combine(
    forecasts: dict[str, np.ndarray], members: Sequence[str], weights: Sequence[float]
) -> np.ndarray:
    """``sum(w * forecasts[m])`` over the members with a weight.

    Examples
    --------
    >>> combine({"a": np.array([1.0]), "b": np.array([3.0])}, ["a", "b"], [0.75, 0.25])
    array([1.5])
    """
    out: np.ndarray | None = None
    for name, w in zip(members, weights, strict=True):
        part = float(w) * np.asarray(forecasts[name], np.float64)
        out = part if out is None else out + part
    assert out is not None
    return out


def _mse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean((np.asarray(actual) - np.asarray(forecast)) ** 2))


def weights(rule: str, forecasts: dict[str, np.ndarray], actual: np.ndarray) -> np.ndarray:
    """The weights ``rule`` gives the members of ``forecasts`` (in its order, ``network``
    first) fitted on ``actual``.

    Examples
    --------
    >>> y = np.array([1.0, 2.0, 3.0, 4.0])
    >>> weights("inverse", {"network": y + 1, "auto_ets": y + 2}, y).round(2).tolist()
    [0.8, 0.2]
    """
    names = list(forecasts)
    errors = np.array([_mse(actual, forecasts[n]) for n in names])
    out = np.zeros(len(names))
    if rule == NETWORK or len(names) == 1:
        out[names.index(NETWORK)] = 1.0
    elif rule == "average":
        others = [i for i, n in enumerate(names) if n != NETWORK]
        out[names.index(NETWORK)] = 0.5
        out[min(others, key=lambda i: errors[i])] = 0.5
    elif rule == "pooled":
        others = [i for i, n in enumerate(names) if n != NETWORK]
        out[names.index(NETWORK)] = 0.5
        out[others] = 0.5 / len(others)
    elif rule == "inverse":
        if np.any(errors <= 0):  # a perfect member takes it all
            out[int(np.argmin(errors))] = 1.0
        else:
            out = (1.0 / errors) / np.sum(1.0 / errors)
    elif rule == "stacking":
        out = _stack(np.stack([np.ravel(forecasts[n]) for n in names], axis=1), np.ravel(actual))
    else:
        raise ValueError(f"unknown rule {rule!r}")
    return out


def _stack(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``argmin ||a w - y||²`` over w >= 0, sum(w) = 1: every face of the simplex solved
    exactly (at most a handful of members), the best feasible solution kept."""
    k = a.shape[1]
    best, best_err = np.full(k, 1.0 / k), np.inf
    for mask in range(1, 1 << k):
        idx = [i for i in range(k) if mask >> i & 1]
        sub = a[:, idx]
        # w = e_0 + D v with the sum fixed at 1: least squares on the differences
        base = sub[:, 0]
        if len(idx) == 1:
            w_sub = np.ones(1)
        else:
            diff = sub[:, 1:] - base[:, None]
            v, *_ = np.linalg.lstsq(diff, y - base, rcond=None)
            w_sub = np.concatenate([[1.0 - v.sum()], v])
        if np.any(w_sub < -1e-12):
            continue
        w = np.zeros(k)
        w[idx] = np.clip(w_sub, 0.0, None)
        w /= w.sum()
        err = float(np.mean((a @ w - y) ** 2))
        if not np.isfinite(best_err) or err < best_err - 1e-12 * max(best_err, 1.0):
            best, best_err = w, err
    return best


def choose(
    forecasts: dict[str, np.ndarray],
    actual: np.ndarray,
    groups: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    direction: str,
    rule: str = "auto",
) -> Choice:
    """Every rule of :data:`RULES` scored on left-out groups: weights fitted on all groups
    but one, scored with ``metric`` (the study's objective, ``direction`` ``minimize`` or
    ``maximize``) on the group left out, the mean over the groups. ``rule="auto"`` takes
    the best of them (a tie: the simpler), another ``rule`` that one whatever its score;
    its weights are then fitted on every row. ``forecasts`` maps ``network`` and each
    statistical model to its forecasts of the rows of ``actual`` ((n,) or (n, H));
    ``groups`` gives each row's group (fold).

    Examples
    --------
    >>> y = np.sin(np.arange(24.0))
    >>> found = {"network": y.copy(), "auto_ets": y + 1}
    >>> mse = lambda a, f: float(np.mean((a - f) ** 2))
    >>> choose(found, y, np.repeat([0, 1], 12), mse, "minimize").rule
    'network'
    >>> choose(found, y, np.repeat([0, 1], 12), mse, "minimize", "average").weights
    (0.5, 0.5)
    """
    actual = np.asarray(actual, np.float64)
    groups = np.asarray(groups)
    if NETWORK not in forecasts:
        raise ValueError("the members must include the network")
    if rule != "auto" and rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}")
    order = {NETWORK: np.asarray(forecasts[NETWORK], np.float64)}
    order.update({n: np.asarray(f, np.float64) for n, f in forecasts.items() if n != NETWORK})
    asked = () if rule == "auto" or rule in AUTO_RULES else (rule,)
    usable = [r for r in (*AUTO_RULES, *asked) if r == NETWORK or len(order) > 1]
    labels = list(dict.fromkeys(groups.tolist()))
    scores: dict[str, float] = {}
    for one in usable:
        values = []
        for g in labels:
            out = groups == g
            if len(labels) > 1:
                fit = {n: f[~out] for n, f in order.items()}
                w = weights(one, fit, actual[~out])
            else:  # one group: the rule fitted and scored on the same rows
                w = weights(one, order, actual)
            pred = combine({n: f[out] for n, f in order.items()}, list(order), w)
            values.append(float(metric(actual[out], pred)))
        scores[one] = float(np.mean(values))
    if rule == "auto":
        sign = 1.0 if direction == "minimize" else -1.0
        finite = [r for r in usable if r in AUTO_RULES and np.isfinite(scores[r])]
        rule = min(finite, key=lambda r: sign * scores[r]) if finite else NETWORK
    w = weights(rule, order, actual)
    keep = [i for i, v in enumerate(w) if v > 0 or list(order)[i] == NETWORK]
    names = tuple(list(order)[i] for i in keep)
    return Choice(rule, names, tuple(float(w[i]) for i in keep), scores)


def blocks(n: int, count: int = BLOCKS) -> np.ndarray:
    """Group labels cutting ``n`` rows into ``count`` contiguous blocks (fewer when there
    are fewer than two rows a block).

    Examples
    --------
    >>> blocks(10).tolist()
    [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]
    """
    count = max(1, min(count, n // 2))
    return np.floor(np.arange(n) * count / max(n, 1)).astype(np.int64)
