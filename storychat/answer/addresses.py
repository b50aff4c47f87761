"""Does a story address what a question asks? The judgement behind "supported in other words" and "No story says".

A story addresses a question when its relevance to it (``Hit.relevance``: the
mean of the word match and the meaning, the relevance gate's own measure) is at
least ``ADDRESSES`` and it holds every name, acronym and number the question
uses: the embedder cannot tell "PayPal" from "credit card" reliably,
so names stay the word check's job. A question that asks for a quantity ("how
many days ...") is addressed only by a story that states a number. Only a pipeline with an embedder judges this;
by words alone a story that shares the question's words does not yet address it.

``NoStorySays`` is the line an answer gets when none of the stories it cites
addresses its question: ``No story says whether managers can see their employees'
salaries; closest: [HR-106] (team calendar)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from storychat.answer.retrieval import Hit
from storychat.stories import Story

# Chosen on the tuning half of the support labels (qa-dalpiaz): the lowest relevance at which no
# sentence labelled unsupported was rescued; docs/evaluation.md, "Meaning beside words".
ADDRESSES = 0.36

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)?")
_AUXILIARIES = frozenset("can could may might must shall should will would is are was were do does has have".split())
_DO = frozenset({"do", "does"})
_QUANTITY = re.compile(r"^\s*how\s+(many|much|long|often)\b", re.I)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|thousand|half|once|twice)\b", re.I
)
_DETERMINERS = frozenset("a an the my our your their his her its this that these those each every any some all no".split())
_PRONOUNS = frozenset("i we you they he she it there someone anyone everyone somebody anybody people users".split())
# Words that follow a verb's first word ("hand over", "see their", "check whether"): the sign that the
# word before them is the verb, so the subject ended where it was taken to end.
_AFTER_VERB = _DETERMINERS | frozenset(
    "over up out in on off to for with from by into about back down before after at of them it me us him "
    "each other whether if when how what where who which".split()
)


def names(text: str) -> list[str]:
    """The words of ``text`` that name a thing: numbers, acronyms, and words with a capital past the start of a sentence."""
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        for i, word in enumerate(_WORD.findall(sentence)):
            capital_inside = any(c.isupper() for c in word[1:])
            if word != "I" and (any(c.isdigit() for c in word) or capital_inside or (i > 0 and word[0].isupper())):
                found.append(word)
    return found


def addresses(question: str, hit: Hit) -> bool:
    """Whether ``hit``'s story addresses ``question``: relevant enough, and holding its names."""
    if hit.meaning is None or hit.relevance < ADDRESSES:
        return False
    text = hit.story.searchable
    if _QUANTITY.search(question) and not _NUMBER.search(text):
        return False
    held = {w.lower() for w in _WORD.findall(text)}
    return all(name.lower() in held for name in names(question))


def addressing(question: str, hits: Sequence[Hit]) -> tuple[str, ...]:
    """The ids of the ``hits``' stories that address ``question``, best first."""
    return tuple(h.story.id for h in hits if addresses(question, h))


@dataclass(frozen=True)
class NoStorySays:
    """None of the stories an answer cites addresses its question; the closest story, and what it says instead."""

    asked: str  # as_clause(question): "says whether managers can see ..." or "answers “...”"
    closest: Story | None = None
    instead: str = ""

    def line(self) -> str:
        text = f"No story {self.asked}"
        if self.closest:
            text += f"; closest: [{self.closest.id}]" + (f" ({self.instead})" if self.instead else "")
        return text


def as_clause(question: str) -> str:
    """What no story does, in words: "says whether a manager can hand over ..." for a yes/no question whose
    subject is plain to see, else "answers “...”" with the question as asked."""
    text = question.strip().rstrip("?").strip()
    words = text.split()
    quoted = f"answers “{question.strip()}”"
    if len(words) < 3 or words[0].lower() not in _AUXILIARIES:
        return quoted
    aux, rest = words[0].lower(), words[1:]
    end = _subject_end(rest)
    if end is None:
        return quoted
    subject, predicate = rest[:end], rest[end:]
    plain = subject == ["there"] or predicate[0].lower() == "be" or (len(predicate) > 1 and predicate[1].lower() in _AFTER_VERB)
    if not plain:
        return quoted
    if aux in _DO:
        verb = predicate[0] if aux == "do" else _third_person(predicate[0])
        return " ".join(["says whether", *subject, verb, *predicate[1:]])
    return " ".join(["says whether", *subject, aux, *predicate])


def _subject_end(words: list[str]) -> int | None:
    """Where the subject after a question's auxiliary ends: a pronoun or one word, or a determiner,
    any capitalised or possessive words, and a head word ("the CMS admin", "the platform's admins")."""
    first = words[0].lower()
    if first in _PRONOUNS or first not in _DETERMINERS:
        end = 1
    else:
        end = 1
        while end < len(words) - 1 and (words[end][0].isupper() or words[end].endswith(("'s", "’s", "s'"))):
            end += 1
        end += 1
    if end < len(words) - 1 and words[end].lower() == "of":  # "users of the site"
        end += 2 if words[end + 1].lower() not in _DETERMINERS else 3
    return end if end < len(words) else None


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"
