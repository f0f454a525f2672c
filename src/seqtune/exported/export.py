"""Export the best trial as a fixed spec plus its model; train a fixed spec from scratch.

``best.yaml`` is itself a valid spec: every parameter fixed, ``seed`` set to the trial's
own seed, and a ``result`` section with the objective and the test metrics. ``seqtune
train best.yaml`` refits it from scratch and, on the same machine and thread settings,
reproduces the exported objective (see REPRO_RTOL).

A trial is more than its parameters and seed; what else it depended on is written too:

- ``result.lineage`` (Hyperband): a Hyperband trial trains only as far as its bracket and
  round say (``tuner/epochs``, not ``search.max_epochs``, which stays the study's), from
  the kept weights of the trial it continues. The lineage lists those trials, oldest
  first, each ``{trial, seed, initial_epoch, epochs}``, the exported trial last (a trial
  that started from scratch is a chain of one). ``train`` replays the chain: each link
  starts from the previous link's kept weights with its own seed and a fresh optimizer,
  as the search ran it.
- ``result.split_seed`` (``data.split.method: stratified``): the seed that drew the split,
  which is the study's seed, not the trial's; ``train`` splits with it.

How the trial trained is recorded and read back by :mod:`seqtune.search.versions`
(``export_keys``, ``Training.of_export``):

- ``result.trainer`` (holdout trials): ``wide`` when the trial trained through the kept
  engine (seqtune 0.3.0 on, ``Runner.trainer_for``), ``fit`` when it trained with the
  compiled fit (a long trial, many LSTM window lengths, or a study made before 0.3.0);
  ``train`` refits with the same one (the two agree to round-off, not bit for bit).
  Absent from an export with a result: ``fit``.
- ``result.pad_steps`` (seqtune 0.3.1 on, an LSTM over time steps whose look_back was
  searched): ``true`` when the study's engine unrolled the LSTM of a short trial over its
  window padded to a multiple of 8 steps (the padding masked; ``Runner.pads``); ``train``
  pads the same way. Absent: never padded.
- ``result.lstm_kernel`` (seqtune 0.3.2 on, an LSTM model): ``fused`` when the study's
  engine computed the LSTM with one fused kernel per member over every step
  (``seqtune.models.engine``); ``train`` does the same. Absent from an export with a result:
  ``unrolled`` (the steps written out, as before 0.3.2).
- ``result.files`` (seqtune 0.3.3 on): the SHA-256 of each file written with best.yaml
  (``best.keras``, ``predictions.csv``). The three are staged beside their targets and
  renamed into place with best.yaml last, so a kill leaves either the old export or the new
  one; ``predict`` and ``report`` check the checksums and refuse, in one line saying to
  export again, a model or forecast table that is not the one best.yaml was written with.

A forecast's export may combine the network with statistical models
(:mod:`seqtune.exported.combination`): ``result.combination`` records the rule, the members
and their weights, every rule's left-out fold score and the network alone's test metrics
(``network_test``); ``result.test`` is then the combined forecast's. ``train`` combines with
the same rule, its weights fitted on the refit's folds.

An export written before these keys existed is refitted as before, and ``train`` says why
its objective need not match (``reproduced.reason``).
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import numpy as np

from seqtune.errors import UserError
from seqtune.exported.bundle import (
    forecast_state,
    holdout_forecasts,
    interval_summary,
    validation_forecasts,
)
from seqtune.exported.combination import (
    build,
    combined_runner,
    combined_validation,
    member_columns,
    wanted,
)
from seqtune.exported.intervals import DEFAULT_LEVELS
from seqtune.exported.predict import model_windows, prediction_rows
from seqtune.exported.state import state_file
from seqtune.kinds import kind_of
from seqtune.models.combination import RULES
from seqtune.search.records import TrialRecord, best_of
from seqtune.search.runner import Outcome, Runner
from seqtune.search.versions import Training, export_keys
from seqtune.spec import Spec, fixed_values
from seqtune.store.digest import file_digest
from seqtune.store.files import (
    PREDICTIONS_FILE,
    csv_text,
    save_model,
    write_together,
    yaml_text,
)
from seqtune.store.outputs import check_output, starts_with
from seqtune.study.lifecycle import Study, prepare
from seqtune.tasks import task_of

#: Relative tolerance within which ``train`` reproduces an exported objective.
REPRO_RTOL = 1e-4


def _clean(report: dict[str, Any]) -> dict[str, Any]:
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 10)
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    return {k: clean(v) for k, v in report.items()}


def check_exportable(study: Study, output: Path | None = None, force: bool = False) -> Path:
    """The spec file an export would write; UserError if there is nothing to export or
    the output is unusable (see :mod:`seqtune.store.outputs`: an existing file that is
    not an earlier export of this study is replaced only with ``force``). Writes nothing."""
    if best_of(study.backend.records(), study.spec.objective.direction) is None:
        raise UserError("has no complete trial yet: nothing to export", study.where)
    # a study without a folder exports into the current one
    default = (study.path or Path.cwd()) / "best.yaml"
    out_yaml = Path(output) if output is not None else default
    if out_yaml.suffix not in (".yaml", ".yml"):
        raise UserError("the exported spec must end in .yaml or .yml", "-o")
    if out_yaml.exists() and out_yaml.is_dir():
        raise UserError("is a folder, expected a file name", str(out_yaml))
    if output is None and study.path is not None:  # the study's own export, replaced freely
        return out_yaml
    ours = is_export_of(out_yaml, study.spec.study)
    for path in (
        out_yaml,
        out_yaml.with_suffix(".keras"),
        out_yaml.parent / PREDICTIONS_FILE,
        state_file(out_yaml),
    ):
        check_output(
            path,
            force=force,
            reads=[study.spec.data.csv],
            own=lambda _: ours,
            flag="-o",
        )
    return out_yaml


def is_export_of(path: Path, study: str) -> bool:
    """Whether ``path`` is a best.yaml written by ``seqtune export`` for the study named
    ``study`` (its ``result.study``)."""
    if not path.is_file() or not starts_with(path, b"*result:", within=1 << 20):
        return False
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return False
    result = raw.get("result") if isinstance(raw, dict) else None
    return isinstance(result, dict) and result.get("study") == study


def export(
    study: Study, output: Path | None = None, force: bool = False
) -> tuple[Path, Path, dict[str, Any]]:
    """Write best.yaml and best.keras for the study's best trial; return paths and result."""
    out_yaml = check_exportable(study, output, force)
    records = study.backend.records()
    best = best_of(records, study.spec.objective.direction)
    assert best is not None
    out_model = out_yaml.with_suffix(".keras")
    spec = study.spec
    _, runner = study.prepare()  # refuses data that changed since the launch
    seed = best.seed if best.seed is not None else spec.seed
    lineage = hyperband_lineage(study, best, records)
    forecasts = task_of(spec.data.task).forecasts
    validation: tuple[np.ndarray, np.ndarray] | None = None
    if runner.refits:
        if forecasts:  # the trial again, for its folds' validation forecasts (the intervals)
            validation = validation_forecasts(runner, _refit(runner, best.params, seed, lineage))
        # chosen on rolling-origin folds or repeats: refit on every row before the test
        # part for the epochs the trial chose (its best mean epoch), with the ensemble's
        # seeds, as one model; the test part is read here, once
        outcome = runner.refit(best.params, seed, refit_epochs(best.best_epoch))
        model, windows = outcome.model, outcome.windows
        val = dict(best.metrics)  # the folds' mean at the best epoch, and each fold's value
    else:
        checkpoint = study.checkpoint_file(best.number)
        model = _load_checkpoint(checkpoint) if checkpoint is not None else None
        if model is not None:
            windows = model_windows(runner, best.params)
        else:  # another worker's trial, or a damaged file: refit deterministically
            outcome = _refit(runner, best.params, seed, lineage)
            model, windows = outcome.model, outcome.windows
        assert model is not None and windows is not None
        val = runner.evaluate(model, windows, "val")
        if forecasts:
            validation = holdout_forecasts(runner, model, windows)
    assert model is not None and windows is not None
    test = runner.evaluate(model, windows, "test")
    # the network combined with statistical models, weights chosen on the folds only
    combo, combo_note = None, None
    made = str(study.meta.get("seqtune") or "0")  # a study that recorded none: the oldest
    rule = wanted(spec.search.combine, made) if forecasts else None
    if rule is not None:
        combo, combo_note = build(runner, best.params, validation, windows, rule)
    scorer = runner
    if combo is not None:
        combo.network_test = _clean(test)
    if combo is not None and combo.combines:
        scorer = combined_runner(runner, combo, windows)
        test = scorer.evaluate(model, windows, "test")
        assert validation is not None
        validation = combined_validation(combo, validation, combo.folds)
    result: dict[str, Any] = {
        "study": spec.study,
        "backend": spec.search.backend,
        "trial": best.number,
        "objective": {
            "name": spec.objective.name,
            "direction": spec.objective.direction,
            "value": float(best.value),  # type: ignore[arg-type]
        },
        "epochs": best.epochs,
        "best_epoch": best.best_epoch,
        "val": _clean(val),
        "test": _clean(test),
        "model": out_model.name,
    }
    if runner.refits:
        result["ensemble"] = spec.search.members  # models averaged in best.keras
    # how the trial trained (its holdout trainer, padding, LSTM kernel): train does the same
    result.update(
        export_keys(
            trainer=None if runner.trains_members else runner.trainer_for(best.params, windows),
            pad_steps=runner.pad_steps,
            lstm=runner.lstm if kind_of(spec, best.params) == "lstm" else None,
        )
    )
    result["baselines"] = baselines(runner, best.params, windows)
    if combo is not None:
        result["combination"] = combo.to_result()
    elif combo_note is not None:
        result["combination"] = {"note": combo_note}
    if lineage is not None:
        # the trial trained epochs initial_epoch .. epochs-1 of its own plan, not max_epochs
        result["lineage"] = lineage
    if spec.data.split_method == "stratified":
        result["split_seed"] = spec.seed  # the runner splits with the study's seed
    digest = study.meta.get("data_sha256")
    if isinstance(digest, str):  # predict refuses another file in its place
        result["data_sha256"] = digest
    fixed = replace(
        spec,
        space=spec.space.fixed(best.params),
        seed=int(seed),
        result=result,
    )
    files: list[tuple[Path, Any]] = [(out_model, model.save)]
    if forecasts:
        # what predict needs besides the network (scalers, transform, window, columns,
        # the intervals' validation errors), and the validation and test forecasts
        source = "folds" if runner.refits else "validation"
        state = forecast_state(runner, windows, validation, source)
        members = None
        if combo is not None and combo.combines:
            state = replace(state, combination=combo.to_state())
            members = member_columns(runner, combo, model, windows)
        header, rows = prediction_rows(
            scorer, model, windows, state.residuals, DEFAULT_LEVELS, state.scale, members
        )
        text = csv_text(header, rows)
        files.append((out_yaml.parent / PREDICTIONS_FILE, lambda p: _write(p, text)))
        result["intervals"] = interval_summary(scorer, model, windows, state)
        state_text = state.to_json()
        files.append((state_file(out_yaml), lambda p: _write(p, state_text)))
    names = [path.name for path, _ in files]

    def write_spec(staged: Path) -> None:  # last: it vouches for the files staged before it
        result["files"] = {name: file_digest(staged.parent / name) for name in names}
        _write(staged, yaml_text(fixed.to_dict(relative_to=out_yaml.resolve().parent)))

    files.append((out_yaml, write_spec))
    write_together(files)
    return out_yaml, out_model, result


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="")


def hyperband_lineage(
    study: Study, best: TrialRecord, records: list[TrialRecord]
) -> list[dict[str, int]] | None:
    """For a Hyperband trial, the chain of trials its weights come from, oldest first and
    ``best`` last: ``{trial, seed, initial_epoch, epochs}`` each. None on other backends.

    Read from keras-tuner's public ``Trial.hyperparameters`` (``tuner/epochs``,
    ``tuner/initial_epoch``, ``tuner/trial_id``; keras-tuner 1.4.8) of the backend's
    oracle: the same for studies of every seqtune version.
    """
    if not study.backend.warm_starts:
        return None
    oracle = getattr(study.backend, "oracle", None)
    if oracle is None:
        return None
    trials = {int(k): t for k, t in oracle.trials.items()}
    seeds = {r.number: r.seed for r in records}
    chain: list[dict[str, int]] = []
    number: int | None = best.number
    while number is not None and number in trials and len(chain) <= len(trials):
        hp = trials[number].hyperparameters.values
        seed = seeds.get(number)
        if seed is None:  # a trial with no record of its seed cannot be replayed
            return None
        chain.append(
            {
                "trial": number,
                "seed": int(seed),
                "initial_epoch": int(hp.get("tuner/initial_epoch", 0)),
                "epochs": int(hp.get("tuner/epochs", study.spec.search.max_epochs)),
            }
        )
        previous = hp.get("tuner/trial_id")
        number = int(previous) if previous is not None else None
    if number is not None:  # the chain leads to a trial that is gone
        return None
    return chain[::-1]


def _refit(
    runner: Runner,
    values: dict[str, Any],
    seed: int,
    lineage: list[dict[str, int]] | None,
) -> Outcome:
    """Train ``values`` as the trial did: from scratch over ``max_epochs`` with ``seed``,
    or, for a Hyperband trial, every link of its lineage in turn (each from the previous
    link's kept weights, with its own seed, epochs and initial epoch)."""
    if not lineage:
        return runner.run(values, seed)
    with tempfile.TemporaryDirectory(prefix="seqtune-lineage-") as tmp:
        weights: str | None = None
        outcome: Outcome | None = None
        for i, link in enumerate(lineage):
            outcome = runner.run(
                values,
                int(link["seed"]),
                epochs=int(link["epochs"]),
                initial_epoch=int(link["initial_epoch"]),
                weights_from=weights,
            )
            if i + 1 < len(lineage):
                if outcome.model is None:
                    break
                weights = str(Path(tmp) / f"trial_{link['trial']}.weights.h5")
                outcome.model.save_weights(weights)
        assert outcome is not None
        # epochs counted from 0 as in the search's record, not from this link's start
        outcome.epochs_run += int(lineage[-1]["initial_epoch"])
        return outcome


def _load_checkpoint(path: Path) -> keras.Model | None:
    """The trial's saved model, or None if there is none or it cannot be read (the
    export then refits the trial from its seed, which gives the same model)."""
    if not path.is_file():
        return None
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:
        print(
            f"seqtune export: warning: {path}: unreadable ({type(exc).__name__}); "
            "refitting the trial from its seed instead",
            file=sys.stderr,
        )
        return None


def train(spec: Spec, output: Path | None = None) -> dict[str, Any]:
    """Refit a fixed spec from scratch; report validation and test metrics, and for an
    export whether its objective was reproduced (or why it cannot be)."""
    values = fixed_values(spec)
    result = spec.result or {}
    split_seed = result.get("split_seed")
    # the split is drawn with the study's seed; the trial's own seed is spec.seed
    split_spec = replace(spec, seed=split_seed) if isinstance(split_seed, int) else spec
    # as the export records it trained (seqtune.search.versions); checked there
    _, runner = prepare(split_spec, Training.of_export(result))
    lineage = result.get("lineage")
    lineage = lineage if _is_lineage(lineage) else None
    outcome = _refit(runner, values, spec.seed, lineage)
    if outcome.value is None or outcome.model is None or outcome.windows is None:
        raise UserError(f"{spec.objective.name} was never finite: training failed", "train")
    if runner.refits:  # the same refit as export: every row before the test part
        val = dict(outcome.metrics)
        outcome_test = runner.refit(values, spec.seed, refit_epochs(outcome.best_epoch))
        model, windows = outcome_test.model, outcome_test.windows
    else:
        model, windows = outcome.model, outcome.windows
        val = runner.evaluate(model, windows, "val")
    assert model is not None and windows is not None
    test = runner.evaluate(model, windows, "test")
    combination: dict[str, Any] | None = None
    rule = _train_rule(spec)
    if rule is not None:  # as export combined: weights chosen on this refit's folds
        validation = (
            validation_forecasts(runner, outcome)
            if runner.refits
            else holdout_forecasts(runner, model, windows)
        )
        combo, note = build(runner, values, validation, windows, rule)
        if combo is not None:
            combo.network_test = _clean(test)
            if combo.combines:
                test = combined_runner(runner, combo, windows).evaluate(model, windows, "test")
            combination = combo.to_result()
        else:
            combination = {"note": note}
    report: dict[str, Any] = {
        "objective": {
            "name": spec.objective.name,
            "direction": spec.objective.direction,
            "value": outcome.value,
        },
        "epochs": outcome.epochs_run,
        "best_epoch": outcome.best_epoch,
        "val": _clean(val),
        "test": _clean(test),
        "baselines": baselines(runner, values, windows),
    }
    if combination is not None:
        report["combination"] = combination
    exported = result.get("objective", {}).get("value")
    if isinstance(exported, int | float):
        diff = abs(outcome.value - exported)
        report["reproduced"] = {
            "exported": float(exported),
            "abs_diff": diff,
            "rtol": REPRO_RTOL,
            "within_tolerance": diff <= REPRO_RTOL * max(abs(exported), 1e-12),
        }
        reason = _why_not_reproducible(spec, lineage)
        if reason is not None and not report["reproduced"]["within_tolerance"]:
            report["reproduced"]["reason"] = reason
    if output is not None:
        save_model(model, Path(output))
        report["model"] = str(output)
    return report


def _train_rule(spec: Spec) -> str | None:
    """The combination rule ``train`` combines with, as its export did: an export that
    recorded a combination combines with its ``result.combination.rule`` (``auto`` in the
    spec: chosen again on the refit's folds); one that recorded none, or was written before
    combinations existed, does not; a fixed spec without a result follows
    ``search.combine`` (default: combine)."""
    if not task_of(spec.data.task).forecasts:
        return None
    if spec.result is None:
        return wanted(spec.search.combine, None)
    found = spec.result.get("combination")
    rule = found.get("rule") if isinstance(found, dict) else None
    if rule not in RULES:
        return None
    # the rule the export used (a later default does not change it); auto chooses again
    return "auto" if spec.search.combine == "auto" else str(rule)


def baselines(runner: Runner, values: dict[str, Any], windows: Any) -> dict[str, dict[str, float]]:
    """The naive and linear baselines (seqtune.models.baselines) scored with the study's
    objective function on the same rows as the model: ``val`` on the validation part
    (the mean over the folds, on rolling-origin folds: the same function as ``status``),
    ``test`` on the test part of ``windows``. Forecasts add AutoETS, AutoTheta and
    AutoARIMA (seqtune.models.statistical): ``val`` as ``status`` scores them (read from
    the study folder's cache when status computed them), ``test`` fitted on every row before
    the test part and filtered through it; their ``seconds`` (both parts' fits) and the
    ``model`` the test fit chose beside."""
    from seqtune.models.baselines import score_baselines
    from seqtune.study.baselines import (
        cached_statistical,
        fits_kept,
        objective_metric,
        rounded,
        statistical_scores,
        study_folder_of,
        validation_baselines,
    )

    metric = objective_metric(runner, values)
    out = {name: dict(parts) for name, parts in score_baselines(windows, metric, ["test"]).items()}
    for name, parts in validation_baselines(runner, values).items():
        out.setdefault(name, {}).update(parts)
    folder = study_folder_of(runner.spec)
    stat_val = cached_statistical(runner, values, folder)  # status's
    with fits_kept(folder):  # train fits the same rows again
        stat_test = statistical_scores([(windows, "test")], metric, "test")
    for name, parts in stat_test.scores.items():
        seconds = parts["seconds"] + stat_val.scores.get(name, {}).get("seconds", 0.0)
        out[name] = {**stat_val.scores.get(name, {}), **parts, "seconds": seconds}
    scored = rounded(out)
    for name, models in stat_test.models.items():
        if name in scored and models:
            scored[name]["model"] = models[0]  # type: ignore[assignment]
    return scored


def baseline_warning(spec: Spec, test: dict[str, Any], found: dict[str, Any]) -> str | None:
    """One line when the model does not beat the best baseline on the test part."""
    from seqtune.study.baselines import not_beaten

    name = spec.objective.name
    key = name if name in test else name.removeprefix("val_")
    warning = not_beaten(spec.objective, key, test.get(key), found, "test")
    return naive_verdict(spec, key, test.get(key), found) or warning


#: the baselines that know nothing of the series' dynamics: when one of them is best, no
#: model (the exported one, the ridge, the statistical ones) has found anything to forecast
NAIVE = ("persistence", "mean")


def naive_verdict(spec: Spec, key: str, mine: Any, found: dict[str, Any]) -> str | None:
    """The one line when persistence or the training mean beats every model on the test
    part (the exported model and every other baseline); None otherwise.

    Examples
    --------
    >>> found = {"persistence": {"test": 10.0}, "ridge": {"test": 11.0}}
    >>> naive_verdict(spec, "rmse", 12.0, found)  # doctest: +SKIP
    'no model beats repeating the last value on the test part (rmse: the model 12, ...'
    """
    from seqtune.study.baselines import best_baseline

    best = best_baseline(spec.objective, found, "test")
    if best not in NAIVE or not isinstance(mine, int | float) or isinstance(mine, bool):
        return None
    value = float(found[best]["test"])
    if spec.objective.better(float(mine), value):
        return None
    what = "repeating the last value" if best == "persistence" else "the training mean"
    return (
        f"no model beats {what} on the test part ({key}: the model {mine:.6g}, "
        f"{best.replace('_', ' ')} {value:.6g}): this series gave nothing more to forecast"
    )


def refit_epochs(best_epoch: int | None) -> int:
    """How long the refit trains: through the folds' best mean epoch (0-based), i.e. the
    same number of epochs, on the somewhat more rows that lie before the test part."""
    return (best_epoch or 0) + 1


def _is_lineage(value: Any) -> bool:
    keys = {"trial", "seed", "initial_epoch", "epochs"}
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(
            isinstance(link, dict)
            and keys <= set(link)
            and all(isinstance(link[k], int) and not isinstance(link[k], bool) for k in keys)
            for link in value
        )
    )


def _why_not_reproducible(spec: Spec, lineage: list[dict[str, int]] | None) -> str | None:
    """Why the refit of an export need not give its objective, or None when it should."""
    result = spec.result or {}
    if spec.data.split_method == "stratified" and not isinstance(result.get("split_seed"), int):
        return (
            "the export has no result.split_seed (written by an earlier seqtune): the "
            "stratified split was drawn with the study's seed, this refit draws it with the "
            "trial's, so it validates on other windows"
        )
    if result.get("backend") == "hyperband" and lineage is None:
        return (
            "the export has no result.lineage (written by an earlier seqtune): the Hyperband "
            "trial trained its bracket's epochs, perhaps continuing an earlier trial's "
            f"weights, and this refit trains search.max_epochs {spec.search.max_epochs} from "
            "scratch; export the study again to record them"
        )
    return None
