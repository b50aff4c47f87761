"""End to end in Chromium: log in, paste stories, watch an answer stream, stop one,
and see story HTML shown as text; the polish of issue 17 (progress, mistakes, quick actions, units,
the self-test's Stop). Saves docs/screenshot.png and docs/screenshot-quick-action.png for the README."""

import re
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from storychat.stories.formats import read_file
from storychat.stories.library import Library
from storychat.ui.library import TABLE_HEADERS
from tests.browser import (
    ANSWER_TIMEOUT_S, BROKEN_WORDS, PASSWORD, USER, ask, coverage, last_bot_text, log_in, new_chat, on_tab, paste, quick_action,
    upload_leave, wait_until,
)
from tests.helpers import DATA, ROOT, week_later
from tests.serving import running_app

pytestmark = pytest.mark.model

HOSTILE = "<script>window.__pwned=1</script><b>bold</b>"


@pytest.fixture(scope="module")
def app(dalpiaz, tmp_path_factory):
    """An app with a login and short answers (-n 40): its URL and its server log."""
    yield from started(tmp_path_factory, "40")


@pytest.fixture(scope="module")
def page(chromium, app, dalpiaz):
    """A logged-in tab on ``app``, with the first planning-poker stories pasted."""
    yield from opened(chromium, app, dalpiaz)


@pytest.fixture(scope="module")
def long_page(chromium, dalpiaz, tmp_path_factory):
    """A logged-in tab on an app with long answers (-n 300), to press Stop while one streams."""
    for app in started(tmp_path_factory, "300"):
        yield from opened(chromium, app, dalpiaz)


def started(tmp_path_factory, max_tokens: str):
    data_dir = tmp_path_factory.mktemp("browser")
    with running_app(data_dir, "--auth", f"{USER}:{PASSWORD}", "-n", max_tokens) as url:
        yield url, data_dir / "server.log"


def opened(chromium, app, dalpiaz):
    """Log in, start a new chat in my-stories and paste the first planning-poker stories (a test before may
    have pasted them already): the chat has no earlier turn to change the prompt."""
    url, server_log = app
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.server_log = server_log
    log_in(page, url, PASSWORD)
    new_chat(page, "my-stories")
    paste_poker(page, dalpiaz)
    yield page
    page.close()


def paste_poker(page, dalpiaz) -> None:
    stories = [s.text for s in read_file(dalpiaz / "g13-planningpoker.txt").stories if not s.is_note][:8]
    paste(page, "\n".join(stories), re.compile(r"Added (8|0) stories"))


def test_the_first_page_says_to_add_stories_first_until_there_are_some(chromium, app, dalpiaz):
    tab = chromium.new_page(viewport={"width": 1400, "height": 1000})
    log_in(tab, app[0], PASSWORD)
    tab.locator("#paste textarea").wait_for(state="visible", timeout=30_000)  # the Stories tab comes first
    on_tab(tab, "Chat")
    hint = tab.locator("#first-steps")
    hint.get_by_text("Paste or upload them in the Stories tab").wait_for(timeout=60_000)
    assert tab.locator("#chat [data-testid=bot]").count() == 0
    paste_poker(tab, dalpiaz)
    hint.wait_for(state="hidden", timeout=30_000)
    tab.close()


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
    wait_until(lambda: page.locator("#question textarea").input_value() == "", timeout_s=10)  # answered: box empties
    assert page.locator("#chat").get_by_text(re.compile(r"Evidence: \d+ cited stor(y|ies) checked")).count() == 1
    page.locator("#chat").get_by_text(re.compile(r"✓ \[paste-\d+\] As a moderator")).first.wait_for(state="visible", timeout=10_000)
    page.wait_for_timeout(1000)  # let the evidence panel finish opening before the screenshot
    page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)


def test_stop_can_be_pressed_only_while_an_answer_runs(chromium, app, dalpiaz):
    tab = next(opened(chromium, app, dalpiaz))
    stop = tab.locator("#stop")
    assert stop.is_disabled()
    ask(tab, "Who can invite estimators to the game?")
    wait_until(lambda: last_bot_text(tab).startswith(("⏳", "[")))  # the model reads its prompt, or writes
    assert stop.is_enabled()
    wait_until(lambda: coverage(tab).startswith("Context:"))
    wait_until(stop.is_disabled, timeout_s=10)
    tab.close()


def test_an_unsupported_sentence_is_marked_and_only_a_supported_citation_gets_a_check_mark(chromium, app, dalpiaz):
    """Issue 16 in the browser. Each question in a fresh tab, so no earlier turn changes the prompt."""
    tab = next(opened(chromium, app, dalpiaz))
    # The bundled model answers "[paste-2] As a moderator, I want to invite estimators by email.":
    # paste-2 invites them by a URL.
    ask(tab, "Can the moderator invite estimators by email?")
    wait_until(lambda: coverage(tab).startswith("Context:"))
    marked = tab.locator("#chat .sentence-partly, #chat .sentence-unsupported")
    assert marked.count() == 1 and marked.first.inner_text().startswith("⚠ [paste-2] As a moderator, I want to invite estimators by email")
    # A screen reader hears the marked sentence's words, not the HTML that marks it.
    labels = tab.evaluate("[...document.querySelectorAll('#chat [aria-label]')].map(el => el.getAttribute('aria-label'))")
    assert any("invite estimators by email" in label for label in labels) and not [label for label in labels if "<" in label], labels
    chat = tab.locator("#chat").inner_text()
    assert "⚠ [paste-2]" in chat and "✓ [paste-2]" not in chat and "✓" not in chat
    assert "the story says “As a moderator, I want to invite estimators by giving them a URL" in chat
    assert "has no sentence that the stories it cites support" in chat
    tab.close()
    tab = next(opened(chromium, app, dalpiaz))
    ask(tab, "Can the moderator edit an item in the list?")  # a faithful quote of paste-7
    wait_until(lambda: coverage(tab).startswith("Context:"))
    assert tab.locator("#chat .sentence-partly, #chat .sentence-unsupported").count() == 0
    tab.locator("#chat").get_by_text(re.compile(r"✓ \[paste-7\] As a moderator")).wait_for(timeout=10_000)
    tab.close()


def test_a_paraphrase_is_answered_from_the_story_it_means_with_the_mark_of_other_words(chromium, app, dalpiaz):
    """Issue 22: "save books to read later" is the wishlist story in other words. The answer's sentence
    is marked ≈, not ⚠, and its citation gets ≈, not the ✓ of a word-for-word match."""
    tab = chromium.new_page(viewport={"width": 1400, "height": 1000})
    log_in(tab, app[0], PASSWORD)
    new_chat(tab, "bookshop")
    paste(tab, (ROOT / "tests" / "data" / "bookshop.txt").read_text(encoding="utf-8"), re.compile(r"Added (13|0) stories"))
    ask(tab, "Can customers save books to read later?")
    wait_until(lambda: coverage(tab).startswith("Context:"))
    marked = tab.locator("#chat .sentence-paraphrased")
    assert marked.count() == 1 and marked.first.inner_text().startswith("≈ [paste-")
    title = marked.first.get_attribute("title")
    assert title.startswith("supported in other words: [paste-") and "addresses the question" in title
    assert tab.locator("#chat .sentence-partly, #chat .sentence-unsupported").count() == 0
    chat = tab.locator("#chat").inner_text()
    wishlist = re.search(r"≈ \[(paste-\d+)\] As a customer, I want to save books to a wishlist", chat)
    assert wishlist, chat
    assert f"✓ [{wishlist.group(1)}]" not in chat and "Supported in other words" in chat
    assert "in other words" in tab.locator("#chat").get_by_text(re.compile(r"^Evidence:")).first.inner_text()
    tab.close()


# Every text the newest answer's bubble shows, whatever it starts with.
RECORD_BUBBLE_TEXTS = RECORD_ANSWER_TEXTS.replace("text.startsWith('[') && ", "")


def test_the_bubble_shows_progress_while_the_model_reads_and_stop_marks_the_answer_stopped(long_page):
    long_page.evaluate(RECORD_BUBBLE_TEXTS)
    ask(long_page, "Which stories describe what the moderator wants to do with a round?")
    wait_until(lambda: last_bot_text(long_page).startswith("["))  # the first tokens are in
    long_page.locator("#stop").click()
    stopped_at = last_bot_text(long_page)
    long_page.locator("#chat").get_by_text("Stopped: the answer was not finished").wait_for(timeout=30_000)
    wait_until(long_page.locator("#stop").is_disabled, timeout_s=10)
    # Before the first word, the bubble said what the model was reading, and the seconds went by.
    progress = [t for t in long_page.evaluate("window.__answerTexts") if t.startswith("⏳")]
    assert any(t.startswith("⏳ Reading 8 of 8 stories") for t in progress), progress
    assert all(re.search(r" · \d+ s$", t) for t in progress), progress
    assert len({t.rsplit("·", 1)[1] for t in progress}) >= 2, progress
    time.sleep(3)
    assert not coverage(long_page).startswith("Context:")  # the stopped answer never finished
    answer, mark = last_bot_text(long_page).split("⏹")
    assert answer.strip() in stopped_at and len(answer.strip()) <= len(stopped_at) + 40  # a token or two in flight
    long_page.get_by_text("Export this chat").click()
    long_page.get_by_role("button", name="Markdown").click()
    link = long_page.locator("a[href*='transcript-my-stories.md']")
    link.wait_for(timeout=30_000)
    exported = Path(unquote(link.get_attribute("href").split("file=", 1)[1])).read_text(encoding="utf-8")
    assert "Which stories describe what the moderator wants" in exported and "Stopped: the answer was not finished" in exported
    ask(long_page, "Who can invite estimators to the game?")
    wait_until(lambda: coverage(long_page).startswith("Context:"))
    # The terminal showed how far the model had loaded, and what took the rest of the start.
    log = long_page.server_log.read_text()
    assert re.search(r"Loading \S+\.gguf: 100%\n", log) and "measuring prefill and decode speed" in log, log[:2000]


SCROLLED = "() => document.querySelector('#chat .bubble-wrap').scrollTop"
SCROLLABLE = "() => { const w = document.querySelector('#chat .bubble-wrap'); return w.scrollHeight > w.clientHeight + 50; }"
IN_VIEW = """() => {
    const wrap = document.querySelector('#chat .bubble-wrap'), users = wrap.querySelectorAll('[data-testid=user]');
    const box = wrap.getBoundingClientRect(), last = users[users.length - 1].getBoundingClientRect();
    return last.top >= box.top - 1 && last.top < box.bottom;
}"""


def test_the_chat_stays_where_the_user_scrolled_up_while_an_answer_streams_and_follows_the_next_question(long_page):
    """The chat holds the two turns of the test before; in a short window it is taller than its box."""
    long_page.set_viewport_size({"width": 1400, "height": 640})
    try:
        before = coverage(long_page)
        ask(long_page, "Which stories describe what the moderator wants to do with a round?")
        wait_until(lambda: last_bot_text(long_page).startswith("[") and long_page.evaluate(SCROLLABLE))  # streaming
        long_page.locator("#chat .bubble-wrap").hover()
        long_page.mouse.wheel(0, -20_000)
        wait_until(lambda: long_page.evaluate(SCROLLED) == 0, timeout_s=10)
        wait_until(lambda: coverage(long_page) != before and coverage(long_page).startswith("Context:"))
        long_page.wait_for_timeout(1000)
        assert long_page.evaluate(SCROLLED) == 0  # the rest of the answer did not pull the chat down
        wait_until(lambda: long_page.locator("#question textarea").input_value() == "", timeout_s=30)
        ask(long_page, "Who can invite estimators to the game?")
        wait_until(lambda: long_page.evaluate(SCROLLED) > 0 and long_page.evaluate(IN_VIEW), timeout_s=60)  # it follows again
        wait_until(lambda: long_page.locator("#question textarea").input_value() == "")
    finally:
        long_page.set_viewport_size({"width": 1400, "height": 1000})


def test_html_in_stories_and_questions_is_shown_as_text_and_never_runs(page):
    paste(page, f"XSS-1: As a tester, I want {HOSTILE} shown as text, so that scripts never run.", "Added 1 stories")
    ask(page, f"What does the tester want done with {HOSTILE}?")
    before = coverage(page)
    wait_until(lambda: coverage(page) != before)
    on_tab(page, "Stories")
    page.locator("#stories").get_by_text(HOSTILE).first.wait_for(timeout=10_000)
    on_tab(page, "Chat")
    # The chat and the coverage line are separate components: the question may render a moment later.
    page.locator("#chat [data-testid=user]").get_by_text(HOSTILE).first.wait_for(timeout=10_000)
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("[...document.scripts].some(s => s.textContent.includes('__pwned'))") is False
    assert page.locator("#stories b, #chat b").filter(has_text="bold").count() == 0


def test_a_mistake_is_told_beside_the_chat_which_stays_as_it_was(page):
    quick_action(page, "Find duplicates")
    chat = page.locator("#chat")
    chat.get_by_text("Find duplicates:").wait_for(timeout=60_000)
    ask(page, "")
    page.get_by_text("Type a question about the stories first.").first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert chat.get_by_text("Find duplicates:").count() == 1
    assert chat.get_by_text("Error", exact=True).count() == 0
    assert page.locator("#coverage").get_by_text("Error", exact=True).count() == 0
    too_long = "Which stories " + "really " * 700
    ask(page, too_long)
    page.get_by_text(re.compile(r"The question is [\d,]+ characters; the limit is 4,000")).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    assert page.locator("#question textarea").input_value() == too_long  # kept, to be shortened
    log = page.server_log.read_text()
    assert "Traceback" not in log and "user mistake: Type a question about the stories first." in log
    # A button that needs a choice waits for it, and says so; an empty picker says why it is empty.
    assert page.get_by_role("button", name="Stories by role").is_disabled()
    assert page.get_by_role("button", name="Summarise an epic").is_disabled()
    page.get_by_text("Pick a role first, then list its stories.").wait_for(timeout=10_000)
    page.get_by_text("None: no story has an epic").wait_for(timeout=10_000)


def test_a_new_warning_replaces_the_one_before_it(page):
    shown = page.locator("[data-testid=toast-text]").filter(visible=True)
    ask(page, "")
    shown.filter(has_text="Type a question about the stories first.").last.wait_for(timeout=30_000)
    too_long = re.compile(r"^The question is [\d,]+ characters; the limit is 4,000")
    ask(page, "Which stories " + "really " * 700)
    shown.filter(has_text=too_long).last.wait_for(timeout=30_000)
    assert len(shown.all_inner_texts()) == 1 and too_long.match(shown.last.inner_text()), shown.all_inner_texts()


def test_text_is_escaped_once_wraps_between_words_and_the_stories_table_shows_every_column(page):
    paste(page, "ESC-1: As a manager, I want to see the facilities' rota (for all sites), so that I can plan.", "Added 1 stories")
    before = coverage(page)
    quick_action(page, "Quality report")
    page.locator("#chat").get_by_text("the facilities' rota").first.wait_for(timeout=60_000)
    assert "&#x27;" not in page.locator("#chat").inner_text()
    assert page.evaluate(BROKEN_WORDS, "#chat .prose") == []
    on_tab(page, "Stories")
    if not page.locator("#cost").is_visible():
        page.get_by_text("Cloud cost comparison").click()
    page.locator("#cost").get_by_text("Per 100 questions").wait_for(timeout=10_000)
    text = page.locator("body").inner_text()
    assert "&#x27;" not in text and "&amp;" not in text and "&lt;" not in text
    assert page.evaluate(BROKEN_WORDS, "#cost td, #cost th, #summary, #report, #stories th") == []
    # The cost table fits its box: no column is cut off at its right edge.
    assert page.evaluate("(() => { const t = document.querySelector('#cost table'); "
                         "return t.getBoundingClientRect().right <= document.querySelector('#cost').getBoundingClientRect().right + 1; })()")
    # The right edge of each column header, against the right edge of the table's box on the page.
    edges = page.evaluate("""() => {
        const box = document.querySelector('#stories').getBoundingClientRect();
        return Object.fromEntries([...document.querySelectorAll('#stories th')]
            .map(th => [th.innerText.trim(), th.getBoundingClientRect().right - box.right]));
    }""")
    assert set(edges) == set(TABLE_HEADERS) and all(edge <= 1 for edge in edges.values()), edges
    on_tab(page, "Chat")
    wait_until(lambda: coverage(page) != before)  # the model's summary is done: the next test starts on an idle model


def test_a_duplicate_pair_is_reported_once_with_both_stories_side_by_side_and_exported(page, dalpiaz):
    g04 = {s.id: s.text for s in read_file(dalpiaz / "g04-recycling.txt").stories}
    first, second = g04["g04-recycling-5"], g04["g04-recycling-12"]  # "have" / "choose" a flexible pick up time
    paste(page, f"{first}\n{second}", "Added 2 stories")
    report = page.locator("#report").text_content()
    assert report.count(" duplicates paste-") == 1, report
    before = coverage(page)
    quick_action(page, "Find duplicates")
    pair = page.locator("#chat tr").filter(has_text="have a flexible pick up time").filter(has_text="choose a flexible pick up time")
    pair.first.wait_for(timeout=60_000)
    assert pair.count() == 1
    cells = pair.first.locator("td").all_inner_texts()
    assert len(cells) == 3 and "have a flexible" in cells[0] and "choose a flexible" in cells[1], cells
    assert re.fullmatch(r"0\.\d\d", cells[2].strip()), cells
    wait_until(lambda: coverage(page) != before)  # the model's summary is done
    bots = " ".join(page.locator("#chat [data-testid=bot]").all_inner_texts())
    assert "Question:" not in bots
    pair.first.scroll_into_view_if_needed()
    page.screenshot(path=str(ROOT / "docs" / "screenshot-quick-action.png"), full_page=True)
    if not page.get_by_role("button", name="Markdown").is_visible():
        page.get_by_text("Export this chat").click()
    page.get_by_role("button", name="Markdown").click()
    link = page.locator("a[href*='transcript-my-stories.md']")
    link.wait_for(timeout=30_000)
    exported = Path(unquote(link.get_attribute("href").split("file=", 1)[1])).read_text(encoding="utf-8")
    assert re.search(r"## Find duplicates: .*\n\n(- .*\n)*- \[paste-\d+\] ~ \[paste-\d+\] similarity 0\.\d\d", exported), exported


def test_every_token_figure_names_its_unit_and_the_speed_probe_says_how_busy_the_machine_was(page):
    before = coverage(page)
    ask(page, "Who can invite estimators to the game?")
    wait_until(lambda: coverage(page) != before and coverage(page).startswith("Context:"))
    shown = {}
    for tab, name, where in (("Chat", "Model", "#model"), ("Stories", "Cloud cost comparison", "#cost")):
        on_tab(page, tab)
        if not page.locator(where).is_visible():
            page.get_by_role("button", name=re.compile(rf"^{name} ")).click()
        page.locator(where).wait_for(timeout=10_000)
        shown |= {w: page.locator(w).inner_text() for w in (where, "#status", "#summary" if tab == "Stories" else "#coverage")}
    on_tab(page, "Chat")
    for where, text in shown.items():
        assert not re.search(r"\d tokens", text), (where, text)  # "612 model tokens", "496 cl100k tokens"
    assert len(re.findall(r"[\d,]+ model tokens", shown["#summary"])) == 1 and "cl100k" not in shown["#summary"]
    assert re.search(r"[\d,]+ cl100k tokens \(for cloud prices\)", shown["#cost"])
    assert re.search(r"Speed probe at startup, (on an idle machine|under a load average of [\d.]+ on \d+ cores)", shown["#model"])
    assert "meaning: wordllama l2_supercat 256, beside words" in shown["#model"]  # issue 22: which reader is loaded


def test_the_self_test_stops_on_stop_and_when_its_tab_is_closed(chromium, app, page):
    stopped = lambda: page.server_log.read_text().count("self-test stopped with")  # noqa: E731
    count = stopped()
    page.get_by_role("tab", name="Self-test").click()
    page.locator("#selftest").click()
    page.get_by_text(re.compile(r"model tokens, needle at \d+%")).first.wait_for(timeout=ANSWER_TIMEOUT_S * 1000)
    page.locator("#selftest-stop").click()
    page.locator("#verdict").get_by_text("Stopped.").wait_for(timeout=30_000)
    wait_until(lambda: stopped() == count + 1)  # it ended before its next answer: the model is free
    # A tab closed while its self-test runs stops it too.
    other = chromium.new_page(viewport={"width": 1400, "height": 1000})
    log_in(other, app[0], PASSWORD)
    other.get_by_role("tab", name="Self-test").click()
    other.locator("#selftest").click()
    other.get_by_text(re.compile(r"model tokens, needle at \d+%")).first.wait_for(timeout=ANSWER_TIMEOUT_S * 1000)
    other.close()
    wait_until(lambda: stopped() == count + 2)
    page.get_by_role("tab", name="Chat").click()


def test_read_everything_reads_every_story_pass_by_pass_and_says_so_in_one_coverage_line(page):
    box = page.locator("#exhaustive input[type=checkbox]")
    box.check()
    try:
        page.evaluate(RECORD_BUBBLE_TEXTS)
        ask(page, "Which stories are about the moderator?")
        wait_until(lambda: "pass 1 of 1" in last_bot_text(page), step_ms=20)  # the pass's progress, in the bubble
        wait_until(lambda: coverage(page).startswith("Read all"))  # the line of an earlier answer is there until then
        # One line says what the answer read: the reading, not also a context of the cited stories.
        assert re.fullmatch(r"Read all \d+ stories in 1 pass: \d+ cited · first token [\d.]+s, total [\d.]+s", coverage(page)), coverage(page)
        assert "read" not in page.locator("#status").inner_text()
        bubbles = page.evaluate("window.__answerTexts")
        assert not [t for t in bubbles if t.startswith("⏳ Reading")], bubbles
        assert ": 0 cited" in coverage(page) or any(t.startswith("⏳ writing the answer from the ") for t in bubbles), bubbles
    finally:
        box.uncheck()


def test_a_week_later_export_uploaded_again_updates_in_place_and_the_button_removes_the_gone_story(chromium, app, tmp_path):
    """Issue 24: the same Jira export a week later, uploaded under the same name."""
    tab = chromium.new_page(viewport={"width": 1400, "height": 1000})
    log_in(tab, app[0], PASSWORD)
    new_chat(tab, "leave")
    on_tab(tab, "Stories")
    summary, report = tab.locator("#summary"), tab.locator("#report")
    upload = tab.locator("#upload input[type=file]")
    upload.set_input_files(str(DATA / "leave.csv"))
    report.get_by_text("Added 30 stories to leave").wait_for(timeout=60_000)
    tab.locator("#upload").get_by_text("Drop File Here").wait_for(timeout=30_000)  # ready for the next file
    upload.set_input_files(str(week_later(tmp_path)))
    report.get_by_text("1 added, 2 changed (HR-102, HR-110), 27 unchanged, 1 gone from the file (HR-130;").wait_for(timeout=60_000)
    assert "HR-102 text: was “As an employee" in report.inner_text() and "HR-110 acceptance criteria: was" in report.inner_text()
    summary.get_by_text(re.compile(r"^31 stories")).wait_for(timeout=30_000)
    remove = tab.get_by_role("button", name="Remove the 1 story no longer in the file")
    remove.click()
    report.get_by_text("Removed 1 story no longer in the file: HR-130.").wait_for(timeout=60_000)
    summary.get_by_text(re.compile(r"^30 stories")).wait_for(timeout=30_000)
    assert remove.is_hidden()
    library = Library(app[1].parent)  # the app's own
    ids = {s.id for s in library.stories("leave")}
    assert len(ids) == 30 and "HR-131" in ids and "HR-130" not in ids and not [i for i in ids if i.count("-") > 1]
    assert [v.story.text for v in library.history("HR-102", "leave")] == [
        next(s.text for s in read_file(DATA / "leave.csv").stories if s.id == "HR-102")
    ]

    on_tab(tab, "Chat")
    quick_action(tab, "What changed since the last import")
    chat = tab.locator("#chat")
    chat.get_by_text("What changed since the last import: 1 added, 2 changed, 1 removed").wait_for(timeout=60_000)
    listed = chat.inner_text()
    assert "changed [HR-102]" in listed and "added [HR-131]" in listed and "removed [HR-130]" in listed
    wait_until(lambda: coverage(tab).startswith("Context:"))  # the model's checked summary is done
    tab.close()


def test_a_claim_of_absence_is_shown_checked_against_every_story(chromium, app):
    """Issue 33's done-when. Asked whether any story says so, the bundled model answers "[HR-104] No, no story
    says that managers approve leave requests in Slack.": code checks that against all 30 stories and marks it ✓."""
    tab = chromium.new_page(viewport={"width": 1400, "height": 1000})
    log_in(tab, app[0], PASSWORD)
    new_chat(tab, "leave-absence")
    upload_leave(tab)
    ask(tab, "Does any story say managers approve leave requests in Slack?")
    wait_until(lambda: coverage(tab).startswith("Context:"))
    checked = tab.locator("#chat .sentence-checked")
    assert checked.count() == 1
    shown = checked.first.inner_text()
    assert shown.startswith("✓ [HR-104] No, no story says that managers approve leave requests in Slack."), shown
    assert shown.endswith("(checked: no story mentions managers approve leave requests in Slack)"), shown
    assert checked.first.get_attribute("title") == "supported: checked: no story mentions managers approve leave requests in Slack"
    chat = tab.locator("#chat").inner_text()
    assert "has no sentence that the stories it cites support" not in chat and "⚠ [HR-104]" in chat  # HR-104 does not say it
    tab.close()
