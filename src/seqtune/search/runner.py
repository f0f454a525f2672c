"""One trial, the same on every backend: windows → model → compiled fit → best epoch.

The objective callback writes the validation objective into the epoch logs; the best
epoch's weights are kept; the trial's value is that epoch's objective.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from seqtune.data import Table, Windows
from seqtune.models.builders import build_model, reshape_x
from seqtune.models.params import resolve
from seqtune.models.training import fit, predictor
from seqtune.objectives import load_user_function, task_metrics, test_report
from seqtune.objectives.callbacks import KeepBest, ObjectiveCallback
from seqtune.objectives.guard import guarded
from seqtune.search.signals import StopCheck, check_stop
from seqtune.spec import Spec


@dataclass
class Outcome:
    """What a trial produced."""

    value: float | None
    best_epoch: int | None  # 0-based
    epochs_run: int
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)  # validation metrics at best epoch
    model: keras.Model | None = None
    windows: Windows | None = None


class TrialFailed(RuntimeError):
    """A trial that could not finish for a reason of its own (its process died, ...):
    recorded as failed with this message, and the study goes on."""


def derive_seed(seed: int, number: int) -> int:
    """A trial's seed from the study seed and the trial number (stable across runs)."""
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0] % (2**31 - 1))


def truth(windows: Windows, part: str) -> np.ndarray:
    """What metrics compare against: original units (forecast) or class indices (classify)."""
    return windows.true_original(part) if windows.task == "forecast" else windows.part(part)[1]


def head_of(windows: Windows) -> tuple[str, int]:
    if windows.task == "forecast":
        return "linear", windows.horizon  # direct multi-output: one head of H values
    k = len(windows.classes) if windows.classes is not None else 2
    return ("sigmoid", 1) if k <= 2 else ("softmax", k)


def out_of_memory(exc: BaseException) -> TrialFailed:
    """The trial failure for an allocation that failed (TensorFlow's ResourceExhaustedError
    or Python's MemoryError): one line, without TensorFlow's op and device decorations."""
    text = re.sub(r"\{\{[^}]*\}\}", "", str(exc)).strip()
    first = (text.splitlines() or [""])[0].split(" on /job:")[0].strip()
    return TrialFailed(f"out of memory: {first[:200] or type(exc).__name__}")


class Runner:
    """Runs trials of one spec on one loaded table."""

    def __init__(self, spec: Spec, table: Table) -> None:
        self.spec = spec
        self.table = table
        self.callbacks: list[keras.callbacks.Callback] = []  # added to every trial's fit
        self._user_fn = None
        if spec.objective.function is not None:
            # raises, exits, hangs, returns a non-number: one UserError naming it (a bug
            # in it would fail every trial alike, so the study stops)
            self._user_fn = guarded(
                load_user_function(spec.objective.function, spec.objective.path),
                spec.objective.function,
                spec.objective.timeout,
            )

    def windows(self, values: dict[str, Any]) -> Windows:
        return self.table.windows(
            int(values.get("look_back", 1)),
            str(values.get("transform", "none")),
            seed=self.spec.seed,
        )

    def metrics(self, batch_size: int) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
        out = task_metrics(self.spec.data.task, batch_size)
        if self._user_fn is not None:
            out[self.spec.objective.name] = self._user_fn
        return out

    def build(self, values: dict[str, Any], windows: Windows) -> keras.Model:
        head, n_out = head_of(windows)
        return build_model(
            self.spec.kind,
            self.spec.layout,
            values,
            look_back=windows.look_back,
            n_features=windows.n_features,
            n_outputs=n_out,
            head=head,
        )

    def run(
        self,
        values: dict[str, Any],
        seed: int,
        *,
        epochs: int | None = None,
        initial_epoch: int = 0,
        weights_from: str | None = None,
        extra_callbacks: list[keras.callbacks.Callback] | None = None,
    ) -> Outcome:
        """Train one configuration, from scratch or from saved weights (Hyperband's next
        round). Raises :class:`~seqtune.models.training.Diverged` on a NaN loss and
        :class:`TrialFailed` when memory runs out (this configuration fails alone, on every
        backend: they all record TrialFailed and go on)."""
        check_stop()
        try:
            return self._run(values, seed, epochs, initial_epoch, weights_from, extra_callbacks)
        except (MemoryError, tf.errors.ResourceExhaustedError) as exc:
            raise out_of_memory(exc) from None

    def _run(
        self,
        values: dict[str, Any],
        seed: int,
        epochs: int | None,
        initial_epoch: int,
        weights_from: str | None,
        extra_callbacks: list[keras.callbacks.Callback] | None,
    ) -> Outcome:
        start = time.perf_counter()
        keras.backend.clear_session()
        keras.utils.set_random_seed(seed)
        windows = self.windows(values)
        model = self.build(values, windows)
        if weights_from is not None:
            model.load_weights(weights_from)
        head, _ = head_of(windows)
        layout = self.spec.layout
        x_train, y_train = windows.part("train")
        x_val, _ = windows.part("val")
        x_val = reshape_x(x_val, layout)
        predict = predictor(model)
        batch_size = int(values.get("batch_size", 32))
        objective = ObjectiveCallback(
            predict,
            x_val,
            truth(windows, "val"),
            self.to_metric_units(windows, "val"),
            self.metrics(batch_size),
        )
        keep = KeepBest(
            self.spec.objective.name,
            self.spec.objective.direction,
            self.spec.search.patience,
        )
        log = fit(
            model,
            reshape_x(x_train, layout),
            y_train,
            head=head,
            learning_rate=float(resolve(self.spec.kind, values)["learning_rate"]),
            batch_size=batch_size,
            epochs=epochs if epochs is not None else self.spec.search.max_epochs,
            seed=seed,
            sample_weight=windows.sample_weight_train,
            callbacks=[objective, keep, *(extra_callbacks or []), *self.callbacks, StopCheck()],
            initial_epoch=initial_epoch,
            validation_x=x_val,  # predicted in the epoch's own call; the objective reuses it
        )
        return Outcome(
            value=keep.best_value,
            best_epoch=keep.best_epoch,
            epochs_run=log.epochs_run,
            seconds=time.perf_counter() - start,
            metrics={k: v for k, v in keep.best_logs.items() if k != "loss"},
            model=model,
            windows=windows,
        )

    def to_metric_units(self, windows: Windows, part: str) -> Callable[[np.ndarray], np.ndarray]:
        if windows.task == "forecast" and windows.horizon > 1:
            return lambda raw: windows.to_original(part, raw.reshape(raw.shape[0], -1))
        if windows.task == "forecast":
            return lambda raw: windows.to_original(part, raw.reshape(-1))
        return lambda raw: raw.reshape(-1) if raw.ndim == 2 and raw.shape[1] == 1 else raw

    def predict(self, model: keras.Model, windows: Windows, part: str) -> np.ndarray:
        """Predictions of ``part`` in metric units: original units for a forecast, shape
        (n,) or (n, horizon); class probabilities for classify."""
        x, _ = windows.part(part)
        raw = predictor(model)(reshape_x(x, self.spec.layout))
        return self.to_metric_units(windows, part)(raw)

    def evaluate(self, model: keras.Model, windows: Windows, part: str) -> dict[str, Any]:
        """Metrics of ``part`` in the original units (test metrics for export and train)."""
        y_pred = self.predict(model, windows, part)
        report = test_report(windows.task, truth(windows, part), y_pred)
        if self._user_fn is not None:
            report[self.spec.objective.name] = float(self._user_fn(truth(windows, part), y_pred))
        return report
