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
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import platformdirs

from storychat.stories import vectors
from storychat.stories.changes import ADDED, CHANGED, REMOVED, Change, ImportReport, Version, now, plan_import
from storychat.stories.formats import ImportBatch
from storychat.stories.embedder import Embedder
from storychat.stories.migrations import migrate
from storychat.stories.model import Comment, Fields, Story

DATABASE_NAME = "library.sqlite3"
MAX_COLLECTION_NAME = 100
KEPT_COLLECTIONS = 4  # the collections whose parsed stories a Library keeps between reads
EXPORT_COLUMNS = tuple(f.name for f in fields(Story))


def default_data_dir() -> Path:
    """The platform's per-user data folder (``--data-dir`` or ``STORYCHAT_DATA_DIR`` choose another)."""
    return Path(platformdirs.user_data_dir("storychat"))


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    stories: int
    notes: int


@dataclass(frozen=True)
class Shelf:
    """One collection as the faces read it: every collection name, and its stories and notes."""

    collection: str
    names: list[str]  # the collections the library holds, by name
    everything: list[Story]

    @property
    def stories(self) -> list[Story]:
        return [s for s in self.everything if not s.is_note]

    @property
    def notes(self) -> list[Story]:
        return [s for s in self.everything if s.is_note]


# --- the library ------------------------------------------------------------------

_ROW_COLUMNS = "story_id, text, source, line, role, goal, benefit, acceptance, epic, kind, title, description, fields, comments"
_INSERT = (
    f"INSERT INTO stories (collection_id, {_ROW_COLUMNS}, digest, added_at)"
    f" VALUES ({', '.join('?' * (_ROW_COLUMNS.count(',') + 4))})"
)
_UPDATE = (
    f"UPDATE stories SET {' = ?, '.join(_ROW_COLUMNS.split(', '))} = ?, digest = ?"
    " WHERE collection_id = ? AND story_id = ?"
)


class Library:
    """With a ``embedder`` (of meaning), imports also embed their new stories and keep the vectors."""

    def __init__(self, data_dir: Path, embedder: Embedder | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DATABASE_NAME
        self.embedder = embedder.kept_in(self) if embedder else None
        self._read: dict[str, tuple[list[tuple], list[Story]]] = {}  # collection -> (its signature, its stories)
        self._reading = threading.Lock()
        with self.connect() as db:
            db.execute("PRAGMA journal_mode = WAL")
            migrate(db)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        # isolation_level=None: transactions are begun and ended explicitly.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA synchronous = NORMAL")
            yield db
        finally:
            db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def collections(self) -> list[CollectionInfo]:
        with self.connect() as db:
            rows = db.execute(
                "SELECT c.name,"
                " COUNT(CASE WHEN s.kind != 'note' THEN 1 END),"
                " COUNT(CASE WHEN s.kind = 'note' THEN 1 END)"
                " FROM collections c LEFT JOIN stories s ON s.collection_id = c.id"
                " GROUP BY c.id ORDER BY c.name"
            ).fetchall()
            return [CollectionInfo(name, stories, notes) for name, stories, notes in rows]

    def shelf(self, collection: str) -> Shelf:
        """One query for the collection names; the stories only of a collection that exists. Reading never
        creates a collection: a name the library does not hold is not among the names."""
        names = [c.name for c in self.collections()]
        return Shelf(collection, names, self.stories(collection) if collection in names else [])

    def add(self, collection: str, batch: ImportBatch, sync: bool = False) -> ImportReport:
        """Import a batch in one transaction (``changes.plan_import`` says what it does).

        Changed stories are updated in place and their previous versions kept in
        the history; with ``sync`` the stories gone from the file are removed (and kept there too).
        """
        name = validate_collection_name(collection)
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO collections (name) VALUES (?)", (name,))
            collection_id = db.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()[0]
            stored = [_story(row) for row in _rows(db, name)]
            report = plan_import(name, batch, stored, sync)
            at = now()
            db.executemany(_INSERT, (_row(collection_id, s) + (at,) for s in report.added + report.notes))
            for change in report.changed:
                _keep_version(db, collection_id, change.id, at, CHANGED)
                db.execute(_UPDATE, _row(collection_id, change.new)[1:] + (collection_id, change.id))
            db.executemany(
                "UPDATE stories SET line = ? WHERE collection_id = ? AND story_id = ?",
                ((s.line, collection_id, s.id) for s in report.relined),
            )
            db.executemany(_UPDATE, (_row(collection_id, s)[1:] + (collection_id, s.id) for s in report.filled))
            if sync:
                for story in report.gone:
                    _remove(db, collection_id, story.id, at)
            if self.embedder:
                self._embed(db, [s for s in report.added + [c.new for c in report.changed] + report.filled if not s.is_note])
            if report.changed or report.filled or (sync and report.gone):
                vectors.drop_orphans(db)
        return report

    def _embed(self, db: sqlite3.Connection, stories: list[Story]) -> None:
        """Keep the vectors of ``stories`` that the library does not hold yet, in the import's transaction."""
        self.embedder.kept_in(vectors.Held(db)).story_vectors(stories)

    def load_vectors(self, embedder: str, digests: Sequence[str]) -> dict[str, np.ndarray]:
        """The kept vectors of the embedder named ``embedder`` for those of ``digests`` it has embedded."""
        with self.connect() as db:
            return vectors.load(db, embedder, digests)

    def save_vectors(self, embedder: str, found: Mapping[str, np.ndarray]) -> None:
        with self.transaction() as db:
            vectors.save(db, embedder, found)

    def stories(self, collection: str) -> list[Story]:
        """All stories and notes of a collection, by source, then line, then id.

        Parsed again only when the collection changed since this library last read it (through this object or
        any other process): a page of a backlog of thousands, or a question about it, then costs one small query."""
        name = validate_collection_name(collection)
        with self.connect() as db:
            db.execute("BEGIN")  # the signature and the rows of one snapshot
            signature = db.execute(_SIGNATURE, (name,)).fetchall()
            kept = self._read.get(name)
            if kept is None or kept[0] != signature:
                kept = signature, [_story(row) for row in _rows(db, name)]
                with self._reading:
                    self._read.pop(name, None)
                    self._read[name] = kept
                    while len(self._read) > KEPT_COLLECTIONS:
                        del self._read[next(iter(self._read))]
            db.execute("COMMIT")
        return list(kept[1])

    def fingerprint(self, collection: str) -> str:
        """A hash of the collection's content; it changes iff its stories change."""
        name = validate_collection_name(collection)
        digest = hashlib.sha256()
        with self.connect() as db:
            for row in _rows(db, name):
                digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
                digest.update(b"\n")
        return digest.hexdigest()

    def delete_story(self, collection: str, story_id: str) -> bool:
        return bool(self.remove(collection, [story_id]))

    def remove(self, collection: str, story_ids: Sequence[str]) -> list[str]:
        """Remove stories in one transaction, keeping their last versions in the history; returns those there were."""
        name = validate_collection_name(collection)
        with self.transaction() as db:
            found = db.execute("SELECT id FROM collections WHERE name = ?", (name,)).fetchone()
            at = now()
            removed = [story_id for story_id in story_ids if found and _remove(db, found[0], story_id, at)]
            vectors.drop_orphans(db)
            return removed

    def history(self, story_id: str, collection: str | None = None) -> list[Version]:
        """Every earlier version of ``story_id`` by collection, newest first; in every collection without one."""
        with self.connect() as db:
            rows = db.execute(
                f"SELECT c.name, {_ROW_COLUMNS}, at, why FROM story_history h JOIN collections c ON c.id = h.collection_id"
                " WHERE story_id = ? AND (? IS NULL OR c.name = ?) ORDER BY c.name, at DESC, h.pk DESC",
                (story_id, collection, collection),
            ).fetchall()
        return [Version(row[0], _story(row[1:-2]), row[-2], row[-1]) for row in rows]

    def changed_since(self, collection: str, since: str) -> list[Change]:
        """The stories added, changed and removed at ``since`` (ISO 8601 UTC, as ``changes.since_time`` gives) or later."""
        name = validate_collection_name(collection)
        with self.connect() as db:
            current = {
                row[0]: (_story(row[:-1]), row[-1])
                for row in db.execute(
                    f"SELECT {_ROW_COLUMNS}, added_at FROM stories"
                    " WHERE collection_id = (SELECT id FROM collections WHERE name = ?) ORDER BY source, line, story_id",
                    (name,),
                )
            }
            versions: dict[str, list[Version]] = {}
            for row in db.execute(
                f"SELECT {_ROW_COLUMNS}, at, why FROM story_history"
                " WHERE collection_id = (SELECT id FROM collections WHERE name = ?) AND at >= ? ORDER BY at, pk",
                (name, since),
            ):
                versions.setdefault(row[0], []).append(Version(name, _story(row[:-2]), row[-2], row[-1]))
        changes = []
        for story_id, (story, added_at) in current.items():
            if added_at >= since:
                changes.append(Change(ADDED, story))
            elif story_id in versions:
                changes.append(Change(CHANGED, story, versions[story_id][0].story))
        changes += [Change(REMOVED, kept[-1].story) for story_id, kept in versions.items() if story_id not in current]
        return changes

    def last_import(self, collection: str) -> str | None:
        """When an import last added or changed stories in the collection (ISO 8601 UTC); None if none did
        since the history began. What was removed after it (``sync``, the UI's button) counts as its doing."""
        name = validate_collection_name(collection)
        with self.connect() as db:
            at = db.execute(
                "WITH c AS (SELECT id FROM collections WHERE name = ?)"
                " SELECT MAX(at) FROM (SELECT added_at AS at FROM stories WHERE collection_id IN c"
                " UNION ALL SELECT at FROM story_history WHERE collection_id IN c AND why = 'changed')",
                (name,),
            ).fetchone()
        return at[0] if at and at[0] else None

    def clear(self, collection: str) -> int:
        """Remove the collection; returns how many stories (and notes) went with it."""
        name = validate_collection_name(collection)
        with self.transaction() as db:
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
                record = story.to_record()
                record["acceptance"] = "\n".join(story.acceptance)
                record["fields"], record["comments"] = _json(record["fields"]), _json(record["comments"])
                writer.writerow(record.values())

        _write_atomically(Path(path), write, newline="")

    def export_jsonl(self, collection: str, path: Path) -> None:
        def write(handle) -> None:
            for story in self.stories(collection):
                handle.write(json.dumps(story.to_record(), ensure_ascii=False) + "\n")

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


def _row(collection_id: int, story: Story) -> tuple:
    return (
        collection_id, story.id, story.text, story.source, story.line, story.role, story.goal,
        story.benefit, json.dumps(list(story.acceptance), ensure_ascii=False), story.epic,
        story.kind, story.title, story.description, _json(story.fields.to_record()),
        _json([asdict(comment) for comment in story.comments]), story.digest,
    )


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _keep_version(db: sqlite3.Connection, collection_id: int, story_id: str, at: str, why: str) -> None:
    """Copy a story as it is now into the history, before it is changed or removed."""
    db.execute(
        f"INSERT INTO story_history (collection_id, {_ROW_COLUMNS}, digest, at, why)"
        f" SELECT collection_id, {_ROW_COLUMNS}, digest, ?, ? FROM stories WHERE collection_id = ? AND story_id = ?",
        (at, why, collection_id, story_id),
    )


def _remove(db: sqlite3.Connection, collection_id: int, story_id: str, at: str) -> bool:
    """Delete a story, its last version kept in the history; False when there was none."""
    _keep_version(db, collection_id, story_id, at, REMOVED)
    deleted = db.execute("DELETE FROM stories WHERE collection_id = ? AND story_id = ?", (collection_id, story_id))
    return deleted.rowcount > 0


def _rows(db: sqlite3.Connection, name: str) -> Iterator[tuple]:
    return db.execute(
        f"SELECT {_ROW_COLUMNS} FROM stories"
        " WHERE collection_id = (SELECT id FROM collections WHERE name = ?)"
        " ORDER BY source, line, story_id",
        (name,),
    )


# What changes when any story of a collection changes: its content digest covers the text, criteria, title,
# description, fields and comments (role, goal and benefit are read from the text); the rest is beside it.
_SIGNATURE = (
    "SELECT story_id, source, line, epic, digest FROM stories"
    " WHERE collection_id = (SELECT id FROM collections WHERE name = ?)"
    " ORDER BY source, line, story_id"
)


def _story(row: tuple) -> Story:
    story_id, text, source, line, role, goal, benefit, acceptance, epic, kind, title, description, fields, comments = row
    return Story(
        id=story_id, text=text, source=source, line=line, role=role, goal=goal, benefit=benefit,
        acceptance=tuple(json.loads(acceptance)), epic=epic, kind=kind, title=title, description=description,
        fields=Fields.from_record(json.loads(fields)), comments=tuple(Comment(**c) for c in json.loads(comments)),
    )


def _write_atomically(path: Path, write: Callable, newline: str) -> None:
    """Write via a temporary file, so a failed export never leaves half a file."""
    temporary = path.with_name(path.name + ".partial")
    try:
        with temporary.open("w", encoding="utf-8", newline=newline) as handle:
            write(handle)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
