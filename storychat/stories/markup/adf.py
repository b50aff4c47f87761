"""Atlassian Document Format (Jira Cloud's descriptions and comments) as plain, readable text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

from storychat.stories.markup.tidy import fenced, tidy

_DEEPEST = 100  # nodes nested deeper are read flat, so no document can exhaust Python's stack


def from_adf(document: object) -> str:
    """An ADF document as plain text: blocks on lines of their own, lists as items, links as "text (url)"."""
    return tidy(_node(document, 0))


def _node(node: object, depth: int) -> str:
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    if depth > _DEEPEST:
        return _flat(node)
    return _RENDER.get(node.get("type"), _unknown)(node, depth + 1)


def _children(node: dict) -> list:
    content = node.get("content")
    return content if isinstance(content, list) else []


def _attr(node: dict, name: str) -> str:
    attrs = node.get("attrs")
    value = attrs.get(name) if isinstance(attrs, dict) else None
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


def _inline(node: dict, depth: int) -> str:
    return "".join(_node(child, depth) for child in _children(node))


def _blocks(node: dict, depth: int, between: str = "\n\n") -> str:
    return between.join(text for text in (_node(child, depth) for child in _children(node)) if text.strip())


def _text(node: dict, depth: int) -> str:
    text = node.get("text")
    if not isinstance(text, str):
        return ""
    marks = node.get("marks") if isinstance(node.get("marks"), list) else []
    hrefs = [_attr(mark, "href") for mark in marks if isinstance(mark, dict) and mark.get("type") == "link"]
    return f"{text} ({hrefs[0]})" if hrefs and hrefs[0] and hrefs[0] != text else text


def _heading(node: dict, depth: int) -> str:
    level, words = _attr(node, "level"), _inline(node, depth)
    return "#" * (int(level) if level in ("1", "2", "3", "4", "5", "6") else 1) + " " + words if words.strip() else ""


def _code(node: dict, depth: int) -> str:
    texts = (child.get("text") for child in _children(node) if isinstance(child, dict))
    return fenced("".join(text for text in texts if isinstance(text, str)), _attr(node, "language"))


def _quote(node: dict, depth: int) -> str:
    return "\n".join("> " + line if line else ">" for line in _blocks(node, depth).split("\n"))


def _list(node: dict, depth: int) -> str:
    numbered = node.get("type") == "orderedList"
    start = _attr(node, "order")
    first = int(start) if numbered and start.isdigit() else 1
    return "\n".join(_item(child, depth, f"{n}. " if numbered else "- ") for n, child in enumerate(_children(node), first))


def _tasks(node: dict, depth: int) -> str:
    return "\n".join(_item(child, depth, "- [x] " if _attr(child, "state") == "DONE" else "- [ ] ") for child in _children(node))


def _decisions(node: dict, depth: int) -> str:
    return "\n".join(_item(child, depth, "- ") for child in _children(node))


def _item(node: object, depth: int, bullet: str) -> str:
    """A list item after its bullet, its further lines (a nested list) indented under the first."""
    body = _blocks(node, depth, "\n") if isinstance(node, dict) and node.get("type") == "listItem" else _node(node, depth)
    first, *rest = body.split("\n")
    return "\n".join([bullet + first, *(" " * len(bullet) + line if line else line for line in rest)])


def _table(node: dict, depth: int) -> str:
    return "\n".join(_node(row, depth) for row in _children(node))


def _row(node: dict, depth: int) -> str:
    return " | ".join(" ".join(_blocks(cell, depth, " ").split()) if isinstance(cell, dict) else "" for cell in _children(node))


def _date(node: dict, depth: int) -> str:
    stamp = _attr(node, "timestamp")
    try:
        return datetime.fromtimestamp(int(float(stamp)) / 1000, tz=timezone.utc).date().isoformat()
    except (ValueError, OverflowError, OSError):
        return stamp


def _expand(node: dict, depth: int) -> str:
    return "\n\n".join(text for text in (_attr(node, "title"), _blocks(node, depth)) if text)


def _unknown(node: dict, depth: int) -> str:
    """A node type this module does not know keeps its text: its own, its attrs' or its children's."""
    if isinstance(node.get("text"), str):
        return node["text"]
    if _attr(node, "text"):
        return _attr(node, "text")
    inline = all(isinstance(child, dict) and (child.get("type") in _INLINE_TYPES or "text" in child) for child in _children(node))
    return _inline(node, depth) if inline else _blocks(node, depth)


def _flat(node: dict) -> str:
    """Every text in a document too deeply nested to render, in order, without recursion."""
    words, stack, seen = [], [node], set()
    while stack:
        current = stack.pop()
        if not isinstance(current, dict) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current.get("text"), str):
            words.append(current["text"])
        stack.extend(reversed(_children(current)))
    return " ".join(words)


_INLINE_TYPES = {"text", "hardBreak", "mention", "emoji", "inlineCard", "status", "date", "placeholder", "inlineExtension"}
_RENDER: dict[object, Callable[[dict, int], str]] = {
    "doc": _blocks,
    "panel": _blocks,
    "layoutSection": _blocks,
    "layoutColumn": _blocks,
    "mediaSingle": _blocks,
    "mediaGroup": _blocks,
    "expand": _expand,
    "nestedExpand": _expand,
    "paragraph": _inline,
    "heading": _heading,
    "text": _text,
    "hardBreak": lambda node, depth: "\n",
    "rule": lambda node, depth: "---",
    "mention": lambda node, depth: _attr(node, "text") or "@" + _attr(node, "id"),
    "emoji": lambda node, depth: _attr(node, "text") or _attr(node, "shortName"),
    "status": lambda node, depth: _attr(node, "text"),
    "inlineCard": lambda node, depth: _attr(node, "url"),
    "blockCard": lambda node, depth: _attr(node, "url"),
    "embedCard": lambda node, depth: _attr(node, "url"),
    "date": _date,
    "codeBlock": _code,
    "blockquote": _quote,
    "bulletList": _list,
    "orderedList": _list,
    "taskList": _tasks,
    "decisionList": _decisions,
    "table": _table,
    "tableRow": _row,
}
