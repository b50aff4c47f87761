"""Issue 34: do a chat's earlier turns help or harm its later answers? Evidence recall and
misquotes of a 17-question chat over tests/data/leave.csv, asked as one chat and each question
alone, for every history policy of storychat/answer/history.py side by side (docs/evaluation.md).

    python bench/history_recall.py [-c 4096] [-n 64] [--profile tiny,open] [--policy all,nothing] [--json FILE]

- one chat: the questions of storychat/evals/history-leave.jsonl in order, each with the turns
  before it as the app sends them (``Conversation.history``), through ``Pipeline.answer``;
- alone: each question in a new chat; one marked ``"follows"`` is asked after the question
  before it, as that was answered alone.

A question's evidence is recalled when its answer is not refused and a valid citation is one of
its expected ids. A misquote is an answer that presents story text no story it cites holds
(``Support.misquotes``). An answer copies when a sentence of it that the support check flags
is word for word a sentence of an earlier answer of the same sequence (alone: the answers to the
questions before it, which the model never saw: what it writes anyway). Answers are
deterministic (temperature 0), so one run is the figure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.chats.conversation import Conversation, answered  # noqa: E402
from storychat.answer.history import POLICIES  # noqa: E402
from storychat.answer.answer import Answer  # noqa: E402
from storychat.answer.pipeline import AnswerOptions, Pipeline  # noqa: E402
from storychat.answer.profiles import OPEN, TINY  # noqa: E402
from storychat.evals.jsonl import read_records  # noqa: E402
from storychat.stories import Story  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402

QUESTIONS = ROOT / "storychat" / "evals" / "history-leave.jsonl"
STORIES = ROOT / "tests" / "data" / "leave.csv"
COLLECTION = "leave"


@dataclass(frozen=True)
class Step:
    question: str
    expect: frozenset[str]
    follows: bool  # refers to the question before it: asked alone, it comes after that one


@dataclass(frozen=True)
class Outcome:
    recalled: bool
    misquoted: bool
    copied: bool
    raw: str
    seconds: float


@dataclass(frozen=True)
class Row:
    profile: str
    policy: str
    chat: list[Outcome]
    alone: list[Outcome]
    seconds: float


def load_steps(path: Path, stories: Sequence[Story]) -> list[Step]:
    """The question set, every expected id checked against ``stories`` before the model loads."""
    known = {s.id for s in stories}
    steps = []
    for record in read_records(path, ("question", "expect_ids", "follows"), ValueError, "question set", "questions"):
        expect = frozenset(record.fields["expect_ids"])
        if not expect or expect - known:
            raise ValueError(f"{record.where}: expect_ids must name stories of {STORIES.name}: {sorted(expect - known)}")
        steps.append(Step(record.fields["question"], expect, bool(record.fields.get("follows"))))
    return steps


def outcomes(answers: Sequence[Answer], steps: Sequence[Step]) -> list[Outcome]:
    said: set[str] = set()
    found = []
    for answer, step in zip(answers, steps):
        recalled = not answer.refused and any(c.id in step.expect for c in answer.evidence)
        copied = any(s.flagged and _plain(s.text) in said for s in answer.support.sentences)
        found.append(Outcome(recalled, bool(answer.support.misquotes), copied, answer.raw, answer.timings.total_s))
        said |= {_plain(s.text) for s in answer.support.sentences}
    return found


def _plain(sentence: str) -> str:
    return " ".join(re.sub(r"\[[^\]]*\]", " ", sentence).lower().split())


def as_one_chat(ask: Callable, steps: Sequence[Step]) -> list[Answer]:
    conversation, answers = Conversation(), []
    for step in steps:
        answers.append(ask(step.question, conversation.history))
        conversation = conversation.add(answered(step.question, answers[-1]))
    return answers


def each_alone(ask: Callable, steps: Sequence[Step]) -> list[Answer]:
    answers: list[Answer] = []
    for i, step in enumerate(steps):
        before = Conversation().add(answered(steps[i - 1].question, answers[i - 1])) if step.follows else Conversation()
        answers.append(ask(step.question, before.history))
    return answers


def measure(pipeline: Pipeline, steps: Sequence[Step], stories: Sequence[Story], policy: str, asked: dict) -> Row:
    """``asked``: this profile's answers by what the engine was given; at temperature 0 the same
    request gets the same answer, so a policy that sends what another sent costs nothing."""
    started = time.perf_counter()
    pipeline = pipeline.with_options(history=policy)

    def ask(question: str, history) -> Answer:
        request = pipeline.prepare(question, stories, history)
        key = (tuple(request.messages), request.grammar)
        if key not in asked:
            asked[key] = pipeline.answer(question, stories, history, COLLECTION)
        return asked[key]

    chat = outcomes(as_one_chat(ask, steps), steps)
    alone = outcomes(each_alone(ask, steps), steps)
    return Row(pipeline.profile.name, policy, chat, alone, time.perf_counter() - started)


HEADER = (
    "| profile | history carried | recall, one chat | alone | misquotes, one chat | alone | copies, one chat | alone | seconds |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def table_row(r: Row) -> str:
    def count(outcomes: list[Outcome], what: str) -> int:
        return sum(getattr(o, what) for o in outcomes)

    n = len(r.chat)
    return (
        f"| {r.profile} | {r.policy} | {count(r.chat, 'recalled')}/{n} | {count(r.alone, 'recalled')}/{n} "
        f"| {count(r.chat, 'misquoted')} | {count(r.alone, 'misquoted')} | {count(r.chat, 'copied')} | {count(r.alone, 'copied')} "
        f"| {r.seconds:.0f} |"
    )


def pipeline_for(profile: str, n_ctx: int, max_tokens: int, meaning: str) -> Pipeline:
    from storychat.llm.llama import EngineOptions, LlamaEngine
    from storychat.llm.models import bundled_model
    from storychat.stories.embedder import load_embedder

    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=n_ctx))
    return Pipeline(engine, options=AnswerOptions(max_tokens=max_tokens, profile=profile), embedder=load_embedder(meaning))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="question set (JSONL)")
    parser.add_argument("-c", "--n-ctx", type=int, default=4096, metavar="N", help="context size (default 4096)")
    parser.add_argument("-n", "--max-tokens", type=int, default=64, metavar="N", help="longest answer (default 64)")
    parser.add_argument("--profile", default=f"{TINY},{OPEN}", help="comma-separated answer profiles (default: both)")
    parser.add_argument("--policy", default=",".join(POLICIES), help=f"comma-separated, from {', '.join(POLICIES)}")
    parser.add_argument("--meaning", default="on", metavar="on|off", help="the reader of meaning, as the app's --meaning (default on)")
    parser.add_argument("--json", type=Path, help="also write every answer here")
    args = parser.parse_args(argv)
    policies = args.policy.split(",")
    if set(policies) - set(POLICIES):
        parser.error(f"--policy: choose from {', '.join(POLICIES)}")

    stories = read_file(STORIES).stories
    steps = load_steps(args.questions, stories)
    print(f"{len(steps)} questions over {STORIES.name} ({len(stories)} stories), -c {args.n_ctx} -n {args.max_tokens}, "
          f"meaning {args.meaning}\n\n{HEADER}", flush=True)
    started = time.perf_counter()
    rows = []
    for profile in args.profile.split(","):
        pipeline, asked = pipeline_for(profile, args.n_ctx, args.max_tokens, args.meaning), {}
        for policy in policies:
            rows.append(measure(pipeline, steps, stories, policy, asked))
            print(table_row(rows[-1]), flush=True)
    print(f"\n{time.perf_counter() - started:.0f}s in all")
    if args.json:
        answers = [
            {"profile": r.profile, "policy": r.policy, "question": s.question, "expect": sorted(s.expect),
             "chat": vars(c), "alone": vars(a)}
            for r in rows for s, c, a in zip(steps, r.chat, r.alone)
        ]
        args.json.write_text(json.dumps(answers, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
