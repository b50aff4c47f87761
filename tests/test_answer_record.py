"""The ask --json record stays the contract it was: the same cases give the same bytes as at commit 2495d14,
but for the keys added since, each by name."""

import json

import pytest

from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.stories.embedder import load_embedder
from storychat.stories.formats import read_file, read_text
from tests.fakes import FakeEngine
from tests.helpers import DATA

# The records of these cases, on the fake engine with timings zeroed, as 2495d14 wrote them
# (before the answer's data left the pipeline and kept chats left answer/).
MADE_BY_2495D14 = DATA / "ask-json-2495d14.json"
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


@pytest.mark.parametrize("meaning", [True, False], ids=["meaning", "words"])
def test_the_ask_json_record_is_byte_for_byte_what_2495d14_wrote(meaning):
    kept = json.loads(MADE_BY_2495D14.read_text(encoding="utf-8"))
    made = []
    for stories, question, reply in CASES:
        for strict in (True, False):
            pipeline = Pipeline(FakeEngine(reply), options=AnswerOptions(max_tokens=200, strict=strict), embedder=load_embedder() if meaning else None)
            record = pipeline.answer(question, stories).to_json()
            assert record.pop("listing") is None  # the one key added since (issue 32): none of these is a list question
            made.append({**record, "timings": {name: 0 for name in record["timings"]}})
    half = len(made)
    expected = kept[:half] if meaning else kept[half:]
    assert json.dumps(made, ensure_ascii=False, indent=2) == json.dumps(expected, ensure_ascii=False, indent=2)
