"""A collection's items a page at a time: searched by words, narrowed by filters, counted.

What the Stories tab shows of a backlog of thousands: never every row, one page of them and
where that page lies among the items that match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from storychat.analysis.filters import Scope
from storychat.stories import Story

PAGE_SIZE = 50


@dataclass(frozen=True)
class Page:
    """One page of the items that match a search and a scope: ``number`` of ``pages`` (1-based)."""

    items: list[Story]
    number: int
    pages: int
    matched: int  # the items that match the search and the scope
    total: int  # the items searched
    size: int
    query: str = ""
    scope: Scope = Scope()

    @property
    def first(self) -> int:
        """The 1-based place of the page's first item among the matched; 0 when none matched."""
        return (self.number - 1) * self.size + 1 if self.items else 0

    @property
    def narrowed(self) -> bool:
        return bool(words(self.query)) or bool(self.scope)

    def describe(self, noun: str = "items") -> str:
        """``Page 3 of 104 · items 101–150 of 5,170``; narrowed, ``… of 63 matching “refresh”; status Open (of 5,170)``."""
        narrowing = "; ".join(filter(None, [" ".join(f"“{w}”" for w in words(self.query)), self.scope.describe()]))
        if not self.matched:
            return f"No {noun.rstrip('s')} of {self.total:,} matches {narrowing}." if self.narrowed else f"No {noun}."
        place = f"Page {self.number} of {self.pages} · {noun} {self.first:,}–{self.first + len(self.items) - 1:,} of {self.matched:,}"
        return f"{place} matching {narrowing} (of {self.total:,})" if self.narrowed else place


def words(query: str) -> list[str]:
    """A search's words, case ignored."""
    return query.casefold().split()


def matches(story: Story, wanted: Sequence[str]) -> bool:
    """Every word occurs (case ignored, also inside a longer word) in the item's id or in its text: title,
    text, description, criteria, comments and epic."""
    found = f"{story.id} {story.searchable}".casefold()
    return all(word in found for word in wanted)


def page(stories: Sequence[Story], query: str = "", scope: Scope = Scope(), number: int = 1, size: int = PAGE_SIZE) -> Page:
    """Page ``number`` (kept between the first and the last) of the ``stories`` that contain every word of
    ``query`` and pass ``scope``, in their order."""
    wanted = words(query)
    found = [s for s in scope.apply(stories) if matches(s, wanted)] if wanted else scope.apply(stories)
    pages = max(1, -(-len(found) // size))
    number = min(max(1, number), pages)
    start = (number - 1) * size
    return Page(found[start:start + size], number, pages, len(found), len(stories), size, query, scope)
