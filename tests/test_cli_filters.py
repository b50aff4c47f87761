"""``--filter`` on the command line (issue 32): ``stories list`` lists, and ``ask`` answers from, only the items
every filter keeps; a filter that cannot be read is one line and exit status 2."""

import json
import subprocess
import sys

import pytest

from storychat import cli
from tests.helpers import DATA, ROOT

JIRA = DATA / "jira-all-fields.csv"  # BILL-41 In Progress, 42 Done, 43 and 44 To Do


@pytest.fixture
def bill(tmp_path, capsys) -> str:
    """A data directory whose collection "bill" holds the Jira export with every field."""
    assert cli.main(["import", str(JIRA), "--collection", "bill", "--data-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    return str(tmp_path)


def listed(capsys, data_dir: str, *flags: str) -> str:
    assert cli.main(["stories", "list", "--collection", "bill", "--data-dir", data_dir, *flags]) == 0
    return capsys.readouterr().out


def test_stories_list_with_filters_prints_the_items_every_filter_keeps_with_their_fields(bill, capsys):
    out = listed(capsys, bill, "--filter", "status=To Do")
    assert out.splitlines()[0] == "2 of 4 stories: status To Do"
    assert [line.split("]")[0] + "]" for line in out.splitlines() if line.startswith("[")] == ["[BILL-43]", "[BILL-44]"]
    assert "[BILL-43] Remind customers of overdue invoices\n  type: Story · status: To Do · priority: Medium · labels: invoicing, email" in out
    out = listed(capsys, bill, "--filter", "points>=3", "--filter", "labels=invoicing", "--json")
    assert [item["id"] for item in json.loads(out)] == ["BILL-41", "BILL-43"]


def test_stories_list_without_filters_lists_every_item(bill, capsys):
    out = listed(capsys, bill)
    assert [line.split("]")[0] + "]" for line in out.splitlines() if line.startswith("[")] == [f"[BILL-4{n}]" for n in range(1, 5)]


def test_stories_list_says_when_the_filters_keep_nothing(bill, capsys):
    assert listed(capsys, bill, "--filter", "status=Open", "--filter", "label=payments") == (
        "No story has status Open and label payments; 4 stories in the collection.\n"
    )


@pytest.mark.parametrize("argv", [
    ["stories", "list", "--collection", "bill", "--filter", "colour=red"],
    ["ask", "--stories", str(JIRA), "--filter", "colour=red", "Anything?"],  # before any model loads
])
def test_a_filter_that_cannot_be_read_is_one_line_and_exit_status_2(argv, bill, capsys):
    assert cli.main([*argv, "--data-dir", bill]) == 2
    err = capsys.readouterr().err
    assert err == "error: Unknown filter field 'colour'. Use one of: type, status, priority, label, component, sprint, " \
        "fix_version, epic, role, points, created, updated, resolved.\n"


def ask(tmp_path, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "storychat", "ask", "--stories", str(JIRA), "-c", "2048", "-n", "40", "--data-dir", str(tmp_path), *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )


@pytest.mark.model
def test_ask_with_filters_answers_from_the_items_they_keep_and_says_which(tmp_path):
    done = ask(tmp_path, "--filter", "status=To Do", "--json", "When do customers get a reminder about an overdue invoice?")
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout)
    assert record["scope"] == {"filters": ["status=To Do"], "kept": 2, "total": 4, "line": "2 of 4 stories: status To Do"}
    assert record["context"]["stories_total"] == 2
    assert {c["id"] for c in record["citations"] if c["valid"]} <= {"BILL-43", "BILL-44"}
    done = ask(tmp_path, "--filter", "status=Open", "--filter", "label=payments", "What is still open about payments?")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "\nNo story has status Open and label payments; 4 stories in the collection.\n" in done.stdout
    assert "[shown without" not in done.stdout
    assert "Filter: 0 of 4 stories: status Open, label payments · no model call" in done.stdout
