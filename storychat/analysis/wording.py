"""Two texts with the same words that still ask for different things.

"Copy files from local to HDFS" and "Copy files from HDFS to local" have one set
of words, so one cosine; the direction words say which way each goes.
"Add a Python client" and "Add a Java client" differ in one word, and it is a
name: another target, another work item (as "iOS: X" and "Android: X" are,
or "update the SDK to r21" and "... to r21.1").
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from storychat.text import STOPWORDS, stem

# The role a direction word gives the content word just before it and the first one after it
# (and those joined to that one by "and", "or" or a comma). "vs" is left out: "A vs B" and "B vs A" name one comparison.
DIRECTIONS: dict[str, tuple[str | None, str | None]] = {
    "from": (None, "source"),
    "to": ("source", "target"),
    "into": ("source", "target"),
    "onto": ("source", "target"),
    "->": ("source", "target"),
    "→": ("source", "target"),
    "over": ("preferred", "passed over"),
}
OPPOSITE = {"source": "target", "target": "source", "preferred": "passed over", "passed over": "preferred"}
_JOINS = frozenset({"and", "or", ","})

# A version ("4.3.1", "r21.0.1") is one word; so is an identifier ("titanium_studio").
_TOKEN = re.compile(r"->|→|,|[A-Za-z0-9_][A-Za-z0-9_+#]*(?:\.\d+)*")
_OPENS_SENTENCE = ".:;!?([{*#-"  # after one of these (or first in a text), a capital says nothing
_QUOTES = "\"'`“‘"
_NAME_SHAPE = re.compile(r".[A-Z]|[0-9_]")


@dataclass(frozen=True)
class Wording:
    """A text's content terms, the role each has around a direction word, and which of them are names."""

    terms: frozenset[str]
    roles: frozenset[tuple[str, str]]  # (term, role)
    names: frozenset[str]


@dataclass(frozen=True)
class _Token:
    word: str  # lower case
    term: str  # empty for a stop word, a direction word or a comma


def wording(text: str, names: frozenset[str]) -> Wording:
    """The wording of ``text``; ``names``: the terms its collection writes as names (``name_terms``)."""
    matches = list(_TOKEN.finditer(text))
    tokens = [_Token(m.group().lower(), _term(m.group())) for m in matches]
    terms = frozenset(t.term for t in tokens if t.term)
    written = {t.term for t, m in zip(tokens, matches) if t.term and _written_as_name(text, m)}
    return Wording(terms, frozenset(_roles(tokens)), frozenset(written) | terms & names)


def says_otherwise(a: Wording, b: Wording) -> bool:
    """Whether ``a`` and ``b`` ask for different things whatever their words share: a term one puts on one
    side of a direction and the other on the other side, or each having a term the other lacks, a name among them."""
    only_a, only_b = a.terms - b.terms, b.terms - a.terms
    return _reversed(a, b) or _reversed(b, a) or bool(only_a and only_b and (only_a & a.names or only_b & b.names))


def name_terms(texts: Iterable[str]) -> frozenset[str]:
    """Terms written as names (``_written_as_name``) more often than in lower case, so that
    "Android" opening "Android: fix X" is a name where other texts write "on Android"."""
    as_name, plain = Counter(), Counter()
    for text in texts:
        for match in _TOKEN.finditer(text):
            term = _term(match.group())
            written = _written_as_name(text, match) if term else None
            if written is not None:
                (as_name if written else plain)[term] += 1
    return frozenset(term for term, count in as_name.items() if count > plain[term])


def _written_as_name(text: str, match: re.Match) -> bool | None:
    """Whether a word is written as a name: with a capital inside ("iOS", "HDFS"), a digit, an underscore,
    in quotes, or capitalised inside a sentence; None for a capital opening a sentence, which says nothing."""
    word, start = match.group(), match.start()
    if _NAME_SHAPE.search(word) or (start and text[start - 1] in _QUOTES and not text[start - 2:start - 1].isalnum()):
        return True  # (an apostrophe inside "don't" is no quote)
    if word[0].isupper():
        return None if _opens_sentence(text[:start]) else True
    return False


def _opens_sentence(before: str) -> bool:
    """Whether what comes before a word leaves it opening a sentence ("Titanium.Map" does not; "done. Map" does)."""
    stripped = before.rstrip()
    return not stripped or stripped[-1] in _OPENS_SENTENCE and (stripped[-1] != "." or stripped != before)


@lru_cache(maxsize=1 << 16)
def _term(word: str) -> str:
    lower = word.lower()
    return "" if lower in STOPWORDS or lower in DIRECTIONS or lower == "," else stem(lower)


def _roles(tokens: list[_Token]) -> Iterator[tuple[str, str]]:
    for k, token in enumerate(tokens):
        if token.word not in DIRECTIONS:
            continue
        before, after = DIRECTIONS[token.word]
        if before and k > 0 and tokens[k - 1].term:
            yield tokens[k - 1].term, before
        if after:
            yield from ((term, after) for term in _following(tokens, k + 1))


def _following(tokens: list[_Token], start: int) -> Iterator[str]:
    """The first content term from ``start`` on, unless a direction word comes first, and the terms joined to it."""
    k = next((k for k in range(start, len(tokens)) if tokens[k].term or tokens[k].word in DIRECTIONS), None)
    while k is not None and tokens[k].term:
        yield tokens[k].term
        k = k + 2 if k + 2 < len(tokens) and tokens[k + 1].word in _JOINS else None


def _reversed(a: Wording, b: Wording) -> bool:
    """A term ``a`` gives one role only and ``b`` the opposite one only."""
    return any((term, OPPOSITE[role]) in b.roles - a.roles and (term, role) not in b.roles for term, role in a.roles)
