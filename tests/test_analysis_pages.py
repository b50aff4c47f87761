"""A collection a page at a time: search by words, filters, the page kept in range, and what the page line says."""

from storychat.analysis.filters import parse_scope
from storychat.analysis.pages import page
from storychat.stories.formats import read_file
from tests.helpers import DATA

LEAVE = read_file(DATA / "leave.csv").stories  # HR-101 .. HR-130
JIRA = read_file(DATA / "jira-all-fields.csv").stories  # BILL-41 .. BILL-44, with types, statuses and descriptions


def ids(shown) -> list[str]:
    return [s.id for s in shown.items]


def test_pages_split_the_items_in_their_order_and_say_where_the_page_lies():
    first, third = page(LEAVE, size=12), page(LEAVE, number=3, size=12)
    assert ids(first) == [s.id for s in LEAVE[:12]] and ids(third) == [s.id for s in LEAVE[24:]]
    assert (first.pages, first.matched, first.total) == (3, 30, 30)
    assert first.describe() == "Page 1 of 3 · items 1–12 of 30"
    assert third.describe() == "Page 3 of 3 · items 25–30 of 30"


def test_a_page_past_either_end_is_the_first_or_the_last():
    assert page(LEAVE, number=0, size=12).number == 1
    assert page(LEAVE, number=9, size=12).number == 3 and ids(page(LEAVE, number=9, size=12)) == [s.id for s in LEAVE[24:]]


def test_an_empty_collection_is_one_empty_page():
    shown = page([])
    assert (shown.number, shown.pages, shown.items) == (1, 1, []) and shown.describe() == "No items."


def test_search_finds_every_word_case_ignored_in_the_title_text_or_description():
    # "cent" only in BILL-42's description; "REMIND" in the two reminders' titles, in capitals here
    assert ids(page(JIRA, "one CENT")) == ["BILL-42"]
    assert ids(page(JIRA, "REMIND")) == ["BILL-43", "BILL-44"]
    assert ids(page(JIRA, "remind 30 days")) == ["BILL-44"]
    assert ids(page(JIRA, "bill-41")) == ["BILL-41"]


def test_a_search_and_a_filter_narrow_together_and_the_line_says_by_what():
    shown = page(JIRA, "invoice", parse_scope(["status=To Do"]))
    assert ids(shown) == ["BILL-43", "BILL-44"]
    assert shown.describe() == "Page 1 of 1 · items 1–2 of 2 matching “invoice”; status To Do (of 4)"
    assert ids(page(JIRA, scope=parse_scope(["type=bug"]))) == ["BILL-42"]


def test_nothing_matching_says_what_was_asked():
    assert page(JIRA, "payroll").describe() == "No item of 4 matches “payroll”."
    assert page(JIRA, "", parse_scope(["status=Blocked"])).describe() == "No item of 4 matches status Blocked."
