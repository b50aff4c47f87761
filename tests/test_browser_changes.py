"""Issue 34 in Chromium: an answer whose cited story a re-import changed says so, in any kept chat opened at any
time, with the text then and now; and a story's earlier versions are shown in the Stories tab."""

import csv
import re

import pytest

from tests.browser import PASSWORD, VIEWPORT, answered, log_in, new_chat, on_tab, upload_leave, wait_until
from tests.helpers import DATA
from tests.serving import running_app

pytestmark = pytest.mark.model

ADDED = "in the mobile app as well"


def reworded(tmp_path, story_id: str):
    """leave.csv as a later export of the same file: ``story_id``'s description reworded."""
    with open(DATA / "leave.csv", encoding="utf-8", newline="") as source:
        rows = list(csv.reader(source))
    for row in rows:
        if row[0] == story_id:
            row[3] = row[3].rstrip(".") + f", {ADDED}."
    (tmp_path / "later").mkdir()
    path = tmp_path / "later" / "leave.csv"
    with open(path, "w", encoding="utf-8", newline="") as target:
        csv.writer(target).writerows(rows)
    return path


def test_an_answer_whose_cited_story_changed_says_so_after_a_reload_with_the_text_then_and_now(chromium, tmp_path):
    with running_app(tmp_path, "--auth", f"alice:{PASSWORD}", "-n", "40") as url:
        tab = chromium.new_page(viewport=VIEWPORT)
        log_in(tab, url, PASSWORD, "alice")
        new_chat(tab, "leave")
        upload_leave(tab)
        answered(tab, "Can an employee see their leave balance?")
        cited = re.search(r"\[(HR-\d+)\]", tab.locator("#chat [data-testid=bot]").first.inner_text()).group(1)
        on_tab(tab, "Stories")
        tab.locator("#upload input[type=file]").set_input_files(str(reworded(tmp_path, cited)))
        tab.locator("#report").get_by_text(re.compile(rf"1 changed \({cited}\)")).wait_for(timeout=60_000)

        tab.reload()
        notice = tab.locator("#chat").get_by_text(f"⚠ {cited} changed after this answer")
        notice.wait_for(timeout=60_000)
        notice.click()
        wait_until(lambda: "Now:" in tab.locator("#chat").inner_text(), timeout_s=10)
        shown = tab.locator("#chat").inner_text()
        then, now = shown.split("When answered:", 1)[1].split("Now:", 1)
        assert ADDED not in then and ADDED in now.split("\n", 1)[0]

        on_tab(tab, "Stories")
        tab.get_by_role("button", name=re.compile("Manage collection")).click()
        tab.locator("#history-id input, #history-id textarea").first.fill(cited)
        tab.locator("#show-history").click()
        versions = tab.locator("#versions")
        versions.get_by_text("changed; it was:").wait_for(timeout=30_000)
        assert ADDED not in versions.inner_text()
        tab.close()
