"""What an import does to a collection: adds, and for a file imported before, changes, keeps and loses.

A file's stories are matched with those the collection already holds from the
same source (its file name): by id when they bring their own, by content when
their id was generated (``<stem>-<line>``), so a story that only moved lines is
unchanged. A story of that source the file no longer holds is "gone from the
file": reported, and removed only when asked (a filtered export must not delete
the rest of the backlog). Pastes only ever add.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

from storychat.stories.formats import PASTE, ImportBatch, unique_id
from storychat.stories.trackers import ColumnUse
from storychat.stories.model import Story

SYNC_HINT = "--sync removes it"
ADDED, CHANGED, REMOVED = "added", "changed", "removed"


@dataclass(frozen=True)
class Difference:
    what: str  # "text", "acceptance criteria", ...
    old: str
    new: str


@dataclass(frozen=True)
class StoryChange:
    """A story of the collection (``old``) and its new version, which keeps the old one's id."""

    old: Story
    new: Story

    @property
    def id(self) -> str:
        return self.old.id

    def differences(self) -> list[Difference]:
        found = [
            Difference(what, show(getattr(self.old, name)), show(getattr(self.new, name)))
            for name, what in _SHOWN_FIELDS
            if getattr(self.old, name) != getattr(self.new, name)
        ]
        old, new = self.old.fields.shown(), self.new.fields.shown()
        found += [
            Difference(name.replace("_", " "), old.get(name, ""), new.get(name, ""))
            for name in dict.fromkeys([*old, *new])
            if old.get(name) != new.get(name)
        ]
        return found or [Difference("fields", "", "parsed anew")]

    def lines(self) -> list[str]:
        """What changed, as lines for a report: old and new text, or acceptance criteria, ..."""
        return [f"{d.what}: was “{d.old}”, now “{d.new}”" for d in self.differences()]


# What a change report shows; goal and benefit are parsed from the text and change with it.
# A tracker item's fields are shown one by one (``Fields.shown``), after these.
_SHOWN_FIELDS = (
    ("text", "text"), ("acceptance", "acceptance criteria"), ("epic", "epic"), ("role", "role"), ("kind", "kind"),
    ("title", "title"), ("description", "description"), ("comments", "comments"),
)
_ITEM_PARTS = ("title", "description", "fields", "comments")
_COMPARED_FIELDS = ("text", "role", "goal", "benefit", "acceptance", "epic", "kind", *_ITEM_PARTS)


def show(value: object) -> str:
    if isinstance(value, tuple):
        return " | ".join(map(str, value))
    return str(value)


@dataclass
class ImportReport:
    collection: str
    source: str
    added: list[Story]
    duplicates: list[Story]
    notes: list[Story]
    warnings: list[str]
    changed: list[StoryChange] = field(default_factory=list)
    unchanged: list[Story] = field(default_factory=list)
    gone: list[Story] = field(default_factory=list)
    removed: bool = False  # the gone stories were removed (``sync``)
    relined: list[Story] = field(default_factory=list)  # unchanged stories at another line now, with it
    filled: list[Story] = field(default_factory=list)  # unchanged bare stories, now with their item's parts
    columns: tuple[ColumnUse, ...] = ()  # what each column of the file became

    def columns_line(self) -> str:
        """``Columns: Issue key → id, Summary → title, Labels ×3 → labels; kept as fields: Team``; "" for text."""
        read = ", ".join(str(c) for c in self.columns if c.parts)
        kept = ", ".join(c.named for c in self.columns if not c.parts)
        return "Columns: " + "; ".join(filter(None, [read, kept and f"kept as fields: {kept}"])) if self.columns else ""

    @property
    def held(self) -> list[Story]:
        """The stories the source holds: added, changed (as they are now), unchanged, and skipped as duplicates."""
        return self.added + [c.new for c in self.changed] + self.unchanged + self.duplicates

    @property
    def reimport(self) -> bool:
        """The source had stories in the collection already."""
        return bool(self.changed or self.unchanged or self.gone)

    def describe(self, remedy: str = SYNC_HINT) -> str:
        """One line: ``leave.csv: 1 added, 2 changed (HR-102, HR-110), 27 unchanged, 1 gone from the file (HR-130; ...)``.

        ``remedy`` says how to remove the gone stories (the CLI's flag, the UI's button).
        """
        parts = [f"{len(self.added)} added"]
        if not self.reimport:
            parts += [f"{len(self.duplicates)} skipped as duplicate", f"{len(self.notes)} kept as notes"]
            return f"{self.source}: {', '.join(parts)}"
        parts.append(f"{len(self.changed)} changed" + _ids(c.id for c in self.changed))
        parts.append(f"{len(self.unchanged)} unchanged")
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} skipped as duplicate")
        if self.notes:
            parts.append(f"{len(self.notes)} kept as notes")
        if self.gone:
            gone = ", ".join(s.id for s in self.gone)
            parts.append(
                f"{len(self.gone)} removed as gone from the file ({gone})" if self.removed
                else f"{len(self.gone)} gone from the file ({gone}; {remedy})"
            )
        return f"{self.source}: {', '.join(parts)}"

    def details(self) -> list[str]:
        """Per changed story, what changed."""
        return [f"{change.id} {line}" for change in self.changed for line in change.lines()]


def _ids(ids: Iterable[str]) -> str:
    listed = ", ".join(ids)
    return f" ({listed})" if listed else ""


def plan_import(collection: str, batch: ImportBatch, stored: Sequence[Story], sync: bool = False) -> ImportReport:
    """What importing ``batch`` into a collection holding ``stored`` does, story by story (nothing is written)."""
    report = ImportReport(collection, batch.source, [], [], [], list(batch.warnings), removed=sync, columns=batch.columns)
    mine = {s.id: s for s in stored if s.source == batch.source and batch.source != PASTE}
    matches = _match(batch.stories, mine, Path(batch.source).stem)
    ids = _FreeIds(s.id for s in stored)
    ids_by_digest: dict[str, set[str]] = {}
    for kept in stored:
        ids_by_digest.setdefault(kept.digest, set()).add(kept.id)
    stem = Path(batch.source).stem
    for story in batch.stories:
        old = matches.get(id(story))
        if old is not None:
            _compare(report, old, story)
            continue
        same = ids_by_digest.get(story.digest, set())
        # Content equal to another's duplicates it only without a key of its own, or under the same key:
        # two tracker items with different keys are two items (``after_import`` still flags the pair).
        if same and (_generated(story, stem) or story.id in same):
            report.duplicates.append(story)
            continue
        story = ids.claim(story, report.warnings)
        ids_by_digest.setdefault(story.digest, set()).add(story.id)
        (report.notes if story.is_note else report.added).append(story)
    matched = {old.id for old in matches.values()}
    report.gone = [s for s in mine.values() if s.id not in matched]
    return report


def _match(incoming: Sequence[Story], mine: dict[str, Story], stem: str) -> dict[int, Story]:
    """The stored story each incoming one is a version of (by ``id()``): same id, or for a generated id same content."""
    free = dict(mine)
    matches = {id(s): free.pop(s.id) for s in incoming if not _generated(s, stem) and s.id in free}
    by_content: dict[str, list[Story]] = {}
    for old in free.values():
        by_content.setdefault(old.digest, []).append(old)
    for story in incoming:
        if _generated(story, stem) and by_content.get(story.digest):
            matches[id(story)] = by_content[story.digest].pop(0)
    return matches


def _generated(story: Story, stem: str) -> bool:
    return story.id == f"{stem}-{story.line}"


def _compare(report: ImportReport, old: Story, new: Story) -> None:
    new = replace(new, id=old.id)
    differ = {name for name in _COMPARED_FIELDS if getattr(old, name) != getattr(new, name)}
    # A story kept before the library held an item's parts gains them on its next import unchanged,
    # rather than every story of a tracker export reporting a change nobody made.
    if differ and not (old.bare and differ <= set(_ITEM_PARTS)):
        report.changed.append(StoryChange(old, new))
        return
    report.unchanged.append(old)
    if differ:
        report.filled.append(new)
    elif old.line != new.line:
        report.relined.append(new)


@dataclass(frozen=True)
class Version:
    """A story as it was before an import changed it or it was removed; ``at`` is when (ISO 8601, UTC)."""

    collection: str
    story: Story
    at: str
    why: str  # CHANGED or REMOVED


@dataclass(frozen=True)
class Change:
    """A story added, changed or removed since some time: the library's answer to "what changed"."""

    kind: str  # ADDED, CHANGED or REMOVED
    story: Story  # as it is now; a removed story as it was when removed
    previous: Story | None = None  # a changed story as it was before

    def line(self) -> str:
        return f"{self.kind} [{self.story.id}] {self.story.text}"

    def what_changed(self) -> list[str]:
        """For a changed story, what changed (``StoryChange.lines``); nothing for the others."""
        return StoryChange(self.previous, self.story).lines() if self.previous else []

    def lines(self) -> list[str]:
        """The line, then (indented) what changed."""
        return [self.line(), *(f"  {line}" for line in self.what_changed())]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def since_time(text: str) -> str:
    """A date (``2026-12-01``, midnight UTC) or a time (``2026-12-01T14:30``, UTC unless it says) as the
    library's timestamps write it; ValueError saying what to give otherwise."""
    text = text.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; give one as YYYY-MM-DD, or a time as YYYY-MM-DDTHH:MM.") from None
    if len(text) == 10:
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


class _FreeIds:
    """Gives each story an id no other story in the collection has.

    A generated id (``<stem>-<line>``, e.g. ``paste-3``) that is taken moves on
    to the next number after the highest in use; a taken id the story brought
    with it gets a ``-2``, ``-3`` ... suffix.
    """

    def __init__(self, taken: Iterable[str]) -> None:
        self.taken = set(taken)
        self._next_number: dict[str, int] = {}

    def claim(self, story: Story, warnings: list[str]) -> Story:
        if story.id in self.taken:
            new_id = self._free_id(story)
            warnings.append(f"Id {story.id} is already used by another story in the collection; saved as {new_id}.")
            story = replace(story, id=new_id)
        self.taken.add(story.id)
        return story

    def _free_id(self, story: Story) -> str:
        stem = Path(story.source).stem
        if not _generated(story, stem):
            return unique_id(story.id, self.taken)
        if stem not in self._next_number:
            numbered = re.compile(rf"{re.escape(stem)}-(\d+)")
            self._next_number[stem] = 1 + max(int(m[1]) for i in self.taken if (m := numbered.fullmatch(i)))
        number = self._next_number[stem]
        while f"{stem}-{number}" in self.taken:
            number += 1
        self._next_number[stem] = number + 1
        return f"{stem}-{number}"
