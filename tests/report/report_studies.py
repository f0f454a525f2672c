"""Studies for the report tests, built in seconds: the "training" is a formula of the
parameters that reports a per-epoch value to the backend's callbacks, as a real trial does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
from conftest import tiny_spec

from seqtune.search.runner import Outcome, TrialFailed
from seqtune.spec import Spec
from seqtune.study.lifecycle import Study

SPACE = {
    "transform": {"choice": ["none", "log_diff"]},
    "look_back": {"int": [1, 3]},
    "dropout": {"float": [0.1, 0.3], "step": 0.1},
    "learning_rate": {"float": [0.001, 0.1], "log": True},
    "num_hidden_layers": {"int": [0, 2]},
    "dense_units": {"int": [4, 12], "step": 4, "per": "num_hidden_layers"},
}
EPOCHS = 4


class CurveRunner:
    """Value look_back + 10 * dropout, reached at the last of EPOCHS epochs (one report per
    epoch to the pruning callback). ``prune``/``fail``: predicates on the values that make
    a trial pruned after two epochs or failed."""

    def __init__(self, prune: Any = None, fail: Any = None) -> None:
        self.prune, self.fail = prune, fail

    def windows(self, values: dict[str, Any]) -> None:
        return None

    def run(
        self,
        values: dict[str, Any],
        seed: int,
        *,
        epochs: int | None = None,
        initial_epoch: int = 0,
        weights_from: str | None = None,
        report: Any = None,
    ) -> Outcome:
        if self.fail is not None and self.fail(values):
            raise TrialFailed("the formula says fail")
        inputs = keras.Input((1,))
        model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
        value = float(values["look_back"]) + 10 * float(values["dropout"])
        last = EPOCHS if epochs is None else epochs
        ran, pruned_at = 0, None
        for epoch in range(initial_epoch, last):
            ran += 1
            if report is not None:
                report(epoch, value + 0.5 * (last - 1 - epoch))
            if self.prune is not None and self.prune(values) and ran == 2:
                pruned_at = epoch
                break
        return Outcome(
            value, last - 1, max(1, ran), 0.25, {"val_rmse": value}, model, None, pruned_at
        )


def make_spec(tmp_path: Path, backend: str, trials: int) -> Spec:
    search = {"backend": backend, "trials": trials, "max_epochs": EPOCHS, "pruner": "none"}
    if backend == "hyperband":
        search = {"backend": backend, "trials": trials, "max_epochs": 9, "factor": 3}
    raw = tiny_spec(space=SPACE, search=search)
    raw["search"].pop("patience", None)
    return Spec.from_dict(raw, tmp_path, tmp_path / "spec.yaml")


def build_study(
    tmp_path: Path, backend: str = "tpe", trials: int = 12, close: bool = True, **runner: Any
) -> Study:
    """A finished study (closed unless ``close`` is False: then still open and locked,
    as a running launch holds it)."""
    study, _ = Study.launch(make_spec(tmp_path, backend, trials), tmp_path / "results")
    study.run(CurveRunner(**runner))  # type: ignore[arg-type]
    if close:
        study.close()
    return study


def mixed_study(tmp_path: Path) -> Study:
    """TPE, 12 trials: complete ones, pruned (look_back 3) and failed (dropout 0.2)."""
    return build_study(
        tmp_path,
        prune=lambda v: v["look_back"] == 3,
        fail=lambda v: v["dropout"] == 0.2,
    )


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file's mtime, size and content, to check that nothing was written."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
