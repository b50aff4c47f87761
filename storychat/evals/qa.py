"""QA evaluation: answer a hand-written question set through the pipeline and score it.

A question set is JSONL, one question a line, answered from a story file
(resolved against a data root) or a library collection:

    {"stories": "g13-planningpoker.txt", "question": "...", "expect_ids": ["g13-planningpoker-19"]}
    {"collection": "backlog", "question": "...", "unanswerable": true}

``expect_ids`` lists every story that answers the question: its id, or in a CSV
file with a key column the item's key (``DURACLOUD-61``), which then stands for
whatever StoryChat read from that item, a story or a note. An optional
``kind`` says where the answer is: ``title``, ``description`` (only there), or
``near miss`` for an unanswerable question close to something the backlog has.
The scores:

- refused on unanswerable: the share of unanswerable questions the user sees refused;
- wrong refusals: the share of answerable questions refused (by the gate, the
  model, or the strict check);
- evidence recall: the share of answerable questions answered (not refused)
  with an expected story among the valid citations;
- invalid citations: invalid citations over all citations;
- shown as valid but not a story of the backlog: checked here, apart from the
  pipeline's own check, and must be 0;
- retrieved: the share of answerable questions with an expected story among the
  top 3 hits (BM25, or with meaning the ranking by meaning and match), an upper bound for what the focus block and the citation
  grammar can offer (by default both use the first hit only).

The gate sweep runs once with the relevance gate off and replays, for each
threshold, what the gate would have done: a question whose best match is below
the threshold is refused without the model, every other keeps its real answer.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

from storychat.answer.answer import NOTHING_SUPPORTED

from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.prompt import REFUSAL
from storychat.evals.items import ids_by_key
from storychat.evals.jsonl import Record, read_records
from storychat.stories import Story
from storychat.stories.formats import Limits, read_file
from storychat.stories.library import Library

DALPIAZ_SET = Path(__file__).with_name("qa-dalpiaz.jsonl")
THRESHOLDS = tuple(round(i * 0.05, 2) for i in range(17))  # 0.00 .. 0.80
RETRIEVAL_K = 3

# Issue 22's targets for the bundled model.
TARGET_REFUSED = 0.85
TARGET_WRONG_REFUSALS = 0.15
TARGET_RECALL = 0.70
TARGET_BARE_CHECK = 1  # unanswerable questions answered with a ✓ or ≈ and no line saying what no story carries

_KEYS = {"stories", "collection", "question", "expect_ids", "unanswerable", "kind"}
ANSWERED_KINDS = ("title", "description")
NEAR_MISS = "near miss"


class QuestionSetError(ValueError):
    """A question set that cannot be used; the message names the line."""


@dataclass(frozen=True)
class Question:
    question: str
    expect_ids: tuple[str, ...] = ()
    stories: str = ""  # a story file name, resolved against the data root
    collection: str = ""
    line: int = 0
    kind: str = ""  # where the answer is ("title", "description") or NEAR_MISS; "" when the set does not say

    @property
    def unanswerable(self) -> bool:
        return not self.expect_ids

    @property
    def backlog(self) -> str:
        return f"collection {self.collection}" if self.collection else self.stories


@dataclass(frozen=True)
class Backlog:
    stories: list[Story]
    cache_label: str  # what the pipeline files the KV snapshot of these stories under
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # an item's key: the ids of what was read from it

    def by_ids(self, question: Question) -> Question:
        """``question`` expecting the ids StoryChat gave its expected items, where it names them by key."""
        expected = tuple(i for e in question.expect_ids for i in self.keys.get(e) or (e,))
        return replace(question, expect_ids=expected)


def load_questions(path: Path) -> list[Question]:
    return [parse_record(r) for r in read_records(path, _KEYS, QuestionSetError, "question set", "questions")]


def parse_record(line: Record) -> Question:
    record, where, number = line.fields, line.where, line.line
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionSetError(f'{where}: "question" must be a non-empty string')
    stories, collection = record.get("stories"), record.get("collection")
    if (stories is None) == (collection is None):
        raise QuestionSetError(f'{where}: give either "stories" (a story file name) or "collection" (a library collection)')
    if not isinstance(stories or collection, str) or not (stories or collection).strip():
        raise QuestionSetError(f'{where}: "stories" or "collection" must be a non-empty string')
    expect_ids = _expected(record, where)
    return Question(
        question=question.strip(),
        expect_ids=expect_ids,
        stories=stories or "",
        collection=collection or "",
        line=number,
        kind=_kind(record, where, answerable=bool(expect_ids)),
    )


def _expected(record: dict, where: str) -> tuple[str, ...]:
    unanswerable = record.get("unanswerable", False)
    expect = record.get("expect_ids")
    if unanswerable is not True and unanswerable is not False:
        raise QuestionSetError(f'{where}: "unanswerable" must be true or false')
    if unanswerable:
        if expect:
            raise QuestionSetError(f'{where}: an unanswerable question has no "expect_ids"')
        return ()
    if not isinstance(expect, list) or not expect or not all(isinstance(i, str) and i for i in expect):
        raise QuestionSetError(f'{where}: give "expect_ids" (a non-empty list of story ids) or "unanswerable": true')
    return tuple(expect)


def _kind(record: dict, where: str, answerable: bool) -> str:
    kind = record.get("kind", "")
    allowed = ANSWERED_KINDS if answerable else (NEAR_MISS,)
    if kind and kind not in allowed:
        which = "an answerable" if answerable else "an unanswerable"
        raise QuestionSetError(f'{where}: "kind" of {which} question is one of {", ".join(allowed)}')
    return kind


def load_backlogs(
    questions: Sequence[Question], data_root: Path, open_library: Callable[[], Library], limits: Limits = Limits()
) -> dict[str, Backlog]:
    """The stories of every backlog the questions name, and a check that their expected ids exist."""
    backlogs: dict[str, Backlog] = {}
    library = None
    for q in questions:
        if q.backlog in backlogs:
            continue
        if q.collection:
            library = library or open_library()
            if q.collection not in {c.name for c in library.collections()}:
                raise QuestionSetError(f"question on line {q.line}: no collection named {q.collection!r}")
            backlogs[q.backlog] = Backlog(library.stories(q.collection), q.collection)
        else:
            path = data_root / q.stories
            if not path.is_file():
                raise QuestionSetError(f"question on line {q.line}: no story file {path} (see --data-root)")
            stories = read_file(path, limits).stories
            backlogs[q.backlog] = Backlog(stories, f"files:{path.resolve()}", ids_by_key(path, stories))
    for q in questions:
        backlog = backlogs[q.backlog]
        ids = {s.id for s in backlog.stories if not s.is_note}
        missing = [i for i in q.expect_ids if i not in ids and i not in backlog.keys]
        if missing:
            raise QuestionSetError(f"question on line {q.line}: {', '.join(missing)} is not a story of {q.backlog}")
    return backlogs


@dataclass(frozen=True)
class Result:
    question: Question
    answer: str
    refused: bool
    gated: bool
    best_match: float
    valid_ids: tuple[str, ...] = ()
    invalid_ids: tuple[str, ...] = ()
    false_valid: tuple[str, ...] = ()  # marked valid, yet not a story of the backlog
    seconds: float = 0.0
    retrieved: bool = False  # an expected story among the top RETRIEVAL_K hits
    unsupported: bool = False  # the model cited no valid story (withheld when strict)
    raw: str = ""  # what the model wrote
    nothing_supported: bool = False  # it cited a valid story, yet no sentence is supported (shown with a warning)
    check_marked: bool = False  # a citation got a ✓ (verified) or a ≈ (supported in other words)
    gap: bool = False  # the answer carries a line saying what no story carries (missing words, or no story says)

    @property
    def bare_check(self) -> bool:
        """Shown with a ✓ or ≈ and no line of doubt: what a user reads as "this answers you"."""
        return not self.refused and self.check_marked and not self.gap

    @property
    def found_evidence(self) -> bool:
        return not self.refused and bool(set(self.valid_ids) & set(self.question.expect_ids))


def run(
    pipeline: Pipeline,
    questions: Sequence[Question],
    backlogs: dict[str, Backlog],
    progress: Callable[[int, int, Result], None] = lambda done, total, result: None,
) -> list[Result]:
    # One backlog after another, so consecutive questions reuse the cached story prefix.
    order = list(dict.fromkeys(q.backlog for q in questions))
    ordered = sorted(questions, key=lambda q: order.index(q.backlog))
    results = []
    for done, q in enumerate(ordered, 1):
        backlog = backlogs[q.backlog]
        results.append(ask(pipeline, backlog.by_ids(q), backlog))
        progress(done, len(ordered), results[-1])
    return results


def ask(pipeline: Pipeline, question: Question, backlog: Backlog) -> Result:
    started = time.perf_counter()
    answer = pipeline.answer(question.question, backlog.stories, collection=backlog.cache_label)
    seconds = time.perf_counter() - started
    ids = {s.id for s in backlog.stories if not s.is_note}
    top = pipeline.search(question.question, backlog.stories)[:RETRIEVAL_K]
    return Result(
        question=question,
        answer=answer.answer,
        refused=answer.refused,
        gated=answer.gated,
        best_match=answer.best_match,
        valid_ids=tuple(c.id for c in answer.citations if c.valid),
        invalid_ids=tuple(c.id for c in answer.citations if not c.valid),
        false_valid=tuple(c.id for c in answer.citations if c.valid and c.id not in ids),
        seconds=round(seconds, 3),
        retrieved=any(h.story.id in question.expect_ids for h in top),
        unsupported=answer.unsupported,
        raw=answer.raw,
        nothing_supported=answer.doubt == NOTHING_SUPPORTED,
        check_marked=any(c.verified or c.paraphrased for c in answer.citations),
        gap=bool(answer.gap_line),
    )


@dataclass(frozen=True)
class Metrics:
    questions: int
    answerable: int
    unanswerable: int
    refused_unanswerable: int
    wrong_refusals: int
    evidence_found: int
    citations: int
    invalid_citations: int
    false_valid: int
    gated: int
    unsupported: int
    seconds: float
    retrieved: int
    nothing_supported: int = 0
    unanswerable_bare_check: int = 0  # unanswerable, yet shown with a ✓ or ≈ and no line of doubt

    @property
    def refused_rate(self) -> float:
        return _share(self.refused_unanswerable, self.unanswerable)

    @property
    def wrong_refusal_rate(self) -> float:
        return _share(self.wrong_refusals, self.answerable)

    @property
    def recall(self) -> float:
        return _share(self.evidence_found, self.answerable)

    @property
    def invalid_share(self) -> float:
        return _share(self.invalid_citations, self.citations)

    @property
    def separation(self) -> float:
        """Unanswerable questions refused minus answerable ones refused (Youden's J)."""
        return round(self.refused_rate - self.wrong_refusal_rate, 6)

    def to_json(self) -> dict:
        rates = ("refused_rate", "wrong_refusal_rate", "recall", "invalid_share", "separation")
        return {**asdict(self), **{name: round(getattr(self, name), 4) for name in rates}}


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def score(results: Iterable[Result]) -> Metrics:
    results = list(results)
    answerable = [r for r in results if not r.question.unanswerable]
    unanswerable = [r for r in results if r.question.unanswerable]
    return Metrics(
        questions=len(results),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        refused_unanswerable=sum(r.refused for r in unanswerable),
        wrong_refusals=sum(r.refused for r in answerable),
        evidence_found=sum(r.found_evidence for r in answerable),
        citations=sum(len(r.valid_ids) + len(r.invalid_ids) for r in results),
        invalid_citations=sum(len(r.invalid_ids) for r in results),
        false_valid=sum(len(r.false_valid) for r in results),
        gated=sum(r.gated for r in results),
        unsupported=sum(r.unsupported for r in results),
        seconds=round(sum(r.seconds for r in results), 3),
        retrieved=sum(r.retrieved for r in answerable),
        nothing_supported=sum(r.nothing_supported for r in results),
        unanswerable_bare_check=sum(r.bare_check for r in unanswerable),
    )


def gate(results: Iterable[Result], threshold: float) -> list[Result]:
    """The results as a gate at ``threshold`` would have left them."""
    return [
        r if r.best_match >= threshold else Result(r.question, REFUSAL, True, True, r.best_match, retrieved=r.retrieved)
        for r in results
    ]


@dataclass(frozen=True)
class SweepRow:
    threshold: float
    metrics: Metrics


def sweep(results: Sequence[Result], thresholds: Iterable[float] = THRESHOLDS) -> list[SweepRow]:
    return [SweepRow(t, score(gate(results, t))) for t in thresholds]


def choose_threshold(rows: Sequence[SweepRow]) -> SweepRow:
    """The threshold that best separates the two kinds of question (highest J); the lowest of equals."""
    return max(rows, key=lambda row: (row.metrics.separation, -row.threshold))


@dataclass(frozen=True)
class Evaluation:
    source: str
    options: AnswerOptions
    results: list[Result]
    sweep: list[SweepRow] = field(default_factory=list)  # empty unless the gate was swept
    gate: float = 0.0  # the relevance gate's threshold in force (0 when swept)
    meaning: str = ""  # the reader of meaning beside words, "" when off

    @property
    def metrics(self) -> Metrics:
        return score(self.results)

    def to_json(self) -> dict:
        report = {
            "source": self.source,
            "options": {**asdict(self.options), "min_match": self.gate},
            "meaning": self.meaning or "off",
            "metrics": self.metrics.to_json(),
            "results": [_result_json(r) for r in self.results],
        }
        if self.sweep:
            report["sweep"] = [{"threshold": row.threshold, **row.metrics.to_json()} for row in self.sweep]
            report["chosen_threshold"] = choose_threshold(self.sweep).threshold
        return report

    def text(self) -> str:
        m, o = self.metrics, self.options
        gate_line = "off (swept below)" if self.sweep else f"{self.gate}"
        lines = [
            f"{self.source}: {m.questions} questions ({m.answerable} answerable, {m.unanswerable} unanswerable)",
            f"options: focus {o.focus}, constrained {f'on (top {o.cite_from})' if o.constrained else 'off'}, gate {gate_line}, "
            f"max_tokens {o.max_tokens}, strict {'on' if o.strict else 'off'}, meaning {self.meaning or 'off'}",
            f"refused on unanswerable:   {_count(m.refused_unanswerable, m.unanswerable)}  (target >= {TARGET_REFUSED:.0%})",
            f"wrong refusals:            {_count(m.wrong_refusals, m.answerable)}  (target <= {TARGET_WRONG_REFUSALS:.0%})",
            f"evidence recall:           {_count(m.evidence_found, m.answerable)}  (target >= {TARGET_RECALL:.0%})",
            f"invalid citations:         {_count(m.invalid_citations, m.citations)} of all citations",
            f"shown valid, not a story:  {m.false_valid}  (target 0)",
            f"refused by the gate:       {m.gated}",
            f"cited no valid story:      {m.unsupported}  ({'withheld' if o.strict else 'shown with a warning'})",
            f"no supported sentence:     {m.nothing_supported}  (shown with a warning)",
            f"unanswerable, bare ✓ or ≈: {_count(m.unanswerable_bare_check, m.unanswerable)}  (target <= {TARGET_BARE_CHECK})",
            f"retrieved (top {RETRIEVAL_K} hits):    {_count(m.retrieved, m.answerable)}  (the focus block and grammar use the first)",
            f"time: {m.seconds:.1f} s, {_share(m.seconds, m.questions):.1f} s a question",
        ]
        if self.sweep:
            lines += ["", *sweep_table(self.sweep)]
        return "\n".join(lines)


def sweep_table(rows: Sequence[SweepRow]) -> list[str]:
    chosen = choose_threshold(rows)
    lines = [
        "gate sweep (one run with the gate off; below the threshold counts as refused without the model):",
        "threshold  refused-unanswerable  wrong-refusals  evidence-recall  invalid-citations  bare-check     J",
    ]
    for row in rows:
        m = row.metrics
        lines.append(
            f"{row.threshold:9.2f}  {_count(m.refused_unanswerable, m.unanswerable):>20}  "
            f"{_count(m.wrong_refusals, m.answerable):>14}  {_count(m.evidence_found, m.answerable):>15}  "
            f"{_count(m.invalid_citations, m.citations):>17}  {m.unanswerable_bare_check:>10}  {m.separation:5.2f}"
        )
    m = chosen.metrics
    lines.append(
        f"chosen threshold: {chosen.threshold:.2f} (highest J = refused-unanswerable minus wrong-refusals: "
        f"{m.refused_rate:.0%} - {m.wrong_refusal_rate:.0%} = {m.separation:.2f}; the lowest threshold of equals)"
    )
    return lines


def _count(part: int, whole: int) -> str:
    return f"{part}/{whole} {_share(part, whole):6.1%}"


def _result_json(r: Result) -> dict:
    return {
        "line": r.question.line,
        "backlog": r.question.backlog,
        "question": r.question.question,
        "kind": r.question.kind,
        "expect_ids": list(r.question.expect_ids),
        "answer": r.answer,
        "raw": r.raw,
        "refused": r.refused,
        "gated": r.gated,
        "unsupported": r.unsupported,
        "nothing_supported": r.nothing_supported,
        "check_marked": r.check_marked,
        "gap": r.gap,
        "best_match": r.best_match,
        "valid_ids": list(r.valid_ids),
        "invalid_ids": list(r.invalid_ids),
        "false_valid": list(r.false_valid),
        "found_evidence": r.found_evidence,
        "retrieved": r.retrieved,
        "seconds": r.seconds,
    }


def evaluate(
    pipeline: Pipeline,
    questions: Sequence[Question],
    backlogs: dict[str, Backlog],
    sweep_gate: bool = False,
    source: str = "",
    progress: Callable[[int, int, Result], None] = lambda done, total, result: None,
) -> Evaluation:
    """Answer every question; with ``sweep_gate``, once with the gate off, then replay each threshold."""
    if sweep_gate:
        pipeline = pipeline.with_options(min_match=0.0)
    results = run(pipeline, questions, backlogs, progress)
    embedder = pipeline.embedder.name if pipeline.embedder else ""
    return Evaluation(source, pipeline.options, results, sweep(results) if sweep_gate else [], pipeline.min_match, embedder)
