"""Acceptance criteria inside a plain-text description: a criteria section, Given/When/Then scenarios, checklists."""

from __future__ import annotations

import re

_HEADER_ALONE = re.compile(r"(?:h[1-6]\.\s*|#{1,6}\s+)?(?:acceptance\s+criteria\s*:?|ac\s*:)", re.I)
_HEADER_INLINE = re.compile(r"(?:(?<!\S)acceptance\s+criteria|^ac)\s*:\s*(?P<rest>.*)", re.I)
_HEADING = re.compile(r"#{1,6}\s|h[1-6]\.")
_LABEL = re.compile(r"[^:]{1,60}:")
_ITEM = re.compile(r"(?:[-*+•]|\d+[.)])\s+")
_CHECK = re.compile(r"(?:[-*+•]\s+)?(?:\[[ xX]\]|\((?:/|x)\))\s+")
_LATER_CHECK = re.compile(r"\s+(?=\((?:/|x)\)\s)")
_INLINE_ITEMS = re.compile(r"\s+[-*]\s+")
_STEP = re.compile(r"(?:[-*+•]\s+)?(given|when|then|and|but)\b", re.I)
_THEN = re.compile(r"\bthen\b", re.I)

_Found = dict[tuple[int, int], str]  # a criterion by its line and its place in that line


def criteria_in(text: str) -> tuple[str, ...]:
    """The acceptance criteria a plain-text description states, in order, without list or checklist markers; () if none."""
    lines = [line.strip() for line in text.split("\n")]
    found: _Found = {}
    for at, line in enumerate(lines):
        header = _HEADER_INLINE.search(line)
        if header or _HEADER_ALONE.fullmatch(line):
            found.update(_section(lines, at, header.group("rest") if header else ""))
    found.update(_scenarios(lines))
    found.update(_checklists(lines))
    return tuple(found[key] for key in sorted(found) if found[key])


def _parts(at: int, line: str) -> _Found:
    """A line's criteria: one, or each of a checklist line's "(/)" and "(x)" items."""
    line = _after(_ITEM, line)
    parts = _LATER_CHECK.split(line) if _CHECK.match(line) else [line]
    return {(at, n): _after(_CHECK, part).strip() for n, part in enumerate(parts)}


def _after(marker: re.Pattern, line: str) -> str:
    found = marker.match(line)
    return line[found.end() :] if found else line


def _section(lines: list[str], at: int, rest: str) -> _Found:
    """The list items, or else the lines, after a criteria header, up to a heading, a label or a new paragraph."""
    found = {(at, n): item.strip() for n, item in enumerate(_INLINE_ITEMS.split(" " + rest)[1:] if _ITEM.match(rest) else [rest])}
    items = None  # whether the section is a list; unknown until its first line
    for index in range(at + 1, len(lines)):
        line = lines[index]
        is_item = bool(_ITEM.match(line) or _CHECK.match(line))
        if not line:
            if items is None or (items and _next_is_item(lines, index)):
                continue
            break
        if _HEADING.match(line) or (_LABEL.fullmatch(line) and not is_item) or (items and not is_item):
            break
        items = is_item if items is None else items
        found.update(_parts(index, line))
    return found


def _next_is_item(lines: list[str], index: int) -> bool:
    following = next((line for line in lines[index:] if line), "")
    return bool(_ITEM.match(following) or _CHECK.match(following))


def _scenarios(lines: list[str]) -> _Found:
    """Runs of Given/When/Then/And/But lines with a Given and a Then; or one line that says both."""
    found: _Found = {}
    run: list[int] = []
    for index, line in enumerate([*lines, ""]):
        if _STEP.match(line):
            run.append(index)
            continue
        keywords = {_STEP.match(lines[i]).group(1).lower() for i in run}
        if {"given", "then"} <= keywords or (len(run) == 1 and keywords == {"given"} and _THEN.search(lines[run[0]])):
            for i in run:
                found.update(_parts(i, lines[i]))
        run = []
    return found


def _checklists(lines: list[str]) -> _Found:
    found: _Found = {}
    for index, line in enumerate(lines):
        if _CHECK.match(line) and " | " not in line:  # a table's (/) and (x) mark results, not criteria
            found.update(_parts(index, line))
    return found
