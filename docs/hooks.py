"""MkDocs hook: the CLI reference's options, rendered from seqtune's own argparse parser.

``<!-- cli-reference -->`` in a page becomes the ``--help`` of ``seqtune`` and of every
command, so the page cannot fall behind the parser. Nothing is fetched.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

MARKER = "<!-- cli-reference -->"
SRC = Path(__file__).resolve().parents[1] / "src"


def cli_reference() -> str:
    """Markdown: the top-level help, then one section per command with its ``--help``."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    from seqtune.cli import build_parser

    before = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal's width
    try:
        parser = build_parser()
        parts = ["```text", parser.format_help().rstrip(), "```", ""]
        for action in parser._subparsers._group_actions:  # the one subparsers action
            helps = {a.dest: a.help for a in action._choices_actions}
            for verb, command in action.choices.items():
                parts += [f"### seqtune {verb}", "", f"{helps.get(verb) or ''}", ""]
                parts += ["```text", command.format_help().rstrip(), "```", ""]
    finally:
        if before is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = before
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace the marker with the generated reference."""
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, cli_reference())
    return markdown
