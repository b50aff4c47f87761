"""Exhaustive questions over the 22 Dalpiaz backlogs: recall and precision of
the story set each approach returns, against the hand-labelled topics in
storychat/evals/exhaustive-dalpiaz.jsonl (docs/evaluation.md).

    python bench/exhaustive_eval.py [--approach mention,retrieval] [-c N] [-n N] [--json FILE]

Approaches:

- mention: the chat's exact "Stories mentioning" action (mention_action),
  once per keyword of the topic; the answer is the union.
- retrieval: the stories the context builder puts into the bundled model's
  context for the topic's question when the whole collection does not fit: the
  real ContextBuilder.build, which fills the story budget (the hits in rank
  order, then their kin, then the rest). The budget is the builder's own
  (context minus the answer reserve, the turn reserve and the system prompt);
  -c and -n set the context and the answer reserve as `storychat -c N -n N` would.
- hits: the search hits among those stories, which is what retrieval put into
  the context before it filled the budget (hits only, in rank order until full).
- exhaustive: exhaustive mode (Pipeline.ask_exhaustive): every shard of the
  collection is asked the topic's question, its answer held by a grammar to
  the shard's ids (with --meaning on, its hits for the question) or none; the union of the ids the passes cite is scored.
  This one asks the bundled model, one pass per shard per topic, with KV
  snapshots in a temporary folder (or --kv-dir, which may hold an earlier
  run's, such as bench/exhaustive_speed.py --kv-dir) so later topics restore the
  shards. --limit N runs the first N topics (to time it before a full run).

- ceiling: exhaustive mode with a perfect reader: each pass lists the labelled
  stories of its shard, written as its grammar writes them ("[id], [id]"), as
  many as the answer reserve (-n) holds. No model call; what the method itself
  allows at that reserve, so the gap to "exhaustive" is the model's.

"retrieval", "hits" and "ceiling" only load the model to count tokens.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.analysis.actions import mention_action  # noqa: E402
from storychat.evals import dalpiaz_stories  # noqa: E402
from storychat.evals.exhaustive import DALPIAZ_TOPICS, Approach, Score, Topic, check_ids, load_topics, score, table  # noqa: E402
from storychat.stories import Story  # noqa: E402

APPROACHES = ("mention", "hits", "retrieval", "ceiling", "exhaustive")


def mention(stories: list[Story]) -> Approach:
    return lambda topic: {s.id for word in topic.keywords for s in mention_action(stories, word).stories}


@functools.cache
def counting_pipeline(n_ctx: int | None, max_tokens: int | None, meaning: str = "on"):
    """A pipeline on the bundled model, used only to count tokens and cut contexts and shards."""
    from storychat.answer.pipeline import AnswerOptions, Pipeline
    from storychat.llm.llama import EngineOptions, LlamaEngine
    from storychat.llm.models import bundled_model
    from storychat.stories.embedder import load_embedder

    options = AnswerOptions() if max_tokens is None else AnswerOptions(max_tokens=max_tokens)
    return Pipeline(LlamaEngine(bundled_model(), EngineOptions(n_ctx=n_ctx)), options=options, embedder=load_embedder(meaning))


def retrieval(
    stories: list[Story], n_ctx: int | None, max_tokens: int | None, meaning: str
) -> tuple[dict[str, Approach], dict[str, dict]]:
    """The "retrieval" and "hits" approaches at the bundled model's context, and what went into the context per topic."""
    pipeline = counting_pipeline(n_ctx, max_tokens, meaning)
    options = pipeline.options
    coverage: dict[str, dict] = {}

    @functools.cache
    def context(topic: Topic):
        context = pipeline.prepare(topic.question, stories).context
        c = context.coverage
        coverage[topic.topic] = {"mode": c.mode, "stories": c.stories_in_context, "tokens": c.tokens_in_context}
        return context

    fit = pipeline.fit(stories)
    coverage["_budget"] = {
        "n_ctx": pipeline.engine.context_length, "max_tokens": options.max_tokens, "story_budget": fit.budget,
        "corpus_tokens": fit.tokens,
    }
    approaches = {
        "retrieval": lambda topic: {s.id for s in context(topic).stories},
        "hits": lambda topic: {h.story.id for h in context(topic).hits},
    }
    return approaches, coverage


def ceiling(stories: list[Story], n_ctx: int | None, max_tokens: int | None) -> Approach:
    """Exhaustive mode with a perfect reader: every pass lists its shard's labelled stories while the reserve holds them."""
    pipeline = counting_pipeline(n_ctx, max_tokens)
    shards = pipeline.shards(stories, "dalpiaz-22")

    def listed(topic: Topic) -> set[str]:
        found: set[str] = set()
        for shard in shards:
            written: list[str] = []
            for story in shard.stories:
                if story.id not in topic.ids:
                    continue
                if pipeline.engine.count(", ".join(f"[{i}]" for i in [*written, story.id])) > pipeline.options.max_tokens:
                    break
                written.append(story.id)
            found.update(written)
        return found

    return listed


def exhaustive(
    stories: list[Story], n_ctx: int | None, max_tokens: int | None, kv_dir: Path | None, runs: dict[str, dict], meaning: str
) -> Approach:
    """The union of the ids exhaustive mode's passes cite for the topic's question; ``runs`` gets each topic's reading."""
    import tempfile
    import time

    from storychat.answer.answer import final, Progress

    from storychat.answer.pipeline import AnswerOptions, Pipeline
    from storychat.llm.kvcache import KVCache
    from storychat.llm.llama import EngineOptions, LlamaEngine
    from storychat.llm.models import bundled_model

    cache = KVCache(kv_dir or Path(tempfile.mkdtemp(prefix="exhaustive-kv-")), disk_bytes=8 << 30, ram_bytes=2 << 30)
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=n_ctx, cache=cache))
    engine.probe()
    from storychat.stories.embedder import load_embedder

    options = AnswerOptions() if max_tokens is None else AnswerOptions(max_tokens=max_tokens)
    pipeline = Pipeline(engine, options=options, embedder=load_embedder(meaning))

    def cited(topic: Topic) -> set[str]:
        started = time.perf_counter()

        def shown(events):
            for event in events:
                if isinstance(event, Progress):
                    print(f"  {topic.topic}: {event.message}", file=sys.stderr, flush=True)
                yield event

        answer = final(shown(pipeline.ask_exhaustive(topic.question, stories, "dalpiaz-22")))
        engine.wait_for_snapshot()
        reading = answer.reading
        runs[topic.topic] = {
            "seconds": round(time.perf_counter() - started, 1), "passes": reading.passes, "cited": reading.cited,
            "pass_tokens": reading.pass_tokens, "pass_evaluated": reading.pass_evaluated,
            "pass_sources": list(reading.pass_sources), "ids": list(reading.ids),
        }
        print(f"{topic.topic}: {runs[topic.topic]}", file=sys.stderr, flush=True)
        return set(reading.ids)

    return cited


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=Path, default=DALPIAZ_TOPICS, help="topic set (JSONL)")
    parser.add_argument("--approach", default=",".join(APPROACHES), help=f"comma-separated, from {', '.join(APPROACHES)}")
    parser.add_argument("-c", "--n-ctx", "--ctx-size", type=int, default=None, metavar="N", help="context size (default: the model's trained context)")
    parser.add_argument("-n", "--max-tokens", "--n-predict", type=int, default=None, metavar="N", help="answer reserve (default: the app's, 512)")
    parser.add_argument("--json", type=Path, help="also write every topic's missed and extra ids here")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N topics")
    parser.add_argument("--kv-dir", type=Path, metavar="DIR", help="exhaustive: keep the KV snapshots here (default: a fresh temporary folder)")
    parser.add_argument("--meaning", default="on", metavar="on|off", help="the reader of meaning beside words, as the app's --meaning (default on)")
    args = parser.parse_args(argv)
    chosen = [a.strip() for a in args.approach.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in APPROACHES]
    if unknown or not chosen:
        parser.error(f"--approach: choose from {', '.join(APPROACHES)}")

    stories = dalpiaz_stories()
    topics = load_topics(args.topics)
    check_ids(topics, stories)
    topics = topics[: args.limit] if args.limit else topics
    print(f"{len(topics)} topics, {sum(len(t.ids) for t in topics)} labelled ids, {len(stories)} stories in 22 backlogs")

    scores: list[Score] = []
    report: dict = {"topics": str(args.topics), "scores": []}
    approaches = {"mention": mention(stories)}
    if "hits" in chosen or "retrieval" in chosen:
        found, coverage = retrieval(stories, args.n_ctx, args.max_tokens, args.meaning)
        approaches.update(found)
    if "ceiling" in chosen:
        approaches["ceiling"] = ceiling(stories, args.n_ctx, args.max_tokens)
    runs: dict[str, dict] = {}
    if "exhaustive" in chosen:
        approaches["exhaustive"] = exhaustive(stories, args.n_ctx, args.max_tokens, args.kv_dir, runs, args.meaning)
        report["exhaustive_runs"] = runs
    for name in chosen:
        scores.append(score(name, topics, approaches[name]))
    if "exhaustive" in chosen:
        seconds = [r["seconds"] for r in runs.values()]
        print(f"exhaustive: {len(seconds)} topics, {sum(seconds):.0f}s in all, first {seconds[0]:.0f}s, then mean "
              f"{sum(seconds[1:]) / max(1, len(seconds) - 1):.0f}s per topic")
    if "hits" in chosen or "retrieval" in chosen:
        budget = coverage.pop("_budget")
        report["retrieval_context"] = {"budget": budget, "per_topic": coverage}
        tokens = [c["tokens"] for c in coverage.values()]
        print(
            f"retrieval: n_ctx {budget['n_ctx']}, answer reserve {budget['max_tokens']}, story budget {budget['story_budget']} "
            f"tokens, corpus {budget['corpus_tokens']} tokens; context used {min(tokens)}-{max(tokens)} tokens "
            f"(mean {sum(tokens) / len(tokens):.0f}) of {budget['n_ctx']}"
        )
    print("\n".join(table(scores)))
    if args.json:
        report["scores"] = [s.to_json() for s in scores]
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
