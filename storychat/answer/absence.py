"""Claims that the stories do not say something: "No story mentions Slack", "The stories do not say who can view
the audit trail". Such a claim is about the whole collection, so it is checked against every story of it
(``answer/support.py``); this module only reads what the claim says is absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storychat.answer.polarity import expand_contractions

_SOURCE = r"(?:the\s+|these\s+|any\s+|other\s+)?(?:user\s+)?(?:stor(?:y|ies)|items?|backlog|tickets?|issues?)"
_SAYS = (
    r"(?:mentions?|says?|describes?|covers?|specif(?:y|ies)|states?|talks?\s+about|is\s+about|addresses|explains?"
    r"|discuss(?:es)?|refers?\s+to|includes?)"
)
_ABOUT = rf"(?:that\s+|which\s+)?(?:{_SAYS}|about|on|for|mentioning)"
_IN_SOURCE = rf"(?:\s+(?:in|of|from)\s+(?:any\s+of\s+|any\s+)?{_SOURCE})?"
_SAID = r"(?:mentioned|described|covered|specified|stated|said|addressed|discussed)"
_WH = r"(?:who|whom|whether|how|what|when|where|which|why|if)\b"
# "No," before the claim: the answer to "Does any story say ...?", as the bundled model writes it.
_NO = r"(?:no\s*[,:;.!–—-]+\s*)?"
# Each way of saying that no story says something, with what it says is absent as ``what``.
_CLAIMS = tuple(re.compile(rf"^\W*{_NO}(?:{pattern})\W*$", re.I | re.S) for pattern in (
    rf"(?:there\s+(?:is|are)\s+)?no\s+{_SOURCE}(?:\s+in\s+{_SOURCE})?\s+{_ABOUT}\s+(?P<what>.+?)",
    rf"(?:none\s+of\s+)?{_SOURCE}(?:\s+in\s+{_SOURCE})?\s+(?:do|does|did)\s+not\s+{_SAYS}\s+(?P<what>.+?)",
    rf"(?:none\s+of\s+{_SOURCE}|neither\s+(?:of\s+{_SOURCE}|story|item))\s+{_SAYS}\s+(?P<what>.+?)",
    rf"nothing\s+in\s+{_SOURCE}\s+{_SAYS}\s+(?P<what>.+?)",
    rf"{_SOURCE}\s+(?:say|says|mention|mentions)\s+nothing\s+(?:about|on|of)\s+(?P<what>.+?)",
    rf"there\s+is\s+no\s+mention\s+of\s+(?P<what>.+?){_IN_SOURCE}",
    rf"(?:i|we)\s+(?:could|can|did)\s+not\s+find\s+(?:any\s+|a\s+)?{_SOURCE}\s+{_ABOUT}\s+(?P<what>.+?)",
    rf"(?:i|we)\s+found\s+no\s+{_SOURCE}\s+{_ABOUT}\s+(?P<what>.+?)",
    rf"{_SOURCE}\s+(?:has|have|holds?|contains?)\s+no\s+{_SOURCE}\s+{_ABOUT}\s+(?P<what>.+?)",
    rf"(?P<what>.+?)\s+(?:is|are)\s+not\s+{_SAID}\s+(?:in|by)\s+(?:any\s+of\s+|any\s+)?{_SOURCE}",
    rf"it\s+is\s+not\s+{_SAID}(?:\s+(?:in|by)\s+{_SOURCE})?\s+(?P<what>{_WH}.+?)",
))
_ALTERNATIVES = re.compile(r",\s*|\s+(?:or|and|nor)\s+", re.I)
_QUANTITY = re.compile(r"^\s*how\s+(?:much|many|long|often)\b", re.I)
_THAT = re.compile(r"^that\s+", re.I)  # "no story says that X": X is what is absent


@dataclass(frozen=True)
class Absence:
    """What a claim of absence says no story holds: each alternative ("WhatsApp or Slack") on its own."""

    what: str  # as written: "who can view the audit trail"
    alternatives: tuple[str, ...]
    quantity: bool  # it asks "how much", "how many" ...: a story holds it only with a number


def absence(claim: str) -> Absence | None:
    """The absence ``claim`` asserts, or None when it is not a claim of absence."""
    text = expand_contractions(claim.strip())
    match = next((m for m in (pattern.match(text) for pattern in _CLAIMS) if m), None)
    if not match:
        return None
    what = _THAT.sub("", match.group("what").strip())
    alternatives = tuple(a for a in _ALTERNATIVES.split(what) if a.strip())
    return Absence(what, alternatives, bool(_QUANTITY.search(what)))
