"""The Story record every other part of StoryChat passes around."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property


@dataclass(frozen=True)
class Comment:
    """A tracker comment: its text, who wrote it and when (ISO 8601 when the tracker's format is known)."""

    text: str
    author: str = ""
    at: str = ""

    def __str__(self) -> str:
        by = ", ".join(part for part in (self.author, self.at) if part)
        return f"{by}: {self.text}" if by else self.text


@dataclass(frozen=True)
class Fields:
    """A tracker item's fields beside its text. Columns a tracker repeats (labels, sprints) are tuples;
    ``other`` keeps every column no field holds, as (column, value) pairs, so nothing read is lost."""

    type: str = ""
    status: str = ""
    priority: str = ""
    labels: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    sprints: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    points: float | None = None
    parent: str = ""
    created: str = ""
    updated: str = ""
    resolved: str = ""
    other: tuple[tuple[str, str], ...] = ()

    def to_record(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> Fields:
        """The inverse of ``to_record`` (lists back to tuples); a key it does not know is an error."""
        return cls(**{
            name: tuple(tuple(v) if isinstance(v, list) else v for v in value) if isinstance(value, list) else value
            for name, value in record.items()
        })

    def shown(self) -> dict[str, str]:
        """Each field that holds something, by name, as one line."""
        lines = {f.name: _shown(getattr(self, f.name)) for f in fields(self) if f.name != "other"}
        lines.update((column, value) for column, value in self.other)
        return {name: line for name, line in lines.items() if line}


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return ", ".join(value) if isinstance(value, tuple) else str(value)


@dataclass(frozen=True)
class Story:
    """One user story or tracker item (or a kept non-story line, ``kind == "note"``).

    ``source`` is the base name of the file it came from (``paste`` for pasted
    text) and ``line`` its 1-based line or record number there. ``title`` is the
    tracker's summary when ``text`` is not it (the text is then the description's
    user story), and ``description`` the whole description as written when it is
    not itself the text; both are "" otherwise.
    """

    id: str
    text: str
    source: str
    line: int
    role: str = ""
    goal: str = ""
    benefit: str = ""
    acceptance: tuple[str, ...] = field(default_factory=tuple)
    epic: str = ""
    kind: str = "story"
    title: str = ""
    description: str = ""
    fields: Fields = field(default_factory=Fields)
    comments: tuple[Comment, ...] = field(default_factory=tuple)

    @property
    def is_note(self) -> bool:
        return self.kind == "note"

    def to_record(self) -> dict[str, object]:
        """The story as JSON holds it, every field by name: the one shape the exports, the CLI and the API give."""
        return asdict(self)

    @cached_property
    def digest(self) -> str:
        """Equal for stories with the same content, whatever their ids and places: the library's duplicate key."""
        return content_digest(self.kind, self.text, self.acceptance, self._more_content())

    def passages(self) -> list[str]:
        """The item's whole text for the model and for search, in reading order: the text, the title, the
        description, the acceptance criteria, then each comment (with its author and time); empty parts left out."""
        parts = [self.text, self.title, self.description, *self.acceptance, *map(str, self.comments)]
        return [part for part in parts if part]

    @property
    def searchable(self) -> str:
        """Every passage and the epic as one text: what search, the support check and the role lists read."""
        return " ".join([*self.passages(), self.epic])

    @property
    def bare(self) -> bool:
        """No title, description, fields or comments: a plain story, or one kept before a library held them."""
        return not self._more_content()

    def _more_content(self) -> list[object]:
        # Empty for a story with no title, description, fields or comments, whose digest
        # then stays the one every library kept before these parts existed.
        more = [self.title, self.description, self.fields.shown(), [asdict(c) for c in self.comments]]
        return more if any(more) else []


def content_digest(kind: str, text: str, acceptance: tuple[str, ...], more: Sequence[object] = ()) -> str:
    content = json.dumps([kind, text, list(acceptance), *more], ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()
