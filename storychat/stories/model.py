"""The Story record every other part of StoryChat passes around."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Story:
    """One user story (or a kept non-story line, ``kind == "note"``).

    ``source`` is the base name of the file it came from (``paste`` for pasted
    text) and ``line`` its 1-based line or record number there.
    """

    id: str
    text: str
    source: str
    line: int
    role: str = ""
    goal: str = ""
    benefit: str = ""
    acceptance: tuple[str, ...] = field(default_factory=tuple)
    epic: str = ""
    kind: str = "story"

    @property
    def is_note(self) -> bool:
        return self.kind == "note"
