"""Jira wiki markup (Server, Data Center and Cloud CSV exports) as plain, readable text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from storychat.stories.markup.htmltext import from_html
from storychat.stories.markup.tidy import fenced, tidy

# {code}, {noformat} and {html} hold text that no other markup applies to; the first closer ends them.
_VERBATIM = re.compile(r"\{(code|noformat|html)(?::([^}\n]*))?\}", re.I)
_CLOSER = {kind: re.compile(rf"\{{{kind}\}}", re.I) for kind in ("code", "noformat", "html")}
_LANGUAGE = re.compile(r"[\w+#.-]+")

# Descriptions exported without newlines (GPT2SP's CSVs): a line break became two spaces, a
# blank line four. Two spaces only break a line before markup that needs a line of its own.
_FOLDED_BLANK = re.compile(r" {4,}")
_FOLDED_BREAK = re.compile(r" {3}| {2}(?=h[1-6]\.|bq\. |(?:[*#]+|-) |\d+[.)] |\||\{(?:quote|panel))")
_FOLDED_HEADING_END = re.compile(r"^([ \t]*h[1-6]\.[^\n]*?) {2}", re.M)

_BLOCK_MACRO = re.compile(r"\{(quote|panel)(?::([^}\n]*))?\}", re.I)
_AROUND_BLOCK_MACRO = re.compile(r"[ \t]*(\{(?:quote|panel)(?::[^}\n]*)?\})[ \t]*", re.I)
_HEADING = re.compile(r"h([1-6])\.[ \t]*(.*)")
_BLOCKQUOTE = re.compile(r"bq\.[ \t]+(.*)")
_ITEM = re.compile(r"([*#]+|-)[ \t]+(.*)")
_CELL_BORDER = re.compile(r"\|\|?")

_EFFECTS = {"bold": "*", "italic": "_", "strike": "-", "under": "+", "sup": "^", "sub": "~", "cite": "??"}


def _effect(mark: str) -> str:
    """An effect opens after a non-word and closes before one, so ``2*3*4`` and ``my_file_name`` stay.
    Strikes open on a word (not ``->``), and super- and subscripts hold no space (not ``~/.android``)."""
    m = re.escape(mark)
    opens = r"(?=\w)" if mark == "-" else rf"(?![\s{m}])"
    body = rf"[^\s{m}]+?" if mark in "^~" else rf".*?[^\s{m}\\]"
    return rf"(?<![\w{m}]){m}{opens}{body}{m}(?![\w{m}>])"


_IMAGE_OPTIONS = r"\|(?i:thumbnail|width|height|align|border|alt|vspace|hspace)"
_INLINE = re.compile(
    "|".join(
        [
            r"(?P<escape>\\[-*_+^~?{}\[\]|!])",
            r"(?P<url>\b[a-zA-Z][\w+.-]*://[^\s<>\"]+)",
            r"(?P<mono>\{\{.+?\}\})",
            r"(?P<link>\[[^\[\]\n]+\])",
            rf"(?P<image>![^!\s|][^!\n|]*?(?:\.(?i:png|jpe?g|gif|bmp|svg|webp|tiff?)(?:\|[^!\n]*)?|{_IMAGE_OPTIONS}[^!\n]*)!)",
            r"(?P<macro>\{(?i:color|anchor)(?::[^}\n]*)?\})",
            *(f"(?P<{name}>{_effect(mark)})" for name, mark in _EFFECTS.items()),
        ]
    )
)
_DEEPEST = 16  # effects nested deeper than this keep their markers
_BARE_LINK = re.compile(r"[~#^]\S+|[a-zA-Z][\w+.-]*:\S+")


@dataclass(frozen=True)
class _Verbatim:
    kind: str
    params: str
    body: str

    def render(self, folded: bool) -> str:
        body = self.body.strip() if folded else re.sub(r"\A\s*\n", "", self.body).rstrip()
        if self.kind == "html":
            return from_html(body)
        if not body:
            return ""
        language, title = _language_and_title(self.params) if self.kind == "code" else ("", "")
        return f"{title}\n{fenced(body, language)}" if title else fenced(body, language)


def _language_and_title(params: str) -> tuple[str, str]:
    """``java``, ``lang=javascript|title=app.js``, ``title=Foo.java|borderStyle=solid``."""
    language = title = ""
    for part in params.split("|"):
        key, equals, value = (s.strip() for s in part.partition("="))
        if not equals and _LANGUAGE.fullmatch(key):
            language = key
        elif key.lower() in ("lang", "language") and _LANGUAGE.fullmatch(value):
            language = value
        elif key.lower() == "title":
            title = value
    return language, title


def _pieces(text: str) -> Iterator[str | _Verbatim]:
    """The text between verbatim blocks, and the blocks; an unclosed block runs to the end."""
    at = 0
    while opening := _VERBATIM.search(text, at):
        kind = opening.group(1).lower()
        closing = _CLOSER[kind].search(text, opening.end())
        end = closing.start() if closing else len(text)
        yield text[at : opening.start()]
        yield _Verbatim(kind, opening.group(2) or "", text[opening.end() : end])
        at = closing.end() if closing else len(text)
    yield text[at:]


def _unfold(text: str) -> str:
    text = _FOLDED_BREAK.sub("\n", _FOLDED_BLANK.sub("\n\n", text))
    return _FOLDED_HEADING_END.sub(r"\1\n", text).replace("  ", " ")


def _inline(text: str, depth: int = 0) -> str:
    return text if depth > _DEEPEST else _INLINE.sub(lambda match: _replace(match, depth), text)


def _replace(match: re.Match, depth: int) -> str:
    kind, whole = match.lastgroup, match.group()
    if kind == "url":
        return whole
    if kind == "escape":
        return whole[1]
    if kind == "mono":
        return whole[2:-2]
    if kind == "link":
        return _link(whole[1:-1], depth)
    if kind == "image":
        return f"[image: {whole[1:-1].split('|')[0].strip()}]"
    if kind == "macro":
        return ""
    mark = _EFFECTS[kind]
    return _inline(whole[len(mark) : -len(mark)], depth + 1)


def _link(body: str, depth: int) -> str:
    """``[text|url]`` as "text (url)"; ``[url]``, ``[~user]``, ``[#anchor]``, ``[^file]`` as their name."""
    text, bar, target = body.partition("|") if "|" in body else ("", "", body)
    target = target.split("|")[0].strip()
    if not (target and " " not in target and (bar or _BARE_LINK.fullmatch(target))):
        return f"[{_inline(body, depth + 1)}]"
    name = target[1:] if target[0] in "~#^" else target
    text = _inline(text.strip(), depth + 1)
    if not text or text == target:
        return name
    return text if name != target else f"{text} ({target})"


def _text(line: str) -> str:
    return html.unescape(_inline(line))


def _row(line: str) -> str:
    cells = [cell.strip() for cell in _CELL_BORDER.split(_text(line))]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells[1:])


def _lines(text: str) -> Iterator[str]:
    """The text's lines, with each {quote} and {panel} marker on a line of its own."""
    for line in text.replace("\\\\", "\n").split("\n"):
        parts = _AROUND_BLOCK_MACRO.split(line)
        yield from (part for part in parts if part.strip()) if len(parts) > 1 else [line]


@dataclass
class _Lines:
    """What earlier lines leave open for the next: a {quote} block, the lists an item is in."""

    quoting: bool = False
    lists: list[tuple[str, int]] = field(default_factory=list)  # each level's marker and items so far

    def convert(self, text: str) -> str:
        return "\n".join(line for line in map(self.line, _lines(text)) if line is not None)

    def line(self, line: str) -> str | None:
        line = line.strip()
        if macro := _BLOCK_MACRO.fullmatch(line):
            return self.macro(macro)
        if item := _ITEM.fullmatch(line):
            return self.quoted(self.item(*item.groups()))
        self.lists.clear()
        if heading := _HEADING.fullmatch(line):
            text = _text(heading.group(2))
            return self.quoted("#" * int(heading.group(1)) + " " + text if text else "")
        if quote := _BLOCKQUOTE.fullmatch(line):
            return "> " + _text(quote.group(1))
        return self.quoted(_row(line) if line.startswith("|") else _text(line))

    def macro(self, macro: re.Match) -> str | None:
        if macro.group(1).lower() == "quote":
            self.quoting = not self.quoting
            return None
        titles = [value for key, _, value in (p.partition("=") for p in (macro.group(2) or "").split("|")) if key.strip() == "title"]
        return self.quoted(_text(titles[0])) if titles else None

    def item(self, markers: str, text: str) -> str:
        depth, marker = len(markers), markers[-1]
        del self.lists[depth:]
        if len(self.lists) == depth and self.lists[-1][0] != marker:
            self.lists.pop()
        self.lists += [(marker, 0)] * (depth - len(self.lists))
        count = self.lists[-1][1] + 1
        self.lists[-1] = (marker, count)
        bullet = f"{count}." if marker == "#" else "-"
        return "  " * (depth - 1) + f"{bullet} {_text(text)}"

    def quoted(self, line: str) -> str:
        return "> " + line if self.quoting and line else line


def from_jira(text: str) -> str:
    """Jira wiki markup as plain text: code kept verbatim in fences, every other marker gone, the words kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    folded = "\n" not in text and "  " in text
    lines = _Lines()
    parts = [
        piece.render(folded) if isinstance(piece, _Verbatim) else lines.convert(_unfold(piece) if folded else piece) for piece in _pieces(text)
    ]
    # the newline that joins a block to the text around it stands for the one the text ends or starts with
    return tidy("\n".join(part.removeprefix("\n").removesuffix("\n") for part in parts))
