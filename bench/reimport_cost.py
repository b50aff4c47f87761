"""What re-importing the 22 Dalpiaz backlogs with one story changed costs (issue 24).

    python bench/reimport_cost.py [-c 8192] [-n 16] [--backlogs N]

In a fresh temporary library (reader of meaning on, as `storychat import` runs),
with KV snapshots in a fresh temporary folder:
1. import the backlogs' files as one collection (timed);
2. a cold answer to a question (retrieval mode: the backlogs do not fit), and a
   cold exhaustive question (every shard read);
3. reword one story in its file (the middle story of that answer's context, so
   the answer's prompt changes there) and import every file again with sync (timed);
4. the same question again: where its story prefix came from and how many prompt
   tokens it evaluated, against the cold answer; and the exhaustive question again:
   which passes were read anew, and its tokens evaluated against the cold one.
--backlogs N takes only the first N backlogs, for a machine too slow for all 22.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.answer.answer import final  # noqa: E402

from storychat.answer.pipeline import AnswerOptions, Pipeline  # noqa: E402
from storychat.answer.shards import Sharder  # noqa: E402
from storychat.evals import dalpiaz_dir  # noqa: E402
from storychat.llm.kvcache import KVCache  # noqa: E402
from storychat.llm.llama import EngineOptions, LlamaEngine  # noqa: E402
from storychat.llm.models import bundled_model  # noqa: E402
from storychat.stories.embedder import load_embedder  # noqa: E402
from storychat.stories.formats import decode_bytes, read_file  # noqa: E402
from storychat.stories.library import Library  # noqa: E402

COLLECTION = "dalpiaz-22"
QUESTION = "Can a user upload a file?"
EXHAUSTIVE_QUESTION = "Which stories are about uploading files?"


def import_all(library: Library, files: list[Path], sync: bool) -> tuple[float, list]:
    started = time.perf_counter()
    reports = [library.add(COLLECTION, read_file(path), sync=sync) for path in files]
    return time.perf_counter() - started, reports


def reword(story, folder: Path) -> None:
    """Change the story's line in its file, as an edit in the tool it was exported from would."""
    path = folder / story.source
    lines = decode_bytes(path.read_bytes(), path.name).split("\n")
    lines[story.line - 1] = lines[story.line - 1].replace("I want", "I would like", 1)
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--n-ctx", type=int, default=8192, metavar="N")
    parser.add_argument("-n", "--max-tokens", type=int, default=16, metavar="N", help="answer reserve (short answers: the prompt is what is measured)")
    parser.add_argument("--backlogs", type=int, metavar="N", help="only the first N of the 22 backlogs")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="reimport-cost-"))
    export = work / "export"
    export.mkdir()
    files = [Path(shutil.copy(p, export)) for p in sorted(dalpiaz_dir().glob("*.txt"))[: args.backlogs]]
    embedder = load_embedder()
    library = Library(work / "data", embedder)
    first_import_s, _ = import_all(library, files, sync=False)

    cache = KVCache(work / "kv", disk_bytes=8 << 30, ram_bytes=2 << 30)

    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=args.n_ctx, cache=cache))
    engine.probe()
    pipeline = Pipeline(engine, options=AnswerOptions(max_tokens=args.max_tokens), sharder=Sharder(work / "shard-layouts.json"), embedder=embedder)

    def ask(p: Pipeline, e: LlamaEngine, exhaustive: bool = False):
        stories = library.stories(COLLECTION)
        started = time.perf_counter()
        if exhaustive:
            answer = final(p.ask_exhaustive(EXHAUSTIVE_QUESTION, stories, COLLECTION))
        else:
            answer = final(p.ask(QUESTION, stories, collection=COLLECTION))
        e.wait_for_snapshot()
        return answer, time.perf_counter() - started

    stories = library.stories(COLLECTION)
    shards = pipeline.shards(stories, COLLECTION)
    print(f"{sum(not s.is_note for s in stories)} stories in {len(files)} backlogs, n_ctx {engine.context_length}, {len(shards)} shards", flush=True)
    cold, cold_s = ask(pipeline, engine)
    every_cold, every_cold_s = ask(pipeline, engine, exhaustive=True)
    context = pipeline.prepare(QUESTION, stories).context.stories
    changed = context[len(context) // 2]
    reword(changed, export)
    reimport_s, reports = import_all(library, files, sync=True)
    print("\n".join(r.describe() for r in reports if r.added or r.changed or r.gone), flush=True)

    # The engine's live context holds the exhaustive question's last prompt, not this answer's.
    again, again_s = ask(pipeline, engine)
    every_again, every_again_s = ask(pipeline, engine, exhaustive=True)

    print(f"\nchanged story: [{changed.id}] at position {len(context) // 2 + 1} of {len(context)} in the answer's context")
    print(f"import: first {first_import_s:.3f}s, re-import with one story changed {reimport_s:.3f}s")
    print(f"{'':<44} {'source':<14} {'evaluated':>9} {'of':>7} {'seconds':>8}")
    rows = [
        ("answer, cold (before the change)", cold, cold_s),
        ("the same question after the re-import", again, again_s),
    ]
    for name, answer, seconds in rows:
        t = answer.timings
        print(f"{name:<44} {t.prefix_source:<14} {t.prompt_evaluated:>9,} {t.prompt_tokens:>7,} {seconds:8.1f}")
    for name, answer, seconds in (("exhaustive, cold", every_cold, every_cold_s), ("exhaustive after the re-import", every_again, every_again_s)):
        r = answer.reading
        anew = [i + 1 for i, source in enumerate(r.pass_sources) if source in ("cold", "prompt") or source.endswith("partial")]
        print(f"{name:<44} passes read anew {anew} of {r.passes}; evaluated {r.pass_evaluated:,} of {r.pass_tokens:,} pass tokens; {seconds:.1f}s")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
