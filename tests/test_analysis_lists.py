"""List questions answered by code (issue 32): recognised by rules over the library's own roles and epics,
answered with the exact list before the model's checked summary, in every face."""

import subprocess
import sys

import pytest

from storychat.analysis.lists import asked_list
from storychat.analysis.roles import stories_for_role, stories_in_epic
from storychat.answer.answer import Done, Listed, Token
from storychat.answer.lines import lines
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.cli import print_answer
from storychat.stories.formats import read_file
from storychat.ui.render import answer_messages
from tests.browser import PASSWORD, USER, VIEWPORT, ask, coverage, log_in, new_chat, upload_leave, wait_until
from tests.helpers import DATA, ROOT
from tests.serving import running_app

LEAVE = read_file(DATA / "leave.csv").stories


@pytest.mark.parametrize("question, field, value", [
    ("Which stories are for managers?", "role", "manager"),
    ("What does the HR advisor want?", "role", "HR advisor"),
    ("List the IT administrator stories", "role", "IT administrator"),
    ("Show all stories for employees", "role", "employee"),
    ("What is in the Leave requests epic?", "epic", "Leave requests"),
])
def test_a_question_for_the_stories_of_a_known_role_or_epic_gets_their_exact_list(question, field, value):
    listing = asked_list(question, LEAVE)
    assert (listing.field, listing.value) == (field, value)
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
def test_in_the_chat_a_list_question_gets_the_exact_list_marked_as_computed_then_a_checked_summary(chromium, tmp_path):
    with running_app(tmp_path, "--auth", f"{USER}:{PASSWORD}", "-n", "40") as url:
        tab = chromium.new_page(viewport=VIEWPORT)
        log_in(tab, url, PASSWORD)
        new_chat(tab, "leave")
        upload_leave(tab)
        ask(tab, "Which stories are for managers?")
        computed = tab.locator("#chat").get_by_text("Computed by code: 6 stories have the role manager")
        computed.wait_for(timeout=60_000)
        wait_until(lambda: coverage(tab).startswith("Context: 6 of 6 stories"))
        bubbles = tab.locator("#chat [data-testid=bot]").all_inner_texts()
        listed = bubbles[0]
        assert [line.split("]")[0] + "]" for line in listed.splitlines()[1:] if line.strip()] == [
            f"[{s.id}]" for s in stories_for_role(LEAVE, "manager")
        ]
        assert "Evidence:" in "\n".join(bubbles[1:]) or "kept no sentence" in bubbles[1]
        tab.close()
