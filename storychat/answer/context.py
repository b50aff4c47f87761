"""Decide which stories go into the model's context, and say so.

Full mode: every story fits, and goes in, in library order: the prompt prefix
is then identical for every question about the collection. Retrieval mode:
the room for stories is filled in rank order (``fill_order``): the search hits
first, then their kin, then the rest. Either way the coverage is reported with
the answer; truncation is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from storychat.answer.prompt import Template, render_story
from storychat.answer.retrieval import Hit
from storychat.llm.engine import MESSAGE_OVERHEAD, Engine, Message
from storychat.stories import Story


@dataclass(frozen=True)
class Coverage:
    stories_in_context: int
    stories_total: int
    tokens_in_context: int
    n_ctx: int
    mode: str  # "full", "retrieval" or "exhaustive" (every story read in passes)


@dataclass(frozen=True)
class Fit:
    """How a set of stories fits the model's context, in model tokens."""

    tokens: int  # the stories, as laid out in the system prompt
    budget: int  # room for stories: the context less the rules, the answer and the turn reserve
    rules: int  # the system prompt without stories, with its message markers

    @property
    def fits(self) -> bool:
        return self.tokens <= self.budget


@dataclass(frozen=True)
class Context:
    stories: list[Story]
    system: str
    history: list[Message]
    dropped_turns: int
    coverage: Coverage
    hits: list[Hit]  # the search's ranking of the stories in context, best first


class QuestionError(ValueError):
    """The question cannot be asked as it is; the message says why."""


class ContextBuilder:
    """Fits stories, recent conversation and the question into the engine's context.

    The budget is split so the corpus does not depend on the question: a fixed
    reserve holds the question and recent turns, the rest (minus room for the
    answer) holds stories.
    """

    def __init__(self, engine: Engine, template: Template, max_answer_tokens: int):
        self.engine = engine
        self.template = template
        self.max_answer_tokens = max_answer_tokens
        self._story_tokens: dict[str, int] = {}

    @property
    def turn_reserve(self) -> int:
        """Tokens kept for the question and recent turns."""
        return max(256, self.engine.context_length // 8)

    def fit(self, stories: Sequence[Story]) -> Fit:
        rules = self.engine.count(self.template.render_system([])) + MESSAGE_OVERHEAD
        budget = self.engine.context_length - self.max_answer_tokens - self.turn_reserve - rules
        return Fit(sum(self.story_tokens(s) for s in stories if not s.is_note), budget, rules)

    def build(
        self, stories: Sequence[Story], question: str, history: Sequence[Message], hits: Sequence[Hit]
    ) -> Context:
        """``hits``: the search for this question over the same stories, best first."""
        stories = [s for s in stories if not s.is_note]
        chosen, mode = self._choose(stories, hits)
        system = self.template.render_system(chosen)
        used = self.engine.count(system) + MESSAGE_OVERHEAD
        question_tokens = self.engine.count(question) + MESSAGE_OVERHEAD
        room = self.engine.context_length - self.max_answer_tokens - used - question_tokens
        if room < 0:
            raise QuestionError(
                f"The question is {question_tokens} tokens; with the stories and room for the "
                f"answer it does not fit the {self.engine.context_length}-token context. "
                "Ask a shorter question."
            )
        kept = self._recent_turns(history, room)
        used += question_tokens + sum(self._message_tokens(m) for m in kept)
        coverage = Coverage(len(chosen), len(stories), used, self.engine.context_length, mode)
        shown = {s.id for s in chosen}
        return Context(chosen, system, kept, len(history) - len(kept), coverage, [h for h in hits if h.story.id in shown])

    def _choose(self, stories: list[Story], hits: Sequence[Hit]) -> tuple[list[Story], str]:
        fit = self.fit(stories)
        if fit.fits:
            return stories, "full"
        budget = fit.budget
        picked: set[str] = set()
        for story in fill_order(stories, hits):
            size = self.story_tokens(story)
            if size <= budget:
                picked.add(story.id)
                budget -= size
        # Keep library order among the picked stories, so the prompt stays stable
        # for questions that retrieve the same set.
        return [s for s in stories if s.id in picked], "retrieval"

    def story_tokens(self, story: Story) -> int:
        """The tokens ``story`` takes in the system prompt."""
        line = render_story(story)
        if line not in self._story_tokens:
            self._story_tokens[line] = self.engine.count(line + "\n")
        return self._story_tokens[line]

    def _message_tokens(self, message: Message) -> int:
        return self.engine.count(message.content) + MESSAGE_OVERHEAD

    def _recent_turns(self, history: Sequence[Message], room: int) -> list[Message]:
        kept: list[Message] = []
        for message in reversed(history):
            room -= self._message_tokens(message)
            if room < 0:
                break
            kept.append(message)
        kept.reverse()
        # Never start the kept history with an orphaned assistant reply.
        while kept and kept[0].role != "user":
            kept.pop(0)
        return kept


def fill_order(stories: Sequence[Story], hits: Sequence[Hit]) -> list[Story]:
    """Every story, in the order retrieval fills the context: the hits, best first;
    then stories of a hit's backlog with its epic or role; then the rest of those
    backlogs; then every other story. Ties keep library order."""
    first = [h.story for h in hits]
    epics = {(s.source, s.epic) for s in first if s.epic}
    roles = {(s.source, s.role.lower()) for s in first if s.role}
    sources = {s.source for s in first}

    def tier(story: Story) -> int:
        if (story.source, story.epic) in epics or (story.source, story.role.lower()) in roles:
            return 0
        return 1 if story.source in sources else 2

    ranked = {s.id for s in first}
    rest = sorted((s for s in stories if s.id not in ranked), key=tier)  # stable: library order within a tier
    return first + rest
