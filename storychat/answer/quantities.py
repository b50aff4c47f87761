"""Numbers an answer states, held against the numbers its stories state: the value, its bound and what it counts.

"At most 7 unused days are carried over" is not backed by a story that says
"Given an employee has 7 unused days ... at most 5 are carried over": the story
holds 7, but not as a bound. "six years" is "6 years" and "12 months" is "a year".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storychat.text import STOPWORDS, stem

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "hundred": 100,
}
_TIME_UNITS = frozenset({"second", "minute", "hour", "day", "week", "month", "year"})
# The same span in a larger unit: (value, unit) -> (value, unit).
_CONVERSIONS = {(12, "month"): (1, "year"), (7, "day"): (1, "week"), (24, "hour"): (1, "day"), (60, "minute"): (1, "hour")}
_BOUNDS_BEFORE = (
    (("no", "more", "than"), "at most"), (("at", "most"), "at most"), (("up", "to"), "at most"), (("maximum",), "at most"),
    (("max",), "at most"), (("at", "least"), "at least"), (("minimum",), "at least"), (("more", "than"), "more than"),
    (("over",), "more than"), (("less", "than"), "less than"), (("fewer", "than"), "less than"), (("under",), "less than"),
)
_BOUNDS_AFTER = ((("or", "less"), "at most"), (("or", "fewer"), "at most"), (("or", "more"), "at least"))
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[A-Za-z0-9]+")
_ARTICLES = frozenset({"a", "an", "every", "each", "per"})  # one of a unit of time: "a year", "every week", "per day"
# How often, in one word: "daily" is once a day.
_FREQUENCIES = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month", "yearly": "year", "annually": "year"}


@dataclass(frozen=True)
class Quantity:
    surface: str
    value: float
    bound: str  # "at most", "at least", "more than", "less than" or ""
    unit: str  # the stem of the word it counts ("day"), or ""


def quantities(text: str) -> list[Quantity]:
    """Every number of ``text`` (digits, number words, "a" or "every" before a unit of time, "daily") with its bound and unit."""
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    found = []
    for i, token in enumerate(tokens):
        if token in _FREQUENCIES:
            found.append(Quantity(token, 1.0, "", _FREQUENCIES[token]))
            continue
        value = _value(token, tokens[i + 1:i + 2])
        if value is None:
            continue
        unit = _unit(tokens[i + 1:i + 3])
        bound = _bound(tokens[max(0, i - 3):i], tokens[i + 1:i + 4])
        value, unit = _CONVERSIONS.get((value, unit), (value, unit))
        found.append(Quantity(token, value, bound, unit))
    return found


def unmatched(claim: str, text: str) -> list[str]:
    """The numbers of ``claim`` that ``text`` states nowhere with the same value, bound and unit, as written."""
    held = quantities(text)
    return [q.surface for q in quantities(claim) if not any(_matches(q, h) for h in held)]


def _matches(claim: Quantity, held: Quantity) -> bool:
    return (
        claim.value == held.value
        and (not claim.bound or claim.bound == held.bound)
        and (not claim.unit or not held.unit or claim.unit == held.unit)
    )


def _value(token: str, following: list[str]) -> float | None:
    if token[0].isdigit():
        plain = token.replace(",", "")
        return float(plain) if plain.replace(".", "", 1).isdigit() else None
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    if token in _ARTICLES and following and stem(following[0]) in _TIME_UNITS:  # "a year"
        return 1.0
    return None


def _unit(following: list[str]) -> str:
    """The noun a number counts: the next word, or the one after an adjective ("7 unused days")."""
    for word in following:
        if stem(word) in _TIME_UNITS:
            return stem(word)
    return stem(following[0]) if following and following[0].isalpha() and following[0] not in STOPWORDS else ""


def _bound(before: list[str], after: list[str]) -> str:
    for words, bound in _BOUNDS_BEFORE:
        if tuple(before[-len(words):]) == words:
            return bound
    for words, bound in _BOUNDS_AFTER:
        if tuple(after[1:1 + len(words)]) == words or tuple(after[:len(words)]) == words:
            return bound
    return ""
