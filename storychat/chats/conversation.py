"""One chat: its turns as the library keeps them, and what of them goes back to the model."""

from __future__ import annotations

import json
from dataclasses import dataclass

from storychat.answer.answer import Answer
from storychat.answer.citations import Citation
from storychat.llm.engine import Message

ANSWER, STOPPED, QUICK_ACTION = "answer", "stopped", "quick action"


@dataclass(frozen=True)
class Turn:
    """A question and its answer as data: the faces render the record, the turn keeps no rendering."""

    question: str  # or the quick action's title
    kind: str = ANSWER
    # An answer: its ``ask --json`` record (citations with their verdicts, context, timings).
    # A stopped answer: {"answer": its words so far}.
    # A quick action: {"answer": the list and the summary as text, "markdown": the list as the chat shows it,
    # "summary": the model's summary's record, or None}.
    record: dict | None = None

    @property
    def said(self) -> str:
        """What the model wrote, also when the strict check withheld it, so the next answer stays
        consistent with it; a refusal by the relevance gate, which never reached the model, is the refusal."""
        return self.record["raw"] or self.record["answer"]

    @property
    def citations(self) -> list[Citation]:
        return [Citation(**{**cite, "acceptance": tuple(cite["acceptance"])}) for cite in self.record.get("citations", [])]


def as_record(answer: Answer) -> dict:
    """The record as JSON holds it (lists, not tuples), so a turn read back from the library equals it."""
    return json.loads(json.dumps(answer.to_json()))


def answered(question: str, answer: Answer) -> Turn:
    return Turn(question, ANSWER, as_record(answer))


def stopped(question: str, partial: str, listing: dict | None = None) -> Turn:
    """``listing``: the exact list shown before the model's summary was stopped (``listing_json``), kept with it."""
    return Turn(question, STOPPED, {"answer": partial, **({"listing": listing} if listing else {})})


def quick_action(title: str, listed: str, markdown: str = "", summary: Answer | None = None) -> Turn:
    """``listed``: the computed list as text; ``markdown``: as the chat shows it ("" for a plain list)."""
    said = f"\n\nThe model's summary: {summary.answer}" if summary and summary.answer else ""
    record = {"answer": listed + said, "markdown": markdown, "summary": as_record(summary) if summary else None}
    return Turn(title, QUICK_ACTION, record)


@dataclass(frozen=True)
class Conversation:
    """The turns so far, oldest first. Adding a turn makes a new conversation.

    ``id``: the kept chat's, once the library keeps it (``storychat.chats.store``); None before.
    """

    turns: tuple[Turn, ...] = ()
    id: int | None = None

    def add(self, turn: Turn) -> "Conversation":
        return Conversation((*self.turns, turn), self.id)

    def revise(self, turn: Turn) -> "Conversation":
        """The conversation with ``turn`` in place of its last turn."""
        return Conversation((*self.turns[:-1], turn), self.id)

    def kept_as(self, chat_id: int) -> "Conversation":
        return Conversation(self.turns, chat_id)

    @property
    def history(self) -> list[Message]:
        """The turns as chat messages for the next question.

        Only answered questions go back: half an answer would teach the model to
        stop short, and a quick action was not asked in the chat.
        """
        return [
            message
            for turn in self.turns
            if turn.kind == ANSWER
            for message in (Message("user", turn.question), Message("assistant", turn.said))
        ]
