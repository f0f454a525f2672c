"""Baselines on the synthetic drone de-authentication stream.

Generates the default stream (22,000 rows, seed 0), splits it chronologically (train: the
first 70 % of the rows, test: the last 30 %), fits a standard scaler on the training rows
only, and prints F1 (class 1 = attack), accuracy, precision and recall of:

- the majority class of the training rows, predicted for every test row;
- logistic regression on one row (the row's own features);
- logistic regression on a flattened window of the last 5 rows (rows t-4 .. t predict
  the class of row t; windows never straddle the split).

The ``class`` column is never an input. Run::

    PYTHONPATH=src python benchmarks/drone_baselines.py [--rows N] [--seed S] [--window W]

Needs scikit-learn (the ``test`` extra); no TensorFlow.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
from sklearn.preprocessing import StandardScaler

from seqtune.datasets import FEATURE_COLUMNS, LABEL_COLUMN, generate_drone_deauth

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def windows(x: FloatArray, y: IntArray, width: int) -> tuple[FloatArray, IntArray]:
    """Rows t-width+1 .. t flattened (oldest first) as the features of row t's label."""
    view = np.lib.stride_tricks.sliding_window_view(x, (width, x.shape[1]))[:, 0]
    return view.reshape(view.shape[0], -1), y[width - 1 :]


def scores(y_true: IntArray, y_pred: IntArray) -> dict[str, float]:
    return {
        "f1": float(f1_score(y_true, y_pred, pos_label=1, zero_division=0.0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(precision_score(y_true, y_pred, pos_label=1, zero_division=0.0)),
        "recall": float(recall_score(y_true, y_pred, pos_label=1, zero_division=0.0)),
    }


def baselines(
    n_rows: int = 22000, seed: int = 0, width: int = 5, train_fraction: float = 0.7
) -> dict[str, dict[str, float]]:
    """Scores of the three baselines on the last ``1 - train_fraction`` of the stream."""
    frame = generate_drone_deauth(n_rows=n_rows, seed=seed)
    x = frame[list(FEATURE_COLUMNS)].to_numpy(dtype=np.float64)
    y = frame[LABEL_COLUMN].to_numpy(dtype=np.int64)
    cut = int(round(train_fraction * len(frame)))
    scaler = StandardScaler().fit(x[:cut])  # training rows only
    x_train, x_test = scaler.transform(x[:cut]), scaler.transform(x[cut:])
    y_train, y_test = y[:cut], y[cut:]

    results: dict[str, dict[str, float]] = {}
    majority = int(np.bincount(y_train, minlength=2).argmax())
    results["majority class"] = scores(y_test, np.full_like(y_test, majority))

    one_row = LogisticRegression(solver="newton-cholesky", max_iter=200).fit(x_train, y_train)
    results["logistic regression, 1 row"] = scores(y_test, one_row.predict(x_test))

    wx_train, wy_train = windows(x_train, y_train, width)
    wx_test, wy_test = windows(x_test, y_test, width)
    windowed = LogisticRegression(solver="newton-cholesky", max_iter=200).fit(wx_train, wy_train)
    results[f"logistic regression, {width}-row window"] = scores(wy_test, windowed.predict(wx_test))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=22000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=int, default=5)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = baselines(n_rows=args.rows, seed=args.seed, width=args.window)
    print(
        f"drone de-auth stream: {args.rows} rows, seed {args.seed}, "
        "chronological split 70 % train / 30 % test"
    )
    print(f"{'baseline':<34}{'F1':>7}{'accuracy':>10}{'precision':>11}{'recall':>8}")
    for name, s in results.items():
        print(
            f"{name:<34}{s['f1']:>7.3f}{s['accuracy']:>10.3f}"
            f"{s['precision']:>11.3f}{s['recall']:>8.3f}"
        )
    print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
