"""Hand-written evaluation sets in JSONL: one JSON object a line, blank lines
skipped, every error naming the file and the line."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Record:
    line: int
    where: str  # "<file name> line <n>", to begin error messages with
    fields: dict


def read_records(path: Path, keys: Collection[str], error: type[Exception], what: str, items: str) -> list[Record]:
    """The objects of ``path``; ``error`` names a file that cannot be read, holds no
    ``items``, or has a line that is not an object of the known ``keys``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from exc
    records = [_record(line, number, path.name, keys, error) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not records:
        raise error(f"{path.name}: no {items}")
    return records


def _record(text: str, number: int, name: str, keys: Collection[str], error: type[Exception]) -> Record:
    where = f"{name} line {number}"
    try:
        fields = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(fields, dict):
        raise error(f"{where}: expected a JSON object")
    unknown = sorted(set(fields) - set(keys))
    if unknown:
        raise error(f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(keys))}")
    return Record(number, where, fields)
