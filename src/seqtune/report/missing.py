"""Why a part of a report is left out."""

from __future__ import annotations


class Unavailable(Exception):
    """A figure or table that cannot be made for this study; ``str()`` is the sentence the
    page shows in its place (and ``seqtune plot`` prints as its one line)."""
