"""One chat: its turns, and what of them goes back to the model with the next question."""

from __future__ import annotations

from dataclasses import dataclass

from storychat.answer.pipeline import Answer
from storychat.llm.engine import Message


ANSWER, STOPPED, QUICK_ACTION = "answer", "stopped", "quick action"


@dataclass(frozen=True)
class Turn:
    question: str  # or the quick action's title
    answer: Answer | None  # None for a stopped answer and for a quick action
    text: str = ""  # a stopped answer's words so far; a quick action's result and checked summary
    kind: str = ANSWER


@dataclass(frozen=True)
class Conversation:
    """The turns so far, oldest first. Adding a turn makes a new conversation."""

    turns: tuple[Turn, ...] = ()

    def add(self, question: str, answer: Answer) -> "Conversation":
        return Conversation((*self.turns, Turn(question, answer)))

    def add_stopped(self, question: str, partial: str) -> "Conversation":
        return Conversation((*self.turns, Turn(question, None, partial, STOPPED)))

    def add_action(self, title: str, result: str) -> "Conversation":
        return Conversation((*self.turns, Turn(title, None, result, QUICK_ACTION)))

    @property
    def history(self) -> list[Message]:
        """The turns as chat messages for the next question.

        The assistant's message is what the model wrote, also when the strict
        check withheld it, so it stays consistent with itself; a refusal by the
        relevance gate, which never reached the model, is the refusal sentence.
        Only answered questions go back: half an answer would teach the model to
        stop short, and a quick action was not asked in the chat.
        """
        return [
            message
            for turn in self.turns
            if turn.answer
            for message in (Message("user", turn.question), Message("assistant", turn.answer.raw or turn.answer.answer))
        ]
