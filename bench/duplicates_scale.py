"""Duplicates and lint at the scale of real backlogs (issue 31): the first 1,250, 2,500 and 5,000
titles of GPT2SP's Titanium and Appcelerator Studio Jira projects (5,170 work items), each title a story.

    python bench/duplicates_scale.py [--old cca4fca] [--runs 3] [--top 20]

For each size: the pairs scored, the pairs found, the seconds for find_duplicates and for lint (the
fastest of --runs), and each time's ratio to the previous size; find_duplicates with the reader of
meaning (``storychat analyze``'s default, ``--meaning on``) and without. find_duplicates as it was at
commit --old (read from git) runs in the same loop, each run right after the new one, so that the
machine's load falls on both. Then the first --top pairs of the largest size, new and old (meaning off).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.analysis.cosine import candidate_pairs  # noqa: E402
from storychat.analysis.duplicates import DEFAULT_THRESHOLD, MEANING_MARGIN, ROUNDING, find_duplicates, word_vectors  # noqa: E402
from storychat.analysis.lint import lint  # noqa: E402
from storychat.evals import gpt2sp_titles  # noqa: E402
from storychat.stories import Story  # noqa: E402
from storychat.stories.embedder import load_embedder  # noqa: E402

FILES = ("titanium.csv", "appceleratorstudio.csv")
SIZES = (1_250, 2_500, 5_000)


@dataclass(frozen=True)
class Variant:
    """One way of finding duplicates, and how many pairs it scores among some stories."""

    label: str
    find: Callable[[Sequence[Story]], list]
    scored: Callable[[Sequence[Story]], int]


@dataclass(frozen=True)
class Row:
    """One variant at one size."""

    size: int
    scored: int  # pairs whose cosine was computed
    found: int
    duplicates_s: float
    lint_s: float


def old_find_duplicates(rev: str) -> Callable:
    """``find_duplicates`` from ``storychat/analysis/duplicates.py`` at commit ``rev``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:storychat/analysis/duplicates.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    module = types.ModuleType(f"duplicates_{rev}")
    sys.modules[module.__name__] = module
    exec(compile(source, f"{rev}:storychat/analysis/duplicates.py", "exec"), module.__dict__)
    return module.find_duplicates


def timed(work: Callable) -> tuple[float, object]:
    """(seconds, the result)"""
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def variants(old: Callable, rev: str) -> list[Variant]:
    embedder = load_embedder()
    return [
        Variant("now, meaning off", find_duplicates, lambda stories: _prefix_pairs(stories, DEFAULT_THRESHOLD)),
        Variant(f"{rev}, meaning off", old, _every_pair),
        Variant("now, meaning on", lambda stories: find_duplicates(stories, embedder=embedder),
                lambda stories: _prefix_pairs(stories, DEFAULT_THRESHOLD - MEANING_MARGIN)),
        Variant(f"{rev}, meaning on", lambda stories: old(stories, embedder=embedder), _every_pair),
    ]


def _every_pair(stories: Sequence[Story]) -> int:
    return len(stories) * (len(stories) - 1) // 2


def _prefix_pairs(stories: Sequence[Story], threshold: float) -> int:
    return len(candidate_pairs(word_vectors(stories), threshold - ROUNDING))


def measure(stories: Sequence[Story], ways: Sequence[Variant], runs: int) -> tuple[list[Row], list[list]]:
    """Each variant at one size, taking turns run by run; lint, which did not change, once for all. The rows and the pairs found."""
    times: list[list[float]] = [[] for _ in ways]
    found: list[list] = [[] for _ in ways]
    for _ in range(runs):
        for k, way in enumerate(ways):
            seconds, found[k] = timed(lambda: way.find(stories))
            times[k].append(seconds)
    lint_s = min(timed(lambda: lint(stories))[0] for _ in range(runs))
    rows = [Row(len(stories), way.scored(stories), len(pairs), min(t), lint_s) for way, pairs, t in zip(ways, found, times)]
    return rows, found


def table(title: str, rows: Sequence[Row]) -> None:
    print(f"\n{title}")
    print("  items  pairs scored  pairs found  duplicates s  ratio  lint s  ratio  together s")
    for before, row in zip((None, *rows), rows):
        dup_ratio = f"{row.duplicates_s / before.duplicates_s:5.2f}" if before else "    -"
        lint_ratio = f"{row.lint_s / before.lint_s:5.2f}" if before else "    -"
        print(
            f"{row.size:>7,} {row.scored:>13,} {row.found:>12,} {row.duplicates_s:>13.2f}  {dup_ratio}"
            f" {row.lint_s:>7.2f}  {lint_ratio} {row.duplicates_s + row.lint_s:>11.2f}"
        )


def show(title: str, pairs: Sequence, top: int) -> None:
    print(f"\n{title}")
    for k, p in enumerate(pairs[:top], start=1):
        mark = "exact" if p.exact else f"{p.similarity:.3f}"
        print(f"{k:>2}. {mark:>5}  {p.a.id} {p.a.text.strip()!r}\n           {p.b.id} {p.b.text.strip()!r}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", default="cca4fca", help="the commit whose find_duplicates runs beside today's")
    ap.add_argument("--runs", type=int, default=3, help="runs of each measure; the fastest counts")
    ap.add_argument("--top", type=int, default=20, help="pairs shown from the largest size")
    args = ap.parse_args()
    ways = variants(old_find_duplicates(args.old), args.old)
    stories = gpt2sp_titles(*FILES)
    print(f"{len(stories):,} GPT2SP titles ({', '.join(FILES)}); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    rows: list[list[Row]] = [[] for _ in ways]
    for size in SIZES:
        measured, found = measure(stories[:size], ways, args.runs)
        for k, row in enumerate(measured):
            rows[k].append(row)
    for way, way_rows in zip(ways, rows):
        table(f"find_duplicates {way.label}", way_rows)
    for now, before in ((0, 1), (2, 3)):
        ratios = ", ".join(f"{b.duplicates_s / n.duplicates_s:.1f}" for b, n in zip(rows[before], rows[now]))
        print(f"\n{ways[before].label} / {ways[now].label}, duplicates time by size: {ratios}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    show(f"first {args.top} pairs {ways[0].label}, {SIZES[-1]:,} items", found[0], args.top)
    show(f"first {args.top} pairs {ways[1].label}, {SIZES[-1]:,} items", found[1], args.top)


if __name__ == "__main__":
    main()
