"""Follow-up questions, judged together with the turn before them.

"Which role asked for that, and what is the benefit?" shares no telling word
with any story; it asks about the stories the previous answer cited. A question
is a follow-up when every content word of it already occurs in the previous
question or in the stories that turn cited (a question with none, "And why?",
always is). A follow-up is searched with the previous question, the stories
the previous answer cited lead its ranking, and when there are such stories
the relevance gate lets it through: the turn before passed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from storychat.answer.citations import extract_ids
from storychat.answer.retrieval import Hit
from storychat.answer.support import content_words, same_stem
from storychat.llm.engine import Message
from storychat.stories import Story


@dataclass(frozen=True)
class PreviousTurn:
    question: str
    cited: tuple[Story, ...]  # the stories of this collection its answer cited, in order


def previous_turn(history: Sequence[Message], stories: Sequence[Story]) -> PreviousTurn | None:
    """The last question of ``history`` and the stories its answer cited; None when there is none."""
    questions = [m.content for m in history if m.role == "user"]
    if not questions:
        return None
    replies = [m.content for m in history if m.role == "assistant"]
    known = {s.id: s for s in stories}
    cited = extract_ids(replies[-1], known) if replies else []
    return PreviousTurn(questions[-1], tuple(known[i] for i in cited if i in known))


def refers_back(question: str, turn: PreviousTurn) -> bool:
    """Whether every content word of ``question`` is in ``turn``'s question or its cited stories."""
    earlier = {w.stem for w in content_words(" ".join([turn.question, *(s.text for s in turn.cited)]))}
    return all(any(same_stem(w.stem, e) for e in earlier) for w in content_words(question))


def cited_first(hits: Sequence[Hit], cited: Sequence[Story]) -> list[Hit]:
    """``hits`` with the previous answer's stories moved to the front (one with no shared word gets match 0)."""
    found = {h.story.id: h for h in hits}
    lead = [found.get(s.id, Hit(s, 0.0, 0.0)) for s in cited]
    ids = {s.id for s in cited}
    return lead + [h for h in hits if h.story.id not in ids]
