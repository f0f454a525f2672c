"""Metrics computed on a whole set of predictions (never averaged over batches, except
``batch_f1`` which exists to show how far the original notebook's number was off).

Forecast metrics take true values and predictions in the original units. Classification
metrics take integer class indices and predicted probabilities: shape (n,) = P(class 1)
for two classes, (n, K) for K classes.
"""

from __future__ import annotations

import numpy as np


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    d = np.asarray(y_true, np.float64).ravel() - np.asarray(y_pred, np.float64).ravel()
    return float(np.sqrt(np.mean(d * d)))


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    d = np.asarray(y_true, np.float64).ravel() - np.asarray(y_pred, np.float64).ravel()
    return float(np.mean(np.abs(d)))


def _step_errors(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Errors of (n, H) forecasts, float64."""
    if np.ndim(y_true) != 2 or np.shape(y_true) != np.shape(y_pred):
        shapes = f"{np.shape(y_true)} and {np.shape(y_pred)}"
        raise ValueError(f"expected two arrays of shape (n, H), got {shapes}")
    return np.subtract(y_true, y_pred, dtype=np.float64)


def rmse_by_step(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """RMSE of each step h = 1..H of (n, H) forecasts, over the n windows: shape (H,)."""
    d = _step_errors(y_true, y_pred)
    return np.sqrt(np.einsum("ij,ij->j", d, d) / d.shape[0])


def mae_by_step(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """MAE of each step h = 1..H of (n, H) forecasts, over the n windows: shape (H,)."""
    d = _step_errors(y_true, y_pred)
    return np.abs(d).sum(axis=0) / d.shape[0]


def predicted_classes(proba: np.ndarray) -> np.ndarray:
    """Class indices from probabilities: threshold 0.5 for binary, argmax otherwise."""
    p = np.asarray(proba)
    if p.ndim == 2 and p.shape[1] > 1:
        return p.argmax(axis=1)
    return (p.ravel() >= 0.5).astype(np.int64)


def n_classes_of(y_true: np.ndarray, proba: np.ndarray) -> int:
    p = np.asarray(proba)
    k = p.shape[1] if p.ndim == 2 and p.shape[1] > 1 else 2
    return max(k, int(np.max(y_true)) + 1 if len(y_true) else k)


def confusion(y_true: np.ndarray, y_pred_cls: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrix, rows = true class, columns = predicted class."""
    idx = np.asarray(y_true, np.int64) * k + np.asarray(y_pred_cls, np.int64)
    return np.bincount(idx, minlength=k * k).reshape(k, k)


def _prf(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(np.float64)
    pred = cm.sum(axis=0).astype(np.float64)
    true = cm.sum(axis=1).astype(np.float64)
    precision = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def _binary_or_macro(values: np.ndarray, k: int) -> float:
    """Binary: the value for class 1; multi-class: the unweighted mean over classes."""
    return float(values[1]) if k == 2 else float(values.mean())


def f1(y_true: np.ndarray, proba: np.ndarray) -> float:
    k = n_classes_of(y_true, proba)
    return _binary_or_macro(_prf(confusion(y_true, predicted_classes(proba), k))[2], k)


def precision(y_true: np.ndarray, proba: np.ndarray) -> float:
    k = n_classes_of(y_true, proba)
    return _binary_or_macro(_prf(confusion(y_true, predicted_classes(proba), k))[0], k)


def recall(y_true: np.ndarray, proba: np.ndarray) -> float:
    k = n_classes_of(y_true, proba)
    return _binary_or_macro(_prf(confusion(y_true, predicted_classes(proba), k))[1], k)


def accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    return float(np.mean(predicted_classes(proba) == np.asarray(y_true)))


def _average_precision(truth: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision–recall curve as average precision (step-wise, no interpolation)."""
    positives = truth.sum()
    if positives == 0:
        return 0.0
    order = np.argsort(-score, kind="mergesort")
    s, t = score[order], truth[order]
    # one point per distinct score threshold
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(t)[last]
    fp = (last + 1) - tp
    prec = tp / (tp + fp)
    rec = tp / positives
    rec_prev = np.r_[0.0, rec[:-1]]
    return float(np.sum((rec - rec_prev) * prec))


def pr_auc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Average precision of class 1 (binary) or macro over classes (one-vs-rest)."""
    y = np.asarray(y_true, np.int64)
    p = np.asarray(proba, np.float64)
    if p.ndim == 2 and p.shape[1] > 1:
        return float(np.mean([_average_precision(y == c, p[:, c]) for c in range(p.shape[1])]))
    return _average_precision((y == 1).astype(np.float64), p.ravel())


def batch_f1(y_true: np.ndarray, proba: np.ndarray, batch_size: int) -> float:
    """The original notebook's ``f1_metric``: F1 per batch (class 1, 0 where undefined),
    averaged over batches. An approximation that differs from :func:`f1` on imbalanced data."""
    y = np.asarray(y_true)
    pc = predicted_classes(proba)
    scores = []
    for start in range(0, len(y), max(1, batch_size)):
        yt, yp = y[start : start + batch_size], pc[start : start + batch_size]
        tp = float(np.sum((yt == 1) & (yp == 1)))
        possible, predicted = float(np.sum(yt == 1)), float(np.sum(yp == 1))
        eps = 1e-7  # as keras.backend.epsilon() in the notebook
        p, r = tp / (predicted + eps), tp / (possible + eps)
        scores.append(2 * p * r / (p + r + eps))
    return float(np.mean(scores)) if scores else 0.0
