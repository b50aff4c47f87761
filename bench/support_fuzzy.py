"""Does rapidfuzz earn a place in the support check? Compare its fuzzy quote matching with difflib's.

The check decides whether a quote an answer presents ("As a user, I want ...",
or text in quotation marks) follows a story's text, as the share of the quote's
words found in order in the story (``difflib.SequenceMatcher`` over words,
standard library). This script swaps in rapidfuzz's ``fuzz.partial_ratio`` (the
best-matching substring, over characters), and no order check at all, and
scores the hand labels each way:
the figures, how many sentences each calls a misquote, and the time for every
quote of the labelled answers, side by side.

    .venv/bin/python bench/support_fuzzy.py [LABELS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from unittest import mock

from rapidfuzz import fuzz

from storychat.answer import support
from storychat.evals import dalpiaz_dir
from storychat.evals.support import LABELS, evaluate, figures, load_labels, misses
from storychat.stories.formats import read_file


def partial_ratio(quote: str, text: str) -> float:
    return fuzz.partial_ratio(quote.lower(), text.lower()) / 100


SCORERS = (
    ("difflib word order (used)", support._coverage),
    ("rapidfuzz partial_ratio", partial_ratio),
    ("no order check", lambda quote, text: 1.0),
)


def main(arguments: list[str]) -> int:
    answers = load_labels(Path(arguments[0]) if arguments else LABELS)
    backlogs = {a.backlog: {s.id: s for s in read_file(dalpiaz_dir() / a.backlog).stories} for a in answers}
    judged = [
        (s.text, [backlogs[a.backlog][i] for i in s.against if i in backlogs[a.backlog]], a.question)
        for a in answers
        for s in a.sentences
    ]
    print(f"{'quote matching':28} {'unsupported shown':>18} {'supported flagged':>18} {'misses':>7} {'misquotes':>10}")
    flags = {}
    for name, coverage in SCORERS:
        with mock.patch.object(support, "_coverage", coverage):
            outcomes = evaluate(answers)
            flags[name] = [support.judge(*j).misquote is not None for j in judged]
        f = figures(outcomes)
        print(
            f"{name:28} {f.unsupported_shown:>10}/{f.unsupported:<7} {f.supported_flagged:>10}/{f.supported:<7} "
            f"{len(misses(outcomes)):>7} {sum(flags[name]):>10}"
        )
    used = flags[SCORERS[0][0]]
    for name, _ in SCORERS[1:]:
        print(f"sentences whose misquote flag differs from difflib's with {name}: {sum(a != b for a, b in zip(used, flags[name]))} of {len(judged)}")

    pairs = [
        (quote, text)
        for a in answers
        for s in a.sentences
        for quote in support._presented(support._CITATION.sub(" ", s.text))
        for text in a.stories.values()
    ]
    print(f"\n{len(pairs)} quote-story pairs; time for all of them, 20 rounds, side by side:")
    for name, coverage in SCORERS[:2]:
        started = time.perf_counter()
        for _ in range(20):
            for quote, text in pairs:
                coverage(quote, text)
        elapsed = time.perf_counter() - started
        print(f"  {name:28} {elapsed:.3f} s ({elapsed / (20 * len(pairs)) * 1e6:.0f} µs a pair)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
