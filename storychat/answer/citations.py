"""Find the story ids an answer cites, check them, and recognise refusals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

from storychat.answer.prompt import REFUSAL
from storychat.stories import Story

_BRACKETS = re.compile(r"\[([^\[\]\n]{1,200})\]")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#-]*[A-Za-z0-9]|[A-Za-z0-9]")


@dataclass(frozen=True)
class Citation:
    id: str
    source: str
    line: int
    text: str
    valid: bool
    role: str = ""
    goal: str = ""
    benefit: str = ""
    verified: bool = False  # valid, and a sentence of the answer that cites it is supported by it (the ✓)
    paraphrased: bool = False  # valid, not verified, and a sentence citing it is supported in other words (≈)
    digest: str = ""  # the cited story's content digest when the answer was written ("" for no such story)
    acceptance: tuple[str, ...] = ()  # the cited story's acceptance criteria


def extract_ids(answer: str, known: Collection[str] = ()) -> list[str]:
    """Ids inside square brackets, in order of first appearance.

    ``[a, b]`` and ``[a][b]`` both cite two stories. A bracketed word counts
    as an id when it holds a digit (every generated id does) or is a known id,
    so ``[optional description]`` in prose is not mistaken for two citations.
    """
    seen: dict[str, None] = {}
    for group in _BRACKETS.findall(answer):
        for part in re.split(r"[,;]|\s+", group):
            part = part.strip().strip("'\"`")
            if _ID.fullmatch(part) and (part in known or any(ch.isdigit() for ch in part)):
                seen.setdefault(part, None)
    return list(seen)


def check_citations(
    answer: str, in_context: Mapping[str, Story], known: Mapping[str, Story], supported: Collection[str] = (),
    paraphrased: Collection[str] = (),
) -> list[Citation]:
    """A citation is valid only when the story exists and the model was shown it; verified only when it is
    valid and among the ``supported`` ids (``Support.supported_ids``), else paraphrased when among those."""
    citations = []
    for story_id in extract_ids(answer, known):
        story = known.get(story_id)
        valid = story is not None and story_id in in_context
        citations.append(
            Citation(
                id=story_id,
                source=story.source if story else "",
                line=story.line if story else 0,
                text=story.text if story else "",
                valid=valid,
                role=story.role if story else "",
                goal=story.goal if story else "",
                benefit=story.benefit if story else "",
                verified=valid and story_id in supported,
                paraphrased=valid and story_id not in supported and story_id in paraphrased,
                digest=story.digest if story else "",
                acceptance=story.acceptance if story else (),
            )
        )
    return citations


@dataclass(frozen=True)
class ChangedSince:
    """A story an answer cited that an import changed or removed after the answer was written."""

    id: str
    then: str  # the story's text when the answer cited it
    now: str | None  # its text now; None when it was removed

    def line(self) -> str:
        return f"{self.id} {'was removed' if self.now is None else 'changed'} after this answer"


def changed_after(citations: Sequence[Citation], current: Mapping[str, Story]) -> list[ChangedSince]:
    """Each valid citation whose story ``current`` (by id) no longer holds as it was."""
    changed = []
    for cite in citations:
        if cite.valid and cite.digest:
            now = current.get(cite.id)
            if now is None or now.digest != cite.digest:
                changed.append(ChangedSince(cite.id, cite.text, now and now.text))
    return changed


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


_REFUSAL_NORMAL = _normal(REFUSAL)


_LEADING_CITATIONS = re.compile(r"^\s*(\[[^\[\]\n]*\]\s*)+")


def is_refusal(answer: str) -> bool:
    """True when the answer is (or opens with) the fixed refusal sentence.

    Leading citations are ignored: a constrained answer must open with an id,
    and may still go on to refuse.
    """
    normal = _normal(_LEADING_CITATIONS.sub("", answer))
    return normal.startswith(_REFUSAL_NORMAL) or (
        _REFUSAL_NORMAL in normal and len(normal) < 2 * len(_REFUSAL_NORMAL)
    )
