"""The seed's scale on this machine: 5,170 real Jira items (titanium + appceleratorstudio, 544k words), issue 31.

    python bench/backlog_scale.py [--meaning on|off]

Writes the two GPT2SP projects as one Jira-shaped CSV (Summary, Issue key, Issue Type, Description,
Custom field (Story Points)), then, in a fresh temporary library:
1. imports it (timed; with meaning on, every item is embedded as `storychat import` does);
2. re-imports it with 3 items' descriptions changed (timed; only those 3 are embedded again);
3. searches for 5 questions (the fastest of 3 runs each; what /search_stories does);
4. finds duplicates and lints the collection (timed);
5. reports this process's resident memory with the collection loaded, against before the import.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.analysis.duplicates import find_duplicates  # noqa: E402
from storychat.analysis.lint import lint  # noqa: E402
from storychat.answer.retrieval import Searcher  # noqa: E402
from storychat.stories.embedder import load_embedder  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402
from storychat.stories.library import Library  # noqa: E402

GPT2SP = ROOT / "storychat" / "evals" / "data" / "gpt2sp"
PROJECTS = ("titanium.csv", "appceleratorstudio.csv")
HEADER = ["Summary", "Issue key", "Issue Type", "Description", "Custom field (Story Points)"]
QUESTIONS = (
    "Which stories touch the Android build process?",
    "Is there an item about code assist for JavaScript?",
    "What breaks when importing a project from git?",
    "Which items are about the iOS simulator?",
    "Is there a story for exporting a project?",
)


def jira_rows(changed: int = 0) -> list[list[str]]:
    """The projects' items as Jira rows; the first ``changed`` descriptions reworded."""
    rows = []
    for name in PROJECTS:
        with open(GPT2SP / name, encoding="utf-8", newline="") as source:
            for item in csv.DictReader(source):
                rows.append([item["title"], item["issuekey"], "Story", item["description"], item["storypoint"]])
    for row in rows[:changed]:
        row[3] += " Reworded for the benchmark."
    return rows


def write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as target:
        writer = csv.writer(target)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(run) -> tuple[float, object]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meaning", choices=("on", "off"), default="on")
    args = parser.parse_args()
    embedder = load_embedder(args.meaning)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        first = write(folder / "backlog.csv", jira_rows())
        (folder / "later").mkdir()
        later = write(folder / "later" / "backlog.csv", jira_rows(changed=3))
        before = rss_mib()
        library = Library(folder / "library", embedder)
        imported_s, report = timed(lambda: library.add("titanium", read_file(first)))
        reimported_s, again = timed(lambda: library.add("titanium", read_file(later)))
        stories = library.stories("titanium")
        words = sum(len(" ".join(s.passages()).split()) for s in stories)
        searcher = Searcher(embedder.kept_in(library) if embedder else None)
        searcher.search(QUESTIONS[0], stories)  # builds the index once, as the first question in the app does
        search_s = max(min(timed(lambda: searcher.search(q, stories, 10))[0] for _ in range(3)) for q in QUESTIONS)
        duplicates_s, pairs = timed(lambda: find_duplicates(stories, embedder=embedder))
        lint_s, findings = timed(lambda: lint(stories))
        loaded = rss_mib()
    print(f"items {len(stories):,} ({len(report.added):,} added, {len(report.duplicates)} duplicates, {len(report.notes)} notes), "
          f"{words:,} words, meaning {args.meaning}")
    print(f"import {imported_s:.1f} s; re-import with 3 changed {reimported_s:.1f} s ({len(again.changed)} changed)")
    print(f"search, slowest of {len(QUESTIONS)} questions (fastest of 3 runs each) {search_s:.3f} s")
    print(f"duplicates {duplicates_s:.1f} s ({len(pairs)} pairs); lint {lint_s:.1f} s ({len(findings)} findings)")
    print(f"peak resident memory {before:.0f} MiB before the import, {loaded:.0f} MiB with the collection loaded")


if __name__ == "__main__":
    main()
