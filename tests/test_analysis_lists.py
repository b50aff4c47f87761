"""List questions answered by code (issue 32): recognised by rules over the library's own roles and epics,
answered with the exact list before the model's checked summary, in every face."""

import subprocess
import sys

import pytest

from storychat.analysis.filters import Filter, Scope
from storychat.analysis.lists import asked_list
from storychat.analysis.roles import stories_for_role, stories_in_epic
from storychat.answer.answer import Done, Listed, Token, final
from storychat.answer.lines import lines
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.cli import print_answer
from storychat.stories.formats import read_file
from storychat.ui.render import answer_messages
from tests.browser import PASSWORD, USER, VIEWPORT, ask, coverage, log_in, new_chat, upload_leave, wait_until
from tests.helpers import DATA, ROOT
from tests.serving import running_app

LEAVE = read_file(DATA / "leave.csv").stories
LEAVE_JIRA = read_file(DATA / "leave-jira.csv").stories  # five of its items are for line managers, as in issue 32


@pytest.mark.parametrize("question, field, value", [
    ("Which stories are for managers?", "role", "manager"),
    ("What does the HR advisor want?", "role", "HR advisor"),
    ("List the IT administrator stories", "role", "IT administrator"),
    ("Show all stories for employees", "role", "employee"),
    ("What is in the Leave requests epic?", "epic", "Leave requests"),
])
def test_a_question_for_the_stories_of_a_known_role_or_epic_gets_their_exact_list(question, field, value):
    listing = asked_list(question, LEAVE)
    assert listing.scope == Scope((Filter(field, "=", value),)) and listing.exact
    expected = stories_for_role(LEAVE, value) if field == "role" else stories_in_epic(LEAVE, value)
    assert list(listing.stories) == expected and expected


@pytest.mark.parametrize("question", [
    "Can a manager delegate approvals?",  # about a role, not for its stories
    "Which stories mention the employee balance?",  # a role word that is not what is asked for
    "Which stories are for line managers?",  # no story has that role: nothing is guessed
    "Which stories are about payroll?",
    "What does the manager want to know about overlaps?",  # a role and a topic: retrieval ranks by the topic
])
def test_a_question_that_asks_for_no_known_role_or_epic_is_left_to_retrieval(question):
    assert asked_list(question, LEAVE) is None


def test_the_list_comes_before_the_model_starts_and_the_answer_keeps_it_with_a_checked_summary(fake_engine, capsys):
    fake_engine.reply = "[HR-104] Managers approve or reject leave requests. Managers get paid a bonus."
    events = list(Pipeline(fake_engine, options=AnswerOptions(max_tokens=80)).ask("Which stories are for managers?", LEAVE))
    first_token = next(i for i, e in enumerate(events) if isinstance(e, Token))
    assert isinstance(events[0], Listed) and first_token > 0
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and answer.listing == events[0].listing
    record = answer.to_json()
    managers = [s.id for s in stories_for_role(LEAVE, "manager")]
    assert record["listing"]["line"] == "6 stories have the role manager" and [s["id"] for s in record["listing"]["stories"]] == managers
    assert "bonus" not in answer.answer  # the summary keeps only what the listed stories support
    shown = lines(record)
    assert shown.listing == "Computed by code: 6 stories have the role manager" and [i.id for i in shown.listed] == managers
    first, *_ = answer_messages(record)
    assert first["content"].startswith("**Computed by code: 6 stories have the role manager**") and "**[HR-104]**" in first["content"]
    print_answer(answer, as_json=True)
    assert '"line": "6 stories have the role manager"' in capsys.readouterr().out


@pytest.mark.model
def test_the_command_line_prints_the_exact_list_before_the_models_summary(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "storychat", "ask", "Which stories are for managers?", "--stories", str(DATA / "leave.csv"),
         "-c", "2048", "-n", "40", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("Computed by code: 6 stories have the role manager\n  [HR-104] As a manager"), done.stdout[:500]


@pytest.mark.model
def test_in_the_chat_which_stories_are_for_line_managers_gets_the_exact_list_marked_as_computed_then_a_checked_summary(chromium, tmp_path):
    line_managers = [s.id for s in stories_for_role(LEAVE_JIRA, "line manager")]
    with running_app(tmp_path, "--auth", f"{USER}:{PASSWORD}", "-n", "40") as url:
        tab = chromium.new_page(viewport=VIEWPORT)
        log_in(tab, url, PASSWORD)
        new_chat(tab, "leave")
        upload_leave(tab, "leave-jira.csv", 16)
        ask(tab, "Which stories are for line managers?")
        computed = tab.locator("#chat").get_by_text("Computed by code: 5 stories have the role line manager")
        computed.wait_for(timeout=60_000)
        wait_until(lambda: coverage(tab).startswith("Context: 5 of 5 stories"))
        bubbles = tab.locator("#chat [data-testid=bot]").all_inner_texts()
        listed = bubbles[0]
        assert [line.split("]")[0] + "]" for line in listed.splitlines()[1:] if line.strip()] == [f"[{i}]" for i in line_managers]
        assert "Evidence:" in "\n".join(bubbles[1:]) or "kept no sentence" in bubbles[1]
        tab.close()


def ids(stories) -> list[str]:
    return [s.id for s in stories]


@pytest.mark.parametrize("question, line, expected", [
    ("Which stories are for line managers?", "5 stories have the role line manager", ["LV-1", "LV-2", "LV-3", "LV-4", "LV-5"]),
    ("What is still open in the Approvals epic?", "1 story has status Open and the epic Approvals", ["LV-4"]),
    ("Stories over 5 points", "3 stories have more than 5 points", ["LV-2", "LV-9", "LV-11"]),
    ("Which stories are between 3 and 5 points?", "8 stories have 3 to 5 points", ["LV-1", "LV-3", "LV-5", "LV-6", "LV-8", "LV-10", "LV-13", "LV-16"]),
    ("What is in sprint 2?", "4 stories have sprint LV Sprint 2", ["LV-5", "LV-9", "LV-12", "LV-13"]),
    ("Stories labelled export", "3 stories have label export", ["LV-5", "LV-11", "LV-15"]),
    ("Which high priority stories are done?", "3 stories have status Done and priority High", ["LV-1", "LV-6", "LV-13"]),
    ("List the open bugs", "1 story has type Bug and status Open", ["LV-14"]),
])
def test_a_question_that_names_field_values_the_library_holds_gets_the_items_that_have_them(question, line, expected):
    listing = asked_list(question, LEAVE_JIRA)
    assert listing.line() == line and ids(listing.stories) == expected
    assert ids(listing.scope.apply(LEAVE_JIRA)) == expected  # the list is the scope's, as every face filters


def test_a_date_without_a_year_is_the_latest_such_day_not_after_the_newest_date_an_item_carries():
    # The newest date in the export is 12 March 2025: "1 March" is 2025-03-01, "1 April" 2024-04-01.
    fixed = asked_list("Bugs fixed since 1 March", LEAVE_JIRA)
    assert fixed.line() == "2 stories have type Bug and a resolved date on or after 2025-03-01" and ids(fixed.stories) == ["LV-13", "LV-15"]
    assert asked_list("bugs fixed since 1 April", LEAVE_JIRA).scope.filters[0] == Filter("resolved", ">=", "2024-04-01")
    assert ids(asked_list("stories created before 2025-01-03", LEAVE_JIRA).stories) == ["LV-1", "LV-6"]


@pytest.mark.parametrize("question", [
    "Which stories are about sick notes?",  # a topic and no field
    "Is the calendar export done?",  # a status word in a question that asks something else
    "Which stories let a line manager see the calendar?",  # a role word that is not what is asked for
    "What does the employee want to know about balances?",  # a role and more than a topic
])
def test_field_words_in_a_question_that_asks_something_more_leave_it_to_retrieval(question):
    assert asked_list(question, LEAVE_JIRA) is None


def test_a_field_and_a_topic_filter_exactly_then_rank_the_kept_items_by_the_topic_and_say_which_part_was_which(fake_engine):
    fake_engine.reply = "[LV-11] Payroll gets unpaid leave each month."
    events = list(Pipeline(fake_engine, options=AnswerOptions(max_tokens=40)).ask("Open stories about payroll", LEAVE_JIRA))
    listing = events[0].listing
    assert isinstance(events[0], Listed) and not listing.exact
    assert ids(listing.stories) == ["LV-11"] and listing.kept == 8  # of the 8 open items, the one about payroll
    assert listing.line() == "Filtered exactly: status Open (8 stories). Ranked by the topic 'payroll': 1 story matches, and the list may be incomplete."
    record = events[-1].answer.to_json()
    assert lines(record).listing == listing.line()  # not marked as computed: only its filter was
    assert record["listing"]["scope"] == ["status=Open"] and record["listing"]["topic"] == "payroll"


def test_an_exact_list_that_keeps_nothing_says_so_without_calling_the_model(fake_engine):
    answer = Pipeline(fake_engine).answer("stories over 40 points", LEAVE_JIRA)
    assert answer.listing.line() == "0 stories have more than 40 points" and fake_engine.calls == []


def test_an_answer_that_lists_stories_from_retrieval_says_its_list_may_be_incomplete_and_offers_the_exact_one(fake_engine, capsys):
    fake_engine.reply = "[LV-2] Line managers see the team calendar. [LV-14] The calendar shows cancelled leave."
    answer = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("Which stories does the line manager want for the calendar?", LEAVE_JIRA)
    assert answer.listing is None and len(answer.evidence) == 2
    assert answer.incomplete == "This list comes from retrieval and may be incomplete: for the exact list, filter by role=line manager."
    record = answer.to_json()
    assert record["incomplete"] == answer.incomplete and lines(record).incomplete == answer.incomplete
    assert answer.incomplete in answer_messages(record)[0]["content"]
    print_answer(answer, as_json=False)
    assert answer.incomplete in capsys.readouterr().out
    fake_engine.reply = "[HR-104] Managers approve leave. [HR-105] Managers delegate approvals."
    offered = Pipeline(fake_engine, options=AnswerOptions(max_tokens=60)).answer("Which stories are about approving leave?", LEAVE)
    assert offered.incomplete == "This list comes from retrieval and may be incomplete: *Read everything* reads every story for a complete list."


def test_an_answer_about_one_story_is_no_list(fake_engine):
    fake_engine.reply = "[HR-104] Managers approve or reject leave requests."
    assert Pipeline(fake_engine, options=AnswerOptions(max_tokens=40)).answer("Can a manager reject a request?", LEAVE).incomplete == ""


def test_read_everything_on_a_field_and_a_topic_reads_every_item_the_fields_keep_and_names_the_filter(fake_engine):
    fake_engine.reply = lambda messages: "[LV-11]" if "List the id" in messages[-1].content else "[LV-11] Payroll gets unpaid leave each month."
    answer = final(Pipeline(fake_engine, options=AnswerOptions(max_tokens=40)).ask_exhaustive("Open stories about payroll", LEAVE_JIRA))
    opened = [s for s in LEAVE_JIRA if s.fields.status == "Open"]
    assert answer.reading.stories == len(opened) == 8 and answer.scope.line() == f"8 of {len(LEAVE_JIRA)} stories: status Open"
    shown = {s.id for call in fake_engine.calls for s in LEAVE_JIRA if f"[{s.id}]" in call[0].content}
    assert shown == {s.id for s in opened}  # every open item was read, and no other
    assert [c.id for c in answer.citations] == ["LV-11"]
