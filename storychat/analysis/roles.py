"""Roles and epics: who the stories are for and where they belong, with exact
lists and counts ("all stories for admins", "how many mention export")."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storychat.stories import Story
from storychat.text import stem

# Short forms that name the same role. "end user" is not folded into "user":
# no story in the Dalpiaz backlogs has the role "end user", so nothing backs
# the merge, and where a backlog has both, "end user" is likely meant to differ.
_ROLE_SYNONYMS = {"admin": "administrator", "dev": "developer"}
_ARTICLES = ("a", "an", "the")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Group:
    """The stories of one role (or epic); ``name`` is the normalised form,
    ``spellings`` how the stories write it, the most used first."""

    name: str
    spellings: tuple[str, ...]
    stories: tuple[Story, ...]

    @property
    def count(self) -> int:
        return len(self.stories)


def normalise_role(role: str) -> str:
    """Lower case, no leading article, the head noun singular, short forms
    spelled out: "The Admins" -> "administrator"."""
    words = role.casefold().strip(" .,;:").split()
    if words and words[0] in _ARTICLES:
        words = words[1:]
    if words:
        words[-1] = _singular(words[-1])
    return " ".join(_ROLE_SYNONYMS.get(word, word) for word in words)


def normalise_epic(epic: str) -> str:
    return " ".join(epic.casefold().split())


def role_index(stories: Sequence[Story]) -> list[Group]:
    """One group per normalised role, the most stories first."""
    return _index(stories, lambda s: s.role, normalise_role)


def epic_index(stories: Sequence[Story]) -> list[Group]:
    """One group per epic (case and spacing ignored), the most stories first."""
    return _index(stories, lambda s: s.epic, normalise_epic)


def stories_for_role(stories: Sequence[Story], role: str) -> list[Story]:
    """Every story whose role normalises to the same as ``role``."""
    wanted = normalise_role(role)
    return [s for s in stories if not s.is_note and s.role and normalise_role(s.role) == wanted]


def stories_in_epic(stories: Sequence[Story], epic: str) -> list[Story]:
    wanted = normalise_epic(epic)
    return [s for s in stories if not s.is_note and s.epic and normalise_epic(s.epic) == wanted]


def stories_mentioning(stories: Sequence[Story], term: str) -> list[Story]:
    """Every story whose text or acceptance criteria hold ``term`` as whole
    words, ignoring case and simple endings: "export" finds "Exports",
    "exporting" and "exported", not "exporter"."""
    wanted = _stems(term)
    if not wanted:
        raise ValueError("Say which word to look for; the term has no letters or digits.")
    return [s for s in stories if not s.is_note and _holds(_stems(" ".join(s.passages())), wanted)]


def _index(stories: Sequence[Story], field: Callable[[Story], str], normalise: Callable[[str], str]) -> list[Group]:
    members: dict[str, list[Story]] = defaultdict(list)
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    for story in stories:
        value = field(story).strip()
        if story.is_note or not value:
            continue
        key = normalise(value)
        members[key].append(story)
        spellings[key][value] += 1
    groups = [
        Group(key, tuple(spelling for spelling, _ in spellings[key].most_common()), tuple(group))
        for key, group in members.items()
    ]
    return sorted(groups, key=lambda g: (-g.count, g.name))


def _singular(word: str) -> str:
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    return word[:-1]


def _stems(text: str) -> list[str]:
    return [stem(word) for word in _WORD.findall(text.lower())]


def _holds(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(words[i:i + n] == phrase for i in range(len(words) - n + 1))
