"""Split a Connextra-style user story into role, goal and benefit."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Parts:
    role: str
    goal: str
    benefit: str


_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_COMMA = re.compile(r"\s+(?=[,;])")
_CURLY_APOSTROPHE = re.compile(r"[\u2018\u2019\u02bc]")

# "In order to <benefit>, as a <role>, I want <goal>"
_BENEFIT_FIRST = re.compile(r"in\s+order\s+to\s+(?P<benefit>.+?)\s*,\s*(?P<rest>as\b.*)", re.I)

# The subject "I"/"we" ends the role.  Without a subject the story still reads
# as one when a want-verb directly follows a comma ("As a tester, would like ...").
_ROLE_GOAL = re.compile(
    r"as\s+(?:(?:an?|the)\s+)?(?P<role>.+?)\s*"
    r"(?:,?\s*\b(?:I|we)\b(?=[\s']|$)|,\s*(?=(?:would\s+like|want|need)\b))"
    r"(?P<goal>.*)",
    re.I,
)

# The modal and want-verbs between the subject and the goal: "want to",
# "'d like to", "am able to", "would be able to", "can".  A negation stays in
# the goal ("don't want to ...") so that its meaning is kept.
_WANT = re.compile(
    r"(?:\s*(?:'m|'d|am|would|should|must|will|wants?|like|love|needs?|wish|can|be|able|"
    r"expect|require|prefer)\b)*\s*(?:to\b)?\s*",
    re.I,
)

_BENEFIT_SPLIT = re.compile(
    r"[,;]?\s*\b(?:so\s+that\b|so\s+as\s+to\b|in\s+order\s+to\b|so\b(?=\s+(?:I|we)\b))\s*",
    re.I,
)

# A role is a noun phrase; what follows a comma, a relative pronoun or an
# "interested in" / "working with" style modifier only qualifies it.
_ROLE_QUALIFIER = re.compile(
    r"\s*,.*|\s+(?:who|whom|whose|which|that)\b.*|\s+\w+(?:ed|ing)\s+(?:in|with|on|for|about|at)\b.*",
    re.I,
)

_TRAILING_PUNCTUATION = " \t,;:."


def parse_parts(text: str) -> Parts | None:
    """Role, goal and benefit of a user story; None when the text is not one."""
    flat = _normalise(text)
    benefit_first = _BENEFIT_FIRST.match(flat)
    if benefit_first:
        parts = _parse_as_clause(benefit_first.group("rest"))
        if parts is None:
            return None
        return Parts(parts.role, parts.goal, _clean(benefit_first.group("benefit")))
    return _parse_as_clause(flat)


def _normalise(text: str) -> str:
    text = _CURLY_APOSTROPHE.sub("'", text)
    text = _SPACES.sub(" ", text).strip()
    return _SPACE_BEFORE_COMMA.sub("", text)


def _parse_as_clause(text: str) -> Parts | None:
    match = _ROLE_GOAL.match(text)
    if not match:
        return None
    role = _ROLE_QUALIFIER.sub("", match.group("role"))
    rest = match.group("goal")
    rest = rest[_WANT.match(rest).end():]
    split = _BENEFIT_SPLIT.search(rest)
    if split:
        goal, benefit = rest[: split.start()], rest[split.end():]
    else:
        goal, benefit = rest, ""
    role, goal = _clean(role), _clean(goal)
    if not role or not goal:
        return None
    return Parts(role, goal, _clean(benefit))


def _clean(phrase: str) -> str:
    return phrase.strip(_TRAILING_PUNCTUATION)
