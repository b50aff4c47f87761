"""Turn `storychat eval --json` reports into an unlabelled sheet for storychat/evals/support-labels.jsonl.

Each answer the model wrote becomes one line: question, backlog, raw text,
cited ids and the text of each cited story, and its sentences with the ids
each is judged against. Every label is left empty for the annotator; the
sheet holds no verdict of the check.

    storychat eval --qa storychat/evals/qa-dalpiaz.jsonl -c 4096 -n 48 --json > qa.json
    storychat eval --qa storychat/evals/qa-extra.jsonl -c 4096 -n 48 --sweep-gate --json > extra.json
    python bench/support_sheet.py qa-dalpiaz=qa.json [qa-dalpiaz=gate-off.json] qa-extra=extra.json > sheet.jsonl

A report made with the gate off (``--sweep-gate`` or ``--min-match 0``) adds
the answers the default gate would have refused, marked ``gate_refuses``; a
question answered in two reports keeps the answer the model wrote. ``line``
is the question's line in ``storychat/evals/NAME.jsonl``, whichever file the
report was made from.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from storychat import evals
from storychat.answer.citations import extract_ids
from storychat.answer.pipeline import GATE
from storychat.answer.support import check_support
from storychat.evals import dalpiaz_dir
from storychat.evals.qa import load_questions
from storychat.stories.formats import read_file


def main(arguments: list[str]) -> int:
    gate = GATE["words"]  # the gate_refuses mark: what the words-only gate, the default before issue 22, did
    answers: dict[tuple[str, str], dict] = {}
    backlogs: dict[str, dict] = {}
    for argument in arguments:
        name, _, path = argument.partition("=")
        lines = {q.question: q.line for q in load_questions(Path(evals.__file__).with_name(f"{name}.jsonl"))}
        for r in json.loads(Path(path).read_text())["results"]:
            key = (name, r["question"])
            if r["gated"] or (key in answers and answers[key]["raw"]):
                continue
            if r["backlog"] not in backlogs:
                backlogs[r["backlog"]] = {s.id: s for s in read_file(dalpiaz_dir() / r["backlog"]).stories}
            stories = backlogs[r["backlog"]]
            cited = extract_ids(r["raw"], stories)
            answers[key] = {
                "set": name,
                "line": lines[r["question"]],
                "backlog": r["backlog"],
                "question": r["question"],
                "best_match": r["best_match"],
                "gate_refuses": r["best_match"] < gate,
                "raw": r["raw"],
                "citations": cited,
                "stories": {i: stories[i].text for i in cited if i in stories},
                "sentences": [
                    {"text": s.text, "cites": list(s.cites), "against": list(s.against), "label": None}
                    for s in check_support(r["raw"], stories).sentences
                ],
            }
    for record in sorted(answers.values(), key=lambda a: (a["set"] != "qa-dalpiaz", a["set"], a["line"])):
        print(json.dumps(record, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
