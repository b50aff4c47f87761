"""Could the support check flag fewer supported sentences by words alone? What crediting
the question's words would cost, on the hand labels (docs/evaluation.md).

Most supported sentences the check flags restate the question ("Yes, a participant
can revise their estimate" for a story that says "change my estimate"): their
unsupported words are the question's. This script scores the labels as the check
stands, and again with a flagged sentence counted as supported when every word
it has no story for is one of the question's words.

    .venv/bin/python bench/support_tradeoff.py [LABELS]
"""

from __future__ import annotations

import sys
from pathlib import Path

from storychat.answer.support import judge
from storychat.evals import dalpiaz_dir
from storychat.evals.support import FLAGGED, LABELS, Outcome, evaluate, figures, load_labels
from storychat.stories.formats import read_file
from storychat.text import terms


def echoes_question(outcome: Outcome, stories) -> bool:
    """Every word the sentence has no story for is a word of the question."""
    against = [stories[outcome.answer.backlog][i] for i in outcome.sentence.against if i in stories[outcome.answer.backlog]]
    unsupported = set(terms(" ".join(judge(outcome.sentence.text, against, outcome.answer.question).unsupported)))
    return bool(unsupported) and unsupported <= set(terms(outcome.answer.question))


def main() -> None:
    answers = load_labels(Path(sys.argv[1]) if len(sys.argv) > 1 else LABELS)
    outcomes = evaluate(answers)
    stories = {a.backlog: {s.id: s for s in read_file(dalpiaz_dir() / a.backlog).stories} for a in answers}
    credited = [
        Outcome(o.answer, o.sentence, "supported") if o.verdict in FLAGGED and echoes_question(o, stories) else o
        for o in outcomes
    ]
    print("| check | unsupported shown as supported | supported flagged |")
    print("|---|---:|---:|")
    for name, judged in (("as shipped", outcomes), ("crediting the question's words", credited)):
        f = figures(judged)
        print(
            f"| {name} | {f.unsupported_shown}/{f.unsupported} ({f.unsupported_shown / f.unsupported:.1%}) "
            f"| {f.supported_flagged}/{f.supported} ({f.supported_flagged_share:.1%}) |"
        )


if __name__ == "__main__":
    main()
