"""The story library: named collections of stories in one SQLite file.

Each call opens its own connection, so one ``Library`` can serve many threads.
The database runs in WAL mode and every import is a single transaction, so a
crash (even ``kill -9``) mid-import leaves the library as it was before.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import platformdirs

from storychat.stories import vectors
from storychat.stories.formats import ImportBatch, unique_id
from storychat.stories.migrations import migrate
from storychat.stories.model import Story

if TYPE_CHECKING:
    import numpy as np

    from storychat.meaning import Reader

DATABASE_NAME = "library.sqlite3"
MAX_COLLECTION_NAME = 100
EXPORT_COLUMNS = tuple(f.name for f in fields(Story))


def default_data_dir() -> Path:
    """The platform's per-user data folder (``--data-dir`` or ``STORYCHAT_DATA_DIR`` choose another)."""
    return Path(platformdirs.user_data_dir("storychat"))


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    stories: int
    notes: int


@dataclass
class ImportReport:
    collection: str
    added: list[Story]
    duplicates: list[Story]
    notes: list[Story]
    warnings: list[str]


# --- the library ------------------------------------------------------------------

_ROW_COLUMNS = "story_id, text, source, line, role, goal, benefit, acceptance, epic, kind"
_INSERT = (
    f"INSERT INTO stories (collection_id, {_ROW_COLUMNS}, digest)"
    f" VALUES ({', '.join('?' * (_ROW_COLUMNS.count(',') + 3))})"
)


class Library:
    """With a ``reader`` (of meaning), imports also embed their new stories and keep the vectors."""

    def __init__(self, data_dir: Path, reader: Reader | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DATABASE_NAME
        self.reader = reader.kept_in(self) if reader else None
        with self._connect() as db:
            db.execute("PRAGMA journal_mode = WAL")
            migrate(db)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: transactions are begun and ended explicitly.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA synchronous = NORMAL")
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def collections(self) -> list[CollectionInfo]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.name,"
                " COUNT(CASE WHEN s.kind != 'note' THEN 1 END),"
                " COUNT(CASE WHEN s.kind = 'note' THEN 1 END)"
                " FROM collections c LEFT JOIN stories s ON s.collection_id = c.id"
                " GROUP BY c.id ORDER BY c.name"
            ).fetchall()
            return [CollectionInfo(name, stories, notes) for name, stories, notes in rows]

    def add(self, collection: str, batch: ImportBatch) -> ImportReport:
        """Add a batch in one transaction; stories already there are reported
        as duplicates, so importing the same file twice adds nothing."""
        name = validate_collection_name(collection)
        report = ImportReport(name, [], [], [], list(batch.warnings))
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO collections (name) VALUES (?)", (name,))
            collection_id = db.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()[0]
            existing = db.execute(
                "SELECT story_id, digest FROM stories WHERE collection_id = ?", (collection_id,)
            ).fetchall()
            ids = _FreeIds(story_id for story_id, _ in existing)
            digests = {digest for _, digest in existing}
            rows = []
            for story in batch.stories:
                digest = story.digest
                if digest in digests:
                    report.duplicates.append(story)
                    continue
                story = ids.claim(story, report.warnings)
                digests.add(digest)
                rows.append(_row(collection_id, story, digest))
                (report.notes if story.is_note else report.added).append(story)
            db.executemany(_INSERT, rows)
            if self.reader and report.added:
                self._embed(db, report.added)
        return report

    def _embed(self, db: sqlite3.Connection, stories: list[Story]) -> None:
        """Keep the vectors of ``stories`` that the library does not hold yet, in the import's transaction."""
        from storychat.meaning import story_text

        held = vectors.load(db, self.reader.name, [s.digest for s in stories])
        new = {s.digest: s for s in stories if s.digest not in held}
        if new:
            vectors.save(db, self.reader.name, dict(zip(new, self.reader.embed([story_text(s) for s in new.values()]))))

    def load_vectors(self, reader: str, digests: Sequence[str]) -> dict[str, np.ndarray]:
        """The kept vectors of ``reader`` for those of ``digests`` it has embedded."""
        with self._connect() as db:
            return vectors.load(db, reader, digests)

    def save_vectors(self, reader: str, found: Mapping[str, np.ndarray]) -> None:
        with self._transaction() as db:
            vectors.save(db, reader, found)

    def stories(self, collection: str) -> list[Story]:
        """All stories and notes of a collection, by source, then line, then id."""
        name = validate_collection_name(collection)
        with self._connect() as db:
            return [_story(row) for row in _rows(db, name)]

    def fingerprint(self, collection: str) -> str:
        """A hash of the collection's content; it changes iff its stories change."""
        name = validate_collection_name(collection)
        digest = hashlib.sha256()
        with self._connect() as db:
            for row in _rows(db, name):
                digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
                digest.update(b"\n")
        return digest.hexdigest()

    def delete_story(self, collection: str, story_id: str) -> bool:
        name = validate_collection_name(collection)
        with self._transaction() as db:
            deleted = db.execute(
                "DELETE FROM stories WHERE story_id = ?"
                " AND collection_id = (SELECT id FROM collections WHERE name = ?)",
                (story_id, name),
            )
            vectors.drop_orphans(db)
            return deleted.rowcount > 0

    def clear(self, collection: str) -> int:
        """Remove the collection; returns how many stories (and notes) went with it."""
        name = validate_collection_name(collection)
        with self._transaction() as db:
            count = db.execute(
                "SELECT COUNT(*) FROM stories"
                " WHERE collection_id = (SELECT id FROM collections WHERE name = ?)",
                (name,),
            ).fetchone()[0]
            db.execute("DELETE FROM collections WHERE name = ?", (name,))
            vectors.drop_orphans(db)
            return count

    def export_csv(self, collection: str, path: Path) -> None:
        def write(handle) -> None:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            for story in self.stories(collection):
                record = _export_record(story)
                record["acceptance"] = "\n".join(story.acceptance)
                writer.writerow(record.values())

        _write_atomically(Path(path), write, newline="")

    def export_jsonl(self, collection: str, path: Path) -> None:
        def write(handle) -> None:
            for story in self.stories(collection):
                handle.write(json.dumps(_export_record(story), ensure_ascii=False) + "\n")

        _write_atomically(Path(path), write, newline="\n")


def validate_collection_name(name: str) -> str:
    """The name without surrounding spaces; ValueError when it is not usable."""
    stripped = name.strip() if isinstance(name, str) else ""
    if not stripped:
        raise ValueError("A collection needs a name; enter one (for example 'backlog').")
    if len(stripped) > MAX_COLLECTION_NAME:
        raise ValueError(
            f"The collection name is {len(stripped)} characters long; use at most {MAX_COLLECTION_NAME}."
        )
    if not stripped.isprintable():
        raise ValueError(
            "The collection name contains characters that cannot be shown, such as tabs or line "
            "breaks; use printable text only."
        )
    return stripped


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
        if story.id != f"{stem}-{story.line}":
            return unique_id(story.id, self.taken)
        if stem not in self._next_number:
            numbered = re.compile(rf"{re.escape(stem)}-(\d+)")
            self._next_number[stem] = 1 + max(int(m[1]) for i in self.taken if (m := numbered.fullmatch(i)))
        number = self._next_number[stem]
        while f"{stem}-{number}" in self.taken:
            number += 1
        self._next_number[stem] = number + 1
        return f"{stem}-{number}"


def _row(collection_id: int, story: Story, digest: str) -> tuple:
    return (
        collection_id, story.id, story.text, story.source, story.line, story.role, story.goal,
        story.benefit, json.dumps(list(story.acceptance), ensure_ascii=False), story.epic,
        story.kind, digest,
    )


def _rows(db: sqlite3.Connection, name: str) -> Iterator[tuple]:
    return db.execute(
        f"SELECT {_ROW_COLUMNS} FROM stories"
        " WHERE collection_id = (SELECT id FROM collections WHERE name = ?)"
        " ORDER BY source, line, story_id",
        (name,),
    )


def _story(row: tuple) -> Story:
    story_id, text, source, line, role, goal, benefit, acceptance, epic, kind = row
    return Story(
        id=story_id, text=text, source=source, line=line, role=role, goal=goal, benefit=benefit,
        acceptance=tuple(json.loads(acceptance)), epic=epic, kind=kind,
    )


def _export_record(story: Story) -> dict[str, object]:
    record = {name: getattr(story, name) for name in EXPORT_COLUMNS}
    record["acceptance"] = list(story.acceptance)
    return record


def _write_atomically(path: Path, write: Callable, newline: str) -> None:
    """Write via a temporary file, so a failed export never leaves half a file."""
    temporary = path.with_name(path.name + ".partial")
    try:
        with temporary.open("w", encoding="utf-8", newline=newline) as handle:
            write(handle)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
