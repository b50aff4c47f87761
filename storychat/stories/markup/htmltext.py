"""HTML (Azure DevOps' Description and Acceptance Criteria fields) as plain, readable text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from storychat.stories.markup.tidy import fenced, tidy

_LINES = {"address", "article", "aside", "dd", "div", "dl", "dt", "footer", "header", "hr", "li", "main", "nav", "section", "tr"}
_PARAGRAPHS = {"blockquote", "ol", "p", "pre", "table", "ul", "h1", "h2", "h3", "h4", "h5", "h6"}
_DROPPED = {"script", "style", "template", "title"}
_SPACES = re.compile(r"\s+")


@dataclass
class _Span:
    """An open element whose text is rewritten when it closes: a link, a quote, preformatted text."""

    tag: str
    start: int
    href: str = ""


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.spans: list[_Span] = []
        self.lists: list[int | None] = []  # an <ol>'s count so far, None for a <ul>
        self.cells = 0
        self.dropping = 0
        self.newlines = 0  # how many newlines the text so far ends with
        self.fresh = True  # at the start of a line or a list item: leading spaces go

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        if tag in _DROPPED:
            self.dropping += 1
        elif tag == "br":
            self.emit("\n")
        elif tag == "img":
            self.emit(f"[image: {found.get('alt') or found.get('src', '')}]")
        elif tag in ("td", "th"):
            self.emit(" | " if self.cells else "")
            self.cells += 1
        else:
            self.block(tag)
            self.open(tag, found)

    def open(self, tag: str, found: dict[str, str]) -> None:
        if tag in ("ul", "ol"):
            self.lists.append(0 if tag == "ol" else None)
        elif tag == "li":
            self.bullet()
        elif tag == "tr":
            self.cells = 0
        elif tag in ("a", "blockquote", "pre"):
            self.spans.append(_Span(tag, len(self.out), found.get("href", "")))
        elif re.fullmatch(r"h[1-6]", tag):
            self.emit("#" * int(tag[1]) + " ")
            self.fresh = True

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropping = max(0, self.dropping - 1)
            return
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if any(span.tag == tag for span in self.spans):
            while (span := self.spans.pop()).tag != tag:
                pass
            self.rewrite(span)
        self.block(tag)

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        if not any(span.tag == "pre" for span in self.spans):
            data = _SPACES.sub(" ", data)
            data = data.lstrip() if self.fresh else data
        self.emit(data)

    def block(self, tag: str) -> None:
        if tag in _PARAGRAPHS and not self.lists:
            self.end_lines(2)
        elif tag in _LINES or tag in _PARAGRAPHS:
            self.end_lines(1)

    def end_lines(self, count: int) -> None:
        """Let the text so far end with ``count`` newlines: one ends a line, two a paragraph."""
        if self.out:
            self.emit("\n" * (count - self.newlines))

    def bullet(self) -> None:
        depth = max(len(self.lists), 1)
        if self.lists and self.lists[-1] is not None:
            self.lists[-1] += 1
            marker = f"{self.lists[-1]}. "
        else:
            marker = "- "
        self.emit("  " * (depth - 1) + marker)
        self.fresh = True

    def rewrite(self, span: _Span) -> None:
        inside = "".join(self.out[span.start :])
        del self.out[span.start :]
        if span.tag == "pre":
            self.emit(fenced(inside.strip("\n")))
        elif span.tag == "blockquote":
            self.emit("\n".join("> " + line if line.strip() else line for line in inside.strip("\n").split("\n")))
        else:
            self.emit(_linked(inside, span.href))

    def emit(self, text: str) -> None:
        if text:
            self.out.append(text)
            self.fresh = text.endswith("\n")
            stripped = text.rstrip("\n")
            self.newlines = self.newlines + len(text) if not stripped else len(text) - len(stripped)


def _linked(text: str, href: str) -> str:
    """A link's text and its address: "text (url)", or the address alone where the text is (part of) it."""
    shown = text.strip()
    if not href or href.startswith(("#", "javascript:")) or shown == href:
        return text
    if not shown or href.startswith(shown.rstrip(".…")):
        return href
    return f"{text} ({href})"


def from_html(text: str) -> str:
    """HTML as plain text: blocks on lines of their own, lists as "- " items, links as "text (url)"."""
    reader = _Reader()
    try:
        reader.feed(text)
        reader.close()
    except AssertionError:  # html.parser's answer to a malformed "<![" section
        return tidy(text)
    return tidy("".join(reader.out))
