"""Issue 31 in Chromium: the Stories tab of a real backlog of 5,000 items pages, filters and searches, and an
upload says what each of its columns became.

The backlog is GPT2SP's titanium.csv and appceleratorstudio.csv (storychat/evals/data/gpt2sp/), 5,170 Jira
items written as one Jira-shaped CSV by bench/backlog_scale.py, imported before the app starts into a library
without the meaning vectors: that import takes seconds where embedding 5,170 items takes half a minute, and the
Stories tab reads no vector (the app runs with --meaning off, so no question embeds them either). Those items are
all of type Story with no status, so jira-all-fields.csv is then uploaded through the page: its four items bring
statuses and a Bug to filter by. A question only a description answers shows that passage as its evidence.
"""

import re

import pytest

from bench.backlog_scale import jira_rows, write
from storychat.stories.formats import read_file
from storychat.stories.library import Library
from tests.browser import VIEWPORT, answered, choose_collection, loaded, on_tab, wait_until
from tests.helpers import DATA
from tests.serving import running_app

pytestmark = pytest.mark.model

IDS = "#stories [role=gridcell][data-col='0']"  # the rows in view (the table renders no others)


@pytest.fixture(scope="module")
def backlog(tmp_path_factory):
    """The app's URL, its library holding the 5,170 items as collection "backlog", and their ids in order."""
    data_dir = tmp_path_factory.mktemp("backlog")
    rows = jira_rows()
    Library(data_dir).add("backlog", read_file(write(data_dir / "backlog.csv", rows)))
    with running_app(data_dir, "--meaning", "off", "-n", "48") as url:
        yield url, [row[1] for row in rows]


def opened(chromium, backlog, tab_name: str):
    """A new page on the app, the backlog collection chosen, on the tab ``tab_name``; and the items' ids."""
    url, ids = backlog
    tab = chromium.new_page(viewport=VIEWPORT)
    tab.goto(url)
    loaded(tab)
    choose_collection(tab, "backlog")
    on_tab(tab, tab_name)
    return tab, ids


def place(tab) -> str:
    return tab.locator("#stories-place").inner_text()


def shows(tab, text: str) -> str:
    """Wait until the line under the table reads ``text``; return it."""
    wait_until(lambda: place(tab) == text, timeout_s=30)
    return text


def first_id(tab) -> str:
    return tab.locator(IDS).first.inner_text()


def choose(tab, name: str, option: str) -> None:
    """Pick ``option`` in the filter row's ``name`` dropdown."""
    tab.locator(f"#stories-filter-{name} input").click()
    tab.locator(f"#stories-filter-{name}").get_by_role("option", name=option, exact=True).click()


def test_a_5000_item_backlog_pages_searches_and_filters_and_an_upload_names_its_columns(chromium, backlog):
    tab, ids = opened(chromium, backlog, "Stories")
    shows(tab, "Page 1 of 104 · items 1–50 of 5,170")
    assert first_id(tab) == ids[0]
    tab.locator("#stories-next").click()
    shows(tab, "Page 2 of 104 · items 51–100 of 5,170")
    wait_until(lambda: first_id(tab) == ids[50], timeout_s=30)
    assert ids[0] not in tab.locator(IDS).all_inner_texts()
    tab.locator("#stories-previous").click()
    shows(tab, "Page 1 of 104 · items 1–50 of 5,170")

    # "directives" is a word of TISTUD-5279's description alone (its title: "Unable to set global JSLint options")
    tab.locator("#story-search textarea").fill("comment DIRECTIVES")
    tab.locator("#story-search textarea").press("Enter")
    shows(tab, "Page 1 of 1 · items 1–1 of 1 matching “comment” “directives” (of 5,170)")
    assert tab.locator(IDS).all_inner_texts() == ["TISTUD-5279"]
    assert tab.locator("#stories [role=gridcell]").get_by_text("Unable to set global JSLint options").is_visible()

    tab.locator("#upload input[type=file]").set_input_files(str(DATA / "jira-all-fields.csv"))
    report = tab.locator("#report")
    report.get_by_text("Added 4 stories to backlog").wait_for(timeout=120_000)
    columns = report.get_by_text(re.compile("^Columns: Summary → title, Issue key → id, Issue Type → type, Status → status,"))
    assert "Labels ×3 → labels" in columns.inner_text() and columns.inner_text().endswith("; kept as fields: Issue id, Custom field (Team)")
    # The import shows the whole collection again: the search emptied, each filter offering what the items hold.
    shows(tab, "Page 1 of 104 · items 1–50 of 5,174")
    assert tab.locator("#story-search textarea").input_value() == ""

    choose(tab, "status", "To Do (2)")
    shows(tab, "Page 1 of 1 · items 1–2 of 2 matching status To Do (of 5,174)")
    assert tab.locator(IDS).all_inner_texts() == ["BILL-43", "BILL-44"]
    choose(tab, "type", "Bug (1)")
    shows(tab, "No item of 5,174 matches type Bug, status To Do.")
    choose(tab, "status", "any")
    shows(tab, "Page 1 of 1 · items 1–1 of 1 matching type Bug (of 5,174)")
    assert tab.locator(IDS).all_inner_texts() == ["BILL-42"]
    tab.close()


def test_a_question_only_a_description_answers_shows_that_passage_as_evidence_among_5000_items(chromium, backlog):
    """TISTUD-5279's title is "Unable to set global JSLint options"; only its description says how users still set
    them ("/*jslint comment directives in their code"). Retrieval finds it among the 5,000 items and the chat shows
    the description's passage under its citation."""
    tab, _ = opened(chromium, backlog, "Chat")
    line = answered(tab, "How can users still set JSLint options?")
    assert re.match(r"Context: \d+ of 5,17\d stories", line) and "(retrieval)" in line
    chat = tab.locator("#chat")
    chat.get_by_text(re.compile(r"✓ \[TISTUD-5279\] Unable to set global JSLint options")).wait_for(timeout=30_000)
    passage = chat.get_by_text(re.compile(r"description: .*Users can still set options using /\*jslint comment directives")).first
    passage.wait_for(state="visible", timeout=10_000)
    tab.close()
