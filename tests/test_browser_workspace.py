"""Issue 23 in Chromium: the chat is a workspace. Chats are kept across reloads, restarts and theme
changes, each user's apart and each collection's apart; Clear starts a new chat; the layout keeps the
question box and the latest answer in a 1366×768 viewport; what was parsed is shown."""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.browser import (
    BROKEN_WORDS, PASSWORD, VIEWPORT, answered, choose_collection, coverage, log_in, new_chat, on_tab, open_quick_actions,
    paste, upload_leave, wait_until,
)
from tests.helpers import DATA
from tests.serving import running_app

pytestmark = pytest.mark.model

ALICE, BOB = "alice", "bob"
LEAVE_QUESTION = "Who approves leave requests?"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """An app with two logins and short answers: its URL and its data directory."""
    data_dir = tmp_path_factory.mktemp("workspace")
    with running_app(data_dir, "--auth", f"{ALICE}:{PASSWORD}", "--auth", f"{BOB}:{PASSWORD}", "-n", "40") as url:
        yield url, data_dir


def tab_for(chromium, url: str, user: str):
    tab = chromium.new_page(viewport=VIEWPORT)
    log_in(tab, url, PASSWORD, user)
    return tab


def leave_chat(chromium, url: str, user: str):
    """A tab of ``user`` in a new chat on the leave collection."""
    tab = tab_for(chromium, url, user)
    new_chat(tab, "leave")
    upload_leave(tab)
    return tab


def questions(tab) -> list[str]:
    return tab.locator("#chat [data-testid=user]").all_inner_texts()


def chat_list(tab) -> list[str]:
    return tab.locator("#chats label").all_inner_texts()


def exported_markdown(tab) -> str:
    if not tab.get_by_role("button", name="Markdown").is_visible():
        tab.get_by_text("Export this chat").click()
    tab.get_by_role("button", name="Markdown").click()
    link = tab.locator("a[href*='transcript-']").last
    link.wait_for(timeout=30_000)
    return Path(unquote(link.get_attribute("href").split("file=", 1)[1])).read_text(encoding="utf-8")


def test_reload_theme_change_and_restart_keep_the_chat_with_its_collection(chromium, tmp_path):
    flags = ("--auth", f"{ALICE}:{PASSWORD}", "-n", "40")
    with running_app(tmp_path, *flags) as url:
        tab = tab_for(chromium, url, ALICE)
        new_chat(tab, "leave")
        upload_leave(tab)
        first = answered(tab, LEAVE_QUESTION)
        for reopen in (tab.reload, lambda: tab.goto(url + "?__theme=dark")):
            reopen()
            tab.locator("#chat [data-testid=user]").first.wait_for(timeout=60_000)
            assert questions(tab) == [LEAVE_QUESTION]
            assert tab.locator("#collection input").input_value() == "leave" and coverage(tab) == first
        assert tab.evaluate("document.body.classList.contains('dark')")
        tab.close()
    with running_app(tmp_path, *flags) as url:  # the same data directory, a new process
        tab = tab_for(chromium, url, ALICE)
        tab.locator("#chat [data-testid=user]").first.wait_for(timeout=60_000)
        assert questions(tab) == [LEAVE_QUESTION] and tab.locator("#collection input").input_value() == "leave"
        assert chat_list(tab) == [f"{LEAVE_QUESTION} · leave"]
        exported = exported_markdown(tab)
        assert f"## {LEAVE_QUESTION}" in exported and re.search(r"- [✓≈⚠] \[HR-\d+\]", exported), exported
        tab.close()


def test_two_users_each_see_only_their_own_chats(chromium, workspace):
    url, _ = workspace
    alice = leave_chat(chromium, url, ALICE)
    answered(alice, LEAVE_QUESTION)
    bob = tab_for(chromium, url, BOB)
    bob.locator("#chats").get_by_text("No chats yet").wait_for(timeout=30_000)
    assert questions(bob) == [] and bob.locator("#collection input").input_value() == "my-stories"
    new_chat(bob, "leave")  # collections are shared; chats are not
    answered(bob, "Can an employee see their leave balance?")
    wait_until(lambda: chat_list(bob) == ["Can an employee see their leave balance? · leave"], timeout_s=30)
    alice.reload()
    alice.locator("#chat [data-testid=user]").first.wait_for(timeout=60_000)
    assert chat_list(alice) == [f"{LEAVE_QUESTION} · leave"] and questions(alice) == [LEAVE_QUESTION]
    alice.close()
    bob.close()


def test_switching_collection_opens_its_own_chat_and_keeps_both(chromium, workspace):
    url, _ = workspace
    tab = leave_chat(chromium, url, ALICE)
    answered(tab, LEAVE_QUESTION)
    new_chat(tab, "bookshop")
    paste(tab, (DATA / "bookshop.txt").read_text(encoding="utf-8"), re.compile(r"Added (13|0) stories"))
    answered(tab, "Can customers pay with PayPal?")
    for name, asked in (("leave", LEAVE_QUESTION), ("bookshop", "Can customers pay with PayPal?")):
        tab.locator("#collection input").fill(name)
        tab.locator("#collection input").press("Enter")
        wait_until(lambda: questions(tab) == [asked], timeout_s=60)
    listed = chat_list(tab)
    assert listed[:2] == ["Can customers pay with PayPal? · bookshop", f"{LEAVE_QUESTION} · leave"], listed
    tab.close()


def test_clear_takes_the_turn_out_of_the_next_answers_context_and_out_of_the_export(chromium, workspace):
    url, _ = workspace
    tab = tab_for(chromium, url, ALICE)
    follow_up = "Who asked for that, and why?"
    new_chat(tab, "leave")
    upload_leave(tab)
    fresh = answered(tab, follow_up)
    new_chat(tab, "leave")
    answered(tab, "Can a manager delegate approvals?")
    after_a_turn = answered(tab, follow_up)
    # Judged with the turn before it, the follow-up goes to the model; with no turn before it the gate refuses it.
    assert "no model call" in fresh and "no model call" not in after_a_turn, (fresh, after_a_turn)
    tab.locator("#chat button[aria-label=Clear]").click()
    wait_until(lambda: questions(tab) == [], timeout_s=30)
    after_clear = answered(tab, follow_up)
    assert "no model call" in after_clear, (fresh, after_a_turn, after_clear)
    exported = exported_markdown(tab)
    assert exported.count(f"## {follow_up}") == 1 and "delegate" not in exported, exported
    tab.close()


# The newest answer's first bubble, the question box and the chat's scrolled box, on the page.
LAYOUT = """() => {
    const box = el => { const r = el.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, width: r.width}; };
    const wrap = document.querySelector('#chat .bubble-wrap');
    const users = [...wrap.querySelectorAll('[data-testid=user]')];
    const bots = [...wrap.querySelectorAll('[data-testid=bot]')];
    const last = users[users.length - 1];
    const answer = bots.find(b => last.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
    return {chat: box(wrap), answer: box(answer), question: box(document.querySelector('#question textarea')),
            row: box(document.querySelector('#question-row')), text: answer.innerText.split('\\n')[0]};
}"""


def test_the_question_box_and_each_new_answers_first_line_stay_in_a_1366x768_viewport(chromium, workspace):
    url, _ = workspace
    tab = leave_chat(chromium, url, ALICE)
    asked = [
        "Can an employee request annual leave?", "Who approves leave requests?", "Can a manager see a team calendar?",
        "Can an employee cancel a leave request?", "Can a manager delegate approvals?", "Who can export a leave report?",
    ]
    for n, question in enumerate(asked, start=1):
        answered(tab, question)
        assert questions(tab) == asked[:n]
        tab.wait_for_timeout(800)  # the last scroll lands
        at = tab.evaluate(LAYOUT)
        first_line = at["answer"]["top"] + 20
        assert at["question"]["bottom"] <= VIEWPORT["height"] and at["question"]["width"] >= 0.75 * at["row"]["width"], at
        assert at["chat"]["top"] <= at["answer"]["top"] and first_line <= min(at["chat"]["bottom"], VIEWPORT["height"]), (question, at)
    tab.close()


def test_acceptance_criteria_show_in_the_table_the_import_report_and_the_evidence(chromium, workspace):
    url, _ = workspace
    tab = tab_for(chromium, url, ALICE)
    new_chat(tab, "criteria")
    on_tab(tab, "Stories")
    tab.locator("#upload input[type=file]").set_input_files(str(DATA / "leave.csv"))
    report = tab.locator("#report")
    report.get_by_text("Added 30 stories to criteria").wait_for(timeout=60_000)
    assert "Read from leave.csv: 4 roles, 6 epics, 9 acceptance criteria." in report.inner_text()
    tab.locator("#upload").get_by_text("Drop File Here").wait_for(timeout=10_000)  # ready for the next file
    criteria = tab.locator("#stories").get_by_text("Given I have enough leave left, when I submit a request").filter(visible=True)
    criteria.first.wait_for(timeout=10_000)
    on_tab(tab, "Chat")
    answered(tab, "Can an employee request annual leave for a range of dates?")
    tab.locator("#chat").get_by_text("✔ Given I have enough leave left").first.wait_for(state="visible", timeout=10_000)
    open_quick_actions(tab)
    tab.locator("#role-pick input").click()
    tab.get_by_role("option", name="HR advisor").wait_for(timeout=10_000)
    tab.close()


def test_a_notes_only_collection_says_what_it_holds_and_lists_its_notes(chromium, workspace):
    url, _ = workspace
    tab = tab_for(chromium, url, ALICE)
    new_chat(tab, "junk")
    on_tab(tab, "Stories")
    tab.locator("#paste textarea").fill("\n".join(f"Quarterly numbers {i} look fine to me" for i in range(40)))
    tab.locator("#add").click()
    tab.locator("#report").get_by_text("Added 0 stories to junk; 0 skipped as duplicates; 40 kept as notes").wait_for(timeout=60_000)
    # The summary comes in an event after the import's rows and report.
    summary = wait_until(lambda: (text := tab.locator("#summary").inner_text()).startswith("Collection junk holds no") and text, timeout_s=30)
    assert summary.startswith("Collection junk holds no stories, only 40 notes") and "empty" not in summary, summary
    tab.get_by_text("Notes: lines that are not stories").click()
    tab.locator("#notes").get_by_text("Quarterly numbers 39 look fine to me").wait_for(state="visible", timeout=10_000)
    tab.close()


def test_a_chat_in_the_list_opens_renames_and_deletes_after_a_second_press(chromium, workspace):
    url, _ = workspace
    tab = leave_chat(chromium, url, BOB)
    answered(tab, "Can an employee cancel a leave request?")
    new_chat(tab, "leave")
    answered(tab, "Can a manager see a team calendar?")
    tab.locator("#chats label").filter(has_text="Can an employee cancel a leave request?").click()
    wait_until(lambda: questions(tab) == ["Can an employee cancel a leave request?"], timeout_s=60)
    tab.get_by_text("Rename or delete this chat").click()
    title = tab.locator("#chat-title input")
    wait_until(lambda: title.input_value() == "Can an employee cancel a leave request?", timeout_s=30)
    title.fill("Cancelling leave")
    tab.locator("#rename-chat").click()
    wait_until(lambda: "Cancelling leave · leave" in chat_list(tab), timeout_s=30)
    tab.locator("#delete-chat").click()
    confirm = tab.get_by_role("button", name="Yes, delete this chat")
    confirm.wait_for(timeout=30_000)
    assert "Cancelling leave · leave" in chat_list(tab)
    confirm.click()
    wait_until(lambda: "Cancelling leave · leave" not in chat_list(tab), timeout_s=30)
    confirm.wait_for(state="hidden", timeout=30_000)
    assert "Can a manager see a team calendar? · leave" in chat_list(tab)
    wait_until(lambda: questions(tab) == ["Can a manager see a team calendar?"], timeout_s=30)  # the collection's latest chat
    tab.close()


def test_at_390_px_the_chats_start_closed_and_the_page_reads_in_the_order_of_use(chromium, workspace):
    url, _ = workspace
    phone = chromium.new_page(viewport={"width": 390, "height": 844})
    log_in(phone, url, PASSWORD, BOB)
    wait_until(lambda: not phone.evaluate("document.querySelector('#history').classList.contains('open')"), timeout_s=30)
    choose_collection(phone, "phone")  # a new collection: the Stories tab comes first
    phone.locator("#paste textarea").wait_for(state="visible", timeout=30_000)
    top = lambda selector: phone.locator(selector).bounding_box()["y"]  # noqa: E731
    assert top("#collection") < top("#summary") < top("#paste") < top("#add") < top("#upload") < top("#stories")
    on_tab(phone, "Chat")
    assert top("#first-steps") < top("#chat") < top("#question") < top("#quick-menu")
    phone.close()


# The boxes of the chats' toggle, the title, the question box, Ask and Stop; and whether the top left corner of the
# chat's messages, where a long question starts, shows the messages rather than something laid over them.
PHONE_LAYOUT = """() => {
    const box = s => { const r = document.querySelector(s).getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
    const wrap = document.querySelector('#chat .bubble-wrap'), corner = wrap.getBoundingClientRect();
    return {toggle: box('#history .toggle-button'), title: box('#intro h2'), question: box('#question textarea'),
            ask: box('#ask'), stop: box('#stop'), corner_free: wrap.contains(document.elementFromPoint(corner.left + 12, corner.top + 12))};
}"""


def test_at_390_px_the_question_box_is_on_the_first_screen_with_stop_beside_ask(chromium, workspace):
    url, _ = workspace
    phone = chromium.new_page(viewport={"width": 390, "height": 844})
    log_in(phone, url, PASSWORD, BOB)
    choose_collection(phone, "leave")  # the chats are closed: the collection's latest chat, or a new one
    upload_leave(phone)
    phone.evaluate("window.scrollTo(0, 0)")
    at = phone.evaluate(PHONE_LAYOUT)
    assert 0 <= at["question"]["top"] and at["question"]["bottom"] <= 844, at
    assert abs(at["stop"]["top"] - at["ask"]["top"]) <= 1 and at["ask"]["right"] <= at["stop"]["left"], at
    assert at["toggle"]["right"] < at["title"]["left"] and at["corner_free"], at
    phone.close()


SCROLL_TABLE = "(top) => { const rows = document.querySelector('#stories .virtual-table-viewport'); rows.scrollTop = top; return rows.scrollTop; }"


def broken_words_in_the_table(tab) -> set[str]:
    """The words broken inside themselves in every row of the stories table, scrolled through: it renders the rows in view."""
    broken, top = set(), 0
    while True:
        reached = tab.evaluate(SCROLL_TABLE, top)
        tab.wait_for_timeout(200)
        broken |= set(tab.evaluate(BROKEN_WORDS, "#stories [role=gridcell], #stories th"))
        if reached < top:
            return broken
        top += 300


def test_the_stories_table_wraps_between_words_at_1366_and_at_390_px(chromium, workspace):
    """leave.csv's "IT administrator" and "Administration" are its longest words in a short column."""
    url, _ = workspace
    tab = tab_for(chromium, url, ALICE)
    new_chat(tab, "leave")
    upload_leave(tab)
    on_tab(tab, "Stories")
    tab.locator("#stories [role=gridcell]").get_by_text("HR-101", exact=True).wait_for(timeout=30_000)
    style = tab.evaluate("(() => { const s = getComputedStyle(document.querySelector('#stories [role=gridcell] .text')); "
                         "return [s.wordBreak, s.overflowWrap]; })()")
    assert style == ["normal", "break-word"], style
    assert broken_words_in_the_table(tab) == set()
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.wait_for_timeout(1000)  # the table lays its columns out again
    assert broken_words_in_the_table(tab) == set()
    tab.close()
