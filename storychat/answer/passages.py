"""An item's passages, labelled: the one that backs a sentence, and the ones a long item is cut to for the model.

A passage is the item's title (or its text), its description, a criterion or a
comment. A long item (its description, criteria and comments over
``ITEM_CHARS``) enters the model's context as its text and title plus its
pieces most relevant to the question: windows of a few sentences of its
description and comments, and its criteria, scored by the retrieval's signals
and kept in reading order with "…" where something was left out. The library
keeps the whole item; the support check reads it whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from storychat.stories import Story
from storychat.stories.model import Comment
from storychat.text import stem

# Characters of one item's description, criteria and comments that the model reads: what a tracker item
# mostly holds, while one item's log or stack trace cannot fill the context. The library keeps the whole text.
ITEM_CHARS = 1_500
WINDOW = 300  # characters of a piece of a description or comment, whole sentences where they are that short
EXCERPT = 200  # characters of a description or comment shown as evidence, around the sentence's words
GAP = " … "

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class Passage:
    """One part of an item: its ``kind`` ("title", "story", "description", "criterion" or "comment") and text."""

    kind: str
    text: str
    author: str = ""  # a comment's

    @property
    def label(self) -> str:
        return f"comment by {self.author}" if self.author else self.kind

    def line(self) -> str:
        """'description: … refresh tokens were in the core but were removed …'"""
        return f"{self.label}: {self.text}"


def labelled(story: Story) -> list[Passage]:
    """The item's passages (``Story.passages``) in reading order, each with what it is. The text is the
    item's title when it has no other, and its user story when it has."""
    parts = [
        Passage("story" if story.role else "title", story.text), Passage("title", story.title),
        Passage("description", story.description), *(Passage("criterion", c) for c in story.acceptance),
        *(Passage("comment", c.text, c.author) for c in story.comments),
    ]
    return [p for p in parts if p.text]


def supporting(story: Story, holds: Callable[[str], bool]) -> Passage | None:
    """The passage of ``story`` that holds most distinct words of a sentence (``holds``: whether a word is one
    of them), the first of equals, on one line; a long description or comment as the excerpt around those words.
    None when no passage holds any."""
    best, most = None, 0
    for passage in labelled(story):
        held = len({_stem(w) for w in _WORD.findall(passage.text) if holds(w)})
        if held > most:
            best, most = passage, held
    if best is None:
        return None
    return replace(best, text=excerpt(best.text, holds) if len(best.text) > EXCERPT else " ".join(best.text.split()))


def excerpt(text: str, holds: Callable[[str], bool], size: int = EXCERPT) -> str:
    """About ``size`` characters of ``text`` around its tightest run of the most distinct words ``holds``
    (whole words, on one line), with "…" where the text goes on."""
    words = list(_WORD.finditer(text))
    held = [m for m in words if holds(m.group(0))]
    best, first, last = (0, 0), 0, 0
    for i, opening in enumerate(held):
        inside = [m for m in held[i:] if m.end() <= opening.start() + size]
        rank = (len({_stem(m.group(0)) for m in inside}), opening.start() - inside[-1].end())
        if rank > best:
            best, first, last = rank, opening.start(), inside[-1].end()
    start = max(0, first - (size - (last - first)) // 2)
    start = min((m.start() for m in words if m.start() >= start), default=0)  # at a word's start
    end = max((m.end() for m in words if m.end() <= start + size), default=len(text))
    shown = " ".join(text[start:end].split())
    return ("… " if start > 0 else "") + shown + (" …" if words and words[-1].end() > end else "".join(text[end:].split()))


@dataclass(frozen=True)
class Cut:
    """A long item as the model reads it, and how much of it was left out."""

    story: Story  # the item with only its most relevant pieces
    whole: int  # characters of its description, criteria and comments
    kept: int  # of them, the characters the model reads

    @property
    def left_out(self) -> int:
        return self.whole - self.kept


@dataclass(frozen=True)
class _Piece:
    part: int  # 0: the description; 1 + k: criterion k; 1 + len(criteria) + k: comment k
    index: int  # its place among its part's pieces
    last: bool  # the part's last piece
    text: str


def is_long(story: Story, budget: int = ITEM_CHARS) -> bool:
    """The item's description, criteria and comments, what a cut is made from, are over ``budget`` characters."""
    return sum(len(p) for p in _cuttable(story)) > budget


def cut(story: Story, score: Callable[[list[str]], Sequence[float]], budget: int = ITEM_CHARS) -> Cut:
    """``story`` with only its pieces that ``score`` (the pieces' texts against a question) rates highest and
    above 0, together at most ``budget`` characters, in reading order; its text and title whole. With no piece
    above 0, its first pieces."""
    pieces = [piece for part, text in enumerate(_cuttable(story)) for piece in _pieces(part, text)]
    scores = score([p.text for p in pieces]) if pieces else []
    # The pieces that bear on the question, best first; when none does, the item's opening.
    ranked = [p for s, p in sorted(zip(scores, pieces), key=lambda pair: -pair[0]) if s > 0] or pieces
    kept, room = [], budget
    for piece in ranked:
        if len(piece.text) <= room:
            kept.append(piece)
            room -= len(piece.text)
    texts = _cuttable(story)
    shown = [_joined([p for p in kept if p.part == part]) for part in range(len(texts))]
    criteria = len(story.acceptance)
    comments = tuple(
        Comment(text, c.author, c.at) for c, text in zip(story.comments, shown[1 + criteria:]) if text
    )
    brief = replace(story, description=shown[0], acceptance=tuple(t for t in shown[1:1 + criteria] if t), comments=comments)
    return Cut(brief, sum(map(len, texts)), sum(len(p.text) for p in kept))


def _stem(word: str) -> str:
    return stem(word.lower())


def _cuttable(story: Story) -> list[str]:
    return [story.description, *story.acceptance, *(c.text for c in story.comments)]


def _pieces(part: int, text: str, size: int = WINDOW) -> list[_Piece]:
    """``text`` in consecutive windows of whole sentences up to ``size`` characters; a longer sentence
    (a log line, a stack trace) in windows of whole words."""
    groups: list[list[tuple[int, int]]] = []
    for span in _spans(text, size):
        if groups and span[1] - groups[-1][0][0] <= size:
            groups[-1].append(span)
        else:
            groups.append([span])
    return [_Piece(part, k, k == len(groups) - 1, text[g[0][0]:g[-1][1]]) for k, g in enumerate(groups)]


def _spans(text: str, size: int) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, a sentence over ``size`` characters split at spaces."""
    spans, at = [], 0
    for match in [*_SENTENCE.finditer(text), None]:
        end = match.start() if match else len(text)
        if end > at:
            spans += _split_long(text, at, end, size)
        at = match.end() if match else end
    return spans


def _split_long(text: str, start: int, end: int, size: int) -> list[tuple[int, int]]:
    spans = []
    while end - start > size:
        space = text.rfind(" ", start, start + size)
        cut_at = space if space > start else start + size
        spans.append((start, cut_at))
        start = cut_at + (space > start)
    return spans + [(start, end)]


def _joined(pieces: list[_Piece]) -> str:
    """The kept pieces of one part, in order, with "…" wherever something was left out between or around them."""
    if not pieces:
        return ""
    pieces = sorted(pieces, key=lambda p: p.index)
    text = pieces[0].text
    for before, piece in zip(pieces, pieces[1:]):
        text += (" " if piece.index == before.index + 1 else GAP) + piece.text
    opening = "… " if pieces[0].index > 0 else ""
    closing = "" if pieces[-1].last else " …"
    return " ".join(f"{opening}{text}{closing}".split())
