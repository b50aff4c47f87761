"""Claims that the stories do not say something: "No story mentions Slack", "The stories do not say who can view
the audit trail". Such a claim is about the whole collection, so it is checked against every story of it
(``answer/support.py``); this module only reads what the claim says is absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SOURCE = r"(?:the\s+|these\s+|any\s+|other\s+)?(?:user\s+)?(?:stor(?:y|ies)|items?|backlog|tickets?|issues?)"
_SAYS = r"(?:mentions?|says?|describes?|covers?|specif(?:y|ies)|states?|talks?\s+about|is\s+about|addresses|explains?)"
# "No," before the claim: the answer to "Does any story say ...?", as the bundled model writes it.
_CLAIM = re.compile(
    rf"^\W*(?:no\s*[,:;.!–—-]+\s*)?(?:"
    rf"(?:there\s+(?:is|are)\s+)?no\s+{_SOURCE}\s+(?:that\s+|which\s+)?(?:{_SAYS}|about|on|for|mentioning)"
    rf"|(?:none\s+of\s+)?{_SOURCE}\s+(?:do|does|did)\s+not\s+{_SAYS}"
    rf"|nothing\s+in\s+{_SOURCE}\s+{_SAYS}"
    rf")(?:\s+that)?\s+(?P<what>.+?)\W*$",
    re.I | re.S,
)
_ALTERNATIVES = re.compile(r",\s*|\s+(?:or|and|nor)\s+", re.I)
_QUANTITY = re.compile(r"^\s*how\s+(?:much|many|long|often)\b", re.I)


@dataclass(frozen=True)
class Absence:
    """What a claim of absence says no story holds: each alternative ("WhatsApp or Slack") on its own."""

    what: str  # as written: "who can view the audit trail"
    alternatives: tuple[str, ...]
    quantity: bool  # it asks "how much", "how many" ...: a story holds it only with a number


def absence(claim: str) -> Absence | None:
    """The absence ``claim`` asserts, or None when it is not a claim of absence."""
    match = _CLAIM.match(claim.strip())
    if not match:
        return None
    what = match.group("what").strip()
    alternatives = tuple(a for a in _ALTERNATIVES.split(what) if a.strip())
    return Absence(what, alternatives, bool(_QUANTITY.search(what)))
