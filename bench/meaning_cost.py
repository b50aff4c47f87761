"""What the reader of meaning costs: memory, import time and a cold answer, on vs off, side by side in one run.

    python bench/meaning_cost.py [--n-ctx 4096] [--runs 3]

- memory: the resident memory the reader adds to a fresh process (loading it and
  embedding the 1,677 stories of the 22 Dalpiaz backlogs), measured in two
  child processes that differ only in --meaning;
- import: the 22 backlogs into an empty library, --meaning on (each new story
  embedded and kept) vs off, alternating runs, median;
- cold answer: the same question on the same corpus with a fresh engine each
  time (nothing cached), --meaning on vs off, alternating runs, median of the
  total time. The corpus fills most of the context, so both prompts hold every
  story; with meaning the focus story and the opening id may differ, which the
  prompt-token columns show.
Absolute times depend on the machine; the ratios are the result.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_speed import MAX_TOKENS, QUESTIONS, corpus, engine  # noqa: E402
from storychat.answer.pipeline import AnswerOptions, Pipeline  # noqa: E402
from storychat.evals import dalpiaz_dir  # noqa: E402
from storychat.stories.embedder import load_embedder  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402
from storychat.stories.library import Library  # noqa: E402

RSS = """
import sys
from storychat.evals import dalpiaz_stories
stories = [s for s in dalpiaz_stories() if not s.is_note]
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) / 1024
before = rss()
if sys.argv[1] == "on":
    from storychat.stories.embedder import load_embedder
    load_embedder().story_vectors(stories)
print(rss() - before)
"""


def memory() -> dict:
    added = {m: float(subprocess.check_output([sys.executable, "-c", RSS, m], cwd=ROOT, text=True)) for m in ("on", "off")}
    return {"RSS added, meaning on MiB": added["on"], "RSS added, meaning off MiB": added["off"], "reader adds MiB": added["on"] - added["off"]}


def imports(runs: int) -> dict:
    backlogs = sorted(dalpiaz_dir().glob("g*.txt"))
    times: dict[str, list[float]] = {"on": [], "off": []}
    load_embedder()  # loaded once, as in a running app; the memory row counts its load
    for _ in range(runs):
        for mode in ("on", "off"):
            with tempfile.TemporaryDirectory() as folder:
                library = Library(Path(folder), load_embedder(mode))
                started = time.perf_counter()
                for path in backlogs:
                    library.add("dalpiaz", read_file(path))
                times[mode].append(time.perf_counter() - started)
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    return {"import s, meaning on": on, "import s, meaning off": off, "ratio": on / off}


def cold_answers(n_ctx: int, runs: int) -> dict:
    stories = corpus(n_ctx)
    answers: dict[str, list] = {"on": [], "off": []}
    for _ in range(runs):
        for mode in ("on", "off"):
            pipeline = Pipeline(engine(n_ctx), options=AnswerOptions(max_tokens=MAX_TOKENS), embedder=load_embedder(mode))
            answer = pipeline.answer(QUESTIONS[0], stories, collection="bench")
            assert not answer.gated, f"{QUESTIONS[0]!r} was refused by the gate with meaning {mode}"
            answers[mode].append(answer)
    on, off = (statistics.median(a.timings.total_s for a in answers[m]) for m in ("on", "off"))
    return {
        "stories": len(stories),
        "prompt tokens, on": answers["on"][0].timings.prompt_tokens,
        "prompt tokens, off": answers["off"][0].timings.prompt_tokens,
        "cold total s, meaning on": on,
        "cold total s, meaning off": off,
        "ratio": on / off,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for name, measure in (("memory", memory), ("import of the 22 backlogs", lambda: imports(args.runs)),
                          (f"cold answer at {args.n_ctx} tokens", lambda: cold_answers(args.n_ctx, args.runs))):
        row = measure()  # each row is printed as soon as it is measured
        print(f"{name}: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
