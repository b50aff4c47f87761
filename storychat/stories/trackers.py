"""Tracker exports read as items: which column holds which part, the fields and comments of one record,
and the JSON shapes of Jira's REST search and ``gh issue list`` turned into flat records.

A record is a sequence of (column, value) pairs, so a column a tracker repeats
(Jira's ``Labels, Labels, Labels``) keeps every value; a value is a string or,
from JSON, a list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields as dataclass_fields
from datetime import datetime

from storychat.stories.markup import from_adf, readable
from storychat.stories.model import Comment, Fields

Record = Sequence[tuple[str, object]]

# Column names each part is read from, most specific first, after lower-casing and
# unwrapping Jira's "Custom field (...)". One column may feed two parts (Parent: epic and parent).
_COLUMNS = {
    "id": ("issue key", "issuekey", "key", "id", "story id", "issue id"),
    "text": ("user story", "story", "text", "summary", "title"),
    "title": ("summary", "title"),
    "description": ("description", "body"),
    "role": ("role", "persona"),
    "epic": ("epic", "epic link", "epic name", "parent", "parent summary"),
    "acceptance": ("acceptance criteria", "acceptance", "acceptance criterion"),
    "comments": ("comment", "comments", "history"),  # Azure DevOps: History, its latest discussion comment
    "kind": ("kind",),  # StoryChat's own export: story or note
    "type": ("issue type", "issuetype", "work item type", "type"),
    "status": ("status", "state"),
    "priority": ("priority",),
    "labels": ("labels", "label", "tags", "tag"),
    "components": ("component/s", "components", "component", "area path"),
    "sprints": ("sprint", "sprints", "iteration path", "iteration", "milestone"),
    "fix_versions": ("fix version/s", "fix versions", "fixversions", "fix version"),
    "points": ("story points", "storypoint", "storypoints", "story point estimate", "points"),
    "parent": ("parent", "parent key", "parent id"),
    "created": ("created", "created date", "createdat"),
    "updated": ("updated", "changed date", "updatedat"),
    "resolved": ("resolved", "resolutiondate", "resolved date", "closed date", "closedat"),
}
# StoryChat's own export columns that it computes again on reading (see ``Story``).
_RECOMPUTED = ("source", "line", "goal", "benefit")
# The JSON export of fields and comments (``Story.to_record``), read back whole.
_OWN_FIELDS = "fields"
_LISTS = ("labels", "components", "sprints", "fix_versions")
_TIMES = ("created", "updated", "resolved")
_CUSTOM_FIELD = re.compile(r"custom\s+field\s*\((?P<name>.*)\)")


def column_name(key: object) -> str:
    name = " ".join(str(key).lower().split())
    custom = _CUSTOM_FIELD.fullmatch(name)
    return custom.group("name").strip() if custom else name


@dataclass(frozen=True)
class ColumnUse:
    """A column of the file (``count`` times, when the tracker repeats it) and the parts it became."""

    column: str
    count: int
    parts: tuple[str, ...]

    @property
    def named(self) -> str:
        """``Labels ×3``: the column, and how often the file repeats it."""
        return f"{self.column} ×{self.count}" if self.count > 1 else self.column

    def __str__(self) -> str:
        return f"{self.named} → {', '.join(self.parts) or 'kept as a field'}"


@dataclass(frozen=True)
class Columns:
    """Which column name (as ``column_name`` gives it) each part is read from; absent when none."""

    names: Mapping[str, str]

    @classmethod
    def find(cls, keys: Iterable[object]) -> Columns:
        present = {column_name(key) for key in keys}
        return cls({
            part: next(c for c in candidates if c in present)
            for part, candidates in _COLUMNS.items()
            if any(c in present for c in candidates)
        })

    def uses(self, keys: Iterable[object]) -> tuple[ColumnUse, ...]:
        """Each column of ``keys`` once, in order, with how often it occurs and what it became."""
        counts: dict[str, int] = {}
        for key in keys:
            counts[str(key)] = counts.get(str(key), 0) + 1
        return tuple(ColumnUse(key, count, self._parts_of(column_name(key))) for key, count in counts.items())

    def _parts_of(self, name: str) -> tuple[str, ...]:
        if name in _RECOMPUTED:
            return ("recomputed",)
        if name == _OWN_FIELDS:
            return ("fields",)
        parts = tuple(part for part, column in self.names.items() if column == name)
        # A summary that is the text's column is reported as what it is, the title.
        return tuple(p for p in parts if p != "text") if "title" in parts else parts

    def values(self, record: Record, part: str) -> list[str]:
        """Every non-empty value of the part's column(s) in ``record``, lists spread out."""
        name = self.names.get(part)
        found = [value for key, value in record if name and column_name(key) == name]
        return [text for text in map(_text, _spread(found)) if text]

    def cell(self, record: Record, part: str) -> str:
        return "\n".join(self.values(record, part))

    def fields(self, record: Record) -> Fields:
        """The record's fields; every column no part reads is kept in ``other``, and points that are no number too."""
        found: dict[str, object] = {
            name: tuple(v for value in self.values(record, name) for v in _labels(name, value))
            if name in _LISTS else self.cell(record, name)
            for name in (f.name for f in dataclass_fields(Fields))
            if name not in ("points", "other")
        }
        found.update((name, when(found[name])) for name in _TIMES)
        points = self.cell(record, "points")
        found["points"] = _number(points)
        used = set(self.names.values()) | set(_RECOMPUTED) | {_OWN_FIELDS}
        other = [(str(key), text) for key, value in record if column_name(key) not in used
                 for text in map(_text, _spread([value])) if text]
        if points and found["points"] is None:
            other.append((self._column(record, "points"), points))
        own = _own_fields(record)
        return own if own is not None else Fields(**found, other=tuple(other))

    def comments(self, record: Record) -> tuple[Comment, ...]:
        name = self.names.get("comments")
        found = _spread([_own_json(value) for key, value in record if name and column_name(key) == name])
        return tuple(comment for comment in map(_comment, found) if comment.text)

    def _column(self, record: Record, part: str) -> str:
        return next(str(key) for key, _ in record if column_name(key) == self.names[part])


def _spread(values: Iterable[object]) -> list[object]:
    return [item for value in values for item in (value if isinstance(value, list) else [value])]


def _text(value: object) -> str:
    """A JSON value as one string: a named thing (status, label, user) by its name."""
    if isinstance(value, Mapping):
        return next((_text(value[k]) for k in ("name", "value", "displayName", "login", "title", "key") if k in value), "")
    return "" if value is None else str(value).strip()


def _labels(part: str, value: str) -> list[str]:
    # Azure DevOps writes its tags in one cell: "a; b".
    return [v.strip() for v in value.split(";") if v.strip()] if part == "labels" else [value]


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


_JIRA_TIME = "%d/%b/%y %I:%M %p"  # Jira CSV: 12/Mar/24 3:41 PM


def when(text: str) -> str:
    """A Jira CSV time as ISO 8601 (``2024-03-12T15:41``); any other text as written."""
    try:
        return datetime.strptime(text, _JIRA_TIME).isoformat(timespec="minutes")
    except ValueError:
        return text


def _comment(value: object) -> Comment:
    """A comment from Jira's CSV cell ("date;author;text"), or from a JSON object (Jira, GitHub, StoryChat)."""
    if isinstance(value, Mapping):
        text = value.get("text", value.get("body", ""))
        at = value.get("at", value.get("created", value.get("createdAt", "")))
        return Comment(_plain(text).strip(), _text(value.get("author", "")), str(at or ""))
    cell = _text(value)
    at, author, text = (cell.split(";", 2) + ["", ""])[:3]
    if text and when(at) != at:
        return Comment(readable(text.strip()), author.strip(), when(at))
    return Comment(readable(cell))


def _own_json(value: object) -> object:
    """A cell of StoryChat's CSV export that holds JSON, decoded; any other value as it is."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _own_fields(record: Record) -> Fields | None:
    found = [_own_json(value) for key, value in record if column_name(key) == _OWN_FIELDS]
    return Fields.from_record(found[0]) if found and isinstance(found[0], Mapping) else None


# --- JSON shapes ------------------------------------------------------------------------------

# Jira Cloud's usual ids for these custom fields; a search made with expand=names says its own.
_JIRA_CUSTOM = {"customfield_10016": "Story point estimate", "customfield_10020": "Sprint", "customfield_10014": "Epic Link"}


def jira_issues(data: object) -> list[dict[str, object]] | None:
    """The issues of a Jira REST search (``{"issues": [{"key", "fields": {...}}]}``) as flat records; None for other JSON."""
    if not (isinstance(data, Mapping) and isinstance(data.get("issues"), list)):
        return None
    names = {**_JIRA_CUSTOM, **(data.get("names") or {})}
    return [_jira_issue(issue, names) for issue in data["issues"] if isinstance(issue, Mapping)]


def _jira_issue(issue: Mapping[str, object], names: Mapping[str, str]) -> dict[str, object]:
    record: dict[str, object] = {"key": issue.get("key", "")}
    for name, value in (issue.get("fields") or {}).items():
        if value in (None, "", [], {}):
            continue
        if name == "comment" and isinstance(value, Mapping):
            value = value.get("comments", [])
        elif name == "description":
            value = _plain(value)
        record[names.get(name, name)] = value
    return record


def github_issues(data: object) -> list[dict[str, object]] | None:
    """``gh issue list --json number,title,body,...`` as records whose id is ``#<number>``: the file does not
    name its repository, and ``#12`` is how GitHub itself refers to an issue inside one. None for other JSON."""
    if not (isinstance(data, list) and data and all(isinstance(i, Mapping) and "number" in i and "title" in i for i in data)):
        return None
    return [{**{k: v for k, v in issue.items() if k != "number"}, "id": f"#{issue['number']}"} for issue in data]


def _plain(value: object) -> str:
    """A description or comment body as plain text: an Atlassian Document Format tree (Jira Cloud) or markup."""
    if isinstance(value, Mapping):
        return from_adf(value)
    return readable("" if value is None else str(value))
