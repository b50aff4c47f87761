"""The UI's panels in-process, on a FakeEngine: what one refresh reads, and what it shows."""

from storychat.answer.pipeline import Pipeline
from storychat.stories.formats import Limits, read_text
from storychat.stories.library import Library
from storychat.ui.library import Costs, LibraryPanel

STORIES = """\
As a moderator, I want to create a new game by entering a name, so that I can start inviting estimators.
As an estimator, I want to see the item we are estimating, so that I know what I am giving an estimate for.
Sprint 4 starts on Monday
"""


def counted(calls: list, name: str, method):
    def call(*args, **kwargs):
        calls.append(name)
        return method(*args, **kwargs)

    return call


def panel(tmp_path, fake_engine, monkeypatch) -> tuple[LibraryPanel, list]:
    library = Library(tmp_path)
    library.add("poker", read_text(STORIES))
    calls = []
    monkeypatch.setattr(library, "collections", counted(calls, "collections", library.collections))
    monkeypatch.setattr(library, "stories", counted(calls, "stories", library.stories))
    return LibraryPanel(library, Pipeline(fake_engine), Limits(), Costs("fake.gguf")), calls


def test_one_refresh_reads_the_collection_names_once_and_the_stories_once(tmp_path, fake_engine, monkeypatch):
    shelves, calls = panel(tmp_path, fake_engine, monkeypatch)
    report, table, picker, status, summary, roles, epics, cost, first_steps = shelves.refresh("poker", "done")
    assert calls == ["collections", "stories"]
    assert report == "done" and [row[0] for row in table] == ["paste-1", "paste-2"]
    assert picker["choices"] == ["poker"] and picker["value"] == "poker"
    assert "collection **poker**" in status and summary.startswith("**2** stories, 1 notes")
    assert roles["choices"] == ["estimator", "moderator"] and "Local model" in cost
    assert first_steps["visible"] is False


def test_a_collection_not_yet_made_is_shown_empty_without_reading_stories(tmp_path, fake_engine, monkeypatch):
    shelves, calls = panel(tmp_path, fake_engine, monkeypatch)
    _, table, picker, _, summary, *_ = shelves.refresh("new-one")
    assert calls == ["collections"]
    assert table == [] and picker["choices"] == ["new-one", "poker"] and "is empty" in summary
