"""Backlog items named by their tracker's key (DURACLOUD-61), for question sets.

A question set may name its evidence by the key a tracker shows. The key is
read from the file itself, apart from the importer, so the answer key does not
depend on the ids the importer gives the items: an item is found by its record
number, which is the line StoryChat gives the stories it reads from it.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Sequence

from storychat.stories import Story

KEY_COLUMNS = ("issuekey", "issue key", "key")


def item_lines(path: Path) -> dict[str, int]:
    """Each item's key and record number in a CSV file with a key column; empty for any other file."""
    if path.suffix.lower() != ".csv":
        return {}
    with path.open(encoding="utf-8-sig", newline="") as file:
        records = csv.DictReader(file)
        column = next((c for c in records.fieldnames or () if c.strip().lower() in KEY_COLUMNS), None)
        if column is None:
            return {}
        return {record[column].strip(): number for number, record in enumerate(records, 1) if record[column].strip()}


def ids_by_key(path: Path, stories: Sequence[Story]) -> dict[str, tuple[str, ...]]:
    """The ids StoryChat gave each keyed item of ``path`` among ``stories``: its stories and notes."""
    at_line: dict[int, list[str]] = defaultdict(list)
    for story in stories:
        if story.source == path.name:
            at_line[story.line].append(story.id)
    return {key: tuple(at_line[line]) for key, line in item_lines(path).items()}
