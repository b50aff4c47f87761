"""The library's schema, built up by named migrations run in order.

Migration n (1-based, in the order below) brings a database from
``PRAGMA user_version`` n-1 to n. Add a change as a new function at the end;
never edit one that has shipped.
"""

from __future__ import annotations

import html
import json
import sqlite3
from typing import Callable, Sequence

from storychat.stories import vectors
from storychat.stories.embedder import load_embedder
from storychat.stories.model import Story, content_digest

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Run the migrations ``db`` has not had yet, each in its own transaction."""
    for version, step in enumerate(migrations, start=1):
        db.execute("BEGIN IMMEDIATE")
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] < version:
                step(db)
                db.execute(f"PRAGMA user_version = {version}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


@migration
def m001_create_tables(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE collections ("
        " id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE)"
    )
    db.execute(
        "CREATE TABLE stories ("
        " pk INTEGER PRIMARY KEY,"
        " collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
        " story_id TEXT NOT NULL,"
        " text TEXT NOT NULL,"
        " source TEXT NOT NULL,"
        " line INTEGER NOT NULL,"
        " role TEXT NOT NULL,"
        " goal TEXT NOT NULL,"
        " benefit TEXT NOT NULL,"
        " acceptance TEXT NOT NULL,"  # JSON list of strings
        " epic TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " UNIQUE (collection_id, story_id))"
    )


@migration
def m002_content_digest(db: sqlite3.Connection) -> None:
    """A digest of each story's content finds duplicates by index."""
    db.execute("ALTER TABLE stories ADD COLUMN digest TEXT NOT NULL DEFAULT ''")
    rows = db.execute("SELECT pk, kind, text, acceptance FROM stories").fetchall()
    db.executemany(
        "UPDATE stories SET digest = ? WHERE pk = ?",
        ((content_digest(kind, text, tuple(json.loads(acceptance))), pk) for pk, kind, text, acceptance in rows),
    )
    db.execute("CREATE INDEX stories_by_digest ON stories (collection_id, digest)")


@migration
def m003_story_vectors(db: sqlite3.Connection) -> None:
    """Each story's vector by the reader of meaning, kept by content digest (identical stories share one)."""
    db.execute(
        "CREATE TABLE story_vectors ("
        " reader TEXT NOT NULL,"
        " digest TEXT NOT NULL,"
        " vector BLOB NOT NULL,"  # float32, little-endian
        " PRIMARY KEY (reader, digest))"
    )
    rows = db.execute("SELECT DISTINCT text, acceptance FROM stories WHERE kind != 'note'").fetchall()
    if rows:
        stories = [Story("", text, "", 0, acceptance=tuple(json.loads(acceptance))) for text, acceptance in rows]
        load_embedder().kept_in(vectors.Held(db)).story_vectors(stories)


@migration
def m004_story_history(db: sqlite3.Connection) -> None:
    """The previous version of every changed or removed story, and when each story was added.

    ``at`` and ``added_at`` are ISO 8601 UTC times; a story from before this migration was added at ''.
    """
    db.execute("ALTER TABLE stories ADD COLUMN added_at TEXT NOT NULL DEFAULT ''")
    db.execute(
        "CREATE TABLE story_history ("
        " pk INTEGER PRIMARY KEY,"
        " collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,"
        " story_id TEXT NOT NULL,"
        " text TEXT NOT NULL,"
        " source TEXT NOT NULL,"
        " line INTEGER NOT NULL,"
        " role TEXT NOT NULL,"
        " goal TEXT NOT NULL,"
        " benefit TEXT NOT NULL,"
        " acceptance TEXT NOT NULL,"
        " epic TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " digest TEXT NOT NULL,"
        " at TEXT NOT NULL,"  # when this version was replaced or removed
        " why TEXT NOT NULL CHECK (why IN ('changed', 'removed')))"
    )
    db.execute("CREATE INDEX story_history_by_story ON story_history (collection_id, story_id, at)")


@migration
def m005_chats(db: sqlite3.Connection) -> None:
    """Each user's conversations (``storychat.chats.store``): a chat belongs to one owner and one collection.

    ``owner`` is the login's user name, or ``local`` without a login; times are ISO 8601 UTC.
    A chat names its collection rather than referencing it, so deleting a collection keeps its chats.
    """
    db.execute(
        "CREATE TABLE chats ("
        " id INTEGER PRIMARY KEY,"
        " owner TEXT NOT NULL,"
        " collection TEXT NOT NULL,"
        " title TEXT NOT NULL,"
        " created TEXT NOT NULL,"
        " updated TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX chats_by_owner ON chats (owner, collection, updated)")
    db.execute(
        "CREATE TABLE turns ("
        " chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
        " position INTEGER NOT NULL,"
        " question TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " record TEXT NOT NULL,"  # JSON: the answer's ask --json record (citations, verdicts, timings)
        " shown TEXT NOT NULL,"  # JSON: the chat's messages after the question
        " coverage TEXT NOT NULL,"
        " at TEXT NOT NULL,"
        " PRIMARY KEY (chat_id, position))"
    )


@migration
def m006_turns_keep_records(db: sqlite3.Connection) -> None:
    """A turn keeps its record only; the chat renders it. ``shown`` (the chat's messages) and ``coverage``
    (its coverage line) were renderings. An answer's record holds everything they came from. A quick action's
    record did not: its list as the chat showed it, its summary and its coverage line move into it."""
    rows = db.execute("SELECT chat_id, position, record, shown, coverage FROM turns WHERE kind = 'quick action'").fetchall()
    for chat_id, position, record, shown, coverage in rows:
        messages = json.loads(shown)
        record = {
            **json.loads(record),
            "markdown": messages[0]["content"] if messages else "",
            "summary": {"answer": html.unescape(messages[1]["content"])} if len(messages) > 1 else None,
            "coverage": coverage,
        }
        db.execute(
            "UPDATE turns SET record = ? WHERE chat_id = ? AND position = ?",
            (json.dumps(record, ensure_ascii=False), chat_id, position),
        )
    db.execute("ALTER TABLE turns DROP COLUMN shown")
    db.execute("ALTER TABLE turns DROP COLUMN coverage")


@migration
def m007_tracker_items(db: sqlite3.Connection) -> None:
    """A tracker item whole: its title and description beside its text, its fields (JSON of ``Fields``) and its
    comments (JSON list of ``Comment``), in the stories and their history. Stories before it have none of them,
    so their digests, and the vectors kept by digest, stay what they were."""
    for table in ("stories", "story_history"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN title TEXT NOT NULL DEFAULT ''")
        db.execute(f"ALTER TABLE {table} ADD COLUMN description TEXT NOT NULL DEFAULT ''")
        db.execute(f"ALTER TABLE {table} ADD COLUMN fields TEXT NOT NULL DEFAULT '{{}}'")
        db.execute(f"ALTER TABLE {table} ADD COLUMN comments TEXT NOT NULL DEFAULT '[]'")
