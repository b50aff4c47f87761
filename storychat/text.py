"""Words reduced to content terms: what search, duplicates and roles compare.

Lower case, no stop words (including words every story or question has, like
"story" or "want"), light suffix stemming.
"""

from __future__ import annotations

import re

STOPWORDS = frozenset("""
a about above after again all also am an and any are as at be been being before below between both but by
can could did do does doing done down during each either else ever every few for from further get gets got
had has have having he her here hers him his how i if in into is it its itself just let like may me might
more most much must my no nor not now of off on once only or other our ours out over own same shall she
should so some such than that the their theirs them then there these they this those through to too under
until up upon us very was we were what when where which while who whom whose why will with within without
would yes yet you your yours
able allow allowed allows ask backlog feature features need needs please possible s so story stories tell
there want wants wanted way ways
""".split())

_WORD = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]
