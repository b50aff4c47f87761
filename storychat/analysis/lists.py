"""List questions answered by code: "Which stories are for line managers?", "What is still open in the checkout
epic?", "Stories over 8 points", "Bugs fixed since 1 March".

A question is a list question when it asks for items ("which stories", "list", "bugs …") and names values of the
fields the collection holds (its roles, epics, types, statuses, labels, components, sprints, priorities, fix
versions; a range of points; a date an item was created, updated or resolved), matched against the words the
library knows, never guessed by the model. The names become a ``Scope`` (``analysis/filters.py``), and the exact
list is what it keeps.

A question that also asks about a topic ("open stories about payments") is a mixed one: the scope filters exactly,
retrieval ranks what it kept by the topic. Any other word beside the names ("What does the moderator want to
export?") asks something more, and the question goes to retrieval.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from storychat.analysis.filters import Filter, Scope, field_values
from storychat.analysis.roles import normalise_role
from storychat.stories import Story

_ASKS_FOR_STORIES = re.compile(
    r"\b(which|what|list|show|give|find)\b.*\b(stor(y|ies)|items?|tickets?|issues?)\b"
    r"|\b(all|every)\b.*\bstor(y|ies)\b"
    r"|\bstor(y|ies)\s+(for|of|by|from|in)\b"
    r"|\bwhat\s+(do|does)\b.*\b(want|need|ask)"
    r"|\bwhat\s+(is|are|was|were)\b",
    re.I,
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.'’-]*[A-Za-z0-9]|[A-Za-z0-9]")
_LONGEST_NAME = 5  # words
_ITEMS = frozenset("stories story items item tickets ticket issues issue cards card".split())
# A role or an epic counts where the question points at it: "for (the) line managers", "does the admin want",
# "admin stories", "in the checkout epic"; a role word elsewhere ("stories about user login") does not.
_BEFORE = frozenset("for by of from do does in epic".split())
_ARTICLES = frozenset("the a an our all any every".split())
_AFTER = frozenset("stories story items want wants need needs ask asks epic".split())
# The words that introduce a topic: what retrieval ranks the kept items by.
_TOPIC = frozenset("about regarding concerning mentioning mention mentions involving touching".split())
# The words a question asks for a list with; any other word beside the names and the topic asks something more.
_LIST_WORDS = _BEFORE | _ARTICLES | _AFTER | _ITEMS | frozenset(
    "which what who list show give find me us is are was were there have has had role roles written please "
    "still currently now that been being with within the whose tagged labelled labeled label labels tag tags "
    "component components sprint iteration priority version release fix in on under at and".split()
)
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATE = (
    rf"(?:(\d{{4}})-(\d{{2}})-(\d{{2}})|(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?"
    rf"|{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?)"
)
# "fixed since 1 March": the verb says which date, the preposition how it compares.
_DATED = re.compile(
    r"\b(fixed|resolved|closed|completed|finished|done|created|filed|raised|reported|added|opened|updated|changed|modified)"
    rf"\s+(since|after|before|on|from)\s+{_DATE}",
    re.I,
)
_DATE_FIELD = {
    **dict.fromkeys("fixed resolved closed completed finished done".split(), "resolved"),
    **dict.fromkeys("created filed raised reported added opened".split(), "created"),
    **dict.fromkeys("updated changed modified".split(), "updated"),
}
_DATE_OP = {"since": ">=", "from": ">=", "after": ">", "before": "<", "on": "="}
_N = r"(\d+(?:\.\d+)?)"
_POINTS = (  # each pattern's groups read as a Filter on points
    (re.compile(rf"\bbetween\s+{_N}\s+and\s+{_N}\s+(?:story\s+)?points?\b", re.I), lambda m: ("=", f"{m[1]}..{m[2]}")),
    (re.compile(rf"\b{_N}\s*(?:to|-)\s*{_N}\s+(?:story\s+)?points?\b", re.I), lambda m: ("=", f"{m[1]}..{m[2]}")),
    (
        re.compile(rf"\b(over|more than|above|greater than|at least|under|fewer than|less than|below|at most)\s+{_N}\s+(?:story\s+)?points?\b", re.I),
        lambda m: (_COMPARED[m[1].lower()], m[2]),
    ),
    (re.compile(rf"\b{_N}\s+(?:story\s+)?points?\s+or\s+(more|less|fewer)\b", re.I), lambda m: (">=" if m[2].lower() == "more" else "<=", m[1])),
    (re.compile(rf"\b(?:story\s+)?points?\s*(>=|<=|>|<|=)\s*{_N}", re.I), lambda m: (m[1], m[2])),
    (re.compile(rf"\b{_N}[- ](?:story[- ])?points?\b", re.I), lambda m: ("=", m[1])),
)
_COMPARED = {
    "over": ">", "more than": ">", "above": ">", "greater than": ">", "at least": ">=",
    "under": "<", "fewer than": "<", "less than": "<", "below": "<", "at most": "<=",
}
# Type values that are the words for any item: "which stories" asks for items, not for items of type Story.
_GENERIC_TYPES = frozenset({"story", "epic", "issue", "item"})


Rank = Callable[[str, Sequence[Story]], list[Story]]  # the items that match a topic, best first (retrieval)


@dataclass(frozen=True)
class Listing:
    """The answer code computes to a list question: the scope it matched and the items.

    Without a topic the items are the exact list; with one (a mixed question) they are the items the scope kept
    that retrieval found for the topic, best first, and ``kept`` counts all the scope kept."""

    scope: Scope
    stories: tuple[Story, ...]
    topic: str = ""
    kept: int = 0

    @property
    def exact(self) -> bool:
        return not self.topic

    def line(self) -> str:
        """ "5 stories have the role line manager", or what was exact and what was ranked in a mixed question."""
        if self.topic:
            return (
                f"Filtered exactly: {self.scope.describe()} ({_count(self.kept)}). Ranked by the topic {self.topic!r}: "
                f"{_count(len(self.stories))} {'matches' if len(self.stories) == 1 else 'match'}, and the list may be incomplete."
            )
        n = len(self.stories)
        only = self.scope.filters[0] if len(self.scope.filters) == 1 else None
        if only and only.field == "epic":
            return f"{_count(n)} {'is' if n == 1 else 'are'} in the epic {only.value}"
        dated = sorted(self.scope.filters, key=lambda f: f.field in _DATE_WORDS_FIELDS)  # "… and a resolved date after …"
        return f"{_count(n)} {'has' if n == 1 else 'have'} " + " and ".join(map(_phrase, dated))

    def instruction(self) -> str:
        """What the model is asked to do with the items: summarise them, citing the ids."""
        if self.topic:
            return f"These stories have {self.scope.describe()} and match {self.topic!r}. Summarise what they ask for, citing the ids."
        return f"These are all the stories with {self.scope.describe()}. Summarise what they ask for, citing the ids."


@dataclass(frozen=True)
class Named:
    """What a question names: the filters its field words spell, the topic it asks about, and whether it asks for
    a list and nothing more (``pure``)."""

    scope: Scope
    topic: str
    pure: bool
    asks_for_list: bool

    def listing(self, stories: Sequence[Story], rank: Rank | None = None) -> Listing | None:
        """The exact list, or for a mixed question the items the scope keeps ranked by ``rank``; None when the
        question asks something more, or names no field."""
        if not (self.asks_for_list and self.pure and self.scope) or (self.topic and rank is None):
            return None
        kept = self.scope.apply(stories)
        return Listing(self.scope, tuple(rank(self.topic, kept) if self.topic else kept), self.topic, len(kept))


def asked_list(question: str, stories: Sequence[Story], rank: Rank | None = None) -> Listing | None:
    """The list ``question`` asks for, when it asks for items by the fields the stories hold: the exact list, or
    for a mixed question (with ``rank``, retrieval) the filtered items ranked by the topic."""
    return read_question(question, stories).listing(stories, rank)


def read_question(question: str, stories: Sequence[Story]) -> Named:
    """The filters ``question`` names, read by rules over the values ``stories`` hold, and its topic."""
    text = question.strip().rstrip("?!.")
    filters: list[Filter] = []
    for pattern, read in _POINTS:  # the first way of writing points that the question uses
        match = pattern.search(text)
        if match:
            filters.append(Filter("points", *read(match)))
            text = _blank(text, match)
            break
    dated = _DATED.search(text)
    if dated:
        filters.append(_dated(dated, stories))
        text = _blank(text, dated)
    words = [w.lower() for w in _WORD.findall(text)]
    claimed = [False] * len(words)
    values = field_values(stories)
    for field in ("type", "status", "priority", "label", "component", "sprint", "fix_version", "epic", "role"):
        found = _named(field, words, claimed, values.get(field, []))
        if found:
            filters.append(Filter(field, "=", found))
    intro = next((i for i, w in enumerate(words) if w in _TOPIC and not claimed[i]), len(words))
    topic = " ".join(w for i, w in enumerate(words[intro + 1:], intro + 1) if not claimed[i] and w not in _LIST_WORDS)
    rest = [w for i, w in enumerate(words[:intro]) if not claimed[i]]
    pure = all(w in _LIST_WORDS for w in rest) and (intro == len(words) or bool(topic))
    asks = bool(_ASKS_FOR_STORIES.search(question)) or any(w in _ITEMS for w in words) or any(f.field == "type" for f in filters)
    return Named(Scope(tuple(filters)), topic, pure, asks)


def incomplete_line(scope: Scope) -> str:
    """What an answer that lists items found by retrieval says of its list, and what exact answer it offers."""
    offer = (
        f"for the exact list, filter by {', '.join(scope.to_record())}" if scope
        else "*Read everything* reads every story for a complete list"
    )
    return f"This list comes from retrieval and may be incomplete: {offer}."


def _named(field: str, words: list[str], claimed: list[bool], values: list[tuple[str, int]]) -> str:
    """The value of ``field`` whose name the longest run of unclaimed ``words`` spells where the question points
    at it, as the items spell it; its words are then claimed. "" when none."""
    by_key = {_key(spelled): spelled for spelled, _ in values}
    if field == "type":
        by_key = {key: spelled for key, spelled in by_key.items() if key not in _GENERIC_TYPES}
    if field == "sprint":  # "sprint 8" names "BILL Sprint 8" when no other sprint ends so
        tails = [(key[key.index("sprint"):], spelled) for key, spelled in by_key.items() if "sprint" in key]
        by_key |= {tail: spelled for tail, spelled in tails if [t for t, _ in tails].count(tail) == 1 and tail not in by_key}
    for n in range(min(_LONGEST_NAME, len(words)), 0, -1):
        for start in range(len(words) - n + 1):
            if any(claimed[start:start + n]):
                continue
            spelled = by_key.get(_key(" ".join(words[start:start + n])))
            if spelled and _POINTERS[field](words, start, start + n, _key(spelled)):
                claimed[start:start + n] = [True] * n
                return spelled
    return ""


def _key(name: str) -> str:
    """A value's name as a question's words are compared with it: lower case, words only, the last one singular
    (roles' short forms spelled out, as the role list groups them)."""
    return normalise_role(" ".join(_WORD.findall(name.casefold())))


def _before(words: list[str], start: int) -> str:
    before = words[max(0, start - 3):start]
    while before and before[-1] in _ARTICLES:
        before.pop()
    return before[-1] if before else ""


def _after(words: list[str], end: int) -> str:
    return words[end] if end < len(words) else ""


def _pointed(before: frozenset[str], after: frozenset[str]) -> Callable[[list[str], int, int, str], bool]:
    return lambda words, start, end, key: _before(words, start) in before or _after(words, end) in after


def _sprint(words: list[str], start: int, end: int, key: str) -> bool:
    return "sprint" in key or "iteration" in key or _before(words, start) in ("sprint", "iteration")


_POINTERS: dict[str, Callable[[list[str], int, int, str], bool]] = {
    "type": lambda *_: True,
    "status": lambda *_: True,
    "priority": _pointed(frozenset({"priority"}), frozenset({"priority"})),
    "label": _pointed(frozenset("labelled labeled label labels tagged tag tags".split()), frozenset("label labels tag tags".split())),
    "component": _pointed(frozenset({"component", "components"}), frozenset({"component", "components"})),
    "sprint": _sprint,
    "fix_version": _pointed(frozenset("version versions release fix".split()), frozenset({"release", "version"})),
    "epic": _pointed(_BEFORE, _AFTER),
    "role": _pointed(_BEFORE, _AFTER),
}


def _blank(text: str, match: re.Match[str]) -> str:
    """``text`` with ``match`` blanked out: its words are read, and no other field may read them."""
    return text[:match.start()] + " " + text[match.end():]


def _dated(match: re.Match[str], stories: Sequence[Story]) -> Filter:
    verb, preposition = match[1].lower(), match[2].lower()
    iso_year, iso_month, iso_day, day, month, year, month2, day2, year2 = match.groups()[2:]
    if iso_year:
        when = f"{iso_year}-{iso_month}-{iso_day}"
    else:
        when = _dated_without_year(int(day or day2), _MONTHS[(month or month2).lower()[:3]], year or year2, stories)
    return Filter(_DATE_FIELD[verb], _DATE_OP[preposition], when)


def _dated_without_year(day: int, month: int, year: str | None, stories: Sequence[Story]) -> str:
    """A day and month as a date: in ``year`` when given, else the latest such day not after the newest date any
    item carries (today, when none carries one)."""
    if year:
        return dt.date(int(year), month, day).isoformat()
    dates = [d[:10] for s in stories for d in (s.fields.created, s.fields.updated, s.fields.resolved) if d]
    newest = dt.date.fromisoformat(max(dates)) if dates else dt.date.today()
    when = dt.date(newest.year, month, day)
    return (when if when <= newest else dt.date(newest.year - 1, month, day)).isoformat()


def _count(n: int) -> str:
    return f"{n:,} {'story' if n == 1 else 'stories'}"


def _phrase(f: Filter) -> str:
    """A filter as the list's line says it: "the role manager", "status Open", "more than 8 points"."""
    if f.field in ("role", "epic"):
        return f"the {f.field} {f.value}"
    if f.field == "points":
        return _points_phrase(f.op, f.value)
    if f.field in _DATE_WORDS_FIELDS:
        return f"a {f.field} date {_DATE_WORDS[f.op]} {f.value}"
    return f"{f.field.replace('_', ' ')} {f.value}"


_DATE_WORDS_FIELDS = ("created", "updated", "resolved")
_DATE_WORDS = {">=": "on or after", ">": "after", "<": "before", "<=": "on or before", "=": "on"}


def _points_phrase(op: str, value: str) -> str:
    if ".." in value:
        low, high = value.split("..")
        return f"{low} to {high} points"
    return {
        ">": f"more than {value} points", ">=": f"{value} points or more", "<": f"fewer than {value} points",
        "<=": f"{value} points or fewer", "=": f"{value} points",
    }[op]
