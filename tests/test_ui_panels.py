"""The UI's panels in-process, on a FakeEngine: what one refresh reads, and what it shows."""

import re
import shutil
from dataclasses import replace

import gradio as gr

from storychat.chats.store import Chats
from storychat.answer.citations import Citation
from storychat.answer.context import Coverage
from storychat.chats.conversation import Conversation, answered
from storychat.answer.answer import Answer, Timings
from storychat.answer.pipeline import Pipeline
from storychat.stories.formats import Limits, read_file, read_text
from storychat.stories.library import Library
from storychat.ui.chat import ChatPanel
from storychat.cost import Costs
from storychat.ui.library import ANY, COUNTING, FILTER_LABELS, TABLE_HEADERS, LibraryPanel
from storychat.ui.render import coverage_line, escape, turn_messages
from tests.helpers import DATA, week_later

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
    report, table, picker, status, roles, epics, first_steps, notes, place, *_ = shelves.refresh("poker", "done")
    assert calls == ["collections", "stories"]
    assert place == "Page 1 of 1 · items 1–2 of 2" and notes.startswith("Page 1 of 1 · notes 1–1 of 1:")
    assert report == "done" and [row[0] for row in table] == ["paste-1", "paste-2"]
    assert picker["choices"] == ["poker"] and picker["value"] == "poker"
    assert "collection **poker**" in status and roles["choices"] == ["estimator", "moderator"]
    assert first_steps["visible"] is False


def test_the_token_counts_come_after_the_rows_saying_so_and_name_their_units(tmp_path, fake_engine, monkeypatch):
    shelves, _ = panel(tmp_path, fake_engine, monkeypatch)
    (counting, pending), (summary, cost) = shelves.counted("poker")
    assert (counting, pending) == ("**2** stories, 1 notes · counting their model tokens …", COUNTING)
    assert re.fullmatch(r"\*\*2\*\* stories, 1 notes · [\d,]+ model tokens, in room for [\d,]+ in the loaded model's context: .*", summary)
    assert "cl100k tokens (for cloud prices)" in cost and "Local model" in cost


def test_a_collection_not_yet_made_is_shown_empty_without_reading_stories(tmp_path, fake_engine, monkeypatch):
    shelves, calls = panel(tmp_path, fake_engine, monkeypatch)
    _, table, picker, *_ = shelves.refresh("new-one")
    assert calls == ["collections"]
    assert table == [] and picker["choices"] == ["new-one", "poker"]
    assert all("is empty" in summary for summary, _ in shelves.counted("new-one"))


def test_an_upload_of_a_file_imported_before_shows_the_change_report_and_offers_to_remove_the_gone_story(tmp_path, fake_engine):
    shelves = LibraryPanel(Library(tmp_path / "data"), Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    *_, button, gone = shelves.import_files([str(shutil.copy(DATA / "leave.csv", tmp_path))], "leave")
    assert button["visible"] is False and gone == []
    report, table, *_, button, gone = shelves.import_files([str(week_later(tmp_path))], "leave")
    assert report.startswith(
        "Updated **leave** from leave.csv: 1 added, 2 changed (HR-102, HR-110), 27 unchanged, "
        "1 gone from the file (HR-130; the button below removes it)\n- HR-102 text: was “As an employee"
    )
    assert len(table) == 31 and gone == ["HR-130"]
    assert button == {"__type__": "update", "visible": True, "value": "Remove the 1 story no longer in the file"}
    report, table, *_, button, gone = shelves.remove_gone(gone, "leave")
    assert len(table) == 30 and report.startswith("Removed 1 story no longer in the file: HR-130.")
    assert button["visible"] is False and gone == []


def test_what_changed_lists_the_last_imports_changes_and_an_answer_citing_a_changed_story_says_so_then_and_now(tmp_path, fake_engine):
    library = Library(tmp_path / "data")
    library.add("leave", read_file(DATA / "leave.csv"))
    shelves = LibraryPanel(library, Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    chat = ChatPanel(Pipeline(fake_engine), shelves, Costs("fake.gguf"), Chats(library))
    cited = next(s for s in library.stories("leave") if s.id == "HR-102")
    answer = Answer("[HR-102] You see it on your profile.", False, [Citation("HR-102", "leave.csv", 3, cited.text, True, digest=cited.digest)],
                    Coverage(30, 30, 2000, 8192, "full"), Timings(1.0, 2.0, 2000, 10, 20))
    conversation = Conversation().add(answered("Where do I see my balance?", answer))
    assert not [m for m in chat.note_changes(conversation, "leave") if "changed after" in m.get("metadata", {}).get("title", "")]

    shelves.import_files([str(week_later(tmp_path))], "leave")
    action = chat._action("changes", "", "leave")
    assert action.title == "What changed since the last import: 1 added, 2 changed, 0 removed"
    assert [s.id for s in action.stories] == ["HR-102", "HR-110", "HR-131"]
    assert action.evidence[0].startswith("changed [HR-102] ") and action.evidence[1].startswith("  text: was “")
    shown = chat.note_changes(conversation, "leave")
    assert shown[:-1] == [{"role": "user", "content": "Where do I see my balance?"}, *turn_messages(conversation.turns[0])]
    notice = shown[-1]
    assert notice["metadata"]["title"] == "⚠ HR-102 changed after this answer"
    now = next(s for s in library.stories("leave") if s.id == "HR-102").text
    assert notice["content"].startswith(f"When answered: “{escape(cited.text)}”<br>Now: “{escape(now)}”") and now != cited.text
    assert f"{cited.text}" in shelves.story_history("HR-102", "leave") and "changed" in shelves.story_history("HR-102", "leave")


def test_a_reimport_report_counts_what_the_file_holds_not_only_what_it_added(tmp_path, fake_engine):
    shelves = LibraryPanel(Library(tmp_path / "data"), Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    shelves.import_files([str(DATA / "leave.csv")], "leave")
    report, *_ = shelves.import_files([str(week_later(tmp_path))], "leave")
    # week two's file: 30 stories (one added, one gone) with 11 criteria; the one it added has none
    assert "1 added, 2 changed" in report and "- Read from leave.csv: 4 roles, 6 epics, 11 acceptance criteria." in report


def test_story_history_asks_for_an_id_and_says_when_a_story_never_changed(tmp_path, fake_engine):
    library = Library(tmp_path / "data")
    library.add("leave", read_file(DATA / "leave.csv"))
    shelves = LibraryPanel(library, Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    assert shelves.story_history("HR-101", "leave") == "No earlier versions of **HR-101** in leave: no import changed or removed it."
    assert shelves.story_history(" ", "leave") == gr.skip()


def test_an_import_shows_what_was_parsed_and_the_pickers_keep_the_stories_casing(tmp_path, fake_engine):
    shelves = LibraryPanel(Library(tmp_path / "data"), Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    report, table, _, _, roles, epics, *_ = shelves.import_files([str(DATA / "leave.csv")], "leave")
    assert "Added 30 stories to **leave**" in report and "- Read from leave.csv: 4 roles, 6 epics, 9 acceptance criteria." in report
    assert roles["choices"] == ["employee", "HR advisor", "manager", "IT administrator"]
    assert epics["choices"][0] == "Leave requests"
    hr_101 = next(row for row in table if row[0] == "HR-101")
    assert hr_101[TABLE_HEADERS.index("criteria")].startswith("Given I have enough leave left, when I submit")


def test_the_table_pages_searches_and_filters_with_the_filters_the_collection_offers(tmp_path, fake_engine):
    library = Library(tmp_path / "data")
    library.add("mixed", read_file(DATA / "leave.csv"))
    shelves = LibraryPanel(library, Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    shelves.import_files([str(DATA / "jira-all-fields.csv")], "mixed")
    *_, place, number, search, kind, status, priority, label, component, sprint, fix_version, epic, role, notes_number = (
        shelves.refresh("mixed")
    )
    assert (place, number, search, notes_number) == ("Page 1 of 1 · items 1–34 of 34", 1, "", 1)
    assert status["choices"] == [(ANY, ""), ("To Do (2)", "To Do"), ("Done (1)", "Done"), ("In Progress (1)", "In Progress")]
    assert status["visible"] and kind["choices"][1:] == [("Story (33)", "Story"), ("Bug (1)", "Bug")]
    assert role["visible"] and not shelves.refresh("empty")[-2]["visible"]
    chosen = {name: "" for name in FILTER_LABELS}
    rows, place, number = shelves.browse("mixed", "", 1, *{**chosen, "status": "To Do"}.values())
    assert [row[0] for row in rows] == ["BILL-43", "BILL-44"] and place.endswith("matching status To Do (of 34)")
    rows, place, number = shelves.browse("mixed", "CENT", 1, *chosen.values())
    assert [row[0] for row in rows] == ["BILL-42"] and rows[0][TABLE_HEADERS.index("item")] == "Invoice totals round wrong"
    assert rows[0][TABLE_HEADERS.index("description")].startswith("Totals of invoices with three or more lines are off by one cent.")
    assert (rows[0][TABLE_HEADERS.index("type")], rows[0][TABLE_HEADERS.index("status")], rows[0][TABLE_HEADERS.index("points")]) == (
        "Bug", "Done", "2"
    )


def test_an_upload_report_names_what_each_column_became(tmp_path, fake_engine):
    shelves = LibraryPanel(Library(tmp_path / "data"), Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    report, *_ = shelves.import_files([str(DATA / "jira-all-fields.csv")], "bill")
    assert "\n- Columns: Summary → title, Issue key → id, Issue Type → type, Status → status," in report
    assert "Labels ×3 → labels" in report and "; kept as fields: Issue id, Custom field (Team)\n" in report


def test_a_notes_only_collection_says_it_holds_notes_and_lists_them(tmp_path, fake_engine):
    shelves = LibraryPanel(Library(tmp_path / "data"), Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    junk = "\n".join(f"lorem ipsum {i} dolor" for i in range(250))
    report, _, _, _, _, _, _, notes, *_ = shelves.import_paste(junk, "junk")
    assert report.startswith("Added 0 stories to **junk**; 0 skipped as duplicates; 250 kept as notes (lines that are not stories")
    summary, _ = list(shelves.counted("junk"))[-1]
    assert summary.startswith("Collection **junk** holds no stories, only 250 notes") and "empty" not in summary
    assert notes.startswith("Page 1 of 5 · notes 1–50 of 250:\n\n- lorem ipsum 0 dolor _(paste:1)_") and notes.count("\n- ") == 50
    notes, number = shelves.browse_notes("junk", 9)
    assert number == 5 and notes.startswith("Page 5 of 5 · notes 201–250 of 250:\n\n- lorem ipsum 200 dolor _(paste:201)_")


def test_the_cost_panel_times_the_local_model_only_on_its_own_collection(fake_engine):
    costs = Costs("fake.gguf")
    answer = Answer("[A-1] Yes.", False, [], Coverage(3, 3, 300, 8192, "full"), Timings(1.0, 2.0, 300, 10, 300, "cold"))
    costs.record(answer, "small")
    stories = read_text(STORIES).stories
    assert "read 3 of 3 stories" in costs.markdown(stories, "small")
    assert "read 3 of 3 stories" not in costs.markdown(stories, "other")


def test_a_refusal_by_the_gate_says_no_model_call_instead_of_times():
    context = Coverage(30, 30, 1400, 8192, "full")
    gated = Answer("I cannot find this in the user stories.", True, [], context, Timings(0.01, 0.01, 0, 0, 0), gated=True)
    asked = replace(gated, gated=False, timings=Timings(0.8, 2.5, 1400, 12, 1400))
    assert coverage_line(gated.to_json()) == "Context: 30 of 30 stories, 1,400 of 8,192 model tokens (full) · no model call"
    assert coverage_line(asked.to_json()).endswith("(full) · first token 0.8s, total 2.5s")


def test_stop_during_the_summary_of_a_list_question_keeps_the_exact_list_with_the_stopped_turn(tmp_path, fake_engine):
    library = Library(tmp_path / "data")
    library.add("leave", read_file(DATA / "leave.csv"))
    shelves = LibraryPanel(library, Pipeline(fake_engine), Limits(), Costs("fake.gguf"))
    chats = Chats(library)
    chat = ChatPanel(Pipeline(fake_engine), shelves, Costs("fake.gguf"), chats)
    fake_engine.reply = "[HR-104] Managers approve requests and see the team calendar."
    for shown, conversation, _, _, answering in chat.respond("Which stories are for managers?", [], Conversation(), "leave"):
        if answering and answering.listing and shown[-1]["content"].startswith("[HR-104]"):
            break  # Stop pressed while the summary streams, after the list was shown
    listed = [m["content"] for m in shown[1:-1]]
    assert listed and "stories have the role manager" in listed[0]

    shown, conversation, *_ = chat.stopped(shown, conversation, answering, "leave")
    kept = chats.open("local", chats.latest("local", "leave").id)[1].turns[-1]
    assert kept.record["listing"] == answering.listing
    assert [m["content"] for m in turn_messages(kept)][:-1] == listed  # the list comes back when the chat is reopened
    assert [m["content"] for m in shown[1:-1]] == listed and "Stopped" in shown[-1]["content"]
