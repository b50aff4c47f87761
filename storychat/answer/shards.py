"""Shards: a collection too big for one context, cut into runs of stories that each fill one.

A shard's system prompt is the rules and its stories in library order, the same
text every time, so the engine reuses and snapshots its KV state as it does a
whole collection's. Cuts stay where they were: ``Sharder`` remembers each
collection's last layout, so adding stories changes only the last shard (and
opens new ones after it), and deleting a story changes only its own shard.
Given a file, it keeps the layouts there, so the cuts (and with them the shards'
snapshots on disk) survive a restart.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from storychat.stories import Story


@dataclass(frozen=True)
class Shard:
    index: int  # from 0, in library order
    stories: list[Story]
    tokens: int

    def label(self, collection: str) -> str:
        """What the shard's KV snapshot is filed under: a changed shard's new snapshot replaces its old one."""
        return f"{collection} shard {self.index + 1}" if collection else ""


def split(
    stories: Sequence[Story], budget: int, size: Callable[[Story], int], previous: Mapping[str, int] = {}
) -> list[Shard]:
    """Consecutive runs of ``stories`` of at most ``budget`` tokens each (``size`` per story).

    ``previous`` maps a story id to the shard it was in last time: a story of
    another earlier shard starts a new one, so old cuts stay put. New stories
    join the shard open before them; a shard that overflows continues in a new one.
    """
    runs: list[list[Story]] = []
    tokens: list[int] = []
    open_was: int | None = None  # the previous index of the shard being filled
    for story in stories:
        was = previous.get(story.id)
        cost = size(story)
        if not runs or (was is not None and was != open_was) or tokens[-1] + cost > budget:
            runs.append([])
            tokens.append(0)
            open_was = was
        runs[-1].append(story)
        tokens[-1] += cost
    return [Shard(i, run, n) for i, (run, n) in enumerate(zip(runs, tokens))]


class Sharder:
    """Splits each collection, keeping its last layout per story budget so cuts stay where they were.

    With ``path`` the layouts are also kept in that JSON file. A file that cannot
    be read is started afresh, and one that cannot be written is left as it was:
    a lost layout costs the shards' snapshots, not an answer.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._layouts: dict[str, dict[str, int]] = _read_layouts(path) if path else {}

    def split(self, stories: Sequence[Story], collection: str, budget: int, size: Callable[[Story], int]) -> list[Shard]:
        key = f"{collection}|{budget}"  # another context size cuts afresh, and its snapshots differ anyway
        with self._lock:
            shards = split(stories, budget, size, self._layouts.get(key, {}) if collection else {})
            layout = {s.id: shard.index for shard in shards for s in shard.stories}
            if collection and layout != self._layouts.get(key):
                self._layouts[key] = layout
                self._write()
        return shards

    def _write(self) -> None:
        if not self._path:
            return
        partial = self._path.with_name(self._path.name + ".tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps(self._layouts), encoding="utf-8")
            os.replace(partial, self._path)
        except OSError:
            pass


def _read_layouts(path: Path) -> dict[str, dict[str, int]]:
    try:
        layouts = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return layouts if isinstance(layouts, dict) else {}
