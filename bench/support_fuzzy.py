"""Does rapidfuzz earn a place in the support check? Compare its fuzzy quote matching with difflib's.

The check decides whether a quote an answer presents ("As a user, I want ...",
or text in quotation marks) follows a story's text, as the share of the quote's
words found in order in the story (``difflib.SequenceMatcher`` over words,
standard library). This script swaps in rapidfuzz's ``fuzz.partial_ratio`` (the
best-matching substring, over characters) and scores the hand labels both ways,
then times both on every quote of the labelled answers, side by side.

    .venv/bin/python bench/support_fuzzy.py
"""

from __future__ import annotations

import time
from unittest import mock

from rapidfuzz import fuzz

from storychat.answer import support
from storychat.evals.support import evaluate, figures, load_labels, misses


def partial_ratio(quote: str, text: str) -> float:
    return fuzz.partial_ratio(quote.lower(), text.lower()) / 100


def main() -> int:
    answers = load_labels()
    rows = [("difflib word order (used)", support._coverage)]
    rows.append(("rapidfuzz partial_ratio", partial_ratio))
    print(f"{'quote matching':28} {'unsupported shown':>18} {'supported flagged':>18} {'misses':>7}")
    for name, coverage in rows:
        with mock.patch.object(support, "_coverage", coverage):
            outcomes = evaluate(answers)
        f = figures(outcomes)
        print(f"{name:28} {f.unsupported_shown:>10}/{f.unsupported:<7} {f.supported_flagged:>10}/{f.supported:<7} {len(misses(outcomes)):>7}")

    pairs = [
        (quote, story)
        for a in answers
        for s in a.sentences
        for quote in support._presented(support._CITATION.sub(" ", s.text))
        for story in a.stories.values()
    ]
    print(f"\n{len(pairs)} quote-story pairs; time for all of them, 20 rounds, side by side:")
    for name, coverage in rows:
        started = time.perf_counter()
        for _ in range(20):
            for quote, story in pairs:
                coverage(quote, story)
        print(f"  {name:28} {time.perf_counter() - started:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
