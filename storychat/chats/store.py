"""The kept chats: each user's conversations, turn by turn, in the library's SQLite file."""

from __future__ import annotations

import json
from dataclasses import dataclass

from storychat.chats.conversation import Conversation, Turn
from storychat.stories.changes import now
from storychat.stories.library import Library

LOCAL = "local"  # the one user of a StoryChat without a login
MAX_TITLE = 80


@dataclass(frozen=True)
class Chat:
    id: int
    owner: str
    collection: str
    title: str
    created: str  # ISO 8601 UTC
    updated: str
    turns: int


def title_of(question: str) -> str:
    """A chat is titled by its first question, on one line and at most ``MAX_TITLE`` characters."""
    line = " ".join(question.split())
    return line if len(line) <= MAX_TITLE else line[: MAX_TITLE - 1].rstrip() + "…"


class Chats:
    """Every call names the owner: a chat another owner keeps is never read, renamed or deleted."""

    def __init__(self, library: Library):
        self.library = library

    def keep(self, owner: str, collection: str, conversation: Conversation) -> Conversation:
        """Keep the conversation's last turn. A conversation not kept yet, or kept as another owner's chat or in
        another collection, starts a chat with it, titled by its question."""
        turn = conversation.turns[-1]
        at = now()
        with self.library.transaction() as db:
            chat_id = conversation.id
            if chat_id is None or not _holds(db, owner, collection, chat_id):
                chat_id = db.execute(
                    "INSERT INTO chats (owner, collection, title, created, updated) VALUES (?, ?, ?, ?, ?)",
                    (owner, collection, title_of(turn.question), at, at),
                ).lastrowid
            position = db.execute("SELECT COUNT(*) FROM turns WHERE chat_id = ?", (chat_id,)).fetchone()[0]
            db.execute(
                "INSERT INTO turns (chat_id, position, question, kind, record, at) VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, position, turn.question, turn.kind, json.dumps(turn.record, ensure_ascii=False), at),
            )
            db.execute("UPDATE chats SET updated = ? WHERE id = ?", (at, chat_id))
        return conversation.kept_as(chat_id)

    def revise(self, owner: str, collection: str, conversation: Conversation) -> Conversation:
        """Keep the conversation's last turn in place of the one kept last (an answer that got the model's second
        opinion after it was kept); a chat the owner does not keep in ``collection`` is left as it is."""
        turn = conversation.turns[-1]
        with self.library.transaction() as db:
            if conversation.id is None or not _holds(db, owner, collection, conversation.id):
                return conversation
            db.execute(
                "UPDATE turns SET record = ? WHERE chat_id = ? AND position = (SELECT MAX(position) FROM turns WHERE chat_id = ?)",
                (json.dumps(turn.record, ensure_ascii=False), conversation.id, conversation.id),
            )
        return conversation

    def list(self, owner: str) -> list[Chat]:
        """The owner's chats, the latest first."""
        with self.library.connect() as db:
            rows = db.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats c WHERE owner = ? ORDER BY updated DESC, id DESC", (owner,)
            ).fetchall()
        return [Chat(*row) for row in rows]

    def latest(self, owner: str, collection: str) -> Chat | None:
        with self.library.connect() as db:
            row = db.execute(
                f"SELECT {_CHAT_COLUMNS} FROM chats c WHERE owner = ? AND collection = ? ORDER BY updated DESC, id DESC LIMIT 1",
                (owner, collection),
            ).fetchone()
        return Chat(*row) if row else None

    def find(self, owner: str, chat_id: int) -> Chat | None:
        """The chat without its turns; None when the owner keeps no chat ``chat_id``."""
        with self.library.connect() as db:
            row = db.execute(f"SELECT {_CHAT_COLUMNS} FROM chats c WHERE owner = ? AND id = ?", (owner, chat_id)).fetchone()
        return Chat(*row) if row else None

    def open(self, owner: str, chat_id: int) -> tuple[Chat, Conversation] | None:
        """The chat and its turns; None when the owner keeps no chat ``chat_id``."""
        chat = self.find(owner, chat_id)
        if chat is None:
            return None
        with self.library.connect() as db:
            turns = db.execute("SELECT question, kind, record FROM turns WHERE chat_id = ? ORDER BY position", (chat_id,)).fetchall()
        kept = tuple(Turn(question, kind, json.loads(record)) for question, kind, record in turns)
        return chat, Conversation(kept, chat_id)

    def rename(self, owner: str, chat_id: int, title: str) -> bool:
        title = title_of(title)
        if not title:
            raise ValueError("A chat needs a title; type one.")
        with self.library.transaction() as db:
            return db.execute("UPDATE chats SET title = ? WHERE owner = ? AND id = ?", (title, owner, chat_id)).rowcount > 0

    def delete(self, owner: str, chat_id: int) -> bool:
        with self.library.transaction() as db:
            return db.execute("DELETE FROM chats WHERE owner = ? AND id = ?", (owner, chat_id)).rowcount > 0


_CHAT_COLUMNS = "id, owner, collection, title, created, updated, (SELECT COUNT(*) FROM turns t WHERE t.chat_id = c.id)"


def _holds(db, owner: str, collection: str, chat_id: int) -> bool:
    """``chat_id`` is the owner's chat in ``collection``."""
    found = db.execute("SELECT 1 FROM chats WHERE owner = ? AND collection = ? AND id = ?", (owner, collection, chat_id))
    return found.fetchone() is not None
