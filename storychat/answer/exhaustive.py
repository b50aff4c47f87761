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
# The units a loop repeats: a sentence (up to its end, a line break or the next id), with the id that opens it;
# a pass's "[id], [id]" are units of an id each.
_UNIT = re.compile(r"\[[^\]\n]{1,80}\][^.!?\n\[]*[.!?]?|[^.!?\n\[]+[.!?]?")
LOOP_REPEATS = 3  # a unit written this many times is a loop: nothing a pass or an answer needs says a thing thrice
LOOPED = "The model repeated itself, so it was stopped there; what it wrote before the repetition is kept."


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
    looped: int = 0  # passes stopped early because their output repeated itself

    def line(self) -> str:
        rounds = f"; answered in {self.rounds} rounds, as they do not fit one context" if self.rounds > 1 else ""
        looped = (
            f"; {self.looped} pass{'' if self.looped == 1 else 'es'} repeated {'itself' if self.looped == 1 else 'themselves'} "
            "and stopped early, keeping what they cited before" if self.looped else ""
        )
        return (
            f"read all {self.stories:,} stories in {self.passes} pass{'' if self.passes == 1 else 'es'}: "
            f"{self.cited} cited{rounds}{looped}"
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


def loop_start(text: str) -> int | None:
    """Where ``text`` starts to repeat itself: the start of the second time it wrote the id or sentence it has now
    written LOOP_REPEATS times. None while it has not. What comes before is all the loop adds nothing to."""
    seen: dict[str, list[int]] = {}
    for unit in _UNIT.finditer(text):
        key = " ".join(unit.group().casefold().split()).rstrip(".!?,;: ")
        if len(key) < 2:
            continue
        starts = seen.setdefault(key, [])
        starts.append(unit.start() + len(unit.group()) - len(unit.group().lstrip()))
        if len(starts) == LOOP_REPEATS:
            return starts[1]
    return None


def cited_in(raw: str, shard: Sequence[Story]) -> list[Story]:
    """The shard's stories a pass answer cites, in library order; ids the shard lacks are dropped."""
    ids = set(extract_ids(raw, {s.id for s in shard}))
    return [s for s in shard if s.id in ids]
