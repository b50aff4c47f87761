"""BM25 ranking of stories against a question (``bm25s``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import bm25s

from storychat.stories import Story


@dataclass(frozen=True)
class Hit:
    story: Story
    score: float


def _tokens(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(texts, stopwords="en", return_ids=False, show_progress=False)


class StoryIndex:
    """A BM25 index over one fixed list of stories."""

    def __init__(self, stories: Sequence[Story]):
        self.stories = list(stories)
        self._bm25 = bm25s.BM25()
        corpus = _tokens([_searchable(s) for s in self.stories])
        # bm25s cannot index an empty corpus or one with no terms at all.
        self._empty = not any(corpus)
        if not self._empty:
            self._bm25.index(corpus, show_progress=False)

    def search(self, query: str, k: int | None = None) -> list[Hit]:
        """Stories with a positive score, best first."""
        query_tokens = _tokens([query])
        if self._empty or not query_tokens[0]:
            return []
        k = min(k or len(self.stories), len(self.stories))
        docs, scores = self._bm25.retrieve(query_tokens, k=k, show_progress=False)
        return [
            Hit(self.stories[int(d)], float(s))
            for d, s in zip(docs[0], scores[0])
            if s > 0
        ]


def _searchable(story: Story) -> str:
    return " ".join([story.text, *story.acceptance, story.epic])
