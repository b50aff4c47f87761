"""Duplicate and near-duplicate stories, within a collection or against one.

Two stories are compared by what they ask for: the content words of the goal,
plus those of the benefit at half weight, each weighted by its IDF among the
stories compared. The similarity is the cosine of these vectors. The role is
left out: the same request made by two roles is still one request.

Character-level scores (rapidfuzz ratios) rate "get a Data Package into R" and
"... into Excel" as near-identical; IDF weighting sees that the one word that
differs is the one that matters. docs/evaluation.md has the figures
and how the default threshold was chosen.

Only the pairs that can reach the threshold are scored (``cosine``), so a
collection of 5,000 stories is not 12.5 million comparisons. A pair whose
goals' wording says otherwise (``wording``: the same words in another
direction, or words that differ on both sides, a name among them) keeps ``DIFFERENT_WORDING``
of its cosine, which puts it below any threshold above that.

With an embedder, a pair below the threshold is a near-duplicate too
when its words are nearly as alike (``MEANING_MARGIN`` below the threshold) and
its goals mean nearly the same (``MEANING_ALIKE`` at the default threshold; both
bars move with the threshold). Chosen on the tuning backlogs' labels like the threshold.
A pair whose wording says otherwise is not asked: a static embedding reads its words alike too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from storychat.analysis.cosine import TermVectors, similar_pairs, term_vectors
from storychat.analysis.wording import name_terms, says_otherwise, wording
from storychat.stories.embedder import Embedder
from storychat.stories import Story
from storychat.stories.changes import ImportReport
from storychat.stories.library import Library
from storychat.text import STOPWORDS, stem

DEFAULT_THRESHOLD = 0.65
MEANING_MARGIN = 0.25  # how far below the threshold a pair's words may be when its goals mean the same
MEANING_ALIKE = 0.7  # at the default threshold, the cosine of the goals' vectors from which they do
BENEFIT_WEIGHT = 0.5
DIFFERENT_WORDING = 0.5  # the share of its cosine a pair keeps when its wording says otherwise
ROUNDING = 1e-4  # cosines of identical vectors can come out a hair below 1

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
    """Pairs of stories at least ``threshold`` similar (or, with ``embedder``, alike in meaning), best first:
    exact copies, then by similarity."""
    _check_threshold(threshold)
    stories = [s for s in stories if not s.is_note]
    keys = [_text_key(s) for s in stories]
    similar = similar_pairs(word_vectors(stories), _floor(threshold, embedder) - ROUNDING)
    for group in _same_key_indices(keys):
        for k, i in enumerate(group):
            for j in group[k + 1:]:
                similar[i, j] = 1.0
    names = name_terms(s.text for s in stories)
    otherwise = _saying_otherwise(stories, stories, [pair for pair in similar if keys[pair[0]] != keys[pair[1]]], names)
    scores = _demoted(similar, otherwise)
    meanings = _goal_meanings(embedder, stories, stories, _below(scores, threshold, otherwise), threshold)
    pairs = [
        _pair(stories[i], stories[j], similarity, keys[i] == keys[j], meanings.get((i, j)))
        for (i, j), similarity in sorted(scores.items())
        if similarity >= threshold - ROUNDING or (i, j) in meanings
    ]
    return sorted(pairs, key=_rank)


def duplicates_of(
    new: Sequence[Story], existing: Sequence[Story], threshold: float = DEFAULT_THRESHOLD, embedder: Embedder | None = None
) -> list[DuplicatePair]:
    """For each new story in turn, the existing stories it duplicates, best
    first; ``a`` is the new story. A story is never its own duplicate,
    so ``existing`` may already hold ``new``; two new stories that duplicate
    each other are one pair, under the first of them. With ``embedder``, pairs alike
    in meaning count too (as in ``find_duplicates``)."""
    _check_threshold(threshold)
    new = [s for s in new if not s.is_note]
    existing = [s for s in existing if not s.is_note]
    new_keys, existing_keys = [_text_key(s) for s in new], [_text_key(s) for s in existing]
    found = similar_pairs(word_vectors(new + existing), _floor(threshold, embedder) - ROUNDING, split=len(new))
    similar = {(i, j - len(new)): similarity for (i, j), similarity in found.items()}
    existing_by_key: dict[str, list[int]] = defaultdict(list)
    for j, key in enumerate(existing_keys):
        existing_by_key[key].append(j)
    similar.update(((i, j), 1.0) for i, key in enumerate(new_keys) for j in existing_by_key[key])
    names = name_terms(s.text for s in (*new, *existing))
    otherwise = _saying_otherwise(new, existing, [(i, j) for i, j in similar if new_keys[i] != existing_keys[j]], names)
    scores = _demoted(similar, otherwise)
    meanings = _goal_meanings(embedder, new, existing, _below(scores, threshold, otherwise), threshold)
    position = {s.id: k for k, s in enumerate(new)}
    by_new: dict[int, list[DuplicatePair]] = defaultdict(list)
    for (i, j), similarity in sorted(scores.items()):
        if (similarity >= threshold - ROUNDING or (i, j) in meanings) and existing[j] != new[i] and position.get(existing[j].id, i) >= i:
            by_new[i].append(_pair(new[i], existing[j], similarity, new_keys[i] == existing_keys[j], meanings.get((i, j))))
    return [pair for i in range(len(new)) for pair in sorted(by_new[i], key=_rank)]


def word_vectors(stories: Sequence[Story]) -> TermVectors:
    """The stories' IDF-weighted term vectors, as duplicates compare them."""
    return term_vectors([_term_weights(s) for s in stories])


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
    asked = [(i, j) for (i, j), similarity in pairs.items() if similarity >= threshold - MEANING_MARGIN - ROUNDING]
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


def _floor(threshold: float, embedder: Embedder | None) -> float:
    """The lowest cosine a pair may have and still be reported."""
    return threshold - MEANING_MARGIN if embedder else threshold


def _saying_otherwise(
    rows: Sequence[Story], cols: Sequence[Story], pairs: Sequence[tuple[int, int]], names: frozenset[str]
) -> set[tuple[int, int]]:
    """Of the ``pairs`` (row, column), those whose goals' wording says otherwise; ``names`` as ``name_terms`` gives them."""
    row_wording = {i: wording(_goal(rows[i]), names) for i in {i for i, _ in pairs}}
    col_wording = {j: wording(_goal(cols[j]), names) for j in {j for _, j in pairs}}
    return {(i, j) for i, j in pairs if says_otherwise(row_wording[i], col_wording[j])}


def _demoted(similar: dict[tuple[int, int], float], otherwise: set[tuple[int, int]]) -> dict[tuple[int, int], float]:
    return {pair: similarity * DIFFERENT_WORDING if pair in otherwise else similarity for pair, similarity in similar.items()}


def _below(scores: dict[tuple[int, int], float], threshold: float, otherwise: set[tuple[int, int]]) -> dict[tuple[int, int], float]:
    """The pairs below ``threshold`` that the embedder may still find alike in meaning."""
    return {pair: s for pair, s in scores.items() if s < threshold - ROUNDING and pair not in otherwise}


def _rank(pair: DuplicatePair) -> tuple[float, bool]:
    return -pair.similarity, not pair.exact


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
