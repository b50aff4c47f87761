"""Decide which stories go into the model's context, and say so.

Full mode: every story fits, and goes in, in library order: the prompt prefix
is then identical for every question about the collection. Retrieval mode:
BM25 picks the most relevant stories that fit. Either way the coverage is
reported with the answer; truncation is never silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from storychat.answer.prompt import Template, render_story
from storychat.answer.retrieval import StoryIndex
from storychat.llm.engine import MESSAGE_OVERHEAD, Engine, Message
from storychat.stories import Story


@dataclass(frozen=True)
class Coverage:
    stories_in_context: int
    stories_total: int
    tokens_in_context: int
    n_ctx: int
    mode: str  # "full" or "retrieval"


@dataclass(frozen=True)
class Context:
    stories: list[Story]
    system: str
    history: list[Message]
    dropped_turns: int
    coverage: Coverage


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
        # One (key, index) pair, swapped as a whole: answers on other threads
        # (--concurrency > 1) never see one collection's key with another's index.
        self._indexed: tuple[tuple[str, ...], StoryIndex | None] = ((), None)

    @property
    def turn_reserve(self) -> int:
        """Tokens kept for the question and recent turns."""
        return max(256, self.engine.context_length // 8)

    @property
    def story_budget(self) -> int:
        fixed = self.engine.count(self.template.render_system([])) + MESSAGE_OVERHEAD
        return self.engine.context_length - self.max_answer_tokens - self.turn_reserve - fixed

    def corpus_tokens(self, stories: Sequence[Story]) -> int:
        """Model tokens the stories take in the prompt; compare with ``story_budget``."""
        return sum(self._tokens(s) for s in stories if not s.is_note)

    def build(self, stories: Sequence[Story], question: str, history: Sequence[Message] = ()) -> Context:
        stories = [s for s in stories if not s.is_note]
        chosen, mode = self._choose(stories, question)
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
        return Context(chosen, system, kept, len(history) - len(kept), coverage)

    def index(self, stories: Sequence[Story]) -> StoryIndex:
        """The BM25 index of these stories, rebuilt only when they change."""
        key = tuple(f"{s.id}\0{s.text}" for s in stories)
        cached_key, index = self._indexed
        if index is None or cached_key != key:
            index = StoryIndex(stories)
            self._indexed = (key, index)
        return index

    def _choose(self, stories: list[Story], question: str) -> tuple[list[Story], str]:
        budget = self.story_budget
        sizes = [self._tokens(s) for s in stories]
        if sum(sizes) <= budget:
            return stories, "full"
        size_of = dict(zip((s.id for s in stories), sizes))
        picked: set[str] = set()
        for hit in self.index(stories).search(question):
            if size_of[hit.story.id] <= budget:
                picked.add(hit.story.id)
                budget -= size_of[hit.story.id]
        # Keep library order among the picked stories, so the prompt stays stable
        # for questions that retrieve the same set.
        return [s for s in stories if s.id in picked], "retrieval"

    def _tokens(self, story: Story) -> int:
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
