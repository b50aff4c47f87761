"""Issue 31 in Chromium: a question that only an item's description answers shows that passage as its evidence."""

import re

import pytest

from tests.browser import PASSWORD, VIEWPORT, answered, log_in, new_chat, on_tab
from tests.helpers import DATA
from tests.serving import running_app

pytestmark = pytest.mark.model


def test_a_question_answered_from_a_description_shows_that_passage_as_the_evidence_in_the_chat(chromium, tmp_path):
    """USERGRID-17's title is "Expose refresh token at the REST tier"; only its description says that refresh
    tokens were in the core and were removed. The bundled model answers from it, and the chat shows that passage."""
    with running_app(tmp_path, "--auth", f"alice:{PASSWORD}", "-n", "40") as url:
        tab = chromium.new_page(viewport=VIEWPORT)
        log_in(tab, url, PASSWORD, "alice")
        new_chat(tab, "usergrid")
        on_tab(tab, "Stories")
        tab.locator("#upload input[type=file]").set_input_files(str(DATA / "gpt2sp-usergrid.csv"))
        tab.locator("#report").get_by_text(re.compile(r"^Added 5 ")).wait_for(timeout=60_000)
        on_tab(tab, "Chat")
        answered(tab, "Were refresh tokens ever in the core?")
        chat = tab.locator("#chat")
        chat.get_by_text(re.compile(r"✓ \[USERGRID-17\] Expose refresh token at the REST tier")).wait_for(timeout=30_000)
        passage = chat.get_by_text(re.compile(r"description: … .*refresh tokens were in the core but were removed some time ago"))
        passage.wait_for(state="visible", timeout=10_000)
        assert "{" not in passage.inner_text()
        tab.close()
