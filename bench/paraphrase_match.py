"""Does sub-word matching beside word BM25 recover paraphrases? The relevance gate and the
best match on the QA sets, with and without it; no model is asked (docs/evaluation.md).

    python bench/paraphrase_match.py [--min-match 0.2] [--sweep]

Words: the gate as shipped (storychat/answer/retrieval.py): a question term counts
as found in a story when the story has the same stemmed term. Sub-words: it also
counts when one term holds the other and the shorter has at least 4 letters
("list" in "wishlist"), or when their letter trigrams overlap by at least half
("recycle" and "recycling", "languages" and "language"). The best match is the
story with the highest match, BM25 breaking ties. For every question:
answerable ones the gate lets through, unanswerable ones it refuses, and
answerable ones whose best match is a story the question's key lists.
--sweep tries every threshold from 0.00 to 1.00 instead, and prints, per set and
matching, the most answerable questions any threshold lets through while it
refuses at least 85% of the unanswerable ones, and the reverse with at most 15%
of the answerable refused (issue 16's targets).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat import evals  # noqa: E402
from storychat.answer.retrieval import StoryIndex  # noqa: E402
from storychat.evals import dalpiaz_dir  # noqa: E402
from storychat.evals.qa import Question, load_questions  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402
from storychat.text import terms  # noqa: E402

SETS = ("qa-dalpiaz", "qa-extra")


def trigrams(term: str) -> set[str]:
    padded = f"<{term}>"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def subword_match(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    if len(short) >= 4 and short in long:
        return True
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) >= 0.5 * len(ta | tb)


@dataclass(frozen=True)
class Best:
    story_id: str
    match: float


def best_by_words(index: StoryIndex, question: str) -> Best:
    hits = index.search(question, k=1)
    return Best(hits[0].story.id, hits[0].match) if hits else Best("", 0.0)


def best_by_subwords(index: StoryIndex, question: str) -> Best:
    wanted = set(terms(question))
    if not wanted:
        return Best("", 0.0)
    weight = {t: index.weight(t) for t in wanted}
    scores = {h.story.id: h.score for h in index.search(question)}
    best = Best("", 0.0)
    for story, story_terms in zip(index.stories, index.story_terms):
        found = {t for t in wanted if any(subword_match(t, s) for s in set(story_terms))}
        match = round(sum(weight[t] for t in found) / sum(weight.values()), 3)
        if (match, scores.get(story.id, 0.0)) > (best.match, scores.get(best.story_id, 0.0)):
            best = Best(story.id, match)
    return best


@dataclass
class Tally:
    answerable: int = 0
    unanswerable: int = 0
    passed: int = 0  # answerable the gate lets through
    refused: int = 0  # unanswerable the gate refuses
    best_expected: int = 0  # answerable whose best match is an expected story

    def add(self, question: Question, best: Best, min_match: float) -> None:
        if question.unanswerable:
            self.unanswerable += 1
            self.refused += best.match < min_match
        else:
            self.answerable += 1
            self.passed += best.match >= min_match
            self.best_expected += best.story_id in question.expect_ids

    def row(self, name: str) -> str:
        return (
            f"| {name} | {self.passed}/{self.answerable} | {self.refused}/{self.unanswerable} "
            f"| {self.best_expected}/{self.answerable} |"
        )


def best_matches(name: str) -> dict[str, list[tuple[Question, Best]]]:
    """Every question of the set with its best match, by words and by words + sub-words."""
    found: dict[str, list[tuple[Question, Best]]] = {"words": [], "words + sub-words": []}
    indexes: dict[str, StoryIndex] = {}
    for question in load_questions(Path(evals.__file__).with_name(f"{name}.jsonl")):
        if question.stories not in indexes:
            stories = [s for s in read_file(dalpiaz_dir() / question.stories).stories if not s.is_note]
            indexes[question.stories] = StoryIndex(stories)
        index = indexes[question.stories]
        found["words"].append((question, best_by_words(index, question.question)))
        found["words + sub-words"].append((question, best_by_subwords(index, question.question)))
    return found


def tally(matches: list[tuple[Question, Best]], min_match: float) -> Tally:
    counted = Tally()
    for question, best in matches:
        counted.add(question, best, min_match)
    return counted


def sweep(name: str, matching: str, matches: list[tuple[Question, Best]]) -> list[str]:
    """The best trade-offs any threshold offers against issue 16's two targets."""
    tallies = [(t / 100, tally(matches, t / 100)) for t in range(101)]
    lines = []
    for wanted, kept, held in (("refused", "passed", "unanswerable"), ("passed", "refused", "answerable")):
        meeting = [(getattr(c, kept), t, c) for t, c in tallies if getattr(c, wanted) >= 0.85 * getattr(c, held)]
        if not meeting:
            goal = "refuses 85% of the unanswerable" if wanted == "refused" else "lets 85% of the answerable through"
            lines.append(f"{name}, {matching}: no threshold {goal}")
            continue
        _, threshold, c = max(meeting, key=lambda m: (m[0], -m[1]))
        lines.append(
            f"{name}, {matching}, best with {wanted} >= 85%: threshold {threshold:.2f}, "
            f"let through {c.passed}/{c.answerable}, refused {c.refused}/{c.unanswerable}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-match", type=float, default=0.2, help="the relevance gate's threshold (default: the app's)")
    parser.add_argument("--sweep", action="store_true", help="try every threshold against issue 16's targets")
    args = parser.parse_args()
    if not args.sweep:
        print("| set, matching | answerable let through | unanswerable refused | best match expected |")
        print("|---|---:|---:|---:|")
    for name in SETS:
        for matching, matches in best_matches(name).items():
            print("\n".join(sweep(name, matching, matches)) if args.sweep else tally(matches, args.min_match).row(f"{name}, {matching}"))


if __name__ == "__main__":
    main()
