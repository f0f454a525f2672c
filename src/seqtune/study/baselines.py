"""Baselines beside the trials: the validation side, for ``seqtune status``.

The naive and linear baselines of :mod:`seqtune.models.baselines`, scored with the study's
objective on the rows its trials are scored on — each rolling-origin fold's validation part
(then the mean over the folds, as a trial's value) or the holdout's validation part — with the
best trial's framing (``look_back`` and ``transform``: the baselines read the windows its model
read). ``export`` and ``train`` take the validation column of their baselines from
:func:`validation_baselines` too, so ``status`` shows what ``best.yaml`` will.

Forecasts also get the automatic statistical models of :mod:`seqtune.models.statistical`
(AutoETS, AutoTheta, AutoARIMA): fitted on each fold's training rows of the target in
original units (not on a trial's windows), filtered with fixed parameters through the same
validation target rows, scored with the same objective; their entries carry ``seconds``
beside ``val`` (the fits and filters over all folds). They do not depend on the trial's
framing, so ``status`` keeps their scores in the study folder (:data:`CACHE_FILE`, keyed by
the data checksum, the split, the validation rows, the objective and the seqtune version)
and fits them once per study, not on every ``status --watch`` tick.

The test part is never read here: every set of windows goes through :func:`validation_view`,
which drops the test windows and, for a forecast, cuts the series after the last validation
target, so that a baseline indexing a later row fails instead of seeing it; only ``val`` is
scored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqtune.errors import UserError
from seqtune.store import kept as kept_file

if TYPE_CHECKING:
    from seqtune.data import Windows
    from seqtune.objectives.registry import Objective
    from seqtune.search.framing import Framing as Runner  # a Runner, or its windows alone
    from seqtune.study.lifecycle import Study

#: ``{baseline: {part: value}}``, as in ``best.yaml``'s ``result.baselines``
Scores = dict[str, dict[str, float]]

#: The statistical baselines' validation scores, beside the study's own files; a dot file
#: that no script reads (rewritten atomically, ignored when unreadable or stale)
CACHE_FILE = ".statistical_baselines.json"
#: The naive, ridge and logistic baselines' validation scores of the best trial's framing,
#: kept the same way: a new ``status`` process reads them instead of fitting again (the
#: logistic baseline on a long stream costs seconds per fit)
NAIVE_CACHE_FILE = ".baselines.json"
#: The statistical models' fits themselves (fitted parameters, seconds, whether the clock
#: cut the search), by the rows each was fitted on: ``export`` and ``train`` rebuild what
#: ``status`` fitted on the same fold rows instead of searching again (:func:`fits_kept`)
FITS_FILE = ".statistical_fits.json"
#: The most fits that file holds (the latest; a study's folds and test part take 15)
FITS_KEPT = 48

PART_NAMES = {"val": "validation part", "test": "test part"}

# status --watch asks every few seconds: the scores of one framing on one data file are kept
# for the life of the process (measured: ridge on airline's folds ~5 ms, but the logistic
# baseline on the 22,000-row drone stream ~5 s)
_CACHE: dict[str, Scores] = {}
_CACHE_SIZE = 8
_STAT_CACHE: dict[str, StatisticalScores] = {}


def validation_view(windows: Windows) -> Windows:
    """``windows`` without a test part: no test windows and, for a forecast, the series (and
    its transformed copy) cut after the last validation target. Training and validation
    windows are the same arrays."""
    empty_rows = np.zeros(0, np.int64)
    x_test, y_test = windows.part("test")
    changes: dict[str, Any] = {
        "x_test": x_test[:0],
        "y_test": y_test[:0],
        "rows": {**windows.rows, "test": empty_rows},
    }
    if windows.task == "forecast" and windows.target_values is not None:
        used = [windows.target_rows(p) for p in ("train", "val")]
        last = max((int(r[-1]) for r in used if r.size), default=-1)
        stop = last + windows.horizon  # the last validation window's last target, + 1
        changes["target_values"] = windows.target_values[:stop]
        if windows.z is not None:
            changes["z"] = windows.z[:stop]
    return dataclasses.replace(windows, **changes)


def objective_metric(runner: Runner, values: dict[str, Any]) -> Callable[..., float]:
    """The study's objective as a function of (truth, predictions) for these values (a
    batch-wise objective needs the trial's batch size)."""
    resolved = runner.resolved(values)
    return runner.metrics(int(resolved["batch_size"]))[runner.spec.objective.name]


def framing(runner: Runner, values: dict[str, Any]) -> tuple[int, str]:
    """The ``(look_back, transform)`` a trial of ``values`` reads its windows with."""
    resolved = runner.resolved(values)
    return int(resolved["look_back"]), str(resolved["transform"])


def validation_windows(runner: Runner, values: dict[str, Any]) -> list[Windows]:
    """The windows a trial of ``values`` is scored on, without their test part: one per
    rolling-origin fold, or the holdout's."""
    found = runner.member_windows(values) if runner.table.uses_folds else [runner.windows(values)]
    return [validation_view(w) for w in found]


def validation_baselines(runner: Runner, values: dict[str, Any]) -> Scores:
    """``{baseline: {"val": value}}``: each baseline scored with the study's objective on
    the validation rows of a trial of ``values`` (the mean over the folds, on rolling-origin
    folds, of the folds where the baseline applies)."""
    from seqtune.models.baselines import score_baselines

    metric = objective_metric(runner, values)
    per_part = [score_baselines(w, metric, ["val"]) for w in validation_windows(runner, values)]
    out: Scores = {}
    for name in per_part[0] if per_part else {}:
        found = [p[name]["val"] for p in per_part if "val" in p.get(name, {})]
        if found:
            out[name] = {"val": float(np.mean(found))}
    return out


@dataclasses.dataclass
class StatisticalScores:
    """The statistical baselines on one part: ``scores`` ({name: {part: value, "seconds":
    s}}), the model each fit chose (``models``: {name: [one per fold]}), the ``cut`` ones
    (a search stopped at its time limit) and a ``note`` when none could run."""

    scores: Scores = dataclasses.field(default_factory=dict)
    models: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    cut: list[str] = dataclasses.field(default_factory=list)
    note: str | None = None
    off: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "scores": rounded(self.scores),
            "models": self.models,
            "cut": self.cut,
            "note": self.note,
            "off": self.off,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> StatisticalScores:
        return cls(
            {
                str(k): {str(p): float(v) for p, v in parts.items()}
                for k, parts in raw["scores"].items()
            },
            {str(k): [str(x) for x in v] for k, v in raw["models"].items()},
            [str(x) for x in raw["cut"]],
            raw.get("note"),
            bool(raw.get("off", False)),
        )


def statistical_scores(
    parts: list[tuple[Windows, str]], metric: Callable[..., float], fit_before: str
) -> StatisticalScores:
    """The statistical baselines of :mod:`seqtune.models.statistical` on each
    ``(windows, part)`` (forecast only), then the mean over them of each model's value.

    Each is fitted on the rows of ``windows.target_values`` before the first target row of
    ``fit_before`` (``"val"``: a fold's training rows, the gap excluded: the rows up to its
    last training target; ``"test"``: every row before the test part), and filtered with
    those parameters through the targets of ``part``. A model that fails on one fold is left
    out of that fold; statsmodels missing gives an empty result and a ``note``."""
    out = StatisticalScores()
    if not parts or parts[0][0].task != "forecast":
        return out
    from seqtune.models import statistical

    if statistical.time_limit() == 0:
        out.off = True
        return out
    try:
        import statsmodels  # noqa: F401
    except ImportError:  # a core dependency; an environment may still lack it
        out.note = "statistical baselines skipped: statsmodels is not installed"
        return out
    values: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    for windows, part in parts:
        if not windows.target_rows(part).size:
            continue
        for name in statistical.STATISTICAL:
            start = time.perf_counter()
            try:
                fitted, pred, spent = fit_and_filter(name, windows, part, fit_before)
                value = float(metric(windows.truth(part), pred))
            except FIT_ERRORS as exc:
                out.models.setdefault(name, []).append(f"failed: {type(exc).__name__}")
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
                continue
            seconds[name] = seconds.get(name, 0.0) + spent
            out.models.setdefault(name, []).append(fitted.describe)
            if fitted.cut and name not in out.cut:
                out.cut.append(name)
            if np.isfinite(value):
                values.setdefault(name, []).append(value)
    for name, found in values.items():
        out.scores[name] = {parts[0][1]: float(np.mean(found)), "seconds": round(seconds[name], 3)}
    return out


#: What a statistical model's fit or filter raises on a series it cannot model: that model
#: is left out of that fold (the others go on).
FIT_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def fit_and_filter(
    name: str, windows: Windows, part: str, fit_before: str
) -> tuple[Any, np.ndarray, float]:
    """The statistical model ``name`` fitted on the rows of ``windows`` before the first
    target of ``fit_before`` (:func:`fit_stop`; the last
    :data:`~seqtune.models.statistical.FIT_MAX_ROWS` of them) and filtered from the first of
    those rows through the targets of ``part``: ``(fitted, forecasts, seconds)``, the
    seconds being the fit's own (also when this process remembered the fit: what the
    baseline costs a user) plus the filtering.
    Raises one of :data:`FIT_ERRORS` where the model cannot be fitted or filtered."""
    from seqtune.models import statistical

    assert windows.target_values is not None
    y = windows.target_values
    stop = fit_stop(windows, fit_before)
    first = statistical.fit_start(stop)  # a long series: its last rows (bounded cost)
    fitted = statistical.fit(name, y[first:stop], windows.period)
    start = time.perf_counter()
    rows = windows.target_rows(part)
    pred = fitted.forecasts(y[first:], rows - first, windows.horizon)
    return fitted, pred, fitted.seconds + time.perf_counter() - start


def fit_stop(windows: Windows, before: str) -> int:
    """Rows ``[0, stop)`` a statistical model is fitted on: through the training part's
    last target (``before="val"``), or up to the first test target (``"test"``; every row
    when there is no test part)."""
    assert windows.target_values is not None
    if before == "test":
        rows = windows.target_rows("test")
        return int(rows.min()) if rows.size else len(windows.target_values)
    rows = windows.target_rows("train")
    return int(rows[-1]) + windows.horizon if rows.size else 0


def statistical_validation(runner: Runner, values: dict[str, Any]) -> StatisticalScores:
    """The statistical baselines on the validation rows a trial of ``values`` is scored
    on (the mean over the folds), never reading the test part."""
    metric = objective_metric(runner, values)
    return statistical_scores(
        [(w, "val") for w in validation_windows(runner, values)], metric, "val"
    )


@contextlib.contextmanager
def fits_kept(folder: Path | None) -> Iterator[None]:
    """Inside, :func:`seqtune.models.statistical.fit` finds the fits kept in ``folder``'s
    :data:`FITS_FILE` (by model, training rows, period, limit and bounds, for this seqtune
    version) as if this process had made them; on leaving, the fits made inside are added
    to the file (those asked for inside: a fit another study made in this process is not
    written here). Nothing is read or written without a folder; a damaged or stale file
    reads as empty.

    Examples
    --------
    >>> with fits_kept(None):  # doctest: +SKIP
    ...     statistical_scores(...)
    """
    from seqtune import __version__
    from seqtune.models import statistical

    if folder is None:
        yield
        return
    path = folder / FITS_FILE
    kept = kept_file.read(path, __version__)
    kept = kept if isinstance(kept, dict) else {}
    statistical.recall(kept)
    with statistical.recording() as used:
        try:
            yield
        finally:
            if used - set(kept):  # a fit the file does not hold yet
                now = statistical.remembered()
                mine = {**kept, **{key: now[key] for key in used if key in now}}
                kept_file.keep(path, __version__, dict(list(mine.items())[-FITS_KEPT:]))


def study_folder_of(spec: Any) -> Path | None:
    """The study folder a spec was read from (its ``spec.yaml``, or an export's
    ``best.yaml`` beside the study's files), where :data:`CACHE_FILE` lives; else None."""
    from seqtune.store.files import META_FILE

    source = getattr(spec, "source", None)
    if source is None:
        return None
    folder = Path(source).parent
    return folder if (folder / META_FILE).is_file() else None


def cached_statistical(
    runner: Runner, values: dict[str, Any], folder: Path | None
) -> StatisticalScores:
    """:func:`statistical_validation`, read from the study folder's :data:`CACHE_FILE`
    (or this process's memory) when computed before for the same series (a checksum of the
    target values each fold may read), split, validation rows, objective, limits and seqtune
    version; written there (atomically) when computed. ``export`` and ``train`` read it
    too, so an export does not fit again what ``status`` fitted."""
    from seqtune import __version__
    from seqtune.models import statistical

    spec = runner.spec
    if spec.data.task != "forecast":
        return StatisticalScores()
    found = validation_windows(runner, values)
    rows = [w.target_rows("val").tolist() for w in found]
    series = hashlib.sha256()
    for w in found:
        assert w.target_values is not None
        series.update(np.ascontiguousarray(w.target_values, np.float64).tobytes())
    key = hashlib.sha256(
        json.dumps(
            [
                __version__,
                series.hexdigest(),
                spec.fingerprint()["data"],
                spec.objective.to_spec(),
                rows,
                statistical.time_limit(),
                statistical.bounds(),
            ],
            sort_keys=True,
            default=str,
        ).encode()
    ).hexdigest()
    if key in _STAT_CACHE:
        return _STAT_CACHE[key]
    path = folder / CACHE_FILE if folder is not None else None
    kept = kept_file.read(path, key)
    if kept is not None:
        try:
            got = StatisticalScores.from_dict(kept)
            _remember(key, got)
            return got
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # damaged: computed again
    with fits_kept(folder):
        got = statistical_scores(
            [(w, "val") for w in found], objective_metric(runner, values), "val"
        )
    _remember(key, got)
    if not got.off:
        kept_file.keep(path, key, got.to_dict())
    return got


def _kept_scores(folder: Path | None, key: str, compute: Callable[[], Scores]) -> Scores:
    """The rounded scores kept in the study folder's :data:`NAIVE_CACHE_FILE` under ``key``
    (with seqtune's version), else ``compute()``'s, kept there for the next process."""
    from seqtune import __version__
    from seqtune.models.baselines import CLASSIFY, FORECAST

    # the baselines' names too: a kept file from before a baseline was added is stale
    names = [*FORECAST, *CLASSIFY]
    stamp = hashlib.sha256(json.dumps([__version__, key, names]).encode()).hexdigest()
    path = folder / NAIVE_CACHE_FILE if folder is not None else None
    kept = kept_file.read(path, stamp)
    if isinstance(kept, dict):
        try:
            return {
                str(n): {str(k): float(v) for k, v in parts.items()} for n, parts in kept.items()
            }
        except (ValueError, TypeError, AttributeError):
            pass  # damaged: computed again
    scores = rounded(compute())
    kept_file.keep(path, stamp, scores)
    return scores


def _remember(key: str, scores: StatisticalScores) -> None:
    if len(_STAT_CACHE) >= _CACHE_SIZE:
        _STAT_CACHE.pop(next(iter(_STAT_CACHE)))
    _STAT_CACHE[key] = scores


def not_beaten(
    objective: Objective,
    key: str,
    mine: Any,
    found: dict[str, Any],
    part: str,
    subject: str = "the model",
) -> str | None:
    """One line when ``mine`` (the value of ``key``) does not beat the best baseline of
    ``found`` on ``part``; None when it does, or when there is nothing to compare."""
    scored = _scored(found, part)
    if not isinstance(mine, int | float) or isinstance(mine, bool) or not scored:
        return None
    best_name = best_baseline(objective, found, part)
    assert best_name is not None
    if objective.better(float(mine), scored[best_name]):
        return None
    return (
        f"{subject} does not beat the {best_name.replace('_', ' ')} baseline on the "
        f"{PART_NAMES.get(part, part)} ({key} {mine:.6g} vs {scored[best_name]:.6g})"
    )


def _scored(found: dict[str, Any], part: str) -> dict[str, float]:
    """``{baseline: value}`` of the baselines of ``found`` scored on ``part``."""
    return {
        b: p[part]
        for b, p in found.items()
        if isinstance(p, dict) and isinstance(p.get(part), int | float)
    }


def best_baseline(objective: Objective, found: dict[str, Any], part: str) -> str | None:
    """The baseline of ``found`` with the best value on ``part`` for ``objective``."""
    scored = _scored(found, part)
    if not scored:
        return None
    pick = min if objective.direction == "minimize" else max
    return pick(scored, key=lambda b: scored[b])


def status_baselines(study: Study, best: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``baselines`` field of ``status --json``: None without a complete trial; else the
    framing of the best trial they were scored with, ``scores`` ({baseline: {"val": value}},
    empty when they could not be computed, with the ``reason``), the ``best`` baseline and
    the one-line ``warning`` when the best trial does not beat it. Never reads the test
    part; never fails the status (a data file changed since the launch is a ``reason``)."""
    if best is None:
        return None
    spec = study.spec
    info: dict[str, Any] = {
        "part": "val",
        "trial": best["number"],
        "look_back": None,
        "transform": None,
        "folds": None,
        "scores": {},
        "best": None,
        "warning": None,
        "reason": None,
        "statistical": None,
    }
    try:
        runner = study.framing()  # refuses data that changed since the launch; no TensorFlow
        values = dict(best["params"])
        info["look_back"], info["transform"] = framing(runner, values)
        info["folds"] = len(runner.table.fold_plan) if runner.table.uses_folds else 1
        key = json.dumps(
            [str(spec.data.csv), study.meta.get("data_sha256"), spec.fingerprint(), values],
            sort_keys=True,
            default=str,
        )
        scores = _CACHE.get(key)
        if scores is None:
            scores = _kept_scores(study.path, key, lambda: validation_baselines(runner, values))
            if len(_CACHE) >= _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = scores
        # AutoETS, AutoTheta, AutoARIMA: once per study (the folder's cache file)
        try:
            stat = cached_statistical(runner, values, study.path)
        except UserError as err:  # e.g. a bad SEQTUNE_BASELINE_SECONDS
            stat = StatisticalScores(note=f"statistical baselines not computed: {err}")
        except Exception as exc:  # the naive baselines are shown whatever happens here
            if os.environ.get("SEQTUNE_DEBUG"):
                raise
            stat = StatisticalScores(note=f"statistical baselines failed: {_first_line(exc)}")
        scores = {**scores, **stat.scores}
        info["statistical"] = {
            "models": stat.models,
            "cut": stat.cut,
            "note": stat.note,
            "off": stat.off,
        }
    except UserError as err:
        info["reason"] = str(err)
        return info
    except Exception as exc:  # status shows the trials whatever happens to the baselines
        if os.environ.get("SEQTUNE_DEBUG"):
            raise
        info["reason"] = _first_line(exc)
        return info
    info["scores"] = scores
    info["best"] = best_baseline(spec.objective, scores, "val")
    info["warning"] = not_beaten(
        spec.objective, spec.objective.name, best["value"], scores, "val", "the best trial"
    )
    return info


def rounded(scores: Scores) -> Scores:
    """Values to 10 decimals, as ``best.yaml`` and ``status --json`` keep them."""
    return {name: {k: round(v, 10) for k, v in parts.items()} for name, parts in scores.items()}


def format_baselines(info: dict[str, Any] | None) -> list[str]:
    """The lines ``status`` prints under the best trial."""
    if info is None:
        return ["baselines: none (no complete trial yet)"]
    if info.get("reason"):
        return [f"baselines: not computed ({info['reason']})"]
    where = f"look_back {info['look_back']}"
    if info.get("transform") not in (None, "none"):
        where += f", transform {info['transform']}"
    folds = info.get("folds") or 1
    over = f", mean over {folds} folds" if folds > 1 else ""
    cells = ", ".join(
        f"{name.replace('_', ' ')} {parts['val']:.4g}" + _took(parts)
        for name, parts in info["scores"].items()
        if "val" in parts
    )
    lines = [
        f"baselines on the validation part (trial {info['trial']}'s framing: {where}{over}): "
        + (cells or "none apply")
    ]
    stat = info.get("statistical") or {}
    if stat.get("note"):
        lines.append(f"note: {stat['note']}")
    if stat.get("cut"):
        names = ", ".join(n.replace("_", " ") for n in stat["cut"])
        lines.append(f"note: {names}: search stopped at its time limit (best model so far)")
    if info.get("warning"):
        lines.append(f"warning: {info['warning']}")
    return lines


def _took(parts: dict[str, float]) -> str:
    """`` (12.3 s)`` for a baseline that records its seconds (the statistical ones)."""
    seconds = parts.get("seconds")
    return f" ({seconds:.1f} s)" if isinstance(seconds, int | float) else ""


def _first_line(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}"
