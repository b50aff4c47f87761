"""Exhaustive mode ("read everything"): the pieces of its map step and what it reports.

Each shard is asked which of its stories the question is about, and may answer
only with its own ids or ``none`` (``id_list_grammar``); the answer is then
written from the union of the cited stories. ``Pipeline.ask_exhaustive`` runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from storychat.answer.citations import extract_ids
from storychat.stories import Story

NONE = "none"
EXHAUSTIVE = "exhaustive"  # the coverage mode of its answers
HINT = "This question asks for a complete list: exhaustive mode reads every story (slower) instead of the best matches."
_COMPLETE_LIST = re.compile(r"\b(every|all|list|which stories)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Reading:
    """How an exhaustive answer read the collection."""

    stories: int  # every story read
    passes: int  # one per shard
    cited: int  # stories the passes cited, counted once
    rounds: int = 1  # more than one when the cited stories do not fit one context
    pass_tokens: int = 0  # prompt tokens of all passes
    pass_evaluated: int = 0  # of which the engine computed (the rest came from its KV cache)
    pass_sources: tuple[str, ...] = ()  # where each pass's shard prefix came from: cold, ram, disk, live...
    ids: tuple[str, ...] = ()  # the stories the passes cited, in library order: the complete list the answer is written from

    def line(self) -> str:
        rounds = f"; answered in {self.rounds} rounds, as they do not fit one context" if self.rounds > 1 else ""
        return (
            f"read all {self.stories:,} stories in {self.passes} pass{'' if self.passes == 1 else 'es'}: "
            f"{self.cited} cited{rounds}"
        )


def asks_for_everything(question: str) -> bool:
    """The question asks for a complete list ("every", "all", "list", "which stories")."""
    return bool(_COMPLETE_LIST.search(question))


def map_question(question: str) -> str:
    """The last message of a pass: the shard's stories are in the system prompt above it."""
    return (
        "List the id of every story above that is about the question, in square brackets. "
        f"If no story is, reply {NONE}.\n\nQuestion: {question}"
    )


def cited_in(raw: str, shard: Sequence[Story]) -> list[Story]:
    """The shard's stories a pass answer cites, in library order; ids the shard lacks are dropped."""
    ids = set(extract_ids(raw, {s.id for s in shard}))
    return [s for s in shard if s.id in ids]
