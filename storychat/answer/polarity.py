"""Whether an answer says of a thing what its story says, or the opposite.

A sentence can use only a story's words and still turn its meaning: "can cancel a
request after it has started" against "cancel a request that has not started yet",
"without any limit" against "up to a limit". Each clause of the sentence is held
against the clauses of the stories that share most words with it; a word the
clause asserts and such a story clause negates, or the other way round, is a flip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from storychat.text import STOPWORDS, stem

NEGATIONS = frozenset({"not", "no", "never", "none", "nothing", "neither", "nor", "cannot", "without", "unable"})
CONTRACTIONS = (
    (re.compile(r"\bcan[’']t\b", re.I), "can not"), (re.compile(r"\bwon[’']t\b", re.I), "will not"),
    (re.compile(r"n[’']t\b", re.I), " not"),
)
_REACH = 6  # words after a "not" that it negates, within its clause ("do not have to convert data formats")
_REACH_WITHOUT = 3  # "without" negates its object only: "without a computer", "without an internet connection"
FAILURES = frozenset({"fail", "fails", "failed", "failing"})  # "deleting it fails": the clause so far did not happen
_CLAUSE_BREAK = re.compile(r"[,.;:!?()\[\]\n]|\b(?:so|because|but|although|then|when|while|and|or)\b", re.I)
_WORD = re.compile(r"[A-Za-z0-9]+")
_MIN_SHARED = 2  # words a story clause must share with the answer's to be compared


@dataclass(frozen=True)
class Clause:
    words: frozenset[str]  # stems of its content words
    negated: frozenset[str]  # those within a negation's reach
    asserted: frozenset[str]  # those outside it (a word may be both: "spring bean error, unable to load the spring xsd")


def expand_contractions(text: str) -> str:
    for pattern, replacement in CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


def clauses(text: str) -> list[Clause]:
    """The clauses of ``text`` with their content words, and which of those a negation in the clause covers:
    the few words after a "not" (after a "without", its object), as many at the start of a clause that "fails",
    and those after "fails to"."""
    found = []
    for piece in _CLAUSE_BREAK.split(expand_contractions(text)):
        negated, asserted, reach = set(), set(), 0
        tokens = [t.lower() for t in _WORD.findall(piece or "")]
        for i, token in enumerate(tokens):
            if token in FAILURES:
                if tokens[i + 1:i + 2] == ["to"]:
                    reach = _REACH
                else:  # "deleting an entity ... fails" says what "cannot delete an entity ..." says
                    opening = {stem(t) for t in tokens[:min(i, _REACH)]}
                    negated |= asserted & opening
                    asserted -= opening
                continue
            if token in NEGATIONS:
                reach = _REACH_WITHOUT if token == "without" else _REACH
                continue
            if token not in STOPWORDS and len(token) > 1:
                (negated if reach else asserted).add(stem(token))
            reach = max(0, reach - 1)
        if negated or asserted:
            found.append(Clause(frozenset(negated | asserted), frozenset(negated), frozenset(asserted)))
    return found


def flips(claim: str, texts: Iterable[str]) -> list[str]:
    """Words whose polarity in ``claim`` is the opposite of that in the closest clauses of ``texts``
    ("not started" for a claim that asserts "started"), as "not <stem>" for a negation the stories lack."""
    held = [c for text in texts for c in clauses(text)]
    turned: dict[str, None] = {}
    for mine in clauses(claim):
        for theirs in _closest(mine, held):
            for word in sorted(mine.words & theirs.words):
                # A clause that says the word both ways cannot be turned on it.
                if not (mine.negated & theirs.negated & {word} or mine.asserted & theirs.asserted & {word}):
                    turned.setdefault(f"not {word}" if word in mine.negated else word, None)
    return list(turned)


def _closest(mine: Clause, held: list[Clause]) -> list[Clause]:
    shared = [len(mine.words & c.words) for c in held]
    best = max(shared, default=0)
    return [c for c, n in zip(held, shared) if n == best] if best >= _MIN_SHARED else []
