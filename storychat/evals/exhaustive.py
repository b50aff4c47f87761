"""Exhaustive questions: score the set of stories an approach returns for
"list every story about X" against a hand-labelled answer.

A topic set is JSONL, one topic a line (the Dalpiaz set and its labelling
guidelines: ``exhaustive-dalpiaz.jsonl`` and ``exhaustive-dalpiaz.README.md``):

    {"topic": "notifications", "question": "List every story about notifications.",
     "keywords": ["notification", "notify"], "ids": ["g03-loudoun-54", ...], "notes": "..."}

``ids`` is every story about the topic; ``keywords`` are the words a user
would type into the exact "stories mentioning" action for it.

An approach maps a topic to the story ids it answers with. Per topic, recall
is the share of the labelled stories it found and precision the share of its
answer that is labelled; an empty answer has precision 0 (every topic has
stories, so saying "none" is a failed answer, not a careful one). Micro
figures pool the stories of all topics, macro figures average the topics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from storychat.evals.jsonl import Record, read_records
from storychat.stories import Story

DALPIAZ_TOPICS = Path(__file__).with_name("exhaustive-dalpiaz.jsonl")

_KEYS = {"topic", "question", "keywords", "ids", "notes"}


class TopicSetError(ValueError):
    """A topic set that cannot be used; the message names the line."""


@dataclass(frozen=True)
class Topic:
    topic: str
    question: str
    ids: frozenset[str]
    keywords: tuple[str, ...]
    notes: str = ""
    line: int = 0


Approach = Callable[[Topic], Iterable[str]]


def load_topics(path: Path) -> list[Topic]:
    topics = [parse_record(r) for r in read_records(path, _KEYS, TopicSetError, "topic set", "topics")]
    seen: dict[str, int] = {}
    for t in topics:
        if t.topic in seen:
            raise TopicSetError(f"{path.name} line {t.line}: topic {t.topic!r} is already on line {seen[t.topic]}")
        seen[t.topic] = t.line
    return topics


def parse_record(line: Record) -> Topic:
    record, where = line.fields, line.where
    for key in ("topic", "question"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise TopicSetError(f'{where}: "{key}" must be a non-empty string')
    ids, keywords = record.get("ids"), record.get("keywords")
    if not _strings(ids) or not ids:
        raise TopicSetError(f'{where}: "ids" must be a non-empty list of story ids')
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise TopicSetError(f"{where}: {', '.join(repeated)} listed more than once")
    if not _strings(keywords) or not keywords:
        raise TopicSetError(f'{where}: "keywords" must be a non-empty list of words')
    notes = record.get("notes", "")
    if not isinstance(notes, str):
        raise TopicSetError(f'{where}: "notes" must be a string')
    return Topic(record["topic"].strip(), record["question"].strip(), frozenset(ids), tuple(keywords), notes, line.line)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def check_ids(topics: Sequence[Topic], stories: Sequence[Story]) -> None:
    """Raise if a labelled id is not a story of the collection."""
    known = {s.id for s in stories if not s.is_note}
    for t in topics:
        missing = sorted(t.ids - known)
        if missing:
            raise TopicSetError(f"topic {t.topic!r} (line {t.line}): {', '.join(missing)} is not a story of the collection")


@dataclass(frozen=True)
class TopicScore:
    topic: Topic
    found: frozenset[str]

    @property
    def hits(self) -> int:
        return len(self.found & self.topic.ids)

    @property
    def recall(self) -> float:
        return self.hits / len(self.topic.ids)

    @property
    def precision(self) -> float:
        return self.hits / len(self.found) if self.found else 0.0

    @property
    def missed(self) -> list[str]:
        return sorted(self.topic.ids - self.found)

    @property
    def extra(self) -> list[str]:
        return sorted(self.found - self.topic.ids)


@dataclass(frozen=True)
class Score:
    approach: str
    topics: list[TopicScore]

    @property
    def micro_recall(self) -> float:
        return _share(sum(t.hits for t in self.topics), sum(len(t.topic.ids) for t in self.topics))

    @property
    def micro_precision(self) -> float:
        return _share(sum(t.hits for t in self.topics), sum(len(t.found) for t in self.topics))

    @property
    def macro_recall(self) -> float:
        return _share(sum(t.recall for t in self.topics), len(self.topics))

    @property
    def macro_precision(self) -> float:
        return _share(sum(t.precision for t in self.topics), len(self.topics))

    def to_json(self) -> dict:
        return {
            "approach": self.approach,
            **{name: round(getattr(self, name), 4) for name in ("micro_recall", "micro_precision", "macro_recall", "macro_precision")},
            "topics": [
                {
                    "topic": t.topic.topic, "expected": len(t.topic.ids), "found": len(t.found), "hits": t.hits,
                    "recall": round(t.recall, 4), "precision": round(t.precision, 4), "missed": t.missed, "extra": t.extra,
                }
                for t in self.topics
            ],
        }


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def score(name: str, topics: Sequence[Topic], approach: Approach) -> Score:
    return Score(name, [TopicScore(t, frozenset(approach(t))) for t in topics])


def table(scores: Sequence[Score]) -> list[str]:
    """Recall, precision and answer size per topic, one column per approach, then the pooled and averaged rows."""
    width = max(len(t.topic.topic) for t in scores[0].topics)
    lines = [
        f"{'topic':<{width}} {'labelled':>8}" + "".join(f"  {s.approach[:18]:>18}" for s in scores),
        f"{'':<{width}} {'':>8}" + f"  {'R / P / found':>18}" * len(scores),
    ]
    for row in zip(*(s.topics for s in scores)):
        cells = "".join(f"  {_cell(t.recall, t.precision, len(t.found))}" for t in row)
        lines.append(f"{row[0].topic.topic:<{width}} {len(row[0].topic.ids):>8}{cells}")
    labelled = sum(len(t.topic.ids) for t in scores[0].topics)
    pooled = "".join(f"  {_cell(s.micro_recall, s.micro_precision, sum(len(t.found) for t in s.topics))}" for s in scores)
    lines.append(f"{'micro (all stories pooled)':<{width}} {labelled:>8}{pooled}")
    lines.append(f"{'macro (mean of topics)':<{width}} {'':>8}" + "".join(f"  {_cell(s.macro_recall, s.macro_precision)}" for s in scores))
    return [line.rstrip() for line in lines]


def _cell(recall: float, precision: float, found: int | None = None) -> str:
    return f"{recall:5.2f} / {precision:4.2f} {'' if found is None else found:>5}"
