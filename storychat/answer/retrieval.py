"""Rank stories against a question by its words (BM25, ``bm25s``) and, with an embedder, its meaning.

Text is reduced to content terms first (``storychat.text``). The same terms
feed BM25 and a hit's ``match``: the IDF-weighted share of the question's terms
the story holds. With an embedder (``storychat.stories.embedder``) each story
also gets the cosine of its vector with the question's, and stories rank by
meaning plus a fifth of their match; without one, by BM25. A story is a hit
when it shares a term with the question or comes close to it in meaning.
docs/evaluation.md has the measurements behind the weights.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import bm25s

from storychat.stories.embedder import Embedder
from storychat.stories import Story
from storychat.text import terms

MATCH_WEIGHT = 0.2  # of the word match, added to the meaning when ranking
MEANING_HIT = 0.4  # cosine from which a story that shares no term with the question is a hit


@dataclass(frozen=True)
class Hit:
    story: Story
    score: float  # what the hits are ranked by: BM25, or with an embedder the meaning plus MATCH_WEIGHT x match
    match: float  # share of the question's information (IDF-weighted terms) found in this story
    meaning: float | None = None  # cosine of the story's and the question's vectors; None without a reader

    @property
    def relevance(self) -> float:
        """What the relevance gate judges: the match, or with an embedder the mean of match and meaning."""
        return self.match if self.meaning is None else round((self.match + self.meaning) / 2, 3)


class StoryIndex:
    """A BM25 index over one fixed list of stories, and with a ``embedder`` their vectors."""

    def __init__(self, stories: Sequence[Story], embedder: Embedder | None = None):
        self.stories = list(stories)
        self.embedder = embedder
        self.vectors = embedder.story_vectors(self.stories) if embedder else None
        self.story_terms = [terms(s.searchable) for s in self.stories]  # in the order of ``stories``
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
        """The hits for ``query``, best first, at most ``k``."""
        k = min(k or len(self.stories), len(self.stories))
        hits = self._by_words(query) if self.vectors is None else self._by_meaning(query)
        return hits[:k]

    def _by_words(self, query: str) -> list[Hit]:
        """Stories sharing at least one term with the query, by BM25."""
        query_terms = terms(query)
        if self._empty or not query_terms:
            return []
        docs, scores = self._bm25.retrieve([query_terms], k=len(self.stories), show_progress=False)
        return [
            Hit(self.stories[int(d)], float(s), self._match(query_terms, self.story_terms[int(d)]))
            for d, s in zip(docs[0], scores[0])
            if s > 0
        ]

    def _by_meaning(self, query: str) -> list[Hit]:
        """Stories sharing a term with the query or close to it in meaning, by meaning and match."""
        query_terms = terms(query)
        meanings = self.vectors @ self.embedder.embed([query])[0] if self.stories else []
        hits = []
        for story, story_terms, meaning in zip(self.stories, self.story_terms, meanings):
            match = self._match(query_terms, story_terms) if query_terms else 0.0
            if match > 0 or meaning >= MEANING_HIT:
                meaning = round(float(meaning), 3)
                hits.append(Hit(story, round(meaning + MATCH_WEIGHT * match, 3), match, meaning))
        return sorted(hits, key=lambda h: -h.score)  # stable: library order among equals

    def passage_scores(self, query: str, texts: Sequence[str]) -> list[float]:
        """Parts of one story (``answer/passages.py``) scored against ``query`` as stories are ranked: by their
        match, or with an embedder by their meaning plus MATCH_WEIGHT x match."""
        query_terms = terms(query)
        matches = [self._match(query_terms, terms(t)) if query_terms else 0.0 for t in texts]
        if self.embedder is None or not texts:
            return matches
        meanings = self.embedder.embed(list(texts)) @ self.embedder.embed([query])[0]
        return [float(m) + MATCH_WEIGHT * w for m, w in zip(meanings, matches)]

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

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder
        # One (key, index) pair, swapped as a whole: answers on other threads
        # (--concurrency > 1) never see one set's key with another's index.
        self._indexed: tuple[tuple[str, ...], StoryIndex | None] = ((), None)

    def search(self, query: str, stories: Sequence[Story], k: int | None = None) -> list[Hit]:
        """The stories (notes left out) sharing a term with ``query``, best first."""
        return self.index(stories).search(query, k)

    def index(self, stories: Sequence[Story]) -> StoryIndex:
        """The index of ``stories``, notes left out: the one made last when they are the same stories."""
        stories = [s for s in stories if not s.is_note]
        key = tuple(f"{s.id}\0{s.digest}" for s in stories)
        cached_key, index = self._indexed
        if index is None or cached_key != key:
            index = StoryIndex(stories, self.embedder)
            self._indexed = (key, index)
        return index
