"""Split arithmetic: part sizes, window counts per part, the stratified (leaky) split."""

from __future__ import annotations

import math

import numpy as np

PARTS = ("train", "val", "test")

STRATIFIED_WARNING = (
    "data.split.method: stratified splits overlapping windows at random, so windows in "
    "val/test share rows with training windows (leak)"
)


class LeakWarning(UserWarning):
    """A setting the user chose leaks information from val/test into training."""


def round_half_up(x: float) -> int:
    """``round`` as taught at school (Python's ``round`` goes to even on .5)."""
    return math.floor(x + 0.5)


def part_rows(n: int, size: float | int) -> int:
    """Rows of a part: an int is a number of rows, a float a fraction of ``n``."""
    if isinstance(size, int | np.integer) and not isinstance(size, bool):
        return int(size)
    return round_half_up(n * size)


def part_sizes(n: int, val: float | int, test: float | int) -> tuple[int, int, int]:
    """(train, val, test) counts: test = round(n*test) last, val = round(n*val) before it
    (or the given numbers of rows when val/test are integers)."""
    n_test = part_rows(n, test)
    n_val = part_rows(n, val)
    return n - n_val - n_test, n_val, n_test


def part_bounds(n: int, val: float | int, test: float | int) -> dict[str, tuple[int, int]]:
    """Row ranges ``[start, stop)`` of the chronological parts."""
    n_train, n_val, _ = part_sizes(n, val, test)
    return {
        "train": (0, n_train),
        "val": (n_train, n_train + n_val),
        "test": (n_train + n_val, n),
    }


def forecast_counts(
    bounds: dict[str, tuple[int, int]], first: int, horizon: int = 1
) -> dict[str, int]:
    """Windows per part when every origin ``t >= first`` (= lost rows + look_back) whose
    ``horizon`` target rows ``t .. t + horizon - 1`` all lie inside the part is used."""
    return {
        name: max(0, stop - horizon + 1 - max(start, first))
        for name, (start, stop) in bounds.items()
    }


def classify_counts(bounds: dict[str, tuple[int, int]], span: int) -> dict[str, int]:
    """Windows per part when a window (inputs and label) spans ``span`` rows inside its part."""
    return {name: max(0, stop - start - span + 1) for name, (start, stop) in bounds.items()}


def stratified_counts(n_windows: int, val: float, test: float) -> dict[str, int]:
    """Windows per part of a stratified split of ``n_windows`` windows."""
    n_train, n_val, n_test = part_sizes(max(0, n_windows), val, test)
    return {"train": n_train, "val": n_val, "test": n_test}


def _allocate(total: int, counts: np.ndarray) -> np.ndarray:
    """Split ``total`` over classes proportionally to ``counts`` (largest remainder)."""
    if counts.sum() == 0:
        return np.zeros_like(counts)
    quota = total * counts / counts.sum()
    take = np.floor(quota).astype(np.int64)
    rest = total - int(take.sum())
    if rest > 0:
        order = np.argsort(-(quota - take), kind="stable")
        take[order[:rest]] += 1
    return np.minimum(take, counts)


def stratified_class_counts(
    counts: np.ndarray, val: float | int, test: float | int
) -> dict[str, np.ndarray]:
    """Windows per class in each part of a stratified split of windows with ``counts`` per
    class: test first, then val, each proportional to the classes (largest remainder). The
    same for every seed (the seed picks which windows, never how many)."""
    counts = np.asarray(counts, dtype=np.int64)
    _, n_val, n_test = part_sizes(int(counts.sum()), val, test)
    test_k = _allocate(n_test, counts)
    val_k = _allocate(n_val, counts - test_k)
    return {"train": counts - test_k - val_k, "val": val_k, "test": test_k}


def stratified_split(
    labels: np.ndarray, val: float, test: float, seed: int
) -> dict[str, np.ndarray]:
    """Random window indices per part, class proportions kept; each part sorted (time order)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, inverse = np.unique(labels, return_inverse=True)
    # A random order, then grouped by class: position within the group is a random rank.
    perm = rng.permutation(labels.size)
    perm = perm[np.argsort(inverse[perm], kind="stable")]
    counts = np.bincount(inverse, minlength=classes.size)
    per_part = stratified_class_counts(counts, val, test)
    test_k, val_k = per_part["test"], per_part["val"]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(labels.size) - np.repeat(starts, counts)
    group = np.repeat(np.arange(classes.size), counts)
    is_test = rank < test_k[group]
    is_val = ~is_test & (rank < (test_k + val_k)[group])
    return {
        "train": np.sort(perm[~is_test & ~is_val]),
        "val": np.sort(perm[is_val]),
        "test": np.sort(perm[is_test]),
    }
