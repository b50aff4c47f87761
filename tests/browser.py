"""Driving the app in Chromium: the login the browser tests start it with, and what a user does on its page."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.helpers import DATA

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
USER, PASSWORD = "tester", "correct-horse"
VIEWPORT = {"width": 1366, "height": 768}
ANSWER_TIMEOUT_S = 240

# Every word (hyphens and slashes count as breaks) of the text under `selector` that lies on more
# than one line: a word broken inside itself.
BROKEN_WORDS = """(selector) => {
    const broken = [];
    for (const root of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (const word of node.textContent.matchAll(/[^\\s\\-\\/]+/g)) {
                const range = document.createRange();
                range.setStart(node, word.index);
                range.setEnd(node, word.index + word[0].length);
                const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
                if (lines.size > 1) broken.push(word[0]);
            }
        }
    }
    return broken;
}"""


def paste(page, text: str, reported) -> None:
    """Paste ``text`` in the Stories tab, wait for the report to say ``reported``, and go back to the chat."""
    on_tab(page, "Stories")
    page.locator("#paste textarea").fill(text)
    page.locator("#add").click()
    page.locator("#report").get_by_text(reported).wait_for(timeout=60_000)
    on_tab(page, "Chat")


def quick_action(page, name: str) -> None:
    """Press a quick action, opening their menu first."""
    open_quick_actions(page)
    page.get_by_role("button", name=name, exact=True).click()


def open_quick_actions(page) -> None:
    if not page.get_by_role("button", name="Find duplicates", exact=True).is_visible():
        page.locator("#quick-menu").get_by_text("Quick actions:").click()


def on_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def log_in(page, url: str, password: str, user: str = USER) -> None:
    """Log in; with the right password, wait until the page has opened the user's latest chat."""
    page.goto(url)
    page.locator("input[type=text]").fill(user)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Login").click()
    if password == PASSWORD:
        loaded(page)


def loaded(page) -> None:
    page.locator("#chats").wait_for(timeout=60_000)  # the app's page, not the login page
    page.locator("#chats").get_by_text("Loading your chats").wait_for(state="detached", timeout=60_000)


def choose_collection(page, name: str) -> None:
    """Pick (or start) collection ``name`` and wait until the page shows it."""
    if page.locator("#collection input").input_value() != name:
        page.locator("#collection input").fill(name)
        page.locator("#collection input").press("Enter")
    page.locator("#status").get_by_text(name, exact=True).wait_for(timeout=60_000)


def new_chat(page, collection: str) -> None:
    choose_collection(page, collection)
    page.locator("#new-chat").click()
    wait_until(lambda: page.locator("#chat [data-testid=bot], #chat [data-testid=user]").count() == 0, timeout_s=30)
    on_tab(page, "Chat")


def ask(page, question: str) -> None:
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()


def last_bot_text(page) -> str:
    """The newest assistant message: the answer while it streams, its evidence once done."""
    bots = page.locator("#chat [data-testid=bot]")
    return bots.last.inner_text() if bots.count() else ""


def coverage(page) -> str:
    return page.locator("#coverage").inner_text()


def wait_until(condition, timeout_s: float = ANSWER_TIMEOUT_S, step_ms: int = 100):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step_ms / 1000)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {condition.__name__}")


def upload_leave(tab, name: str = "leave.csv", stories: int = 30) -> None:
    """A leave backlog of tests/data (leave.csv's 30 stories) into the current collection (a test before may have
    imported it already)."""
    on_tab(tab, "Stories")
    tab.locator("#upload input[type=file]").set_input_files(str(DATA / name))
    tab.locator("#report").get_by_text(re.compile(rf"^(Added {stories} stories|Updated)")).wait_for(timeout=60_000)
    on_tab(tab, "Chat")


def answered(tab, question: str) -> str:
    """Ask, wait for the answer's coverage line, and return it."""
    before = coverage(tab)
    ask(tab, question)
    wait_until(lambda: coverage(tab) != before and coverage(tab).startswith("Context:"))
    # The box empties once the answer is kept: until then Gradio ignores another press of Ask.
    wait_until(lambda: tab.locator("#question textarea").input_value() == "", timeout_s=30)
    return coverage(tab)
