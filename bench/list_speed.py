"""How soon a list question answered by code shows its list, on the seed's scale (issue 32).

    python bench/list_speed.py [--meaning on|off]

Imports bench/backlog_scale.py's 5,170 Jira items (titanium + appceleratorstudio as one Jira-shaped CSV, with
their real story points) into a temporary library, as `storychat import` does (with meaning on, each item's
vector is kept there), then asks list questions with ``Pipeline.ask`` on the bundled model and times the
first event, the ``Listed`` list, which comes before the model is called: the first run of each question, and
the fastest of 3. A mixed question (points and a topic) also ranks the kept items by the topic (retrieval, with
meaning on an embedding of each kept item), so it is timed apart.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backlog_scale import jira_rows, write  # noqa: E402
from storychat.answer.answer import Listed  # noqa: E402
from storychat.answer.pipeline import Pipeline  # noqa: E402
from storychat.llm.llama import EngineOptions, LlamaEngine  # noqa: E402
from storychat.llm.models import bundled_model  # noqa: E402
from storychat.stories.embedder import load_embedder  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402
from storychat.stories.library import Library  # noqa: E402

QUESTIONS = ("Which stories are over 13 points?", "Which stories are 8 points?", "Stories between 20 and 40 points")
MIXED = "Stories over 13 points about the Android build"


def first_event(pipeline: Pipeline, question: str, stories) -> tuple[float, Listed]:
    started = time.perf_counter()
    events = pipeline.ask(question, stories)
    event = next(events)
    took = time.perf_counter() - started
    events.close()  # the model's summary is not what is timed
    assert isinstance(event, Listed), f"{question!r} was not answered by code"
    return took, event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meaning", choices=("on", "off"), default="on")
    args = parser.parse_args()
    embedder = load_embedder(args.meaning)
    with tempfile.TemporaryDirectory() as folder:
        library = Library(Path(folder) / "library", embedder)
        library.add("titanium", read_file(write(Path(folder) / "backlog.csv", jira_rows())))
        stories = library.stories("titanium")
        kept = embedder.kept_in(library) if embedder else None
        pipeline = Pipeline(LlamaEngine(bundled_model(), EngineOptions(n_ctx=4096)), embedder=kept)
        print(f"{len(stories):,} items, meaning {args.meaning}; seconds to the Listed event (first run, fastest of 3)")
        for question in (*QUESTIONS, MIXED):
            first, listed = first_event(pipeline, question, stories)
            best = min(first_event(pipeline, question, stories)[0] for _ in range(3))
            print(f"{first:6.3f} {best:6.3f}  {question}: {listed.listing.line()}")


if __name__ == "__main__":
    main()
