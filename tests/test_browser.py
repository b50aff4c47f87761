"""End to end in Chromium: log in, paste stories, watch an answer stream, stop one,
and see story HTML shown as text. Saves docs/screenshot.png for the README."""

import re
import time
from pathlib import Path

import pytest

from storychat.stories.formats import read_file
from tests.serving import ROOT, running_app

pytestmark = pytest.mark.model

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
USER, PASSWORD = "tester", "correct-horse"
HOSTILE = "<script>window.__pwned=1</script><b>bold</b>"
ANSWER_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: run `make test`, or `.venv/bin/pip install playwright==1.65.2`.")
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install it with `apt-get install -y chromium` (`make test` does this as root).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(chromium, dalpiaz, tmp_path_factory):
    """A logged-in tab on an app with short answers (-n 40)."""
    yield from opened(chromium, dalpiaz, tmp_path_factory, "40")


@pytest.fixture(scope="module")
def long_page(chromium, dalpiaz, tmp_path_factory):
    """A logged-in tab on an app with long answers (-n 300), to press Stop while one streams."""
    yield from opened(chromium, dalpiaz, tmp_path_factory, "300")


def opened(chromium, dalpiaz, tmp_path_factory, max_tokens: str):
    """Start an app with a login, log in, and paste the first planning-poker stories."""
    data_dir = tmp_path_factory.mktemp("browser")
    with running_app(data_dir, "--auth", f"{USER}:{PASSWORD}", "-n", max_tokens) as url:
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        log_in(page, url, PASSWORD)
        stories = [s.text for s in read_file(dalpiaz / "g13-planningpoker.txt").stories if not s.is_note][:8]
        page.locator("#paste textarea").fill("\n".join(stories))
        page.locator("#add").click()
        page.locator("#report").get_by_text("Added 8 stories").wait_for(timeout=60_000)
        yield page
        page.close()


def log_in(page, url: str, password: str) -> None:
    page.goto(url)
    page.locator("input[type=text]").fill(USER)
    page.locator("input[type=password]").fill(password)
    page.get_by_role("button", name="Login").click()


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


def test_a_wrong_password_does_not_open_the_app(chromium, page):
    other = chromium.new_page()
    log_in(other, page.url, "wrong")
    other.get_by_text("Incorrect Credentials").wait_for(timeout=30_000)
    assert other.locator("#paste").count() == 0
    other.close()


# Every text the newest answer shows, recorded by the page itself: polling from Python can miss
# the steps of a short answer that streams fast.
RECORD_ANSWER_TEXTS = """() => {
    window.__answerObserver?.disconnect();
    const texts = window.__answerTexts = [];
    const chat = document.querySelector('#chat');
    window.__answerObserver = new MutationObserver(() => {
        const bots = chat.querySelectorAll('[data-testid=bot]');
        const text = bots.length ? bots[bots.length - 1].innerText : '';
        if (text.startsWith('[') && text !== texts[texts.length - 1]) texts.push(text);
    });
    window.__answerObserver.observe(chat, {childList: true, subtree: true, characterData: true});
}"""


def test_an_answer_streams_in_then_shows_its_coverage_and_evidence(page):
    page.evaluate(RECORD_ANSWER_TEXTS)
    ask(page, "Can the moderator edit an item in the list?")
    wait_until(lambda: coverage(page).startswith("Context:"))
    partials = page.evaluate("window.__answerTexts")
    # Several texts, each extending the one before: the answer grew in place.
    assert len(partials) >= 2 and all(a in b for a, b in zip(partials, partials[1:])), partials
    assert partials[-1].startswith("[paste-"), partials
    assert "8 of 8 stories" in coverage(page)
    assert page.locator("#chat").get_by_text(re.compile(r"Evidence: \d+ cited stor(y|ies) checked")).count() == 1
    page.locator("#chat").get_by_text(re.compile(r"✓ \[paste-\d+\] As a moderator")).first.wait_for(state="visible", timeout=10_000)
    page.wait_for_timeout(1000)  # let the evidence panel finish opening before the screenshot
    page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)


def test_stop_cancels_a_streaming_answer_and_the_next_question_is_answered(long_page):
    ask(long_page, "Which stories describe what the moderator wants to do with a round?")
    wait_until(lambda: last_bot_text(long_page).startswith("["))  # the first tokens are in
    long_page.locator("#stop").click()
    stopped_at = last_bot_text(long_page)
    time.sleep(3)
    assert not coverage(long_page).startswith("Context:")  # the stopped answer never finished
    assert len(last_bot_text(long_page)) <= len(stopped_at) + 40  # at most a token or two were in flight
    ask(long_page, "Who can invite estimators to the game?")
    wait_until(lambda: coverage(long_page).startswith("Context:"))


def test_html_in_stories_and_questions_is_shown_as_text_and_never_runs(page):
    page.locator("#paste textarea").fill(f"XSS-1: As a tester, I want {HOSTILE} shown as text, so that scripts never run.")
    page.locator("#add").click()
    page.locator("#report").get_by_text("Added 1 stories").wait_for(timeout=60_000)
    ask(page, f"What does the tester want done with {HOSTILE}?")
    before = coverage(page)
    wait_until(lambda: coverage(page) != before)
    assert page.locator("#stories").get_by_text(HOSTILE).count() >= 1
    # The chat and the coverage line are separate components: the question may render a moment later.
    page.locator("#chat [data-testid=user]").get_by_text(HOSTILE).first.wait_for(timeout=10_000)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("[...document.scripts].some(s => s.textContent.includes('__pwned'))") is False
    assert page.locator("#stories b, #chat b").filter(has_text="bold").count() == 0


def test_read_everything_reads_every_story_pass_by_pass_and_says_so(page):
    box = page.locator("#exhaustive input[type=checkbox]")
    box.check()
    try:
        ask(page, "Which stories are about the moderator?")
        wait_until(lambda: "pass 1 of 1" in coverage(page), step_ms=20)  # the progress of the pass
        wait_until(lambda: coverage(page).startswith("Context:"))
        assert "(exhaustive)" in coverage(page) and "read all 8 stories in 1 pass" in coverage(page)
    finally:
        box.uncheck()
