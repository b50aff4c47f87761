"""The SQLite story library: imports, duplicates, ids, exports, migrations, crashes."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import platformdirs
import pytest

from storychat.stories.formats import ImportBatch, read_file, read_text
from storychat.stories.library import DATABASE_NAME, CollectionInfo, Library, default_data_dir
from storychat.stories.migrations import MIGRATIONS, migrate
from storychat.stories.model import Story
from tests.helpers import DATA, table_rows

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def library(tmp_path) -> Library:
    return Library(tmp_path / "data")


def _story(n: int, text: str = "") -> Story:
    return Story(id=f"s-{n}", text=text or f"As a user, I want thing {n}", source="s.txt", line=n)


def _batch(*stories: Story) -> ImportBatch:
    return ImportBatch("s.txt", list(stories), [])


# --- data directory -------------------------------------------------------------


def test_the_default_data_dir_is_the_platform_user_data_dir():
    assert default_data_dir() == Path(platformdirs.user_data_dir("storychat"))


def test_a_new_library_creates_its_database_in_the_data_dir(tmp_path):
    Library(tmp_path / "new" / "dir")
    assert (tmp_path / "new" / "dir" / DATABASE_NAME).is_file()


# --- importing ---------------------------------------------------------------------


def test_all_dalpiaz_backlogs_go_into_one_collection(library, dalpiaz):
    reports = [library.add("dalpiaz", read_file(path)) for path in sorted(dalpiaz.glob("*.txt"))]
    added = sum(len(r.added) for r in reports)
    duplicates = sum(len(r.duplicates) for r in reports)
    notes = sum(len(r.notes) for r in reports)
    [info] = library.collections()
    assert (info.name, info.stories, info.notes) == ("dalpiaz", added, notes)
    assert notes == 3
    assert added + notes + duplicates == 1680
    assert len(library.stories("dalpiaz")) == added + notes


def test_reimporting_the_same_file_adds_nothing_and_reports_every_story_unchanged(library, dalpiaz):
    batch = read_file(dalpiaz / "g13-planningpoker.txt")
    first = library.add("poker", batch)
    again = library.add("poker", read_file(dalpiaz / "g13-planningpoker.txt"))
    assert first.added and not first.duplicates
    assert again.added == [] and again.notes == [] and again.duplicates == [] and again.changed == []
    assert len(again.unchanged) == len(batch.stories)
    assert len(library.stories("poker")) == len(batch.stories)


def test_exact_duplicate_stories_in_a_collection_are_reported_not_stored(library):
    report = library.add("c", _batch(_story(1, "As a u, I want x"), _story(2, "As a u, I want x"), _story(3)))
    assert [s.id for s in report.added] == ["s-1", "s-3"]
    assert [s.id for s in report.duplicates] == ["s-2"]
    assert [s.id for s in library.stories("c")] == ["s-1", "s-3"]


def test_notes_are_stored_and_reported_apart_from_stories(library):
    report = library.add("c", read_text("# Epic\nAs a u, I want x\nstray words"))
    assert [s.text for s in report.notes] == ["Epic", "stray words"]
    assert [s.text for s in report.added] == ["As a u, I want x"]
    assert library.collections()[0].notes == 2


def test_stories_come_back_in_source_line_id_order_with_all_fields(library):
    stories = [
        Story("b-2", "As a u, I want b2", "b.txt", 2, "u", "b2", "", ("Given x",), "E"),
        Story("a-9", "As a u, I want a9", "a.txt", 9),
        Story("b-1", "As a u, I want b1", "b.txt", 1),
        Story("a-10", "As a u, I want a10", "a.txt", 10),
    ]
    library.add("c", ImportBatch("mixed", stories, []))
    back = library.stories("c")
    assert [s.id for s in back] == ["a-9", "a-10", "b-1", "b-2"]
    assert back[3] == stories[0]


def test_the_batch_warnings_are_passed_on_in_the_report(library):
    report = library.add("c", read_text("US-1: As a u, I want x\nUS-1: As a u, I want y"))
    assert any("US-1" in warning for warning in report.warnings)


def test_a_failed_import_leaves_the_library_unchanged(library):
    library.add("kept", _batch(_story(1)))
    before = (library.collections(), library.stories("kept"))
    broken = Story(id="s-9", text=None, source="s.txt", line=9)  # NOT NULL fails in SQLite
    with pytest.raises(sqlite3.IntegrityError):
        library.add("kept", _batch(_story(2), _story(3), broken))
    with pytest.raises(sqlite3.IntegrityError):
        library.add("new", _batch(_story(4), broken))
    assert (library.collections(), library.stories("kept")) == before


# --- ids ---------------------------------------------------------------------------


def test_pasted_stories_are_renumbered_past_the_pastes_already_there(library):
    library.add("c", read_text("As a u, I want one\nAs a u, I want two"))
    report = library.add("c", read_text("As a u, I want three"))
    assert [s.id for s in report.added] == ["paste-3"]
    assert {s.id: s.text for s in library.stories("c")} == {
        "paste-1": "As a u, I want one",
        "paste-2": "As a u, I want two",
        "paste-3": "As a u, I want three",
    }


def test_a_repasted_story_keeps_its_number_and_is_a_duplicate(library):
    library.add("c", read_text("As a u, I want one"))
    report = library.add("c", read_text("As a u, I want one\nAs a u, I want two"))
    assert [s.id for s in report.duplicates] == ["paste-1"]
    assert [s.id for s in report.added] == ["paste-2"]


def test_a_taken_own_id_with_new_text_gets_a_suffix_and_a_warning(library):
    library.add("c", read_text("US-1: As a u, I want one"))
    report = library.add("c", read_text("US-1: As a u, I want changed"))
    assert [s.id for s in report.added] == ["US-1-2"]
    assert "US-1" in report.warnings[0] and "US-1-2" in report.warnings[0]


# --- fingerprint, delete, clear -------------------------------------------------------


def test_the_fingerprint_changes_exactly_when_the_stories_change(library):
    library.add("c", _batch(_story(1), _story(2)))
    first = library.fingerprint("c")
    library.add("c", _batch(_story(1)))  # a duplicate: nothing changes
    library.add("other", _batch(_story(3)))
    assert library.fingerprint("c") == first
    library.add("c", _batch(_story(3)))
    grown = library.fingerprint("c")
    library.delete_story("c", "s-3")
    assert len({first, grown}) == 2
    assert library.fingerprint("c") == first
    assert library.collections()[0] == CollectionInfo("c", 2, 0)


def test_reading_an_unchanged_collection_again_parses_none_of_its_stories(library):
    library.add("c", read_file(DATA / "leave.csv"))
    first, again = library.stories("c"), library.stories("c")
    assert first == again and first is not again
    assert all(a is b for a, b in zip(first, again))


def test_a_change_by_another_process_is_read_at_once_even_one_only_to_an_epic(library):
    batch = read_file(DATA / "leave.csv")
    library.add("c", batch)
    read = library.stories("c")
    other = Library(library.data_dir)  # another process's library on the same file
    other.add("c", ImportBatch(batch.source, [replace(s, epic="Payroll") if s.id == "HR-101" else s for s in batch.stories]))
    assert next(s for s in library.stories("c") if s.id == "HR-101").epic == "Payroll"
    other.delete_story("c", "HR-102")
    assert [s.id for s in library.stories("c")] == [s.id for s in read if s.id != "HR-102"]
    other.clear("c")
    assert library.stories("c") == []


def test_a_story_is_deleted_by_its_id(library):
    library.add("c", _batch(_story(1), _story(2)))
    assert library.delete_story("c", "s-1") is True
    assert library.delete_story("c", "s-1") is False
    assert library.delete_story("nowhere", "s-2") is False
    assert [s.id for s in library.stories("c")] == ["s-2"]


def test_clearing_removes_the_collection_and_counts_its_stories(library):
    library.add("c", read_text("# E\nAs a u, I want x\nAs a u, I want y"))
    library.add("d", _batch(_story(1)))
    assert library.clear("c") == 3
    assert library.clear("c") == 0
    assert [info.name for info in library.collections()] == ["d"]
    assert library.stories("c") == []


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "tab\tname", "new\nline"])
def test_unusable_collection_names_are_refused(library, name):
    with pytest.raises(ValueError, match="collection"):
        library.add(name, _batch(_story(1)))


def test_collection_names_are_trimmed(library):
    library.add("  backlog  ", _batch(_story(1)))
    assert [info.name for info in library.collections()] == ["backlog"]
    assert len(library.stories("backlog")) == 1


# --- export ----------------------------------------------------------------------------


def test_exported_csv_reimports_to_the_same_texts_and_ids(library, dalpiaz, tmp_path):
    for path in sorted(dalpiaz.glob("*.txt")):
        library.add("dalpiaz", read_file(path))
    library.add("dalpiaz", read_text("As a u, I want x, \"quoted\"; and more\nGiven a\nAnd b"))
    original = library.stories("dalpiaz")
    library.export_csv("dalpiaz", tmp_path / "export.csv")
    back = read_file(tmp_path / "export.csv").stories
    assert [(s.id, s.text, s.kind, s.acceptance) for s in back] == [
        (s.id, s.text, s.kind, s.acceptance) for s in original
    ]


def test_exported_jsonl_reimports_to_the_same_stories(library, tmp_path):
    library.add("c", read_text("# Epic\nAs a u, I want x\n- crit\nUS-7 As a v, I want y"))
    library.export_jsonl("c", tmp_path / "c.jsonl")
    back = read_file(tmp_path / "c.jsonl").stories
    assert [(s.id, s.text, s.epic, s.acceptance, s.role) for s in back] == [
        (s.id, s.text, s.epic, s.acceptance, s.role) for s in library.stories("c")
    ]
    assert not list(tmp_path.glob("*.partial"))


# --- persistence and migrations ------------------------------------------------------------


def test_the_library_survives_reopening(tmp_path):
    Library(tmp_path).add("c", read_text("As a u, I want x\nAs a u, I want y"))
    reopened = Library(tmp_path)
    assert [s.text for s in reopened.stories("c")] == ["As a u, I want x", "As a u, I want y"]
    assert reopened.add("c", read_text("As a u, I want x")).duplicates


def test_a_version_1_library_is_migrated_on_opening(tmp_path):
    db = sqlite3.connect(tmp_path / DATABASE_NAME, isolation_level=None)
    migrate(db, MIGRATIONS[:1])
    db.execute("INSERT INTO collections (id, name) VALUES (1, 'old')")
    db.execute(
        "INSERT INTO stories (collection_id, story_id, text, source, line, role, goal, benefit,"
        " acceptance, epic, kind) VALUES (1, 'o-1', 'As a u, I want x', 'o.txt', 1, 'u', 'x', '',"
        " '[]', '', 'story')"
    )
    assert db.execute("PRAGMA user_version").fetchone()[0] == 1
    db.close()

    library = Library(tmp_path)
    db = sqlite3.connect(tmp_path / DATABASE_NAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    db.close()
    assert [s.id for s in library.stories("old")] == ["o-1"]
    report = library.add("old", _batch(_story(1, "As a u, I want x")))
    assert [s.id for s in report.duplicates] == ["s-1"]


def test_a_library_made_by_2495d14_gains_empty_item_parts_and_keeps_its_stories_digests_vectors_and_chats(tmp_path):
    shutil.copy(DATA / "library-2495d14.sqlite3", tmp_path / DATABASE_NAME)
    tables = ("stories", "story_history", "story_vectors", "chats")
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        before = table_rows(db, tables)
    library = Library(tmp_path)
    with sqlite3.connect(tmp_path / DATABASE_NAME) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert table_rows(db, tables, like=before) == before
        added = [db.execute(f"SELECT DISTINCT title, description, fields, comments FROM {t}").fetchall() for t in ("stories", "story_history")]
        digests = dict(db.execute("SELECT story_id, digest FROM stories"))
    assert all(rows in ([("", "", "{}", "[]")], []) for rows in added) and added[0]
    stories = library.stories("leave") + library.stories("bookshop")
    assert len(stories) == len(digests) and all(s.bare and s.digest == digests[s.id] for s in stories)


def test_the_database_runs_in_wal_mode(library):
    db = sqlite3.connect(library.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


# --- concurrency and crashes ----------------------------------------------------------------


def test_threads_can_import_and_read_at_the_same_time(library):
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for round_ in range(5):
                stories = [_story(worker * 1000 + round_ * 100 + i) for i in range(20)]
                library.add("shared", _batch(*stories))
                library.add(f"own-{worker}", _batch(*stories))
                library.stories("shared")
                library.collections()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(library.stories("shared")) == 6 * 5 * 20
    assert all(info.stories == 100 for info in library.collections() if info.name.startswith("own-"))


BATCH_SIZE = 20_000
IMPORT_FOREVER = f"""
import sys
from pathlib import Path
from storychat.stories.formats import ImportBatch
from storychat.stories.library import Library
from storychat.stories.model import Story

library = Library(Path(sys.argv[1]))
round_ = 0
while True:
    stories = [
        Story(f"big-{{round_}}-{{i}}", f"As a user, I want item {{round_}}-{{i}}", "big.txt", i)
        for i in range({BATCH_SIZE})
    ]
    library.add("big", ImportBatch("big.txt", stories, []))
    round_ += 1
"""


def test_a_process_killed_mid_import_leaves_the_library_as_before_that_import(tmp_path):
    library = Library(tmp_path)
    library.add("kept", read_text("As a u, I want x\nAs a u, I want y"))
    kept = library.fingerprint("kept")
    _kill_mid_import(IMPORT_FOREVER, library.path, counted="stories")

    reopened = Library(tmp_path)
    big = next(info for info in reopened.collections() if info.name == "big")
    assert big.stories >= BATCH_SIZE
    assert big.stories % BATCH_SIZE == 0
    assert reopened.fingerprint("kept") == kept
    db = sqlite3.connect(reopened.path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


REIMPORT_FOREVER = f"""
import sys
from pathlib import Path
from storychat.stories.formats import ImportBatch
from storychat.stories.library import Library
from storychat.stories.model import Story

library = Library(Path(sys.argv[1]))
version = 0
while True:  # the same file again and again, every story reworded each time
    stories = [Story(f"BIG-{{i}}", f"As a user, I want item {{i}} in version {{version}}", "big.csv", i) for i in range({BATCH_SIZE})]
    library.add("big", ImportBatch("big.csv", stories, []))
    version += 1
"""


def test_a_process_killed_mid_reimport_leaves_the_library_as_before_that_reimport(tmp_path):
    library = Library(tmp_path)
    library.add("kept", read_text("As a u, I want x\nAs a u, I want y"))
    kept = library.fingerprint("kept")
    _kill_mid_import(REIMPORT_FOREVER, library.path, counted="story_history")

    reopened = Library(tmp_path)
    stories = reopened.stories("big")
    [version] = {int(s.text.rsplit(" ", 1)[1]) for s in stories}  # every story from one and the same import
    assert len(stories) == BATCH_SIZE and version >= 1
    db = sqlite3.connect(reopened.path)
    # Each committed re-import kept the version it replaced; the one cut short left nothing.
    assert db.execute("SELECT COUNT(*) FROM story_history").fetchone()[0] == version * BATCH_SIZE
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    assert reopened.fingerprint("kept") == kept


def _kill_mid_import(script: str, path: Path, counted: str) -> None:
    """Run ``script`` on the library at ``path`` in a child process and kill -9 it inside an import,
    after one import has committed (``BATCH_SIZE`` rows in the table ``counted``)."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(path.parent)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        _wait_for_an_import_in_progress(path, child, after_commits=1, counted=counted)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


def _wait_for_an_import_in_progress(path: Path, child: subprocess.Popen, after_commits: int, counted: str = "stories") -> None:
    """Return while the child holds the write lock, i.e. is inside an import transaction, once it has
    committed ``after_commits`` imports (``BATCH_SIZE`` rows each in the table ``counted``)."""
    deadline = time.monotonic() + 30
    db = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        while time.monotonic() < deadline:
            assert child.poll() is None, "the importing process ended on its own"
            count = db.execute(f"SELECT COUNT(*) FROM {counted}").fetchone()[0]
            if count >= after_commits * BATCH_SIZE and _write_locked(db):
                return
            time.sleep(0.005)
    finally:
        db.close()
    pytest.fail("the importing process never got to a second import")


def _write_locked(db: sqlite3.Connection) -> bool:
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    db.execute("ROLLBACK")
    return False
