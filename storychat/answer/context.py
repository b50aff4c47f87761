"""Decide which stories go into the model's context, and say so.

Full mode: every story fits, and goes in, in library order: the prompt prefix
is then identical for every question about the collection. Retrieval mode:
the room for stories is filled in rank order (``fill_order``): the search hits
first, then their kin, then the rest. A long item goes in as its text and title
plus its passages most relevant to the question (``answer/passages.py``), so its
bytes, and the prompt's from there on, depend on the question. Either way the
coverage is reported with the answer, cut items included; truncation is never
silent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

from storychat.answer.passages import Cut, cut, is_long
from storychat.answer.prompt import Template, render_story
from storychat.answer.retrieval import Hit
from storychat.llm.engine import MESSAGE_OVERHEAD, Engine, Message
from storychat.stories import Story

# Scores texts (an item's pieces) against the question, higher is more relevant.
Scorer = Callable[[list[str]], Sequence[float]]


@dataclass(frozen=True)
class Coverage:
    stories_in_context: int
    stories_total: int
    tokens_in_context: int
    n_ctx: int
    mode: str  # "full", "retrieval" or "exhaustive" (every story read in passes)
    cut_stories: int = 0  # long stories in context cut to their passages most relevant to the question
    cut_chars: int = 0  # characters of those stories' descriptions, criteria and comments
    left_out_chars: int = 0  # of them, the characters the model was not given


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
    stories: list[Story]  # as the model reads them: a long one cut to its most relevant passages
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
        self._story_tokens: dict[Story, int] = {}

    @property
    def turn_reserve(self) -> int:
        """Tokens kept for the question and recent turns."""
        return max(256, self.engine.context_length // 8)

    def fit(self, stories: Sequence[Story]) -> Fit:
        rules = self.engine.count(self.template.render_system([])) + MESSAGE_OVERHEAD
        budget = self.engine.context_length - self.max_answer_tokens - self.turn_reserve - rules
        return Fit(sum(self.story_tokens(s) for s in stories if not s.is_note), budget, rules)

    def build(
        self, stories: Sequence[Story], question: str, history: Sequence[Message], hits: Sequence[Hit], score: Scorer
    ) -> Context:
        """``hits``: the search for this question over the same stories, best first; ``score``: how a long
        story's pieces are rated against the question (``StoryIndex.passage_scores``)."""
        stories = [s for s in stories if not s.is_note]
        reads, mode = self._choose(stories, hits, score)
        chosen = [read.story for read in reads]
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
        cuts = [read for read in reads if read.left_out]
        coverage = Coverage(
            len(chosen), len(stories), used, self.engine.context_length, mode,
            len(cuts), sum(c.whole for c in cuts), sum(c.left_out for c in cuts),
        )
        shown = {s.id: s for s in chosen}
        read_hits = [replace(h, story=shown[h.story.id]) for h in hits if h.story.id in shown]
        return Context(chosen, system, kept, len(history) - len(kept), coverage, read_hits)

    def _choose(self, stories: list[Story], hits: Sequence[Hit], score: Scorer) -> tuple[list[Cut], str]:
        """The stories that go in, each as the model reads it, in library order; and the mode."""
        fit = self.fit(stories)
        if fit.fits:
            reads = [self._read(s, score) for s in stories]
            # A story cut for the question may take a few more tokens than cut in reading order.
            if sum(self._tokens(r.story) for r in reads) <= fit.budget:
                return reads, "full"
        budget = fit.budget
        picked: dict[str, Cut] = {}
        for story in fill_order(stories, hits):
            if self.story_tokens(story) > budget:
                continue
            read = self._read(story, score)
            size = self._tokens(read.story)
            if size <= budget:
                picked[story.id] = read
                budget -= size
        # Keep library order among the picked stories, so the prompt stays stable
        # for questions that retrieve the same set.
        return [picked[s.id] for s in stories if s.id in picked], "retrieval"

    def story_tokens(self, story: Story) -> int:
        """The tokens ``story`` takes in the system prompt; a long one cut in reading order, about the size of
        any cut of it for a question."""
        if story not in self._story_tokens:
            self._story_tokens[story] = self._tokens(self._read(story, _unscored).story)
        return self._story_tokens[story]

    def _read(self, story: Story, score: Scorer) -> Cut:
        """``story`` as the model reads it: whole, or when long cut to the pieces ``score`` rates highest."""
        return cut(story, score) if is_long(story) else Cut(story, 0, 0)

    def _tokens(self, story: Story) -> int:
        return self.engine.count(render_story(story) + "\n")

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


def _unscored(texts: list[str]) -> list[float]:
    return [0.0] * len(texts)
