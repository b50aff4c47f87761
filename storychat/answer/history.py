"""What of a chat's earlier turns goes back to the model with the next question (issue 34).

The earlier turns are examples to a small model: given every one of them, the bundled 135M model
wrote later answers in the shape of an earlier one ("[id] As a manager, I want … The answer is
no.") under stories that say something else, misquoting them. A follow-up is searched and ranked
with the turn before it whatever is carried (``followup.py``): the story the previous answer cited
leads, is repeated just before the question and, for the tiny profile, opens the answer. So the
model needs no earlier turn, and both profiles send none: on ``bench/history_recall.py`` that made
a 17-question chat as good as each question asked alone (docs/evaluation.md, "Earlier turns in a chat").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from storychat.answer.citations import extract_ids
from storychat.answer.profiles import OPEN, TINY
from storychat.llm.engine import Message


@dataclass(frozen=True)
class Earlier:
    """An answered turn of the chat."""

    question: str
    said: str  # what the model wrote
    cited: tuple[str, ...]  # the ids it wrote in brackets, in order

    def messages(self, said: str | None = None) -> list[Message]:
        return [Message("user", self.question), Message("assistant", self.said if said is None else said)]


def earlier_turns(history: Sequence[Message]) -> list[Earlier]:
    """The question-and-answer pairs of ``history`` (``Conversation.history``'s messages), oldest first."""
    turns: list[Earlier] = []
    question = None
    for message in history:
        if message.role == "user":
            question = message.content
        elif message.role == "assistant" and question is not None:
            turns.append(Earlier(question, message.content, tuple(extract_ids(message.content))))
            question = None
    return turns


def _all(turns: Sequence[Earlier], follow_up: bool) -> list[Message]:
    return [m for t in turns for m in t.messages()]


def _previous_question(turns: Sequence[Earlier], follow_up: bool) -> list[Message]:
    return [Message("user", turns[-1].question)] if turns else []


def _cited_ids(turns: Sequence[Earlier], follow_up: bool) -> list[Message]:
    """Each turn that cited a story, its answer cut to the ids: which stories, not how it was put."""
    return [m for t in turns if t.cited for m in t.messages(" ".join(f"[{i}]" for i in t.cited))]


def _on_follow_up(turns: Sequence[Earlier], follow_up: bool) -> list[Message]:
    """The turn a follow-up refers back to, and nothing for a question asked afresh."""
    return turns[-1].messages() if follow_up and turns else []


def _nothing(turns: Sequence[Earlier], follow_up: bool) -> list[Message]:
    return []


ALL, PREVIOUS_QUESTION, CITED_IDS, ON_FOLLOW_UP, NOTHING = "all", "previous-question", "cited-ids", "on-follow-up", "nothing"
POLICIES: dict[str, Callable[[Sequence[Earlier], bool], list[Message]]] = {
    ALL: _all, PREVIOUS_QUESTION: _previous_question, CITED_IDS: _cited_ids, ON_FOLLOW_UP: _on_follow_up, NOTHING: _nothing,
}
FOR_PROFILE = {TINY: NOTHING, OPEN: NOTHING}


def carry(history: Sequence[Message], follow_up: bool, policy: str) -> list[Message]:
    """The messages of ``history`` that go to the model with the next question, by ``policy``;
    ``follow_up``: whether that question refers back to the turn before it (``followup.refers_back``)."""
    if policy not in POLICIES:
        raise ValueError(f"history policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    return POLICIES[policy](earlier_turns(history), follow_up)
