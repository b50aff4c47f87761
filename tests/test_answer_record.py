"""The ask --json record is a contract: the same cases give the same bytes as the record kept in tests/data.

A deliberate change to the record regenerates that file (``python -m tests.test_answer_record``), and the
commit says what changed. It was byte for byte what 2495d14 wrote until the answer's data left the pipeline
(issue 30); since then: a claim of absence is checked (issue 33), the record has ``listing`` (issue 32), and a
story's digest covers its title (issue 31).
"""

import json

from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.stories.embedder import load_embedder
from storychat.stories.formats import read_file, read_text
from tests.fakes import FakeEngine
from tests.helpers import DATA

KEPT = DATA / "ask-json.json"  # the records of CASES on the fake engine, timings zeroed
BOOKSHOP = read_text((DATA / "bookshop.txt").read_text(encoding="utf-8")).stories
LEAVE = read_file(DATA / "leave.csv").stories
PAYPAL = "Can users pay with PayPal?"
CASES = [
    (BOOKSHOP, "How can I follow my parcel?", "[paste-9] As a customer, I want to follow where my parcel is. The answer is: "
     "[paste-10] As an administrator, I want to lock an account after five failed logins."),
    (BOOKSHOP, PAYPAL, "[paste-3] Users pay with PayPal."),
    (BOOKSHOP, PAYPAL, "Users pay with PayPal."),
    (BOOKSHOP, "Can shoppers keep a list of books to purchase at a later time?", "[paste-1] x"),
    (LEAVE, "Can a manager delegate approvals while on holiday?", "[HR-107] Yes, a manager can delegate approvals to a deputy while on holiday."),
    (LEAVE, "Can managers see salaries?", "[HR-106] No story mentions salaries. [HR-99] Invented."),
]


def records() -> list[dict]:
    """Every case, strict and not, with meaning and with words only."""
    made = []
    for meaning in (True, False):
        for stories, question, reply in CASES:
            for strict in (True, False):
                options = AnswerOptions(max_tokens=200, strict=strict)
                record = Pipeline(FakeEngine(reply), options=options, embedder=load_embedder() if meaning else None).answer(question, stories).to_json()
                made.append({**record, "timings": {name: 0 for name in record["timings"]}})
    return made


def as_text(made: list[dict]) -> str:
    return json.dumps(made, ensure_ascii=False, indent=2) + "\n"


def test_the_ask_json_record_is_byte_for_byte_the_one_kept():
    assert as_text(records()) == KEPT.read_text(encoding="utf-8")


if __name__ == "__main__":
    KEPT.write_text(as_text(records()), encoding="utf-8")
