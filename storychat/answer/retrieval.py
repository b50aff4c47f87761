"""Rank stories against a question with BM25 (``bm25s``), and say how well the best ones match.

Text is reduced to content terms first (``storychat.text``). The same terms
feed BM25 and the match score of the relevance gate.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import bm25s

from storychat.stories import Story
from storychat.text import terms


@dataclass(frozen=True)
class Hit:
    story: Story
    score: float  # BM25
    match: float  # share of the question's information (IDF-weighted terms) found in this story


class StoryIndex:
    """A BM25 index over one fixed list of stories."""

    def __init__(self, stories: Sequence[Story]):
        self.stories = list(stories)
        self.story_terms = [terms(_searchable(s)) for s in self.stories]  # in the order of ``stories``
        df = Counter(t for story_terms in self.story_terms for t in set(story_terms))
        n = len(self.stories)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._unknown_idf = math.log((n + 1) / 0.5)
        self._bm25 = bm25s.BM25()
        # bm25s cannot index a corpus without a single term.
        self._empty = not any(self.story_terms)
        if not self._empty:
            self._bm25.index(self.story_terms, show_progress=False)

    def search(self, query: str, k: int | None = None) -> list[Hit]:
        """Stories sharing at least one term with the query, best first."""
        query_terms = terms(query)
        if self._empty or not query_terms:
            return []
        k = min(k or len(self.stories), len(self.stories))
        docs, scores = self._bm25.retrieve([query_terms], k=k, show_progress=False)
        return [
            Hit(self.stories[int(d)], float(s), self._match(query_terms, self.story_terms[int(d)]))
            for d, s in zip(docs[0], scores[0])
            if s > 0
        ]

    def weight(self, term: str) -> float:
        """The term's IDF in this index; a term no story holds weighs most."""
        return self._idf.get(term, self._unknown_idf)

    def _match(self, query_terms: list[str], story_terms: list[str]) -> float:
        wanted = set(query_terms)
        weight = {t: self.weight(t) for t in wanted}
        found = wanted & set(story_terms)
        return round(sum(weight[t] for t in found) / sum(weight.values()), 3)


class Searcher:
    """Searches the story set asked about last; its index is rebuilt only when the set changes."""

    def __init__(self) -> None:
        # One (key, index) pair, swapped as a whole: answers on other threads
        # (--concurrency > 1) never see one set's key with another's index.
        self._indexed: tuple[tuple[str, ...], StoryIndex | None] = ((), None)

    def search(self, query: str, stories: Sequence[Story], k: int | None = None) -> list[Hit]:
        """The stories (notes left out) sharing a term with ``query``, best first."""
        return self.index(stories).search(query, k)

    def index(self, stories: Sequence[Story]) -> StoryIndex:
        """The index of ``stories``, notes left out: the one made last when they are the same stories."""
        stories = [s for s in stories if not s.is_note]
        key = tuple(f"{s.id}\0{s.text}" for s in stories)
        cached_key, index = self._indexed
        if index is None or cached_key != key:
            index = StoryIndex(stories)
            self._indexed = (key, index)
        return index


def _searchable(story: Story) -> str:
    return " ".join([story.text, *story.acceptance, story.epic])
