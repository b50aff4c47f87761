"""Story vectors in the library: the ``story_vectors`` table, one float32 row per content digest."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import numpy as np

_CHUNK = 500  # digests per query, under SQLite's limit on bound parameters


def to_blob(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


def load(db: sqlite3.Connection, embedder: str, digests: Sequence[str]) -> dict[str, np.ndarray]:
    unique = list(dict.fromkeys(digests))
    found: dict[str, np.ndarray] = {}
    for chunk in _chunks(unique):
        rows = db.execute(
            f"SELECT digest, vector FROM story_vectors WHERE reader = ? AND digest IN ({', '.join('?' * len(chunk))})",
            (embedder, *chunk),
        )
        found.update((digest, from_blob(blob)) for digest, blob in rows)
    return found


def save(db: sqlite3.Connection, embedder: str, vectors: Mapping[str, np.ndarray]) -> None:
    db.executemany(
        "INSERT OR IGNORE INTO story_vectors (reader, digest, vector) VALUES (?, ?, ?)",
        ((embedder, digest, to_blob(v)) for digest, v in vectors.items()),
    )


def drop_orphans(db: sqlite3.Connection) -> None:
    """Forget the vectors of content no story has any more (a deleted story's text goes with it)."""
    db.execute("DELETE FROM story_vectors WHERE digest NOT IN (SELECT digest FROM stories)")


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


@dataclass(frozen=True)
class Held:
    """The vectors of an open connection, such as an import's transaction, as an embedder's ``VectorStore``."""

    db: sqlite3.Connection

    def load_vectors(self, embedder: str, digests: Sequence[str]) -> dict[str, np.ndarray]:
        return load(self.db, embedder, digests)

    def save_vectors(self, embedder: str, vectors: Mapping[str, np.ndarray]) -> None:
        save(self.db, embedder, vectors)
