"""Rolling-origin validation: where each fold's training and validation rows lie.

The rows before the test part are split into ``folds`` expanding-window folds. Fold ``i``
(0-based, oldest first) trains on rows ``[0, train_stop)`` and validates on
``[val_start, val_stop)``::

    val_stop_i   = pre - (folds - 1 - i) * step      # the last fold ends where test begins
    val_start_i  = val_stop_i - size                 # size = data.split.val, in rows
    train_stop_i = val_start_i - gap

``pre`` is the number of rows before the test part, ``step`` defaults to ``size`` (the
validation parts tile the rows before the test part without overlap), ``gap`` to 0. With
``folds: 1`` and no gap the one fold is today's holdout (train, val) exactly.

Sizes given as fractions are fractions of all the table's rows, as ``val`` and ``test``
always were (so ``val`` keeps its meaning: the validation rows of each fold).

This module only does the arithmetic (pure, no numpy); :class:`seqtune.data.table.Table`
builds a fold's windows (``Table.fold_windows``) with scalers and transforms fitted on that
fold's training rows only, and the refit view (``Table.refit_windows``): every row before
the test part as training.
"""

from __future__ import annotations

from dataclasses import dataclass

from seqtune.data.split import part_rows
from seqtune.errors import UserError

FIELD = "data.split"

Bounds = dict[str, tuple[int, int]]


@dataclass(frozen=True)
class Fold:
    """One origin: training rows ``[0, train_stop)``, validation rows ``[val_start, val_stop)``
    (0-based table rows). The ``gap`` rows between them belong to neither part; a forecast
    window of the validation part may read them (and training rows) as look-back inputs."""

    index: int
    train_stop: int
    val_start: int
    val_stop: int

    @property
    def gap(self) -> int:
        return self.val_start - self.train_stop

    @property
    def val_rows(self) -> int:
        return self.val_stop - self.val_start

    def bounds(self) -> Bounds:
        """Part bounds for the window builders: this fold's train and val, and an empty test
        part (a fold never reads the test rows)."""
        return {
            "train": (0, self.train_stop),
            "val": (self.val_start, self.val_stop),
            "test": (self.val_stop, self.val_stop),
        }


@dataclass(frozen=True)
class FoldPlan:
    """The folds of a table of ``n_rows`` rows whose last ``n_test`` rows are the test part."""

    n_rows: int
    n_test: int
    folds: tuple[Fold, ...]

    @property
    def pre_test(self) -> int:
        """Rows before the test part (what folds and the refit may use)."""
        return self.n_rows - self.n_test

    def __len__(self) -> int:
        return len(self.folds)

    def __getitem__(self, index: int) -> Fold:
        return self.folds[index]

    def refit_bounds(self) -> Bounds:
        """Every row before the test part as training, no validation, then the test part:
        the rows of the final refit (export, ``train``)."""
        pre = self.pre_test
        return {"train": (0, pre), "val": (pre, pre), "test": (pre, self.n_rows)}


def plan_folds(
    n_rows: int,
    *,
    val: float | int,
    test: float | int,
    folds: int = 1,
    step: float | int | None = None,
    gap: int = 0,
) -> FoldPlan:
    """The expanding-window folds of ``data.split`` for a table of ``n_rows`` rows.

    ``val``, ``test`` and ``step`` are a number of rows (int) or a fraction of ``n_rows``
    (float), as everywhere in ``data.split``. Raises a one-line :class:`UserError` naming
    the field when a part would be empty or the first fold would have no training row.
    """
    n_test = part_rows(n_rows, test)
    size = part_rows(n_rows, val)
    if n_test < 1:
        raise UserError(f"test {test} of {n_rows} rows gives 0 rows", f"{FIELD}.test")
    if size < 1:
        raise UserError(
            f"val {val} of {n_rows} rows gives 0 validation rows per fold", f"{FIELD}.val"
        )
    stride = size if step is None else part_rows(n_rows, step)
    if stride < 1:
        raise UserError(f"step {step} of {n_rows} rows gives 0 rows", f"{FIELD}.step")
    pre = n_rows - n_test
    if pre < 1:
        raise UserError(f"test {n_test} rows leave no rows before the test part", f"{FIELD}.test")
    first_train = pre - (folds - 1) * stride - size - gap
    if first_train < 1:
        gap_text = f" after a gap of {gap}" if gap else ""
        need = f"{size} validation rows{gap_text}"
        fit = (pre - size - gap - 1) // stride + 1  # folds whose first one keeps a row
        if fit < 1 or folds == 1:
            where = f"{FIELD}.gap" if gap and pre - size >= 1 else f"{FIELD}.val"
            raise UserError(
                f"{need} leave no training rows out of the {pre} rows before the test part",
                where,
            )
        raise UserError(
            f"{folds} folds of {need}, {stride} rows apart, need more than the {pre} rows "
            f"before the test part (the first fold would train on {max(first_train, 0)} "
            f"rows); at most {fit} folds fit",
            f"{FIELD}.folds",
        )
    plan = []
    for i in range(folds):
        val_stop = pre - (folds - 1 - i) * stride
        val_start = val_stop - size
        plan.append(Fold(i, val_start - gap, val_start, val_stop))
    return FoldPlan(n_rows, n_test, tuple(plan))
