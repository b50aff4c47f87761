"""The cosine of IDF-weighted term vectors, scored only for the pairs that can reach a bar.

Terms are ordered rarest first. A vector's *prefix* is its terms in that order
up to where the rest has a length below the bar. Two unit vectors whose cosine
reaches the bar share a prefix term: otherwise every term they share lies past
the prefix of one of them, x, and their cosine is at most the length of x's
rest, below the bar (Bayardo, Ma, Srikant 2007, "Scaling up all pairs
similarity search"). So only pairs sharing a prefix term are scored, and the
common words ("android", "ios" in a Titanium backlog), which would pair
nearly every story with every other, are looked up but never indexed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

_CHUNK = 200_000  # candidate pairs scored at once, to bound memory
_SAFETY = 1e-9  # keeps a term in the prefix when its rest is at the bar but for float error


@dataclass(frozen=True)
class TermVectors:
    """Unit-length rows as sparse arrays: row r holds ``columns[starts[r]:starts[r + 1]]``
    (rarest term first) with ``values`` at the same places; ``width`` columns in all."""

    starts: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    width: int

    def __len__(self) -> int:
        return len(self.starts) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.starts)

    @property
    def rows(self) -> np.ndarray:
        """The row of each stored value."""
        return np.repeat(np.arange(len(self)), self.lengths)


def term_vectors(weights: Sequence[Mapping[str, float]]) -> TermVectors:
    """Unit-length vectors of each row's term weights times the term's IDF among these rows."""
    df = Counter(term for w in weights for term in w)
    idf = {term: math.log((len(weights) + 1) / (count + 0.5)) for term, count in df.items()}
    # A term only one row has adds to that row's length but to no cosine, so it needs no column.
    shared = sorted((t for t, count in df.items() if count > 1), key=lambda t: (df[t], t))
    column = {term: k for k, term in enumerate(shared)}
    starts, columns, values = [0], [], []
    for w in weights:
        scaled = {term: x * idf[term] for term, x in w.items()}
        length = math.sqrt(sum(v * v for v in scaled.values())) or 1.0
        kept = sorted((column[t], v / length) for t, v in scaled.items() if t in column)
        columns += [c for c, _ in kept]
        values += [v for _, v in kept]
        starts.append(len(columns))
    return TermVectors(np.array(starts), np.array(columns, dtype=np.int64), np.array(values), len(column))


def similar_pairs(vectors: TermVectors, bar: float, split: int | None = None) -> dict[tuple[int, int], float]:
    """Pairs of rows (i, j) whose cosine is at least ``bar``, each with it: i < j, or with
    ``split`` every i below it against every j from it on."""
    pairs = candidate_pairs(vectors, bar, split)
    scores = cosines(vectors, pairs)
    kept = scores >= bar
    return dict(zip(map(tuple, pairs[kept].tolist()), scores[kept].tolist()))


def candidate_pairs(vectors: TermVectors, bar: float, split: int | None = None) -> np.ndarray:
    """The pairs (as in ``similar_pairs``) that share a prefix term: every pair that can reach ``bar``, one row each."""
    n = len(vectors)
    if bar <= 0:  # a pair with no term in common reaches it too
        i, j = np.triu_indices(n, 1) if split is None else np.mgrid[:split, split:n].reshape(2, -1)
        return np.column_stack((i, j))
    entries = np.nonzero(_in_prefix(vectors, bar))[0]
    order = np.argsort(vectors.columns[entries], kind="stable")
    first, second = _sharing(vectors.rows[entries[order]], vectors.columns[entries[order]])
    if split is not None:
        across = (first < split) & (second >= split)
        first, second = first[across], second[across]
    keys = np.sort(first * n + second)  # np.unique hashes, ten times slower here
    keys = keys[np.append(True, keys[1:] != keys[:-1])] if len(keys) else keys
    return np.column_stack((keys // n, keys % n))


def cosines(vectors: TermVectors, pairs: np.ndarray) -> np.ndarray:
    """The cosine of each pair of rows."""
    return np.concatenate([_dots(vectors, chunk) for chunk in np.split(pairs, range(_CHUNK, len(pairs), _CHUNK))])


def _in_prefix(vectors: TermVectors, bar: float) -> np.ndarray:
    """For each stored value, whether the squared length of its row from it on reaches ``bar`` squared."""
    to_the_end = np.append(np.cumsum(vectors.values[::-1] ** 2)[::-1], 0.0)  # from each value to the last row's end
    rest = to_the_end[:-1] - np.repeat(to_the_end[vectors.starts[1:]], vectors.lengths)
    return rest >= bar * bar - _SAFETY


def _sharing(rows: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (earlier row, later row) within a run of equal ``columns`` (rows ascending within each run)."""
    starts = np.flatnonzero(np.diff(columns)) + 1
    ends = np.append(starts, len(rows))[np.searchsorted(starts, np.arange(len(rows)), side="right")]
    later = ends - np.arange(len(rows)) - 1
    offset = np.arange(later.sum()) - np.repeat(np.cumsum(later) - later, later)
    return np.repeat(rows, later), rows[np.repeat(np.arange(len(rows)) + 1, later) + offset]


def _dots(vectors: TermVectors, pairs: np.ndarray) -> np.ndarray:
    """Each pair's dot product: every term of the first row looked up in the second (keys row * width + column, sorted)."""
    first, second = pairs[:, 0], pairs[:, 1]
    lengths = vectors.lengths[first]
    owner = np.repeat(np.arange(len(pairs)), lengths)
    entry = np.repeat(vectors.starts[first] - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    keys = np.append(vectors.rows * vectors.width + vectors.columns, np.iinfo(np.int64).max)  # the end, never wanted
    wanted = np.repeat(second, lengths) * vectors.width + vectors.columns[entry]
    at = np.searchsorted(keys, wanted)
    hit = keys[at] == wanted
    return np.bincount(owner[hit], weights=vectors.values[entry[hit]] * vectors.values[at[hit]], minlength=len(pairs))
