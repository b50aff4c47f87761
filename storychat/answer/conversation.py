"""One chat: its turns, and what of them goes back to the model with the next question."""

from __future__ import annotations

from dataclasses import dataclass

from storychat.answer.pipeline import Answer
from storychat.llm.engine import Message


@dataclass(frozen=True)
class Turn:
    question: str
    answer: Answer | None  # None: stopped before the answer was finished
    partial: str = ""  # what the model had written when it was stopped

    @property
    def stopped(self) -> bool:
        return self.answer is None


@dataclass(frozen=True)
class Conversation:
    """The turns so far, oldest first. Adding a turn makes a new conversation."""

    turns: tuple[Turn, ...] = ()

    def add(self, question: str, answer: Answer) -> "Conversation":
        return Conversation((*self.turns, Turn(question, answer)))

    def add_stopped(self, question: str, partial: str) -> "Conversation":
        return Conversation((*self.turns, Turn(question, None, partial)))

    @property
    def history(self) -> list[Message]:
        """The turns as chat messages for the next question.

        The assistant's message is what the model wrote, also when the strict
        check withheld it, so it stays consistent with itself; a refusal by the
        relevance gate, which never reached the model, is the refusal sentence.
        A stopped turn is left out: half an answer would teach the model to stop short.
        """
        return [
            message
            for turn in self.turns
            if not turn.stopped
            for message in (Message("user", turn.question), Message("assistant", turn.answer.raw or turn.answer.answer))
        ]
