"""One chat: its turns as they were shown and are kept, and what of them goes back to the model."""

from __future__ import annotations

import json
from dataclasses import dataclass

from storychat.answer.citations import Citation
from storychat.answer.pipeline import Answer
from storychat.llm.engine import Message


ANSWER, STOPPED, QUICK_ACTION = "answer", "stopped", "quick action"


@dataclass(frozen=True)
class Turn:
    """A question and its answer, as the chat showed them and the library keeps them."""

    question: str  # or the quick action's title
    kind: str = ANSWER
    # An answer: its ``ask --json`` record (citations with their verdicts, context, timings).
    # A stopped answer or a quick action: {"answer": its words so far, or the action's result}.
    record: dict | None = None
    shown: tuple[dict, ...] = ()  # the chat's messages after the question
    coverage: str = ""  # the coverage line shown under the chat

    @property
    def said(self) -> str:
        """What the model wrote, also when the strict check withheld it, so the next answer stays
        consistent with it; a refusal by the relevance gate, which never reached the model, is the refusal."""
        return self.record["raw"] or self.record["answer"]

    @property
    def citations(self) -> list[Citation]:
        return [Citation(**{**cite, "acceptance": tuple(cite["acceptance"])}) for cite in self.record.get("citations", [])]


def answered(question: str, answer: Answer, shown: list[dict] = (), coverage: str = "") -> Turn:
    """The record as JSON holds it (lists, not tuples), so a turn read back from the library equals it."""
    return Turn(question, ANSWER, json.loads(json.dumps(answer.to_json())), tuple(shown), coverage)


def stopped(question: str, partial: str, shown: list[dict] = ()) -> Turn:
    return Turn(question, STOPPED, {"answer": partial}, tuple(shown))


def quick_action(title: str, result: str, shown: list[dict] = (), coverage: str = "") -> Turn:
    return Turn(title, QUICK_ACTION, {"answer": result}, tuple(shown), coverage)


@dataclass(frozen=True)
class Conversation:
    """The turns so far, oldest first. Adding a turn makes a new conversation.

    ``id``: the kept chat's, once the library keeps it (``storychat.answer.chats``); None before.
    """

    turns: tuple[Turn, ...] = ()
    id: int | None = None

    def add(self, turn: Turn) -> "Conversation":
        return Conversation((*self.turns, turn), self.id)

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
