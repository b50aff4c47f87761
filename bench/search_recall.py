"""Recall at 5 of /search_stories on a question set (issue 31).

Each backlog file the questions name is imported the way a user does
(`storychat import FILE --collection STEM`, into a temporary library), then
every answerable question goes to what the /search_stories endpoint runs:
the app's pipeline searching the collection's stories. A question is found
when one of its expected items is among the first K hits. Reported overall
and by the questions' kind (answered by the title, or only by a description).

    python bench/search_recall.py [--qa FILE] [--data-root DIR] [--meaning on|off] [-k 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.evals.items import ids_by_key  # noqa: E402
from storychat.evals.qa import Backlog, Question, load_questions  # noqa: E402

GPT2SP_SET = ROOT / "storychat" / "evals" / "qa-gpt2sp.jsonl"
GPT2SP_DATA = ROOT / "storychat" / "evals" / "data" / "gpt2sp"


@dataclass(frozen=True)
class Outcome:
    question: Question  # expecting the ids the library gave its items
    hits: tuple[str, ...]  # the first K hits' keys (their ids where they have none)
    found: bool


def found(expected: Collection[str], hit_ids: Sequence[str], k: int) -> bool:
    """Whether an expected id is among the first ``k`` hits."""
    return any(i in expected for i in hit_ids[:k])


def recall(outcomes: Sequence[Outcome]) -> dict[str, tuple[int, int]]:
    """(found, asked) over all answerable questions, then per kind."""
    groups = {"all": list(outcomes)}
    for o in outcomes:
        groups.setdefault(o.question.kind or "no kind", []).append(o)
    return {name: (sum(o.found for o in group), len(group)) for name, group in groups.items()}


def import_backlogs(files: Sequence[Path], data_dir: Path, meaning: str) -> None:
    """`storychat import` each file into a collection named after it, as a user would."""
    for path in files:
        subprocess.run(
            [sys.executable, "-m", "storychat", "import", str(path), "--collection", path.stem,
             "--data-dir", str(data_dir), "--meaning", meaning],
            cwd=ROOT, check=True, capture_output=True,
        )


def search_all(questions: Sequence[Question], data_root: Path, data_dir: Path, meaning: str, k: int) -> list[Outcome]:
    from storychat import runtime
    from storychat.config import Settings

    settings = Settings(data_dir=str(data_dir), meaning=meaning)
    pipeline = runtime.make_pipeline(settings, runtime.load_engine(settings))
    library = runtime.open_library(settings)
    outcomes = []
    for q in questions:
        path = data_root / q.stories
        everything = library.stories(path.stem)
        backlog = Backlog(everything, path.stem, ids_by_key(path, everything))
        key_of = {i: key for key, ids in backlog.keys.items() for i in ids}
        # As the endpoint: the shelf's stories (notes left out), its k of 10 hits.
        hits = [h.story.id for h in pipeline.search(q.question, [s for s in everything if not s.is_note], 10)]
        expected = backlog.by_ids(q)
        outcomes.append(Outcome(expected, tuple(key_of.get(i, i) for i in hits[:k]), found(expected.expect_ids, hits, k)))
    return outcomes


def report(outcomes: Sequence[Outcome], name: str, meaning: str, k: int) -> list[str]:
    lines = [f"{name}: /search_stories recall at {k}, meaning {meaning}"]
    lines += [f"  {kind:12} {hit}/{asked} {hit / asked:6.1%}" for kind, (hit, asked) in recall(outcomes).items()]
    for o in outcomes:
        lines.append(f"{'hit ' if o.found else 'miss'} [{o.question.kind}] {o.question.question} -> {', '.join(o.hits) or 'no hits'}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qa", type=Path, default=GPT2SP_SET, help="question set, JSONL (default: qa-gpt2sp.jsonl)")
    parser.add_argument("--data-root", type=Path, default=GPT2SP_DATA, help="folder of the questions' story files")
    parser.add_argument("--meaning", choices=("on", "off"), default="on")
    parser.add_argument("-k", type=int, default=5, help="hits that count (default 5; the endpoint returns 10)")
    args = parser.parse_args(argv)
    questions = [q for q in load_questions(args.qa) if q.stories and not q.unanswerable]
    with tempfile.TemporaryDirectory(prefix="search-recall-") as data_dir:
        import_backlogs(sorted({args.data_root / q.stories for q in questions}), Path(data_dir), args.meaning)
        outcomes = search_all(questions, args.data_root, Path(data_dir), args.meaning, args.k)
    print("\n".join(report(outcomes, args.qa.name, args.meaning, args.k)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
