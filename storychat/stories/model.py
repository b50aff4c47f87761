"""The Story record every other part of StoryChat passes around."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


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

    def to_record(self) -> dict[str, object]:
        """The story as JSON holds it, every field by name: the one shape the exports, the CLI and the API give."""
        return asdict(self)

    @property
    def digest(self) -> str:
        """Equal for stories with the same content, whatever their ids and places: the library's duplicate key."""
        return content_digest(self.kind, self.text, self.acceptance)


def content_digest(kind: str, text: str, acceptance: tuple[str, ...]) -> str:
    content = json.dumps([kind, text, list(acceptance)], ensure_ascii=False)
    return hashlib.sha256(content.encode("utf-8")).hexdigest()
