"""The chat's filter row in Chromium (issue 32): it offers the fields a collection's items have, follows the
collection, and scopes the questions and quick actions asked after a choice; the coverage line names it."""

import pytest

from tests.browser import (
    PASSWORD, USER, VIEWPORT, ask, choose_collection, coverage, log_in, new_chat, on_tab, open_quick_actions, upload_leave,
    wait_until,
)
from tests.helpers import DATA
from tests.serving import running_app

pytestmark = pytest.mark.model

FIELDS = ("type", "status", "sprint", "label", "component", "epic", "role")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("filters"), "--auth", f"{USER}:{PASSWORD}", "-n", "40") as url:
        yield url


def bill_chat(chromium, url: str, viewport=VIEWPORT):
    """A tab in a new chat on collection "bill", holding the Jira export with every field (BILL-41 In Progress,
    42 Done, 43 and 44 To Do), with the filter row open."""
    tab = chromium.new_page(viewport=viewport)
    log_in(tab, url, PASSWORD)
    new_chat(tab, "bill")
    on_tab(tab, "Stories")
    tab.locator("#upload input[type=file]").set_input_files(str(DATA / "jira-all-fields.csv"))
    tab.locator("#report").get_by_text("Read from jira-all-fields.csv").wait_for(timeout=60_000)  # a test before may have imported it
    on_tab(tab, "Chat")
    open_filters(tab)
    return tab


def open_filters(tab) -> None:
    """Open the filter row, unless it is open (its fields may all be hidden: a collection without any)."""
    if not tab.locator("#filter-row .label-wrap.open").count():
        tab.locator("#filter-row").get_by_text("Filters").click()


def shown_fields(tab) -> list[str]:
    return [name for name in FIELDS if tab.locator(f"#filter-{name}").is_visible()]


def pick(tab, field: str, option: str) -> None:
    tab.locator(f"#filter-{field} input").click()
    tab.get_by_role("option", name=option).click()
    wait_until(lambda: tab.locator(f"#filter-{field} input").input_value() == option, timeout_s=10)


def chat_text(tab) -> str:
    return "\n".join(tab.locator("#chat [data-testid=bot]").all_inner_texts())


def test_a_filter_set_in_the_row_scopes_the_question_and_the_quick_action_and_the_coverage_line_names_it(chromium, app):
    tab = bill_chat(chromium, app)
    wait_until(lambda: shown_fields(tab) == list(FIELDS), timeout_s=30)
    pick(tab, "status", "To Do (2)")
    ask(tab, "When do customers get a reminder about an overdue invoice?")
    wait_until(lambda: coverage(tab).startswith("Filter: 2 of 4 stories: status To Do · Context: 2 of 2 stories"))
    answer = chat_text(tab)
    assert "[BILL-43]" in answer or "[BILL-44]" in answer, answer
    assert "BILL-41" not in answer and "BILL-42" not in answer, answer
    open_quick_actions(tab)
    tab.locator("#quick-menu").get_by_label("Word").fill("invoice")
    tab.get_by_role("button", name="Stories mentioning", exact=True).click()
    title = "Stories mentioning 'invoice': 2 (filter: 2 of 4 stories: status To Do)"
    tab.locator("#chat").get_by_text(title).first.wait_for(timeout=60_000)
    wait_until(lambda: "Filter: 2 of 4 stories: status To Do" in coverage(tab) and coverage(tab) != "")
    listed = chat_text(tab).split("Stories mentioning 'invoice'")[-1]
    assert "[BILL-43]" in listed and "[BILL-44]" in listed and "BILL-41" not in listed and "BILL-42" not in listed, listed
    tab.close()


def test_the_row_offers_only_the_fields_a_collection_has_follows_the_collection_and_fits_390_px(chromium, app):
    tab = bill_chat(chromium, app)
    wait_until(lambda: shown_fields(tab) == list(FIELDS), timeout_s=30)
    new_chat(tab, "leave")  # leave.csv has a type, epics and roles, and no status, sprint, label or component
    upload_leave(tab)
    open_filters(tab)
    wait_until(lambda: shown_fields(tab) == ["type", "epic", "role"], timeout_s=30)
    choose_collection(tab, "bill")
    wait_until(lambda: shown_fields(tab) == list(FIELDS), timeout_s=30)
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.wait_for_timeout(500)  # the row lays its dropdowns out again
    boxes = [tab.locator(f"#filter-{name}").bounding_box() for name in FIELDS]
    assert all(0 <= box["x"] and box["x"] + box["width"] <= 390 for box in boxes), boxes
    tab.close()
