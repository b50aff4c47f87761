"""The whitespace every converter's text ends with."""

from __future__ import annotations

import re

_BLANK_LINES = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """No trailing spaces, no non-breaking spaces, at most one blank line in a row, stripped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ").split("\n")
    return _BLANK_LINES.sub("\n\n", "\n".join(line.rstrip() for line in lines)).strip()


def fenced(body: str, language: str = "") -> str:
    """A fenced block of ``body``, verbatim, its fence longer than any run of backticks inside it."""
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}{language}\n{body}\n{fence}"
