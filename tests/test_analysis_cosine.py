"""Only the pairs that can reach the bar are scored, and none of the pairs that reach it is lost."""

from __future__ import annotations

import numpy as np
import pytest

from storychat.analysis.cosine import similar_pairs
from storychat.analysis.duplicates import DEFAULT_THRESHOLD, MEANING_MARGIN, ROUNDING, word_vectors
from storychat.stories.formats import read_file


def _all_pairs(vectors, bar: float) -> dict[tuple[int, int], float]:
    """Every pair's cosine from the dense matrix, as duplicates computed it before (cca4fca)."""
    dense = np.zeros((len(vectors), vectors.width))
    dense[vectors.rows, vectors.columns] = vectors.values
    cosines = np.triu(dense @ dense.T, 1)
    rows, cols = np.nonzero(cosines >= bar)
    return {(i, j): cosines[i, j] for i, j in zip(rows.tolist(), cols.tolist())}


@pytest.fixture(scope="module")
def dalpiaz_vectors(dalpiaz):
    stories = [s for path in sorted(dalpiaz.glob("*.txt")) for s in read_file(path).stories if not s.is_note]
    return word_vectors(stories)


@pytest.mark.parametrize("bar", [DEFAULT_THRESHOLD - ROUNDING, DEFAULT_THRESHOLD - MEANING_MARGIN - ROUNDING, 0.2])
def test_the_pairs_scored_are_every_pair_that_reaches_the_bar_on_the_dalpiaz_backlogs(dalpiaz_vectors, bar):
    expected = _all_pairs(dalpiaz_vectors, bar)
    found = similar_pairs(dalpiaz_vectors, bar)
    assert len(expected) > 100 and found.keys() == expected.keys()
    assert max(abs(found[pair] - expected[pair]) for pair in found) < 1e-9


def test_new_stories_against_the_rest_are_the_same_pairs_across_the_split(dalpiaz_vectors):
    split = 400
    expected = {(i, j): c for (i, j), c in _all_pairs(dalpiaz_vectors, DEFAULT_THRESHOLD - MEANING_MARGIN).items() if i < split <= j}
    assert expected and similar_pairs(dalpiaz_vectors, DEFAULT_THRESHOLD - MEANING_MARGIN, split).keys() == expected.keys()
