"""Load test: concurrent sessions, each with its own collection, asking at once.

    python bench/loadtest.py [--clients 8] [--questions 3] [--stories 6] [--timeout 900]
    python bench/loadtest.py --url http://127.0.0.1:7860/ [--auth USER:PASS]

Without --url it starts the app itself (``-n 24``, a login, a library in a
temporary folder) on a free loopback port and stops it afterwards; a --url must
be a loopback address. Each client imports a slice of a different Dalpiaz
backlog, under ids of its own, through /add_stories, waits for the others, then
asks its questions one after another in its own session.

Checked: every answer completes, every valid citation is a story of the
session's own collection, and no answer cites another session's story; when
it started the app, also that each session's chat was kept, turn by turn, in
the library (one chat per session, in its collection, with every question).
Printed: p50/p95 of the latency (submit to final answer) and of the queue wait
(submit to the moment Gradio's status updates say the job started processing).
Exits 1 when a check fails or the time limit runs out.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gradio_client import Client
from gradio_client.utils import Status, StatusUpdate

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.chats.store import Chats  # noqa: E402
from storychat.config import is_loopback  # noqa: E402
from storychat.evals import dalpiaz_dir  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402
from storychat.stories.library import Library  # noqa: E402
from tests.serving import cited_ids, running_app, text_of, valid_ids  # noqa: E402


@dataclass(frozen=True)
class Backlog:
    """One client's collection: the paste that creates it and the questions asked about it."""

    collection: str
    ids: frozenset[str]
    paste: str
    questions: tuple[str, ...]


@dataclass(frozen=True)
class Answered:
    client: int
    question: str
    latency_s: float
    queue_wait_s: float
    queue_position: int  # deepest place in the queue seen (1 = next), 0 if never queued
    cited: frozenset[str]
    valid: frozenset[str]
    refused: bool


@dataclass
class Result:
    clients: int
    questions: int
    answers: list[Answered] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cross_talk: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    kept: str = ""  # what the library kept of the chats; "" when not checked (--url)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.cross_talk and len(self.answers) == self.clients * self.questions

    def summary(self) -> str:
        latency = [a.latency_s for a in self.answers]
        wait = [a.queue_wait_s for a in self.answers]
        deepest = max((a.queue_position for a in self.answers), default=0)
        lines = [
            f"{len(self.answers)}/{self.clients * self.questions} answers completed, {len(self.errors)} errors, "
            f"{len(self.cross_talk)} cross-talk, {sum(a.refused for a in self.answers)} refusals",
            f"latency     p50 {percentile(latency, 50):6.1f} s  p95 {percentile(latency, 95):6.1f} s  "
            f"max {max(latency, default=0):6.1f} s  (submit to final answer)",
            f"queue wait  p50 {percentile(wait, 50):6.1f} s  p95 {percentile(wait, 95):6.1f} s  "
            f"max {max(wait, default=0):6.1f} s  (submit to processing start; deepest queue position {deepest})",
            f"wall        {self.wall_s:.1f} s",
        ] + ([f"chats kept  {self.kept}"] if self.kept else [])
        details = [
            f"  client {a.client + 1}: waited {a.queue_wait_s:5.1f} s (position {a.queue_position}), "
            f"answered in {a.latency_s:5.1f} s, cited {', '.join(sorted(a.valid)) or 'nothing'}: {a.question}"
            for a in sorted(self.answers, key=lambda a: (a.client, a.latency_s))
        ]
        problems = [f"ERROR {e}" for e in self.errors] + [f"CROSS-TALK {c}" for c in self.cross_talk]
        return "\n".join(lines + details + problems)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


# --- what each client imports and asks ----------------------------------------------


def backlogs(data: Path, clients: int, stories: int, questions: int) -> list[Backlog]:
    """A slice of a different Dalpiaz backlog per client, ids prefixed by the backlog's number."""
    files = sorted(data.glob("g*.txt"))
    if not files:
        raise SystemExit(f"no Dalpiaz backlogs in {data}; pass --data")
    result = []
    for client in range(clients):
        path = files[client % len(files)]
        offset = (client // len(files)) * stories
        chosen = [s for s in read_file(path).stories if not s.is_note][offset: offset + stories]
        if len(chosen) < max(questions, 1):
            raise SystemExit(f"{path.name} has too few stories for client {client + 1}; use fewer --clients or --stories")
        prefix = path.stem.split("-")[0].upper()
        ids = [f"{prefix}-{offset + n}" for n in range(1, len(chosen) + 1)]
        asked = [chosen[j * len(chosen) // questions] for j in range(questions)]
        result.append(Backlog(
            collection=f"load-{client + 1}-{path.stem}",
            ids=frozenset(ids),
            paste="\n".join(f"{i}: {s.text}" for i, s in zip(ids, chosen)),
            questions=tuple(f"Which story is about {' '.join(s.goal.split()[:8])}?" for s in asked),
        ))
    return result


# --- one session ------------------------------------------------------------------------


class OutOfTime(Exception):
    pass


def remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutOfTime("the time limit ran out")
    return left


@dataclass(frozen=True)
class Timed:
    chat: list[dict]
    status: str  # the coverage line and the status line
    latency_s: float
    queue_wait_s: float
    queue_position: int


async def timed_answer(client: Client, question: str, collection: str, deadline: float) -> Timed:
    """Ask, following the job's status updates: their times say when it left the queue."""
    submitted = datetime.now()
    job = client.submit(question, [], collection, False, api_name="/ask")
    started = finished = None
    deepest = 0

    async def follow() -> None:
        nonlocal started, finished, deepest
        async for update in job:
            if not isinstance(update, StatusUpdate):
                continue
            if update.code == Status.IN_QUEUE and update.rank is not None:
                deepest = max(deepest, update.rank + 1)
            elif update.code in (Status.PROCESSING, Status.ITERATING) and started is None:
                started = update.time
            elif update.code == Status.FINISHED:
                finished = update.time

    try:
        await asyncio.wait_for(follow(), remaining(deadline))
    except asyncio.TimeoutError:
        job.cancel()
        raise OutOfTime(f"no answer to {question!r} before the time limit") from None
    chat, coverage, status = job.result(timeout=remaining(deadline))
    finished = finished or datetime.now()
    started = started or finished
    return Timed(
        chat, f"{coverage}\n{status}", (finished - submitted).total_seconds(),
        (started - submitted).total_seconds(), deepest,
    )


def run_session(number: int, url: str, auth: tuple[str, str] | None, backlog: Backlog, others: frozenset[str],
                ready: threading.Barrier, deadline: float, result: Result, lock: threading.Lock) -> None:
    name = f"client {number + 1} ({backlog.collection})"
    try:
        client = Client(url, auth=auth, verbose=False)
        report = client.submit(backlog.paste, backlog.collection, api_name="/add_stories").result(timeout=remaining(deadline))[0]
        if not report.startswith(f"Added {len(backlog.ids)} stories"):
            raise RuntimeError(f"import: {report}")
        ready.wait(timeout=remaining(deadline))
        for question in backlog.questions:
            timed = asyncio.run(timed_answer(client, question, backlog.collection, deadline))
            answer = text_of([m for m in timed.chat if m["role"] == "assistant"][0])
            if not answer.strip() or "Context:" not in timed.status or f"collection **{backlog.collection}**" not in timed.status:
                raise RuntimeError(f"incomplete answer to {question!r}: {answer!r} / {timed.status!r}")
            cited, valid = cited_ids(timed.chat), valid_ids(timed.chat)
            record = Answered(
                number, question, timed.latency_s, timed.queue_wait_s, timed.queue_position,
                frozenset(cited), frozenset(valid), answer.startswith("I cannot find"),
            )
            with lock:
                result.answers.append(record)
                if not valid <= backlog.ids or cited & others:
                    result.cross_talk.append(f"{name} asked {question!r} and got citations {sorted(cited)}")
    except threading.BrokenBarrierError:
        with lock:
            result.errors.append(f"{name}: another client failed before the questions started")
    except Exception as exc:  # every failure is reported, none stops the other sessions
        ready.abort()
        with lock:
            result.errors.append(f"{name}: {type(exc).__name__}: {exc}")


def run_load(url: str, plan: list[Backlog], auth: tuple[str, str] | None = None, timeout: float = 900) -> Result:
    """Run one session per backlog at once against ``url``; stops by itself after ``timeout`` seconds."""
    result = Result(clients=len(plan), questions=len(plan[0].questions) if plan else 0)
    deadline = time.monotonic() + timeout
    ready = threading.Barrier(len(plan))
    lock = threading.Lock()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        for number, backlog in enumerate(plan):
            others = frozenset().union(*(b.ids for b in plan if b is not backlog))
            pool.submit(run_session, number, url, auth, backlog, others, ready, deadline, result, lock)
    result.wall_s = time.monotonic() - started
    return result


# --- command line -----------------------------------------------------------------------------


def check_loopback(url: str) -> None:
    host = urllib.parse.urlparse(url).hostname or ""
    if not is_loopback(host):
        raise SystemExit(f"--url {url}: the load test only runs against a loopback address (127.0.0.1)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent sessions (default 8)")
    parser.add_argument("--questions", type=int, default=3, help="questions per session (default 3)")
    parser.add_argument("--stories", type=int, default=6, help="stories imported per session (default 6)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before the test gives up (default 900)")
    parser.add_argument("--url", help="a running app on a loopback address (default: start one)")
    parser.add_argument("--auth", metavar="USER:PASS", help="login for --url")
    parser.add_argument("--data", type=Path, default=dalpiaz_dir(), help="folder with the Dalpiaz backlogs")
    args = parser.parse_args(argv)
    if args.url:
        check_loopback(args.url)
    plan = backlogs(args.data, args.clients, args.stories, args.questions)
    if args.url:
        auth = tuple(args.auth.split(":", 1)) if args.auth else None
        return report(run_load(args.url, plan, auth, args.timeout), args.url)
    auth = ("loadtest", secrets.token_urlsafe(12))
    with tempfile.TemporaryDirectory(prefix="storychat-load-") as tmp:
        with running_app(Path(tmp), "-n", "24", "--auth", ":".join(auth)) as url:
            result = run_load(url, plan, auth, args.timeout)
            check_kept(Library(Path(tmp)), auth[0], plan, result)
            return report(result, url)


def check_kept(library: Library, owner: str, plan: list[Backlog], result: Result) -> None:
    """Each session's chat in the library: one per collection, its turns the questions in order."""
    chats = Chats(library).list(owner)
    for backlog in plan:
        mine = [c for c in chats if c.collection == backlog.collection]
        asked = [t.question for t in Chats(library).open(owner, mine[0].id)[1].turns] if len(mine) == 1 else []
        if asked != list(backlog.questions):
            result.errors.append(f"{backlog.collection}: {len(mine)} chats kept, with the questions {asked}")
    result.kept = f"{len(chats)} chats for {len(plan)} sessions, {sum(c.turns for c in chats)} turns"


def report(result: Result, url: str) -> int:
    print(f"StoryChat load test: {result.clients} sessions x {result.questions} questions against {url}")
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
