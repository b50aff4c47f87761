"""Filters: the fields a question or a list is scoped by ("status=Open", "label=payments", "points>=8").

One ``Filter`` is one field compared with one value; a ``Scope`` is the filters a user set, all of which
an item must pass. Every face (chat filter row, ``--filter``, the API, MCP, ``stories list``) reads the
same ``name=value`` spelling, so what one face shows another can repeat.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from storychat.analysis.roles import normalise_epic, normalise_role
from storychat.stories import Story

# Field name -> how an item's values of it are read. Text fields compare case and spacing
# ignored; role and epic compare the way the role and epic lists group them.
_TEXT_FIELDS: dict[str, Callable[[Story], tuple[str, ...]]] = {
    "type": lambda s: (s.fields.type,),
    "status": lambda s: (s.fields.status,),
    "priority": lambda s: (s.fields.priority,),
    "label": lambda s: s.fields.labels,
    "component": lambda s: s.fields.components,
    "sprint": lambda s: s.fields.sprints,
    "fix_version": lambda s: s.fields.fix_versions,
    "epic": lambda s: (s.epic,),
    "role": lambda s: (s.role,),
}
_NORMALISE: dict[str, Callable[[str], str]] = {"role": normalise_role, "epic": normalise_epic}
_DATES = ("created", "updated", "resolved")
FIELDS = (*_TEXT_FIELDS, "points", *_DATES)
# Spellings a user may type for a field: Jira's column names and plurals.
_ALIASES = {
    "labels": "label", "tag": "label", "tags": "label", "components": "component", "component/s": "component",
    "sprints": "sprint", "iteration": "sprint", "fix version": "fix_version", "fixversion": "fix_version",
    "fix versions": "fix_version", "version": "fix_version", "issue type": "type", "work item type": "type",
    "state": "status", "story points": "points", "storypoints": "points", "point": "points", "epic link": "epic",
    "parent": "epic",
}
_SPELLING = re.compile(r"^\s*([A-Za-z][A-Za-z _/]*?)\s*(>=|<=|=|>|<)\s*(.+?)\s*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_RANGE = re.compile(r"^(-?\d+(?:\.\d+)?)\s*(?:\.\.|-|to)\s*(-?\d+(?:\.\d+)?)$")


@dataclass(frozen=True)
class Filter:
    """One field compared with one value: ``status = Open``, ``points >= 8``, ``created >= 2024-03-01``."""

    field: str
    op: str  # "=", ">=", "<=", ">", "<"
    value: str

    def __post_init__(self) -> None:
        if self.field not in FIELDS:
            raise ValueError(f"Unknown filter field {self.field!r}. Use one of: {', '.join(FIELDS)}.")
        if self.op != "=" and self.field in _TEXT_FIELDS:
            raise ValueError(f"{self.field} is compared by name; write {self.field}={self.value}.")
        if self.field == "points" and not _points_bounds(self.op, self.value):
            raise ValueError(f"points takes a number or a range such as 3..8, not {self.value!r}.")
        if self.field in _DATES and not _ISO_DATE.match(self.value):
            raise ValueError(f"{self.field} takes a date written 2024-03-01, not {self.value!r}.")

    def passes(self, story: Story) -> bool:
        if self.field in _TEXT_FIELDS:
            normalise = _NORMALISE.get(self.field, _plain)
            wanted = normalise(self.value)
            return any(value and normalise(value) == wanted for value in _TEXT_FIELDS[self.field](story))
        if self.field == "points":
            low, high = _points_bounds(self.op, self.value)
            points = story.fields.points
            return points is not None and low <= points <= high
        when = getattr(story.fields, self.field)[:10]  # ISO dates compare as text; the time is left out
        return bool(when) and _compare(when, self.op, self.value[:10])

    def __str__(self) -> str:
        """How the user writes it, and how the coverage line names it: ``status=Open``."""
        return f"{self.field}{self.op}{self.value}"


@dataclass(frozen=True)
class Scope:
    """The filters a question or a list is scoped by; an item passes when it passes every one. Empty: everything."""

    filters: tuple[Filter, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.filters)

    def apply(self, stories: Sequence[Story]) -> list[Story]:
        """The items (never notes, when any filter is set) that pass every filter, in their order."""
        if not self.filters:
            return list(stories)
        return [s for s in stories if self.passes(s)]

    def passes(self, story: Story) -> bool:
        return not self.filters or (not story.is_note and all(f.passes(story) for f in self.filters))

    def within(self, stories: Sequence[Story]) -> Scoped:
        """The items of a collection that pass, and of how many (notes are not counted)."""
        return Scoped(self, tuple(self.apply(stories)), sum(not s.is_note for s in stories))

    def describe(self, joined: str = ", ") -> str:
        """``status Open, label payments``: the filters as the coverage line names them."""
        return joined.join(f"{f.field} {f.value}" if f.op == "=" else f"{f.field} {f.op} {f.value}" for f in self.filters)

    def to_record(self) -> list[str]:
        return [str(f) for f in self.filters]


@dataclass(frozen=True)
class Scoped:
    """A scope applied to a collection: the items it kept, of ``total``. What every face asks and lists from."""

    scope: Scope
    stories: tuple[Story, ...]
    total: int

    def line(self) -> str:
        """ "12 of 340 stories: status Open, label payments": the coverage line's part that names the filter."""
        return f"{len(self.stories):,} of {self.total:,} stories: {self.scope.describe()}"

    def nothing_line(self) -> str:
        """What a question on a scope that keeps nothing is told, instead of asking the model."""
        return f"No story has {self.scope.describe(' and ')}; {self.total:,} stories in the collection."

    def label(self, collection: str) -> str:
        """What the scoped stories' KV snapshot and shard cuts are filed under: the collection's own stay as they are."""
        return f"{collection} [{', '.join(self.scope.to_record())}]" if self.scope and collection else collection

    def to_record(self) -> dict:
        return {"filters": self.scope.to_record(), "kept": len(self.stories), "total": self.total, "line": self.line()}


def parse_filter(spelling: str) -> Filter:
    """``"status=Open"``, ``"Story Points>=8"``, ``"points=3..8"``, ``"labels=payments"`` -> a Filter.

    The field is matched the way users and trackers write it (case, plurals, Jira's column names)."""
    match = _SPELLING.match(spelling)
    if not match:
        raise ValueError(f"Write a filter as field=value (for example status=Open), not {spelling!r}.")
    name, op, value = match.groups()
    key = " ".join(name.casefold().split())
    return Filter(_ALIASES.get(key, key.replace(" ", "_")), op, value)


def parse_scope(spellings: Iterable[str]) -> Scope:
    """Every ``field=value`` given (empty ones skipped) as one Scope."""
    return Scope(tuple(parse_filter(s) for s in spellings if s and s.strip()))


def field_values(stories: Sequence[Story]) -> dict[str, list[tuple[str, int]]]:
    """For each text field the collection holds, its values as the items spell them and how many items have
    each, the most used first: what a filter row offers. A field no item has is left out."""
    found: dict[str, list[tuple[str, int]]] = {}
    items = [s for s in stories if not s.is_note]
    for name, read in _TEXT_FIELDS.items():
        normalise = _NORMALISE.get(name, _plain)
        keys: dict[str, str] = {}  # each spelling normalised once: a collection repeats few values many times
        counts: Counter[str] = Counter()
        spelled: dict[str, str] = {}
        for story in items:
            for key in {keys.get(v) or keys.setdefault(v, normalise(v)) for v in read(story) if v and not v.isspace()}:
                counts[key] += 1
        for value, key in keys.items():
            spelled.setdefault(key, value.strip())
        if counts:
            found[name] = [(spelled[key], n) for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return found


def _plain(value: str) -> str:
    return " ".join(value.casefold().split())


def _points_bounds(op: str, value: str) -> tuple[float, float] | None:
    inf = float("inf")
    ranged = _RANGE.match(value.strip())
    if ranged and op == "=":
        return float(ranged[1]), float(ranged[2])
    try:
        number = float(value)
    except ValueError:
        return None
    return {
        "=": (number, number), ">=": (number, inf), "<=": (-inf, number),
        ">": (number + 1e-9, inf), "<": (-inf, number - 1e-9),
    }[op]


def _compare(left: str, op: str, right: str) -> bool:
    return {"=": left == right, ">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right}[op]
