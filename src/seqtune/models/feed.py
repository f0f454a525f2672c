"""Windows as a model reads them, without materialising them: one matrix and start rows.

A part of look-back windows is a strided view of one scaled matrix (``data.windows``):
window ``k`` is ``matrix[starts[k] : starts[k] + steps]`` (``steps`` × features), in the
model's layout ``sample`` (``(steps, F)`` for ``layout: timesteps``, ``(1, steps × F)`` for
``window``). Turning such a view into a dense array or tensor costs ``look_back`` times the
data (about 14 KB a row on the drone stream at look_back 19, measured in issue 28); a
:class:`WindowFeed` keeps the matrix (rows × features) and the start rows, and the training
loops gather each batch's windows inside the compiled call (:func:`gather`). The windows,
their values and their order are exactly the view's.

Any other array of samples (n, *sample) is a feed too (:func:`as_feed`): one row per sample,
``steps`` 1, so code written against arrays keeps working with the same memory as before.

Examples
--------
>>> import numpy as np
>>> from numpy.lib.stride_tricks import sliding_window_view
>>> m = np.arange(12, dtype=np.float32).reshape(6, 2)
>>> x = sliding_window_view(m, 3, axis=0).transpose(0, 2, 1)[1:3]
>>> feed = as_feed(x)
>>> feed.steps, feed.starts.tolist(), feed.matrix.shape
(3, [0, 1], (4, 2))
>>> bool(np.array_equal(feed.take(np.array([1, 0])), x[[1, 0]]))
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from numpy.lib.stride_tricks import as_strided

#: Windows predicted in one call when a whole part is predicted (validation each epoch,
#: ``predict``): bounds the memory of a forward pass (a fused LSTM keeps steps × units × 7
#: floats a window) whatever the part's size. Measured on the drone stream (LSTM(64),
#: look_back 19): a validation pass of 8,192 windows held 518 MiB more than none, of 2,048
#: 174 MiB; predictions of the 22,000-row stream's parts in chunks of 1,024 gave the same
#: figures (``seqtune train --json`` identical) as in one call.
PREDICT_CHUNK = 1024


@dataclass(frozen=True)
class WindowFeed:
    """Windows ``matrix[starts[k] : starts[k] + steps]`` reshaped to ``sample``.

    ``matrix``: float32 (rows, features); ``starts``: int (n,); ``sample``: one window's
    shape as the model reads it (its size is ``steps × features``).
    """

    matrix: np.ndarray
    starts: np.ndarray
    steps: int
    sample: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n, *sample)``, as the materialised array would have."""
        return (len(self), *self.sample)

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype(np.float32)

    def take(self, index: np.ndarray) -> np.ndarray:
        """The windows ``index`` materialised (n_index, *sample), float32."""
        rows = np.asarray(self.starts)[np.asarray(index)][:, None] + np.arange(self.steps)
        return self.matrix[rows].reshape(len(rows), *self.sample)

    def chunks(self, size: int = PREDICT_CHUNK) -> list[WindowFeed]:
        """This feed cut into consecutive feeds of at most ``size`` windows (same matrix)."""
        n = len(self)
        return [
            WindowFeed(self.matrix, self.starts[i : i + size], self.steps, self.sample)
            for i in range(0, max(n, 1), size)
        ]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.take(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype)


def _consecutive_view(x: np.ndarray) -> tuple[np.ndarray, int] | None:
    """(matrix, steps) when ``x`` (n, steps, F) is a strided view of consecutive windows of
    one float32 matrix (window k+1 starts one row after window k; the matrix in C or
    Fortran order), else None."""
    if x.ndim != 3 or x.dtype != np.float32 or x.shape[0] < 2 or x.shape[1] < 2:
        return None
    n, steps, f = x.shape
    row, step, col = x.strides
    if row != step or row == 0:
        return None
    matrix = as_strided(x, shape=(n + steps - 1, f), strides=(step, col), writeable=False)
    return matrix, steps


def as_feed(x: np.ndarray | WindowFeed, layout: str = "timesteps") -> WindowFeed:
    """A :class:`WindowFeed` reading the same samples as ``x``.

    ``x``: a feed (returned as is), windows (n, look_back, F) — a strided view of
    consecutive windows is read from its matrix without a copy — or any array of samples
    (n, *sample), read one row per sample. ``layout: window`` reads windows (n, look_back,
    F) as (n, 1, look_back × F) (``builders.reshape_x``).
    """
    if isinstance(x, WindowFeed):
        return x
    x = np.asarray(x)
    view = _consecutive_view(x) if layout in ("timesteps", "window") else None
    if view is not None:
        matrix, steps = view
        f = x.shape[2]
        sample = (1, steps * f) if layout == "window" else (steps, f)
        return WindowFeed(matrix, np.arange(x.shape[0], dtype=np.int64), steps, sample)
    n = x.shape[0]
    if layout == "window" and x.ndim == 3:
        sample: tuple[int, ...] = (1, x.shape[1] * x.shape[2])
    else:
        sample = tuple(int(d) for d in x.shape[1:])
    flat = np.ascontiguousarray(x, dtype=np.float32).reshape(n, -1)
    return WindowFeed(flat, np.arange(n, dtype=np.int64), 1, sample)


def joined(first: WindowFeed, second: WindowFeed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One matrix holding both feeds' rows and each feed's starts into it: the matrix
    itself when both read the same one, else the two stacked (the second's starts moved).
    The feeds must read windows of one shape."""
    if first.steps != second.steps or first.sample != second.sample:
        raise ValueError("training and validation windows differ in shape")
    if _same_matrix(first.matrix, second.matrix):
        return first.matrix, first.starts, second.starts
    matrix = np.concatenate([first.matrix, second.matrix]).astype(np.float32, copy=False)
    return matrix, first.starts, second.starts + first.matrix.shape[0]


def compact(
    matrix: np.ndarray, train: np.ndarray, val: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Only the rows of ``matrix`` that the windows starting at ``train`` and ``val`` read
    (a float32 copy: a trial's part of the series, never the rows after it, such as
    the test part), and the starts moved into it."""
    both = [s for s in (train, val) if len(s)]
    if not both:
        return np.zeros((0, matrix.shape[1]), np.float32), train, val
    lo = min(int(s.min()) for s in both)
    hi = max(int(s.max()) for s in both) + steps
    rows = np.ascontiguousarray(matrix[lo:hi], dtype=np.float32)
    return rows, train - lo, val - lo


def _same_matrix(a: np.ndarray, b: np.ndarray) -> bool:
    return (
        a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def gather(matrix: Any, rows: Any, steps: Any, sample: Any) -> Any:
    """In graph: the windows starting at ``rows`` (any shape R) of ``matrix`` (.., rows,
    F), shaped ``R + sample``. ``matrix`` may carry a leading member axis matching ``rows``'
    first axis (``batch_dims=1``); ``sample`` a tensor or a tuple."""
    batch_dims = len(matrix.shape) - 2
    if isinstance(steps, int) and steps == 1:
        out = tf.gather(matrix, rows, batch_dims=batch_dims)
    else:
        out = tf.gather(matrix, rows[..., None] + tf.range(steps), batch_dims=batch_dims)
    lead = tf.shape(rows)
    return tf.reshape(out, tf.concat([lead, tf.cast(sample, tf.int32)], 0))


def window_of(windows: Any, part: str, layout: str) -> WindowFeed:
    """The feed of ``part`` of a :class:`~seqtune.data.windows.Windows` in ``layout``:
    read from its scaled matrix by start row, never materialised."""
    matrix, starts = windows.window_starts(part)
    f = matrix.shape[1]
    steps = windows.look_back
    sample = (1, steps * f) if layout == "window" else (steps, f)
    return WindowFeed(matrix, starts, steps, sample)
