"""List questions answered by code: "Which stories are for line managers?", "What is in the checkout epic?".

A question is a list question when it asks for stories ("which stories", "list", "show all", "what does the
admin want"), names a role or an epic the collection holds, matched against the words the library knows,
never guessed by the model, and asks nothing more: "What does the moderator want to export?" asks about a
topic too, and goes to retrieval. A list question's answer starts with the exact list, computed here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from storychat.analysis.roles import Group, epic_index, normalise_epic, normalise_role, role_index
from storychat.stories import Story

_ASKS_FOR_STORIES = re.compile(
    r"\b(which|what|list|show|give|find)\b.*\b(stor(y|ies)|items?|tickets?|issues?)\b"
    r"|\b(all|every)\b.*\bstor(y|ies)\b"
    r"|\bstor(y|ies)\s+(for|of|by|from|in)\b"
    r"|\bwhat\s+(do|does)\b.*\b(want|need|ask)"
    r"|\bwhat\s+is\s+in\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_LONGEST_NAME = 5  # words
# A name counts where the question points at it: "for (the) line managers", "does the admin want",
# "admin stories", "in the checkout epic"; a role word elsewhere ("stories about user login") does not.
_BEFORE = frozenset("for by of from do does in".split())
_ARTICLES = frozenset("the a an our all any every".split())
_AFTER = frozenset("stories story items want wants need needs ask asks epic".split())
# The words a question asks for a list with; any other word beside the name asks about a topic as well.
_LIST_WORDS = _BEFORE | _ARTICLES | _AFTER | frozenset(
    "which what who list show give find me us is are there have has role roles item tickets ticket issues issue "
    "written please".split()
)


@dataclass(frozen=True)
class Listing:
    """The exact answer to a list question: the field it matched, the value as the stories spell it, the stories."""

    field: str  # "role" or "epic"
    value: str
    stories: tuple[Story, ...]

    def line(self) -> str:
        """ "5 stories have the role line manager", computed by code."""
        n = len(self.stories)
        if self.field == "role":
            return f"{n} {'story has' if n == 1 else 'stories have'} the role {self.value}"
        return f"{n} {'story is' if n == 1 else 'stories are'} in the epic {self.value}"

    def instruction(self) -> str:
        """What the model is asked to do with the list: summarise it, citing the ids."""
        whose = f"of the role {self.value!r}" if self.field == "role" else f"in the epic {self.value!r}"
        return f"These are all the stories {whose}. Summarise what they ask for, citing the ids."


def asked_list(question: str, stories: Sequence[Story]) -> Listing | None:
    """The exact list ``question`` asks for, when it asks for the stories of a role or an epic the stories name."""
    if not _ASKS_FOR_STORIES.search(question):
        return None
    words = _WORD.findall(question)
    for field, groups, normalise in (("epic", epic_index(stories), normalise_epic), ("role", role_index(stories), normalise_role)):
        group = _named(words, groups, normalise)
        if group:
            return Listing(field, group.spellings[0], group.stories)
    return None


def _named(words: list[str], groups: list[Group], normalise) -> Group | None:
    """The group whose name the longest run of ``words`` spells where the question points at it, when the question's
    other words only ask for a list."""
    by_name = {g.name: g for g in groups}
    for n in range(min(_LONGEST_NAME, len(words)), 0, -1):
        for start in range(len(words) - n + 1):
            found = by_name.get(normalise(" ".join(words[start:start + n])))
            rest = words[:start] + words[start + n:]
            if found and _pointed_at(words, start, start + n) and all(w.lower() in _LIST_WORDS for w in rest):
                return found
    return None


def _pointed_at(words: list[str], start: int, end: int) -> bool:
    before = [w.lower() for w in words[max(0, start - 2):start]]
    while before and before[-1] in _ARTICLES:
        before.pop()
    after = words[end].lower() if end < len(words) else ""
    return bool(before and before[-1] in _BEFORE) or after in _AFTER
