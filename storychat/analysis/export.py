"""Analysis results as flat records: one per duplicate pair, lint finding or
role, for ``analyze --json`` and for CSV files."""

from __future__ import annotations

import csv
from dataclasses import asdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from storychat.analysis.duplicates import DuplicatePair
from storychat.analysis.lint import Finding, LintSummary
from storychat.analysis.roles import Group
from storychat.stories import Story


def pair_record(pair: DuplicatePair) -> dict[str, object]:
    return {
        "a": pair.a.id, "b": pair.b.id, "similarity": pair.similarity, "exact": pair.exact, "meaning": pair.meaning,
        "a_text": pair.a.text, "b_text": pair.b.text,
    }


def finding_record(finding: Finding, text: str) -> dict[str, object]:
    """``text`` is the story's text, for the offending words."""
    start, end = finding.span or (None, None)
    return {
        "story_id": finding.story_id, "rule": finding.rule, "severity": finding.severity,
        "message": finding.message, "start": start, "end": end,
        "words": text[start:end] if finding.span else "",
    }


def summary_record(summary: LintSummary) -> dict[str, object]:
    return {**asdict(summary), "clean_share": round(summary.clean_share, 3)}


def group_record(group: Group) -> dict[str, object]:
    return {
        "name": group.name, "count": group.count, "spellings": list(group.spellings),
        "story_ids": [story.id for story in group.stories],
    }


def write_duplicates_csv(pairs: Sequence[DuplicatePair], path: Path) -> None:
    _write_csv(path, (pair_record(p) for p in pairs), ["a", "b", "similarity", "exact", "meaning", "a_text", "b_text"])


def write_findings_csv(findings: Sequence[Finding], stories: Sequence[Story], path: Path) -> None:
    texts = {story.id: story.text for story in stories}
    records = (finding_record(f, texts.get(f.story_id, "")) for f in findings)
    _write_csv(path, records, ["story_id", "rule", "severity", "message", "start", "end", "words"])


def write_groups_csv(groups: Sequence[Group], path: Path) -> None:
    """A role or epic index; lists go into one cell, separated by "; "."""
    _write_csv(path, (group_record(g) for g in groups), ["name", "count", "spellings", "story_ids"])


def _write_csv(path: Path, records: Iterable[Mapping[str, object]], columns: list[str]) -> None:
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            writer.writerow(_cell(record[c]) for c in columns)


def _cell(value: object) -> object:
    if isinstance(value, list):
        return "; ".join(map(str, value))
    return "" if value is None else value
