"""Look-back windows, built vectorised, and the way back to original units.

All windows of one (look_back, transform) are strided views of one scaled matrix of shape
(rows, features): ``x[k]`` is ``matrix[s_k : s_k + look_back]``. The x arrays are therefore
read-only (copy them with ``np.array`` to write); building them costs microseconds and no
memory beyond the matrix, whatever the look_back.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from seqtune.data import transforms
from seqtune.data.scalers import Scaler
from seqtune.data.seasonal import Season
from seqtune.data.split import PARTS, STRATIFIED_WARNING, LeakWarning, stratified_split
from seqtune.errors import UserError


@dataclass
class Windows:
    """Model inputs and targets of the three parts, and how to map predictions back.

    Forecast: ``y_*`` is the scaled transformed target ``z_t`` (float32), shape (n,) for
    ``horizon`` 1 and (n, horizon) otherwise (steps ``t .. t + horizon - 1``). Classify:
    ``y_*`` is the class index (int32) into ``classes`` (the sorted original labels).
    ``rows[part]`` is the 0-based table row of each window's (first) target (or label); the
    forecast origin, the last row the inputs see, is the row before it.
    """

    task: str
    look_back: int
    transform: str
    n_features: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sample_weight_train: np.ndarray | None = None
    classes: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    feature_scaler: Scaler | None = None
    target_scaler: Scaler | None = None
    rows: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    target_values: np.ndarray | None = field(default=None, repr=False)
    z: np.ndarray | None = field(default=None, repr=False)
    period: int | None = None
    horizon: int = 1
    target_col: int | None = None
    matrix: np.ndarray | None = field(default=None, repr=False)
    starts: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    season: Season | None = field(default=None, repr=False)

    @property
    def n_classes(self) -> int | None:
        """Number of classes (classify), None for a forecast."""
        return None if self.classes is None else int(self.classes.size)

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if name not in PARTS:
            raise ValueError(f"unknown part {name!r}; expected one of {PARTS}")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def window_starts(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(matrix, starts)``: the scaled float32 matrix (rows, features) the windows of
        part ``name`` are read from and the row each of its windows starts at, so that
        ``x_name[k]`` equals ``matrix[starts[k] : starts[k] + look_back]``. What the
        training loops gather batches from (:mod:`seqtune.models.feed`), so no part is
        ever materialised."""
        self.part(name)
        if self.matrix is None or name not in self.starts:
            raise ValueError("these windows do not record their matrix and start rows")
        return self.matrix, self.starts[name]

    def target_rows(self, name: str) -> np.ndarray:
        """0-based table row of each window's target (forecast) or label (classify)."""
        self.part(name)
        return self.rows[name]

    def target_scaled(self, name: str) -> np.ndarray:
        """Forecast: the true scaled ``z`` in float64 (``y_*`` is the same rounded to float32)."""
        if self.task != "forecast" or self.z is None or self.target_scaler is None:
            raise ValueError("target_scaled is defined for a forecast only")
        return self.target_scaler.transform(self.z[self._horizon_rows(self.target_rows(name))])

    def _horizon_rows(self, rows: np.ndarray) -> np.ndarray:
        """Target rows: ``rows`` for horizon 1, else (n, H) rows ``t + h``."""
        if self.horizon == 1:
            return rows
        return rows[:, None] + np.arange(self.horizon)

    def to_original(self, part: str, y_pred: np.ndarray) -> np.ndarray:
        """Predictions of ``part`` in original units (forecast) or original labels (classify).

        Forecast: ``y_pred`` holds scaled ``z`` (any shape with one value per window, or
        (n, horizon)); the result is float64, rebuilt with the true values before each
        origin (and, past the origin, the window's own forecasts), of shape (n,) or (n, H).
        Classify: ``y_pred`` is either class indices (integer array, shape (n,)),
        probabilities of class index 1 (float, shape (n,) or (n, 1), binary only; >= 0.5 is
        class 1), or class probabilities of shape (n, K) (argmax). Returns ``classes[index]``.
        """
        rows = self.target_rows(part)
        pred = np.asarray(y_pred)
        if pred.shape[0] != rows.size:
            raise ValueError(f"{part}: got {pred.shape[0]} predictions for {rows.size} windows")
        if self.task == "forecast":
            assert self.target_scaler is not None and self.target_values is not None
            if self.horizon > 1:
                z = self.target_scaler.inverse(pred.reshape(rows.size, self.horizon))
                return transforms.inverse(
                    self.transform, z, self.target_values, rows, self.period, self.season
                )
            z = self.target_scaler.inverse(pred.reshape(rows.size))
            return transforms.inverse(
                self.transform, z, self.target_values, rows, self.period, self.season
            )
        assert self.classes is not None
        k = self.classes.size
        if pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]
        if pred.ndim == 1 and np.issubdtype(pred.dtype, np.integer):
            index = pred.astype(np.int64)
        elif pred.ndim == 1:
            if k != 2:
                raise ValueError(f"1-D probabilities need 2 classes, this task has {k}")
            index = (pred >= 0.5).astype(np.int64)
        elif pred.ndim == 2 and pred.shape[1] == k:
            index = np.argmax(pred, axis=1)
        else:
            raise ValueError(f"cannot read predictions of shape {pred.shape} for {k} classes")
        return self.classes[index]

    def truth(self, part: str) -> np.ndarray:
        """What the metrics compare ``part``'s predictions against: the target in original
        units (forecast), class indices (classify)."""
        if self.task == "forecast":
            return self.true_original(part)
        return np.asarray(self.part(part)[1], np.int64)

    def true_original(self, part: str) -> np.ndarray:
        """The true target of ``part``: original units (float64) or original labels."""
        rows = self.target_rows(part)
        if self.task == "forecast":
            assert self.target_values is not None
            return self.target_values[self._horizon_rows(rows)].copy()
        assert self.classes is not None
        return self.classes[getattr(self, f"y_{part}").astype(np.int64)]

    def input_after(self, values: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The model input of the window after the last row of ``values`` (rows, F) with
        target ``y``, scaled with this training's scalers: shape (1, look_back, F)."""
        assert self.feature_scaler is not None and self.task == "forecast"
        matrix = np.array(values, dtype=np.float64)
        if self.target_col is not None:
            matrix[:, self.target_col] = transforms.forward(
                self.transform, y, self.period, self.season
            )
        last = matrix[-self.look_back :]
        return self.feature_scaler.transform(last).astype(np.float32)[None]

    def forecast_after(self, y_pred: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The ``horizon`` values in original units after the last row of ``y``, from the
        raw model output of :meth:`input_after`'s window."""
        assert self.target_scaler is not None
        z = self.target_scaler.inverse(np.asarray(y_pred).reshape(1, self.horizon))
        y = np.asarray(y, np.float64)
        rows = np.array([len(y)])
        return transforms.inverse(self.transform, z, y, rows, self.period, self.season)[0]


#: Rows scaled at a time into the float32 matrix (bounds the float64 temporaries).
SCALE_CHUNK_ROWS = 1 << 16


def scaled_matrix(scaler: Scaler, matrix: np.ndarray) -> np.ndarray:
    """``scaler.transform(matrix)`` as a C-ordered float32 array, computed a block of rows
    at a time: the same values (the transform is element-wise) without a float64 copy of the
    whole series, and C order so that each window's rows are contiguous (what the
    training loops gather, :mod:`seqtune.models.feed`)."""
    out = np.empty(matrix.shape, np.float32, order="C")
    for start in range(0, matrix.shape[0], SCALE_CHUNK_ROWS):
        block = slice(start, start + SCALE_CHUNK_ROWS)
        out[block] = scaler.transform(matrix[block])
    return out


def _views(matrix: np.ndarray, look_back: int) -> np.ndarray:
    """All windows of ``matrix`` (rows, features): shape (rows - look_back + 1, look_back, F)."""
    return sliding_window_view(matrix, look_back, axis=0).transpose(0, 2, 1)


def build_forecast(
    values: np.ndarray,
    names: tuple[str, ...],
    target_col: int | None,
    y: np.ndarray,
    *,
    transform: str,
    period: int | None,
    look_back: int,
    bounds: dict[str, tuple[int, int]],
    scaler: str,
    horizon: int = 1,
) -> Windows:
    """Forecast windows; ``values`` (rows, F) are the raw feature columns.

    The target's own column (``target_col``) is replaced by the transformed ``z``. Scalers are
    fitted on the training rows only: ``z_t`` for ``d <= t < n_train``, other columns on
    ``t < n_train``. A window for target row ``t`` has inputs ``t - L .. t - 1`` (all at
    ``>= d``) and belongs to the part holding row ``t``. With ``horizon`` H its targets are
    rows ``t .. t + H - 1``, all inside that part (the inputs may reach back across).
    """
    d = transforms.lost_rows(transform, period)
    n_train = bounds["train"][1]
    season = transforms.fit_season(transform, y, period, n_train)
    z = transforms.forward(transform, y, period, season)
    target_scaler = Scaler.fit(scaler, z[d:n_train, None])

    matrix = np.array(values, dtype=np.float64)
    feature_scaler = Scaler.fit(scaler, matrix[:n_train])
    if target_col is not None:
        matrix[:, target_col] = z
        offset, scale = feature_scaler.offset.copy(), feature_scaler.scale.copy()
        offset[target_col] = target_scaler.offset[0]
        scale[target_col] = target_scaler.scale[0]
        feature_scaler = Scaler(scaler, offset, scale)
    scaled = scaled_matrix(feature_scaler, matrix)
    z_scaled = target_scaler.transform(z).astype(np.float32)
    views = _views(scaled, look_back)

    first = d + look_back
    parts: dict[str, np.ndarray] = {}
    rows: dict[str, np.ndarray] = {}
    starts: dict[str, np.ndarray] = {}
    # targets of origin t: z_scaled[t : t + H] (a strided view, like the inputs)
    targets = sliding_window_view(z_scaled, horizon) if horizon > 1 else z_scaled
    for name, (start, stop) in bounds.items():
        end = stop - horizon + 1  # the last origin's targets end at the part's last row
        t0 = min(max(start, first), max(end, start))
        end = max(end, t0)
        parts[f"x_{name}"] = views[t0 - look_back : end - look_back]
        parts[f"y_{name}"] = targets[t0:end]
        rows[name] = np.arange(t0, end)
        starts[name] = rows[name] - look_back
    return Windows(
        task="forecast",
        look_back=look_back,
        transform=transform,
        n_features=matrix.shape[1],
        **parts,
        feature_names=names,
        feature_scaler=feature_scaler,
        target_scaler=target_scaler,
        rows=rows,
        target_values=np.asarray(y, dtype=np.float64),
        z=z,
        period=period,
        horizon=horizon,
        target_col=target_col,
        matrix=scaled,
        starts=starts,
        season=season,
    )


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """``n / (K * count_k)`` per window, K = classes present in ``y`` (mean weight is 1)."""
    present, index, counts = np.unique(y, return_inverse=True, return_counts=True)
    return (y.size / (present.size * counts[index])).astype(np.float32)


def build_classify(
    values: np.ndarray,
    names: tuple[str, ...],
    labels: np.ndarray,
    classes: np.ndarray,
    *,
    look_back: int,
    label_at: str,
    bounds: dict[str, tuple[int, int]],
    method: str,
    val: float,
    test: float,
    seed: int,
    scaler: str,
    class_weight: str,
    first_row: np.ndarray,
) -> Windows:
    """Classification windows; ``labels`` are class indices (0..K-1) per row.

    Window ``s`` has inputs ``s .. s + L - 1`` and its label at row ``s + L`` (``next``) or
    ``s + L - 1`` (``last``). Chronological: a window lies entirely inside one part.
    Stratified: windows over the whole series, split at random by label (warns: leak).
    ``first_row`` gives the 1-based CSV row number of each table row, for messages.
    """
    matrix = np.asarray(values, dtype=np.float64)
    n = matrix.shape[0]
    off = 1 if label_at == "next" else 0
    span = look_back + off
    index: dict[str, np.ndarray] = {}
    if method == "stratified":
        warnings.warn(STRATIFIED_WARNING, LeakWarning, stacklevel=3)
        starts = np.arange(n - span + 1)
        index = stratified_split(labels[starts + look_back - 1 + off], val, test, seed)
        cover = np.zeros(n + 1, dtype=np.int64)
        np.add.at(cover, index["train"], 1)
        np.add.at(cover, index["train"] + look_back, -1)
        fit_rows = np.cumsum(cover[:n]) > 0
    else:
        for name, (start, stop) in bounds.items():
            index[name] = np.arange(start, max(start, stop - span + 1))
        fit_rows = np.zeros(n, dtype=bool)
        fit_rows[bounds["train"][0] : bounds["train"][1]] = True

    feature_scaler = Scaler.fit(scaler, matrix[fit_rows])
    scaled = scaled_matrix(feature_scaler, matrix)
    views = _views(scaled, look_back)
    parts: dict[str, np.ndarray] = {}
    rows: dict[str, np.ndarray] = {}
    begins: dict[str, np.ndarray] = {}
    for name in PARTS:
        s = index[name]
        begins[name] = np.asarray(s, np.int64)
        if method == "stratified":
            parts[f"x_{name}"] = views[s]
        else:  # a contiguous range: keep the strided view
            parts[f"x_{name}"] = views[s[0] : s[-1] + 1] if s.size else views[:0]
        rows[name] = s + look_back - 1 + off
        parts[f"y_{name}"] = labels[rows[name]].astype(np.int32)

    y_train = parts["y_train"]
    if np.unique(y_train).size < 2:
        train_rows = rows["train"]
        raise UserError(
            f"every training window (labels at rows {int(first_row[train_rows[0]])}"
            f"-{int(first_row[train_rows[-1]])}) has class {classes[y_train[0]]}: the model "
            "cannot learn to tell classes apart; change data.split",
            "data.split",
        )
    weights = balanced_weights(y_train) if class_weight == "balanced" else None
    return Windows(
        task="classify",
        look_back=look_back,
        transform="none",
        n_features=matrix.shape[1],
        **parts,
        sample_weight_train=weights,
        classes=classes,
        feature_names=names,
        feature_scaler=feature_scaler,
        rows=rows,
        matrix=scaled,
        starts=begins,
    )
