"""Export the best trial as a fixed spec plus its model; train a fixed spec from scratch.

``best.yaml`` is itself a valid spec: every parameter fixed, ``seed`` set to the trial's
own seed, and a ``result`` section with the objective and the test metrics. ``seqtune
train best.yaml`` refits it from scratch and, on the same machine and thread settings,
reproduces the exported objective (see REPRO_RTOL).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras

from seqtune.errors import UserError
from seqtune.search.files import save_model, write_csv, write_yaml
from seqtune.search.predict import PREDICTIONS_FILE, prediction_rows
from seqtune.search.records import best_of
from seqtune.search.study import Study, prepare
from seqtune.spec import Spec, fixed_values
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


def check_exportable(study: Study, output: Path | None = None) -> Path:
    """The spec file an export would write; UserError if there is nothing to export or
    the output is unusable. Writes nothing."""
    if best_of(study.backend.records(), study.spec.objective.direction) is None:
        raise UserError("has no complete trial yet: nothing to export", study.where)
    # a study without a folder exports into the current one
    default = (study.path or Path.cwd()) / "best.yaml"
    out_yaml = Path(output) if output is not None else default
    if out_yaml.suffix not in (".yaml", ".yml"):
        raise UserError("the exported spec must end in .yaml or .yml", "-o")
    if out_yaml.exists() and out_yaml.is_dir():
        raise UserError("is a folder, expected a file name", str(out_yaml))
    return out_yaml


def export(study: Study, output: Path | None = None) -> tuple[Path, Path, dict[str, Any]]:
    """Write best.yaml and best.keras for the study's best trial; return paths and result."""
    out_yaml = check_exportable(study, output)
    best = best_of(study.backend.records(), study.spec.objective.direction)
    assert best is not None
    out_model = out_yaml.with_suffix(".keras")
    spec = study.spec
    _, runner = study.prepare()  # refuses data that changed since the launch
    seed = best.seed if best.seed is not None else spec.seed
    checkpoint = study.checkpoint_file(best.number)
    model = _load_checkpoint(checkpoint) if checkpoint is not None else None
    if model is not None:
        windows = runner.windows(best.params)
    else:  # another worker's trial, or a damaged file: refit deterministically from its seed
        outcome = runner.run(best.params, seed)
        model, windows = outcome.model, outcome.windows
    assert model is not None and windows is not None
    val = runner.evaluate(model, windows, "val")
    test = runner.evaluate(model, windows, "test")
    result = {
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
    fixed = replace(spec, space=spec.space.fixed(best.params), seed=int(seed), result=result)
    header, rows = (
        prediction_rows(runner, model, windows) if task_of(spec.data.task).forecasts else ([], [])
    )
    out_yaml.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, out_model)
    if header:  # the validation and test forecasts, step by step, beside best.yaml
        write_csv(out_yaml.parent / PREDICTIONS_FILE, header, rows)
    write_yaml(out_yaml, fixed.to_dict(relative_to=out_yaml.resolve().parent))
    return out_yaml, out_model, result


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
    """Refit a fixed spec from scratch; report validation and test metrics."""
    values = fixed_values(spec)
    _, runner = prepare(spec)
    outcome = runner.run(values, spec.seed)
    if outcome.value is None or outcome.model is None or outcome.windows is None:
        raise UserError(f"{spec.objective.name} was never finite: training failed", "train")
    report: dict[str, Any] = {
        "objective": {
            "name": spec.objective.name,
            "direction": spec.objective.direction,
            "value": outcome.value,
        },
        "epochs": outcome.epochs_run,
        "best_epoch": outcome.best_epoch,
        "val": _clean(runner.evaluate(outcome.model, outcome.windows, "val")),
        "test": _clean(runner.evaluate(outcome.model, outcome.windows, "test")),
    }
    exported = (spec.result or {}).get("objective", {}).get("value")
    if isinstance(exported, int | float):
        diff = abs(outcome.value - exported)
        report["reproduced"] = {
            "exported": float(exported),
            "abs_diff": diff,
            "rtol": REPRO_RTOL,
            "within_tolerance": diff <= REPRO_RTOL * max(abs(exported), 1e-12),
        }
    if output is not None:
        save_model(outcome.model, Path(output))
        report["model"] = str(output)
    return report
