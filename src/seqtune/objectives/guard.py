"""Calling a user objective so that nothing it does can take the study down with it.

A user objective is arbitrary Python. Whatever goes wrong inside one call — it raises,
calls ``sys.exit`` or ``os._exit``, returns something that is not a number, or never
returns — becomes one :class:`~seqtune.errors.UserError` naming the function (exit 2 at the
command line: the spec names a broken function). A bug in it would fail every trial alike,
so the study stops rather than failing trial after trial.

* ``sys.exit`` raises ``SystemExit``, which is not an ``Exception``: caught explicitly.
* ``os._exit`` cannot be caught, so for the duration of the call ``os._exit`` is replaced by
  a function that raises (a module that bound ``from os import _exit`` at import time
  escapes this). seqtune's own code that must really exit keeps :data:`real_exit`.
* A call longer than ``timeout`` seconds is stopped by ``SIGALRM`` (``setitimer``), whose
  handler raises in the user's code. Only possible from the main thread; elsewhere the call
  runs without a limit. The previous handler and timer are restored afterwards.

While the call runs, :func:`in_user_code` is true: the stop-request handler
(``seqtune.search.signals``) then raises at once instead of waiting for the next epoch
boundary, since pure Python code is a safe place to raise in.

This module never imports TensorFlow (the spec check at launch uses it).
"""

from __future__ import annotations

import numbers
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import numpy as np

from seqtune.errors import UserError

DEFAULT_TIMEOUT = 60.0  # seconds one call of a user objective may take

real_exit = os._exit  # the process's real os._exit, whatever is patched meanwhile

_depth = 0  # > 0 while a user objective runs in this process's main thread


def in_user_code() -> bool:
    """Whether the main thread is inside a user objective right now."""
    return _depth > 0


class _Exited(BaseException):
    """``os._exit`` called by a user objective (a BaseException: the user's own
    ``except Exception`` must not swallow it)."""

    def __init__(self, code: Any) -> None:
        super().__init__(code)
        self.code = code


class _TimedOut(BaseException):
    """The user objective ran past its time limit."""


def _raising_exit(code: Any = 0, *args: Any) -> NoReturn:
    raise _Exited(code)


def _on_alarm(signum: int, frame: Any) -> None:
    raise _TimedOut()


@contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    old_handler = signal.signal(signal.SIGALRM, _on_alarm)
    start = time.monotonic()
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay > 0:  # someone else's timer: give it back what is left of it
            left = max(old_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, old_interval)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:200]


def as_number(result: Any) -> float | None:
    """The float a user objective returned, or None if it is not a real number."""
    if isinstance(result, np.ndarray) and result.ndim == 0:
        result = result.item()
    if isinstance(result, bool | np.bool_) or not isinstance(result, numbers.Real):
        return None
    return float(result)


def call_user(
    fn: Callable[..., Any],
    name: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    timeout: float | None = DEFAULT_TIMEOUT,
    field: str = "objective",
) -> float:
    """``fn(y_true, y_pred)`` as a float; UserError (one line naming ``name``) otherwise.

    A stop request (``KeyboardInterrupt``, seqtune's ``Interrupted``) passes through."""
    global _depth
    who = f"user objective {name}"
    main = threading.current_thread() is threading.main_thread()
    saved_exit = os._exit
    os._exit = _raising_exit
    if main:
        _depth += 1
    try:
        try:
            with _time_limit(timeout):
                result = fn(y_true, y_pred)
        finally:
            if main:
                _depth -= 1
            os._exit = saved_exit
    except _TimedOut:
        raise UserError(
            f"{who} did not return within {timeout:g} s (objective.timeout)", field
        ) from None
    except _Exited as exc:
        raise UserError(f"{who} called os._exit({exc.code!r})", field) from None
    except SystemExit as exc:
        raise UserError(f"{who} called sys.exit({exc.code!r})", field) from None
    except Exception as exc:
        raise UserError(
            f"{who} raised {type(exc).__name__}: {_first_line(str(exc))}", field
        ) from None
    value = as_number(result)
    if value is None:
        shown = _first_line(repr(result))[:80]
        raise UserError(f"{who} returned {shown} ({type(result).__name__}), not a number", field)
    return value


def guarded(
    fn: Callable[..., Any], name: str, timeout: float | None = DEFAULT_TIMEOUT
) -> Callable[[np.ndarray, np.ndarray], float]:
    """``fn`` behind :func:`call_user`, as a metric function."""

    def call(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return call_user(fn, name, y_true, y_pred, timeout)

    return call


def sample_pair(task: str, n_classes: int = 2, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A small pair of arrays of the kind a user objective receives during a study.

    forecast: positive, non-constant floats (original units) and predictions near them;
    classify: class indices (int64) and probabilities — a vector for two classes (the
    sigmoid head), an ``(n, k)`` matrix whose rows sum to 1 for more. Every class appears
    in both the truth and the predicted classes."""
    rng = np.random.default_rng(0)
    if task == "forecast":
        y_true = 100.0 + 10.0 * np.sin(np.arange(n, dtype=np.float64)) + np.arange(n)
        return y_true, y_true + rng.normal(0.0, 3.0, n)
    k = max(int(n_classes), 2)
    y_true = np.arange(n, dtype=np.int64) % k
    if k == 2:
        p = np.where(y_true == 1, 0.8, 0.2) + rng.uniform(-0.15, 0.15, n)
        p[:2] = 1.0 - p[:2]  # a couple of mistakes
        return y_true, p.astype(np.float32)
    logits = rng.normal(0.0, 1.0, (n, k))
    logits[np.arange(n), y_true] += 2.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y_true, probs.astype(np.float32)


def probe(
    fn: Callable[..., Any],
    name: str,
    task: str,
    n_classes: int = 2,
    timeout: float | None = DEFAULT_TIMEOUT,
) -> float:
    """Call a user objective once on :func:`sample_pair`: UserError if it raises, exits,
    hangs past ``timeout``, or returns anything but a number. NaN and infinity are numbers
    here: an objective may well be undefined on a small fake sample (a correlation, a
    ratio), and during the study an epoch whose objective is not finite is skipped, a trial
    with no finite epoch failed with that reason."""
    return call_user(fn, name, *sample_pair(task, n_classes), timeout=timeout)
