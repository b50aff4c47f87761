"""Speed benchmark: ratios measured side by side in one run, on the Dalpiaz backlogs.

    python bench/bench_speed.py [--model FILE.gguf] [--n-ctx 4096] [--out docs/benchmarks.md]

Prints and writes a Markdown table, for any GGUF (default: the bundled model):
- follow-up vs cold time to first token, corpus filling >= 75% of the context
- a cold answer with the KV snapshot cache on vs off (the snapshot is written after the answer)
- first answer restored from a snapshot (a restart), from the page cache and from the disk, vs a cold prefill
- StoryChat end to end vs raw llama-cpp-python on the identical prompt, same offload, flash attention, threads, KV type
- flash attention on vs off and f16 vs q8_0 KV, prefill and decode speed
- KV memory per token, q8_0 vs f16, as llama.cpp stores it
Absolute times depend on the machine; the ratios are the result.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import llama_cpp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.answer.pipeline import AnswerOptions, Pipeline  # noqa: E402
from storychat.evals import dalpiaz_dir  # noqa: E402
from storychat.llm.engine import EngineError  # noqa: E402
from storychat.llm.kvcache import KVCache, drop_from_page_cache  # noqa: E402
from storychat.llm.llama import KV_TYPES, EngineOptions, LlamaEngine, physical_cores  # noqa: E402
from storychat.llm.models import bundled_model  # noqa: E402
from storychat.stories.embedder import load_embedder  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402

DATA = dalpiaz_dir()
# Both must pass the relevance gate on the corpus (the first backlogs in file order).
QUESTIONS = ["Which stories are about FABS submissions?", "What does the UI designer want?"]
MAX_TOKENS = 16
MODEL = bundled_model()  # --model


def engine(n_ctx: int, cache: KVCache | None = None, **options) -> LlamaEngine:
    return LlamaEngine(MODEL, EngineOptions(n_ctx=n_ctx, cache=cache, **options))


def corpus(n_ctx: int) -> list:
    """Dalpiaz stories, in file order, filling the story budget of an n_ctx context."""
    probe = Pipeline(engine(n_ctx), options=AnswerOptions(max_tokens=MAX_TOKENS))
    budget, stories = probe.fit([]).budget, []
    for path in sorted(DATA.glob("g*.txt")):
        for story in read_file(path).stories:
            if not story.is_note and probe.fit([*stories, story]).tokens <= budget:
                stories.append(story)
    return stories


def ask(pipeline: Pipeline, question: str, stories, collection: str = "bench"):
    answer = pipeline.answer(question, stories, collection=collection)
    assert not answer.gated, f"{question!r} was refused by the relevance gate; it would time nothing"
    return answer


def follow_up_vs_cold(n_ctx: int, stories) -> dict:
    """One cold question, then the median of three follow-ups (a single short turn is noisy)."""
    pipeline = Pipeline(engine(n_ctx), options=AnswerOptions(max_tokens=MAX_TOKENS))
    cold = ask(pipeline, QUESTIONS[0], stories)
    follows = [ask(pipeline, q, stories) for q in (QUESTIONS[1], QUESTIONS[0], QUESTIONS[1])]
    follow_ttft = statistics.median(f.timings.ttft_s for f in follows)
    return {
        "corpus share of context": cold.context.tokens_in_context / n_ctx,
        "cold ttft s": cold.timings.ttft_s,
        "follow-up ttft s (median of 3)": follow_ttft,
        "ratio": follow_ttft / cold.timings.ttft_s,
        "limit (evaluated / prompt tokens)": statistics.median(
            f.timings.prompt_evaluated / f.timings.prompt_tokens for f in follows
        ),
    }


def cache_on_vs_off(n_ctx: int, stories, runs: int = 3) -> dict:
    """A cold answer with the snapshot cache on (a snapshot is due) vs off; median of alternating runs."""
    on, off, write = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            cached = engine(n_ctx, KVCache(Path(tmp), 64 << 30))
            cached.probe()
            answer = ask(Pipeline(cached, options=AnswerOptions(max_tokens=MAX_TOKENS)), QUESTIONS[0], stories)
            started = time.perf_counter()
            cached.wait_for_snapshot()
            write.append(time.perf_counter() - started)
            on.append(answer)
        plain = engine(n_ctx)
        plain.probe()
        off.append(ask(Pipeline(plain, options=AnswerOptions(max_tokens=MAX_TOKENS)), QUESTIONS[0], stories))
    ttft_on, ttft_off = statistics.median(a.timings.ttft_s for a in on), statistics.median(a.timings.ttft_s for a in off)
    total_on, total_off = statistics.median(a.timings.total_s for a in on), statistics.median(a.timings.total_s for a in off)
    return {
        "prefix source (on)": on[0].timings.prefix_source,
        "cold ttft s, cache on": ttft_on,
        "cold ttft s, cache off": ttft_off,
        "ttft ratio": ttft_on / ttft_off,
        "total ratio": total_on / total_off,
        "snapshot write after the answer s": statistics.median(write),
    }


def restore_vs_cold(n_ctx: int, stories) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cache = lambda: KVCache(Path(tmp), 64 << 30, 64 << 30)  # noqa: E731 - a fresh cache object per "process"
        first = engine(n_ctx, cache())
        first.probe()
        cold = ask(Pipeline(first, options=AnswerOptions(max_tokens=MAX_TOKENS)), QUESTIONS[0], stories)
        first.wait_for_snapshot()
        estimate = first.snapshot_estimate(cold.timings.prompt_tokens)
        row = {
            "cold ttft s": cold.timings.ttft_s,
            "estimated restore s": estimate.restore_s,
            "estimated prefill s": estimate.prefill_s,
        }
        if cold.timings.prefix_source != "cold":
            return {**row, "note": "the policy took no snapshot: prefill is cheaper here"}
        [snapshot] = Path(tmp).glob("*.kv")
        del first
        restored = {}
        for where in ("page cache", "disk"):
            if where == "disk":
                drop_from_page_cache(snapshot)
            answer = ask(Pipeline(engine(n_ctx, cache()), options=AnswerOptions(max_tokens=MAX_TOKENS)), QUESTIONS[0], stories)
            assert answer.timings.prefix_source == "disk", answer.timings
            restored[where] = answer.timings.ttft_s
        return {
            **row,
            "restored ttft s (page cache)": restored["page cache"],
            "restored ttft s (disk)": restored["disk"],
            "ratio (page cache)": restored["page cache"] / cold.timings.ttft_s,
            "ratio (disk)": restored["disk"] / cold.timings.ttft_s,
            "snapshot MiB": snapshot.stat().st_size / 2**20,
        }


def storychat_vs_raw(n_ctx: int, stories, runs: int = 3) -> dict:
    """Total time for the same question, same prompt tokens, same grammar; cold contexts each time.

    StoryChat runs as the app does, with the reader of meaning on. The two sides take turns at
    going first, so a machine that slows down or speeds up during the run weighs on both."""
    options = AnswerOptions(max_tokens=MAX_TOKENS)
    question = QUESTIONS[0]
    ours, raw = [], []
    for run in range(runs):
        pipeline = Pipeline(engine(n_ctx), options=options, embedder=load_embedder())
        # Exactly what the pipeline sends, prepared by a twin so that no cache of its own is warmed.
        request = Pipeline(pipeline.engine, options=options, embedder=load_embedder()).prepare(question, stories)
        sides = [lambda: ours.append(ask(pipeline, question, stories).timings.total_s),
                 lambda: raw.append(raw_completion(n_ctx, pipeline, request))]
        for side in sides if run % 2 == 0 else sides[::-1]:
            side()
    return {
        "storychat total s (median)": statistics.median(ours),
        "raw create_chat_completion s (median)": statistics.median(raw),
        "ratio": statistics.median(ours) / statistics.median(raw),
        "runs": runs,
    }


def raw_completion(n_ctx: int, pipeline: Pipeline, request) -> float:
    """Seconds raw llama-cpp-python takes for ``request`` from a fresh context, with the pipeline engine's settings."""
    info = pipeline.engine.info()
    llm = llama_cpp.Llama(
        model_path=str(MODEL), n_ctx=n_ctx, n_gpu_layers=info.gpu_layers, flash_attn=info.flash_attn,
        type_k=KV_TYPES[info.kv_type], type_v=KV_TYPES[info.kv_type], n_threads=pipeline.engine.options.threads or physical_cores(),
        verbose=False,
    )
    started = time.perf_counter()
    llm.create_chat_completion(
        messages=[{"role": m.role, "content": m.content} for m in request.messages],
        max_tokens=MAX_TOKENS, temperature=0.0, seed=0,
        grammar=llama_cpp.LlamaGrammar.from_string(request.grammar, verbose=False) if request.grammar else None,
    )
    return time.perf_counter() - started


def speeds(n_ctx: int) -> list[dict]:
    """Prefill and decode from an empty cache, then a 40-token turn and decode deep in the context."""
    rows, depth = [], n_ctx * 3 // 4
    for flash_attn, kv_type in [("on", "f16"), ("off", "f16"), ("on", "q8_0")]:
        try:
            e = engine(n_ctx, flash_attn=flash_attn, kv_type=kv_type)
        except EngineError as exc:  # e.g. q8_0 needs heads of a multiple of 32 values
            rows.append({"flash attention": flash_attn, "KV": kv_type, "prefill tok/s": f"not loaded: {exc}"})
            continue
        info = e.probe(prompt_tokens=min(1024, n_ctx // 2), decode_tokens=32)
        deep = e.turn_speed(depth)
        rows.append({"flash attention": flash_attn, "KV": kv_type,
                     "prefill tok/s": info.prefill_tps, "decode tok/s": info.decode_tps,
                     f"40-token turn after {depth} tokens s": deep.turn_s, f"decode tok/s after {depth} tokens": deep.decode_tps})
    return rows


def kv_per_token(kv_type: str) -> float:
    e = engine(1024, kv_type=kv_type)
    return (e.state_size(list(range(100, 612))) - e.state_size(list(range(100, 356)))) / 256


def kv_ratio() -> list[dict]:
    try:
        f16, q8 = kv_per_token("f16"), kv_per_token("q8_0")
    except EngineError as exc:
        return [{"ratio": f"not measured: {exc}"}]
    return [{"f16 bytes": f16, "q8_0 bytes": q8, "ratio": q8 / f16}]


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), platform.processor())
    mem = next(int(ln.split()[1]) for ln in open("/proc/meminfo") if ln.startswith("MemTotal")) / 2**20
    gpu = "GPU offload" if llama_cpp.llama_supports_gpu_offload() else "CPU only, no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores ({physical_cores()} threads used), {mem:.0f} GiB RAM, {gpu}; "
        f"llama-cpp-python {llama_cpp.__version__}; model {MODEL.name}"
    )


def table(title: str, rows: list[dict]) -> str:
    head = list(rows[0])
    lines = [f"### {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        values = [row.get(key, "") for key in head]
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in values) + " |")
    return "\n".join(lines) + "\n"


READING = """
## Reading these numbers

- Every ratio compares two runs made one after the other in the same process, so machine load
  affects both sides; absolute seconds are only indicative on a shared machine.
- A follow-up evaluates only its own turn: the question wrapped in the chat template, after the
  focus block (the best-matching story, repeated). The `limit` column is that share of the
  prompt; the time ratio sits above it because a short batch deep in the context runs slower per
  token than a long prefill, and the first answer token is decoded either way.
- The restored answer still evaluates its own turn after loading the snapshot, so its ratio has
  the same floor.
- Flash attention is `auto` by default: on when layers run on a GPU or the KV cache is
  quantised, off on a CPU. The last table shows why: on this CPU its kernel walks the whole KV
  cache for every query row, so a short turn deep in the context (what every follow-up is) and
  decode there run several times slower with it, while it barely speeds up a long prefill
  (users report the same for llama.cpp on CPUs; see TECH-NOTES). The first three tables use the
  default, and the raw llama-cpp-python run uses the same flash attention and threads.
- GPU: these tables come from a CPU-only build. Run `make bench` after `make clean-venv && make
  run CUDA=1` on a GPU machine to record offload, flash attention and KV types there.
"""


def later_sections(out: Path) -> str:
    """The sections of ``out`` written by hand after the generated tables (one per issue), kept as they are."""
    old = out.read_text(encoding="utf-8") if out.exists() else ""
    later = re.search(r"^## (?!Reading these numbers)", old, re.MULTILINE)
    return "\n" + old[later.start():] if later else ""


def main() -> None:
    global MODEL
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=MODEL, help="GGUF to measure (default: the bundled model)")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--out", type=Path, help="write the tables as Markdown here (the sections below them are kept)")
    parser.add_argument("--only", help="measure only the tables whose title holds this text, e.g. 'raw'")
    parser.add_argument("--runs", type=int, default=3, help="runs of StoryChat vs raw (default 3)")
    args = parser.parse_args()
    if args.only and args.out:
        parser.error("--only measures part of the tables; --out writes them all")
    MODEL = args.model
    stories = corpus(args.n_ctx)
    print(f"corpus: {len(stories)} stories; context {args.n_ctx}", flush=True)
    text = f"Machine: {machine()}\n\nContext {args.n_ctx} tokens, {len(stories)} stories, answers of {MAX_TOKENS} tokens.\n\n"
    sections = [
        ("Follow-up vs cold time to first token (target <= 0.02)", lambda: [follow_up_vs_cold(args.n_ctx, stories)]),
        ("Cold answer, snapshot cache on vs off (target <= 1.05)", lambda: [cache_on_vs_off(args.n_ctx, stories)]),
        ("First answer after a restart, KV restored from a snapshot, vs cold prefill (target <= 0.10)", lambda: [restore_vs_cold(args.n_ctx, stories)]),
        ("StoryChat end to end vs raw llama-cpp-python, identical prompt (target <= 1.05)", lambda: [storychat_vs_raw(args.n_ctx, stories, args.runs)]),
        ("Prefill and decode speed by flash attention and KV type", lambda: speeds(args.n_ctx)),
        ("KV memory per token as llama.cpp stores it (physical ratio 0.53)", kv_ratio),
    ]
    for title, measure in sections:  # each table is printed as soon as it is measured
        if args.only and args.only.lower() not in title.lower():
            continue
        section = table(title, measure())
        print(section, flush=True)
        text += section + "\n"
    if args.out:
        args.out.write_text(
            "# Benchmarks\n\nProduced by `make bench` (`python bench/bench_speed.py --out docs/benchmarks.md`).\n\n"
            + text + READING + later_sections(args.out)
        )


if __name__ == "__main__":
    main()
