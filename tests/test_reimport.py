"""Re-importing an updated export (issue 24): stories updated in place, the change reported, nothing lost."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from storychat.stories.changes import ADDED, CHANGED, REMOVED, since_time
from storychat.stories.formats import read_file, read_text
from storychat.stories.library import DATABASE_NAME, Library
from storychat.stories.migrations import MIGRATIONS
from tests.helpers import DATA, ROOT, week_later

MADE_BY_6B5F3C6 = DATA / "library-6b5f3c6.sqlite3"
WEEK_LATER = "leave.csv: 1 added, 2 changed (HR-102, HR-110), 27 unchanged, 1 gone from the file (HR-130; --sync removes it)"


def storychat(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storychat", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def library(tmp_path) -> Library:
    return Library(tmp_path / "data")


# --- the library ------------------------------------------------------------------------------


def test_a_week_later_export_updates_two_stories_in_place_adds_one_and_reports_the_gone_one(library, tmp_path):
    library.add("leave", read_file(DATA / "leave.csv"))
    before = {s.id: s for s in library.stories("leave")}
    report = library.add("leave", read_file(week_later(tmp_path)))
    assert report.describe() == WEEK_LATER
    after = {s.id: s for s in library.stories("leave")}
    assert len(after) == 31 and set(after) == set(before) | {"HR-131"}
    assert "next year" in after["HR-102"].text and after["HR-102"].text != before["HR-102"].text
    assert len(after["HR-110"].acceptance) == 2 and after["HR-110"].acceptance[0] == before["HR-110"].acceptance[0]
    assert after["HR-130"] == before["HR-130"]  # gone from the file, kept
    assert [line.split(" ", 1)[1].split(":")[0] for line in report.details()] == ["text", "acceptance criteria"]
    assert not report.warnings


def test_sync_removes_the_gone_story_and_the_history_keeps_every_previous_version(library, tmp_path):
    library.add("leave", read_file(DATA / "leave.csv"))
    old = {s.id: s for s in library.stories("leave")}
    report = library.add("leave", read_file(week_later(tmp_path)), sync=True)
    assert report.describe().endswith("1 removed as gone from the file (HR-130)")
    assert len(library.stories("leave")) == 30 and "HR-130" not in {s.id for s in library.stories("leave")}
    [version] = library.history("HR-102")
    assert (version.collection, version.why, version.story) == ("leave", CHANGED, old["HR-102"])
    assert [(v.why, v.story) for v in library.history("HR-130", "leave")] == [(REMOVED, old["HR-130"])]
    assert library.history("HR-101") == []


def test_the_same_file_again_changes_nothing_and_says_every_story_is_unchanged(library):
    library.add("leave", read_file(DATA / "leave.csv"))
    fingerprint = library.fingerprint("leave")
    report = library.add("leave", read_file(DATA / "leave.csv"), sync=True)
    assert report.describe() == "leave.csv: 0 added, 0 changed, 30 unchanged"
    assert library.fingerprint("leave") == fingerprint and library.history("HR-101") == []


def test_a_story_that_moved_lines_in_a_file_without_ids_is_unchanged(library, tmp_path):
    path = tmp_path / "backlog.txt"
    path.write_text("As a user, I want to log in\nAs a user, I want to log out\nAs an admin, I want to ban users\n")
    library.add("c", read_file(path))
    ids = {s.text: s.id for s in library.stories("c")}
    path.write_text("As an admin, I want to ban users\n\nAs a user, I want to log in\nAs a user, I want to log out\n")
    report = library.add("c", read_file(path))
    assert (len(report.added), len(report.changed), len(report.unchanged), report.gone) == (0, 0, 3, [])
    after = library.stories("c")
    assert {s.text: s.id for s in after} == ids  # the ids stay, no -2 suffixes
    assert [s.line for s in after if s.id == ids["As an admin, I want to ban users"]] == [1]


def test_in_a_file_without_ids_a_reworded_story_is_a_new_one_and_the_old_wording_gone(library, tmp_path):
    path = tmp_path / "backlog.txt"
    path.write_text("As a user, I want to log in\nAs a user, I want to log out\n")
    library.add("c", read_file(path))
    path.write_text("As a user, I want to log in\nAs a user, I want to sign out\n")
    report = library.add("c", read_file(path))
    assert [s.text for s in report.added] == ["As a user, I want to sign out"]
    assert [s.id for s in report.gone] == ["backlog-2"] and report.added[0].id == "backlog-3"


def test_pasting_again_only_adds_and_never_reports_gone_stories(library):
    library.add("c", read_text("As a u, I want one\nAs a u, I want two"))
    report = library.add("c", read_text("As a u, I want three"), sync=True)
    assert [s.id for s in report.added] == ["paste-3"] and report.gone == [] and not report.reimport
    assert len(library.stories("c")) == 3


def test_a_story_of_another_file_with_the_same_id_is_not_changed_but_suffixed(library, tmp_path):
    (tmp_path / "a.txt").write_text("US-1: As a u, I want one\n")
    (tmp_path / "b.txt").write_text("US-1: As a u, I want another\n")
    library.add("c", read_file(tmp_path / "a.txt"))
    report = library.add("c", read_file(tmp_path / "b.txt"))
    assert [s.id for s in report.added] == ["US-1-2"] and not report.changed


def test_a_changed_story_is_embedded_anew_and_its_old_vector_dropped(tmp_path, embedder):
    library = Library(tmp_path, embedder)
    library.add("leave", read_file(DATA / "leave.csv"))
    old = {s.id: s.digest for s in library.stories("leave")}
    library.add("leave", read_file(week_later(tmp_path)), sync=True)
    now = {s.id: s.digest for s in library.stories("leave")}
    held = library.load_vectors(embedder.name, [*old.values(), *now.values()])
    assert set(held) == set(now.values())
    assert old["HR-102"] not in held and old["HR-130"] not in held and now["HR-131"] in held


def test_deleting_a_story_keeps_it_in_the_history_and_clearing_the_collection_forgets_both(library):
    library.add("c", read_file(DATA / "leave.csv"))
    library.delete_story("c", "HR-105")
    assert [v.why for v in library.history("HR-105")] == [REMOVED]
    library.clear("c")
    assert library.history("HR-105") == []
    with sqlite3.connect(library.path) as db:
        assert db.execute("SELECT COUNT(*) FROM story_history").fetchone()[0] == 0


def test_changed_since_lists_what_was_added_changed_and_removed_with_the_old_version(library, tmp_path):
    library.add("leave", read_file(DATA / "leave.csv"))
    between = library.last_import("leave")
    library.add("leave", read_file(week_later(tmp_path)), sync=True)
    changes = {c.story.id: c for c in library.changed_since("leave", library.last_import("leave"))}
    assert {i: c.kind for i, c in changes.items()} == {"HR-102": CHANGED, "HR-110": CHANGED, "HR-131": ADDED, "HR-130": REMOVED}
    assert "so that I know what I can still book" in changes["HR-102"].previous.text
    assert any("acceptance criteria: was" in line for line in changes["HR-110"].lines())
    since_both = library.changed_since("leave", between)
    assert [c.kind for c in since_both].count(ADDED) == 30 and [c.story.id for c in since_both if c.kind == REMOVED] == ["HR-130"]
    assert library.changed_since("leave", since_time("2999-01-01")) == []


def test_a_since_that_is_not_a_date_says_how_to_write_one():
    assert since_time("2026-12-01") == "2026-12-01T00:00:00.000000+00:00"
    assert since_time("2026-12-01T14:30+01:00") == "2026-12-01T13:30:00.000000+00:00"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        since_time("last tuesday")


def test_a_title_only_change_on_a_row_whose_description_is_the_story_is_reported(library, tmp_path):
    library.add("leave", read_file(DATA / "leave.csv"))
    path = tmp_path / "leave.csv"
    path.write_text((DATA / "leave.csv").read_text(encoding="utf-8").replace(",Request annual leave,", ",Request annual leave online,"), encoding="utf-8")
    report = library.add("leave", read_file(path))
    assert report.describe() == "leave.csv: 0 added, 1 changed (HR-101), 29 unchanged"
    assert report.details() == ["HR-101 title: was “Request annual leave”, now “Request annual leave online”"]
    [version] = library.history("HR-101", "leave")
    assert version.story.title == "Request annual leave"


@pytest.mark.parametrize("before, after, detail", [
    (",3,invoicing,email,", ",5,invoicing,email,", "BILL-43 points: was “3”, now “5”"),
    (",BILL Sprint 8,,Billing,2.4.1,", ",BILL Sprint 9,,Billing,2.4.1,", "BILL-42 sprints: was “BILL Sprint 8”, now “BILL Sprint 9”"),
    ("Reproduced with the March data.", "Reproduced with the April data.",
     "BILL-42 comments: was “akhan, 2024-03-19T08:30: Reproduced with the March data.”, "
     "now “akhan, 2024-03-19T08:30: Reproduced with the April data.”"),
    (",Growth\r\nRemind", ",Payments\r\nRemind", "BILL-43 Custom field (Team): was “Growth”, now “Payments”"),
])
def test_a_change_to_one_field_or_comment_is_reported_by_its_name(library, tmp_path, before, after, detail):
    library.add("bill", read_file(DATA / "jira-all-fields.csv"))
    data = (DATA / "jira-all-fields.csv").read_bytes()
    assert data.count(before.encode()) == 1
    (tmp_path / "jira-all-fields.csv").write_bytes(data.replace(before.encode(), after.encode()))
    report = library.add("bill", read_file(tmp_path / "jira-all-fields.csv"))
    assert (report.details(), len(report.unchanged)) == ([detail], 3)


# --- the schema ------------------------------------------------------------------------------


def test_a_library_made_by_6b5f3c6_gets_a_history_and_its_stories_a_time_of_adding(tmp_path, tmp_path_factory):
    shutil.copy(MADE_BY_6B5F3C6, tmp_path / DATABASE_NAME)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        before = db.execute("SELECT * FROM stories ORDER BY pk").fetchall()
        width = len(before[0])
    library = Library(tmp_path)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        columns = [row[1] for row in db.execute("PRAGMA table_info(stories)")]
        after = db.execute("SELECT * FROM stories ORDER BY pk").fetchall()
    at = columns.index("added_at")
    assert [row[:at] + row[at + 1:width + 1] for row in after] == before and {row[at] for row in after} == {""}
    report = library.add("leave", read_file(week_later(tmp_path_factory.mktemp("export"))))
    assert report.describe() == WEEK_LATER
    assert next(s for s in library.stories("leave") if s.id == "HR-101").title == "Request annual leave"
    assert [v.story.text for v in library.history("HR-102", "leave")] == [
        next(s for s in read_file(DATA / "leave.csv").stories if s.id == "HR-102").text
    ]


# --- the command line ------------------------------------------------------------------------


def test_the_week_later_scenario_on_the_command_line(tmp_path):
    data = str(tmp_path / "data")
    first = storychat("import", str(DATA / "leave.csv"), "--collection", "leave", "--data-dir", data)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "leave.csv: 30 added, 0 skipped as duplicate, 0 kept as notes"

    between = datetime.now(timezone.utc).isoformat()
    again = storychat("import", str(week_later(tmp_path)), "--collection", "leave", "--data-dir", data)
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert lines[0] == WEEK_LATER and "warning" not in again.stdout
    assert lines[1] == (
        "  Columns: Issue key → id, Issue Type → type, Summary → title, Description → description,"
        " Custom field (Acceptance Criteria) → acceptance, Epic Link → epic"
    )
    assert lines[2].startswith("  HR-102 text: was “As an employee, I want to see how many days")
    assert lines[3].startswith("  HR-110 acceptance criteria: was “Given an employee has 7 unused days")
    assert len(_ids(data)) == 31

    synced = storychat("import", str(week_later(tmp_path)), "--collection", "leave", "--sync", "--data-dir", data)
    assert synced.stdout.splitlines()[0] == (
        "leave.csv: 0 added, 0 changed, 30 unchanged, 1 removed as gone from the file (HR-130)"
    )
    ids = _ids(data)
    assert len(ids) == 30 and "HR-131" in ids and "HR-130" not in ids
    assert not [i for i in ids if i.count("-") > 1]  # no HR-102-2

    history = storychat("stories", "history", "HR-102", "--collection", "leave", "--data-dir", data)
    assert history.returncode == 0, history.stderr
    assert "leave: changed; it was:" in history.stdout
    assert "[HR-102] As an employee, I want to see how many days of leave I have left this year, so that I know" in history.stdout

    changed = storychat("stories", "list", "--collection", "leave", "--changed-since", between, "--data-dir", data)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith(f"4 stories added, changed or removed since {between}\n")
    assert "changed [HR-102]" in changed.stdout and "added [HR-131]" in changed.stdout and "removed [HR-130]" in changed.stdout
    assert "  text: was “As an employee" in changed.stdout
    bad = storychat("stories", "list", "--collection", "leave", "--changed-since", "yesterday", "--data-dir", data)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


def _ids(data: str) -> list[str]:
    listed = storychat("stories", "list", "--collection", "leave", "--json", "--data-dir", data)
    assert listed.returncode == 0, listed.stderr
    return [s["id"] for s in json.loads(listed.stdout)]


def test_the_last_import_is_the_last_that_added_or_changed_and_what_was_removed_after_it_counts(library, tmp_path):
    library.add("leave", read_file(DATA / "leave.csv"))
    library.add("leave", read_file(week_later(tmp_path)))
    last = library.last_import("leave")
    library.remove("leave", ["HR-130"])  # the UI's button, after the upload
    assert library.last_import("leave") == last
    kinds = {c.story.id: c.kind for c in library.changed_since("leave", last)}
    assert kinds == {"HR-102": CHANGED, "HR-110": CHANGED, "HR-131": ADDED, "HR-130": REMOVED}
