"""The one exception type a user sees.

This is a leaf module: every seqtune package may import it (it imports nothing of
seqtune itself), so that the CLI can turn any input mistake into one line and exit 2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class UserError(Exception):
    """A mistake in the user's input: spec, data file, command-line argument or study folder.

    ``field`` names where the mistake is (``space.units``, ``data.csv``, a file path);
    ``str(err)`` is the one line printed to the user: ``"<field>: <message>"``.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        return one_line(text)


def one_line(text: str) -> str:
    """``text`` with every character that could break the line (``\\n``, ``\\r``, other
    control characters, U+2028/U+2029) written as its escape, so that a user's value (a study
    name ``"abc\\n"``, a column named across two lines) cannot split the one error line."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def suggest_name(word: str, known: list[str] | tuple[str, ...] | set[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest known name, or ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_keys(raw: dict, known: list[str] | tuple[str, ...], field: str) -> None:
    """Refuse unknown keys in a spec mapping, suggesting the close name."""
    for key in raw:
        if key not in known:
            where = f"{field}.{key}" if field else str(key)
            raise UserError(
                f"unknown key{suggest_name(str(key), known)}; expected one of: {', '.join(known)}",
                where,
            )


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during (at most 20, no cycles)."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 20:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


class Problems(UserError):
    """Several independent mistakes found in one reading of the input (``seqtune check``
    lists them all). It reads as its first problem (``str``, ``field``, ``message``), the
    one a command that refuses at once prints; ``problems`` holds every one, in the order
    they were found.

    Examples
    --------
    >>> err = Problems([UserError("bad", "a"), UserError("worse", "b")])
    >>> str(err), [str(p) for p in err.problems]
    ('a: bad', ['a: bad', 'b: worse'])
    """

    def __init__(self, problems: list[UserError]) -> None:
        first = problems[0]
        super().__init__(first.message, first.field)
        self.problems = problems


def problems_of(err: UserError) -> list[UserError]:
    """Every problem an error holds: those of :class:`Problems`, else the error itself."""
    return list(err.problems) if isinstance(err, Problems) else [err]


#: What :class:`Gather` returns for a part that failed (its dependents are skipped).
FAILED: Any = type("Failed", (), {"__repr__": lambda self: "FAILED"})()


class Gather:
    """Runs independent checks, keeping each one's UserError instead of stopping at the
    first; :meth:`done` then raises the one problem, or :class:`Problems` with them all.

    Examples
    --------
    >>> gather = Gather()
    >>> gather(int, "12")
    12
    >>> def bad(x):
    ...     raise UserError("not a number", x)
    >>> gather(bad, "seed") is FAILED
    True
    >>> try:
    ...     gather.done()
    ... except UserError as err:
    ...     print(err)
    seed: not a number
    """

    def __init__(self) -> None:
        self.found: list[UserError] = []

    def __call__(self, check: Callable[..., Any], *args: Any) -> Any:
        """``check(*args)``, or :data:`FAILED` when it raised a UserError (kept)."""
        try:
            return check(*args)
        except UserError as err:
            self.found.extend(problems_of(err))
            return FAILED

    def done(self) -> None:
        """Raise what was found: the one UserError itself, or :class:`Problems`."""
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise Problems(self.found)
