"""Duplicate and near-duplicate stories, within a collection or against one.

Two stories are compared by what they ask for: the content words of the goal,
plus those of the benefit at half weight, each weighted by its IDF among the
stories compared. The similarity is the cosine of these vectors. The role is
left out: the same request made by two roles is still one request.

Character-level scores (rapidfuzz ratios) rate "get a Data Package into R" and
"... into Excel" as near-identical; IDF weighting sees that the one word that
differs is the one that matters. docs/evaluation.md has the figures
and how the default threshold was chosen.

With an embedder, a pair below the threshold is a near-duplicate too
when its words are nearly as alike (``MEANING_MARGIN`` below the threshold) and
its goals mean nearly the same (``MEANING_ALIKE`` at the default threshold; both
bars move with the threshold). Chosen on the tuning backlogs' labels like the threshold.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from storychat.stories.embedder import Embedder
from storychat.stories import Story
from storychat.stories.changes import ImportReport
from storychat.stories.library import Library
from storychat.text import STOPWORDS, stem

DEFAULT_THRESHOLD = 0.65
MEANING_MARGIN = 0.25  # how far below the threshold a pair's words may be when its goals mean the same
MEANING_ALIKE = 0.7  # at the default threshold, the cosine of the goals' vectors from which they do
BENEFIT_WEIGHT = 0.5
_BLOCK_ROWS = 1024  # rows of the similarity matrix held at once
_ROUNDING = 1e-4  # float32 cosines of identical vectors come out a hair below 1

# Keeps "c++", "c#" and one-letter names such as "R", which tell stories apart.
_TERM = re.compile(r"[a-z0-9][a-z0-9+#]*")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class DuplicatePair:
    """``a`` and ``b`` ask for the same thing; ``exact`` when their texts are
    equal but for case, spacing and punctuation."""

    a: Story
    b: Story
    similarity: float  # of their words
    exact: bool
    meaning: float | None = None  # cosine of their goals' vectors, when the embedder found the pair alike in meaning

    def describe(self) -> str:
        if self.exact:
            return "same text"
        return f"similarity {self.similarity:.2f}" + (f", alike in meaning {self.meaning:.2f}" if self.meaning is not None else "")


def find_duplicates(
    stories: Sequence[Story], threshold: float = DEFAULT_THRESHOLD, embedder: Embedder | None = None
) -> list[DuplicatePair]:
    """Pairs of stories at least ``threshold`` similar (or, with ``embedder``, alike in meaning), most similar first."""
    _check_threshold(threshold)
    stories = [s for s in stories if not s.is_note]
    keys = [_text_key(s) for s in stories]
    vectors = _vectors(stories)
    floor = threshold - MEANING_MARGIN if embedder else threshold
    similar: dict[tuple[int, int], float] = {}
    for start in range(0, len(stories), _BLOCK_ROWS):
        block = vectors[start:start + _BLOCK_ROWS] @ vectors.T
        rows, cols = np.nonzero(block >= floor - _ROUNDING)
        later = cols > rows + start  # each pair once, and no story with itself
        rows, cols = rows[later], cols[later]
        similar.update(zip(zip((rows + start).tolist(), cols.tolist()), block[rows, cols].tolist()))
    for group in _same_key_indices(keys):
        for k, i in enumerate(group):
            for j in group[k + 1:]:
                similar[i, j] = 1.0
    below = {pair: s for pair, s in similar.items() if s < threshold - _ROUNDING}
    meanings = _goal_meanings(embedder, stories, stories, below, threshold)
    pairs = [
        _pair(stories[i], stories[j], similarity, keys[i] == keys[j], meanings.get((i, j)))
        for (i, j), similarity in sorted(similar.items())
        if similarity >= threshold - _ROUNDING or (i, j) in meanings
    ]
    return sorted(pairs, key=lambda p: -p.similarity)


def duplicates_of(
    new: Sequence[Story], existing: Sequence[Story], threshold: float = DEFAULT_THRESHOLD, embedder: Embedder | None = None
) -> list[DuplicatePair]:
    """For each new story in turn, the existing stories it duplicates, most
    similar first; ``a`` is the new story. A story is never its own duplicate,
    so ``existing`` may already hold ``new``; two new stories that duplicate
    each other are one pair, under the first of them. With ``embedder``, pairs alike
    in meaning count too (as in ``find_duplicates``)."""
    _check_threshold(threshold)
    new = [s for s in new if not s.is_note]
    existing = [s for s in existing if not s.is_note]
    existing_keys = [_text_key(s) for s in existing]
    vectors = _vectors(new + existing)
    similarity = vectors[: len(new)] @ vectors[len(new):].T
    floor = threshold - MEANING_MARGIN if embedder else threshold
    existing_by_key: dict[str, list[int]] = defaultdict(list)
    for j, key in enumerate(existing_keys):
        existing_by_key[key].append(j)
    position = {s.id: k for k, s in enumerate(new)}
    candidates = {
        (i, j): float(similarity[i, j])
        for i in range(len(new)) for j in np.nonzero(similarity[i] >= floor - _ROUNDING)[0].tolist()
    }
    below = {pair: s for pair, s in candidates.items() if s < threshold - _ROUNDING}
    meanings = _goal_meanings(embedder, new, existing, below, threshold)
    pairs = []
    for i, story in enumerate(new):
        key = _text_key(story)
        matches = {j for (row, j), s in candidates.items() if row == i and (s >= threshold - _ROUNDING or (i, j) in meanings)}
        found = [
            _pair(story, existing[j], float(similarity[i, j]), key == existing_keys[j], meanings.get((i, j)))
            for j in sorted(matches | set(existing_by_key[key]))
            if existing[j] != story and position.get(existing[j].id, i) >= i
        ]
        pairs += sorted(found, key=lambda p: -p.similarity)
    return pairs


def after_import(report: ImportReport, library: Library) -> list[DuplicatePair]:
    """What every face checks after an import: the added stories that duplicate stories of the collection."""
    if not report.added:
        return []
    return duplicates_of(report.added, library.stories(report.collection), embedder=library.embedder)


def _goal_meanings(
    embedder: Embedder | None, rows: Sequence[Story], cols: Sequence[Story], pairs: dict[tuple[int, int], float],
    threshold: float,
) -> dict[tuple[int, int], float]:
    """Of the ``pairs`` (row, column) just below ``threshold`` by words, those whose goals the embedder finds alike, with the cosine."""
    asked = [(i, j) for (i, j), similarity in pairs.items() if similarity >= threshold - MEANING_MARGIN - _ROUNDING]
    alike = MEANING_ALIKE + threshold - DEFAULT_THRESHOLD
    if not embedder or not asked:
        return {}
    wanted = sorted({i for i, _ in asked}), sorted({j for _, j in asked})
    row_vectors = dict(zip(wanted[0], embedder.embed([_goal(rows[i]) for i in wanted[0]])))
    col_vectors = dict(zip(wanted[1], embedder.embed([_goal(cols[j]) for j in wanted[1]])))
    cosines = {(i, j): float(row_vectors[i] @ col_vectors[j]) for i, j in asked}
    return {pair: round(c, 3) for pair, c in cosines.items() if c >= alike}


def same_text_groups(stories: Sequence[Story]) -> list[list[Story]]:
    """Groups of two or more stories whose texts are equal but for case,
    spacing and punctuation, each in the order given."""
    stories = [s for s in stories if not s.is_note]
    return [[stories[i] for i in group] for group in _same_key_indices([_text_key(s) for s in stories])]


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise ValueError(f"The similarity threshold must be above 0 and at most 1; got {threshold}.")


def _pair(a: Story, b: Story, similarity: float, exact: bool, meaning: float | None = None) -> DuplicatePair:
    return DuplicatePair(a, b, 1.0 if exact else round(min(similarity, 1.0), 3), exact, None if exact else meaning)


def _goal(story: Story) -> str:
    return story.goal or story.text


def _text_key(story: Story) -> str:
    return " ".join(_WORD.findall(story.text.casefold()))


def _same_key_indices(keys: Sequence[str]) -> list[list[int]]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        by_key[key].append(i)
    return [group for group in by_key.values() if len(group) > 1]


def _terms(text: str) -> list[str]:
    return [stem(w) for w in _TERM.findall(text.lower()) if w not in STOPWORDS]


def _term_weights(story: Story) -> dict[str, float]:
    # A story the parser could not split (a CSV row marked as a story) is all goal.
    weights = {term: BENEFIT_WEIGHT for term in _terms(story.benefit)}
    weights.update((term, 1.0) for term in _terms(story.goal or story.text))
    return weights


def _vectors(stories: Sequence[Story]) -> np.ndarray:
    """Unit-length IDF-weighted term vectors, one row per story."""
    weights = [_term_weights(s) for s in stories]
    df = Counter(term for w in weights for term in w)
    idf = {term: math.log((len(stories) + 1) / (count + 0.5)) for term, count in df.items()}
    # A term only one story has adds to that story's length but to no dot
    # product, so it needs no column; that keeps the matrix small.
    columns = {term: k for k, term in enumerate(t for t, count in df.items() if count > 1)}
    matrix = np.zeros((len(stories), len(columns)), dtype=np.float32)
    for row, w in enumerate(weights):
        values = {term: x * idf[term] for term, x in w.items()}
        length = math.sqrt(sum(v * v for v in values.values())) or 1.0
        for term, v in values.items():
            if term in columns:
                matrix[row, columns[term]] = v / length
    return matrix
