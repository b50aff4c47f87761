"""Exhaustive mode over the 22 Dalpiaz backlogs: what reading everything costs, cold and restored.

    python bench/exhaustive_speed.py [-c 8192] [-n 64] [--backlogs N] [--kv-dir DIR]

In one run, on one engine with KV snapshots in a fresh temporary folder (or an
empty --kv-dir, kept afterwards for bench/exhaustive_eval.py --kv-dir):
the first exhaustive question (every shard cold), a second one (every shard
restored from its snapshot), and a follow-up in focused mode (retrieval over
the whole collection). Each comes as wall time and as a ratio to one shard's
cold prefill: the first pass of the first question, which computes shard 1
(its rules and stories) and the pass's question, and writes the few ids it
cites. The two questions are the first two topics of the hand-labelled set,
so their recall and precision are printed too (on the backlogs read).
--backlogs N reads only the first N backlogs, for a machine too slow for all 22.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.answer.answer import Done, Progress  # noqa: E402

from storychat.answer.pipeline import AnswerOptions, Pipeline  # noqa: E402
from storychat.evals import dalpiaz_stories  # noqa: E402
from storychat.evals.exhaustive import DALPIAZ_TOPICS, load_topics, score, table  # noqa: E402
from storychat.llm.engine import Message  # noqa: E402
from storychat.llm.kvcache import KVCache  # noqa: E402
from storychat.llm.llama import EngineOptions, LlamaEngine  # noqa: E402
from storychat.llm.models import bundled_model  # noqa: E402

COLLECTION = "dalpiaz-22"


def timed(events, engine: LlamaEngine) -> tuple[object, float, list[float]]:
    """Run ``events`` to the end: the answer, the wall time, and how long each pass took."""
    started = time.perf_counter()
    marks: list[float] = []
    answer = None
    for event in events:
        if isinstance(event, Progress):
            marks.append(time.perf_counter())
            print(f"  {event.message}", file=sys.stderr, flush=True)
        elif isinstance(event, Done):
            answer = event.answer
    engine.wait_for_snapshot()
    wall = time.perf_counter() - started
    passes = [b - a for a, b in zip(marks, marks[1:])]  # pass k runs from its Progress to the next one
    print(f"  {wall:.1f}s; passes {[round(p, 1) for p in passes]}", flush=True)
    return answer, wall, passes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--n-ctx", type=int, default=8192, metavar="N")
    parser.add_argument("-n", "--max-tokens", type=int, default=64, metavar="N", help="answer reserve, and the longest list a pass may write")
    parser.add_argument("--backlogs", type=int, metavar="N", help="only the first N of the 22 backlogs")
    parser.add_argument("--kv-dir", type=Path, metavar="DIR", help="an empty folder for the KV snapshots, kept afterwards")
    args = parser.parse_args(argv)

    stories = dalpiaz_stories()
    sources = list(dict.fromkeys(s.source for s in stories))[: args.backlogs]
    stories = [s for s in stories if s.source in sources]
    read = {s.id for s in stories}
    first_topic, second_topic = (replace(t, ids=t.ids & read) for t in load_topics(DALPIAZ_TOPICS)[:2])
    if args.kv_dir and args.kv_dir.exists() and any(args.kv_dir.iterdir()):
        parser.error(f"--kv-dir {args.kv_dir} is not empty: the first question must find every shard cold")
    kv_dir = args.kv_dir or Path(tempfile.mkdtemp(prefix="exhaustive-speed-"))
    cache = KVCache(kv_dir, disk_bytes=8 << 30, ram_bytes=2 << 30)
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=args.n_ctx, cache=cache))
    engine.probe()
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=args.max_tokens))
    shards = pipeline.shards(stories, COLLECTION)
    print(f"{len(stories)} stories in {len(sources)} backlogs, n_ctx {engine.context_length}, {len(shards)} shards of "
          f"{min(s.tokens for s in shards)}-{max(s.tokens for s in shards)} story tokens", flush=True)

    first, first_s, first_passes = timed(pipeline.ask_exhaustive(first_topic.question, stories, COLLECTION), engine)
    second, second_s, _ = timed(pipeline.ask_exhaustive(second_topic.question, stories, COLLECTION), engine)
    history = [Message("user", second_topic.question), Message("assistant", second.answer)]
    follow_up, follow_s, _ = timed(pipeline.ask("Which of them need an email?", stories, history, COLLECTION), engine)

    shard_cold = first_passes[0]
    rows = [
        ("one shard, cold (pass 1 of the first question)", shard_cold, first.reading.pass_sources[0]),
        (f"first exhaustive question ({first.reading.passes} passes)", first_s, ",".join(first.reading.pass_sources)),
        (f"second exhaustive question ({second.reading.passes} passes)", second_s, ",".join(second.reading.pass_sources)),
        ("follow-up in focused mode", follow_s, follow_up.timings.prefix_source),
    ]
    print(f"{'':<52} {'seconds':>8} {'x shard':>8}  prefix sources")
    for name, seconds, sources in rows:
        print(f"{name:<52} {seconds:8.1f} {seconds / shard_cold:8.2f}  {sources}")
    print(f"second / first: {second_s / first_s:.3f}")
    for label, answer in (("first", first), ("second", second)):
        r = answer.reading
        print(f"{label}: {r.line()}; pass tokens {r.pass_tokens}, evaluated {r.pass_evaluated}")
    print(f"total wall time {first_s + second_s + follow_s:.0f}s")
    found = {first_topic.topic: first.reading.ids, second_topic.topic: second.reading.ids}
    print("\n".join(table([score("exhaustive", [first_topic, second_topic], lambda t: found[t.topic])])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
