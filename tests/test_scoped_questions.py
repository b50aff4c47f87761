"""Filters scope a question (issue 32): search, the gate, the context, Read everything, list questions and the
quick actions see only the items a Scope keeps, and the answer names it. The plumbing runs on the fake engine."""

from storychat.analysis.actions import changes_action, quick_action
from storychat.chats.conversation import Conversation
from storychat.chats.store import Chats
from storychat.cost import Costs
from storychat.analysis.filters import parse_scope
from storychat.answer import opinion
from storychat.answer.answer import Done, Listed, Reviewed, final
from storychat.answer.lines import lines
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.stories.changes import ADDED, Change
from storychat.stories.formats import Limits, read_file
from storychat.stories.library import Library
from storychat.ui.chat import ANY, FILTER_FIELDS, ChatPanel, picked_scope
from storychat.ui.library import LibraryPanel
from tests.fakes import FakeEngine
from tests.helpers import DATA

BILL = read_file(DATA / "jira-all-fields.csv").stories  # BILL-41 In Progress, 42 Done, 43 and 44 To Do
LEAVE = read_file(DATA / "leave.csv").stories
TO_DO = parse_scope(["status=To Do"])
REMINDER = "[BILL-43] Customers get a reminder e-mail when an invoice is 14 days overdue."


def pipeline(engine) -> Pipeline:
    return Pipeline(engine, options=AnswerOptions(max_tokens=80))


def in_prompt(engine) -> set[str]:
    """The ids of the stories the model was last shown."""
    system = engine.calls[-1][0].content
    return {s.id for s in BILL if f"[{s.id}]" in system}


def test_a_scoped_question_reads_only_the_items_the_filters_keep_and_its_coverage_line_names_them(fake_engine):
    fake_engine.reply = REMINDER
    answer = pipeline(fake_engine).answer("Which invoices get a reminder?", BILL, collection="bill", scope=TO_DO)
    assert in_prompt(fake_engine) == {"BILL-43", "BILL-44"}
    record = answer.to_json()
    assert record["scope"] == {"filters": ["status=To Do"], "kept": 2, "total": 4, "line": "2 of 4 stories: status To Do"}
    assert (record["context"]["stories_in_context"], record["context"]["stories_total"]) == (2, 2)
    assert lines(record).context.startswith("Filter: 2 of 4 stories: status To Do · Context: 2 of 2 stories, ")
    assert [c["id"] for c in record["citations"] if c["valid"]] == ["BILL-43"]
    # Its KV snapshot is filed apart from the whole collection's, which it would otherwise replace.
    assert fake_engine.labels[-1] == "bill [status=To Do]"


def test_an_unscoped_question_reads_every_item_and_its_record_has_no_scope(fake_engine):
    fake_engine.reply = REMINDER
    record = pipeline(fake_engine).answer("Which invoices get a reminder?", BILL, collection="bill").to_json()
    assert in_prompt(fake_engine) == {s.id for s in BILL} and record["scope"] is None
    assert lines(record).context.startswith("Context: 4 of 4 stories") and fake_engine.labels[-1] == "bill"


def test_an_item_outside_the_scope_cannot_be_cited_as_evidence(fake_engine):
    fake_engine.reply = "[BILL-41] An accountant exports an invoice as a PDF."
    unchecked = pipeline(fake_engine).with_options(constrained=False, min_match=0.0, strict=False)
    record = unchecked.answer("Who exports invoices as PDF?", BILL, scope=TO_DO).to_json()
    assert [(c["id"], c["valid"]) for c in record["citations"]] == [("BILL-41", False)] and record["doubt"]
    assert [c.line() for c in lines(record).citations] == ["✗ [BILL-41] is not a story the filter keeps"]


def test_the_gate_judges_the_scope_alone(fake_engine):
    fake_engine.reply = REMINDER
    question = "Which PDF export puts the company logo on A4 pages?"  # only BILL-41, In Progress, says so
    assert not pipeline(fake_engine).answer(question, BILL).gated
    calls = len(fake_engine.calls)
    scoped = pipeline(fake_engine).answer(question, BILL, scope=TO_DO)
    assert scoped.gated and len(fake_engine.calls) == calls
    assert {s.id for s in scoped.closest} <= {"BILL-43", "BILL-44"}


def test_a_scope_that_keeps_nothing_says_so_without_the_model(fake_engine):
    scope = parse_scope(["status=Open", "label=payments"])
    events = list(pipeline(fake_engine).ask("What is still open about payments?", BILL, scope=scope))
    assert fake_engine.calls == [] and len(events) == 1 and isinstance(events[0], Done)
    record = events[0].answer.to_json()
    assert record["answer"] == "No story has status Open and label payments; 4 stories in the collection." and record["refused"]
    assert record["scope"]["kept"] == 0 and record["citations"] == []
    assert lines(record).context == "Filter: 0 of 4 stories: status Open, label payments · no model call"


def test_read_everything_reads_only_the_scope(fake_engine):
    fake_engine.reply = lambda messages: "[BILL-43]" if "List the id" in messages[-1].content else REMINDER
    answer = final(pipeline(fake_engine).ask_exhaustive("Which stories send reminders?", BILL, "bill", scope=TO_DO))
    assert answer.reading.stories == 2 and answer.scope.line() == "2 of 4 stories: status To Do"
    assert all(f"[{s.id}]" not in call[0].content for call in fake_engine.calls for s in BILL if s.id in ("BILL-41", "BILL-42"))
    assert lines(answer.to_json()).context.startswith("Filter: 2 of 4 stories: status To Do · Read all 2 stories in 1 pass")


def test_a_list_question_within_a_scope_lists_only_the_items_it_keeps(fake_engine):
    fake_engine.reply = "[HR-104] Managers approve or reject leave requests."
    events = list(pipeline(fake_engine).ask("Which stories are for managers?", LEAVE, scope=parse_scope(["epic=Approvals"])))
    listing = next(e for e in events if isinstance(e, Listed)).listing
    managers = [s.id for s in LEAVE if s.role == "manager"]
    approvals = [s.id for s in listing.stories]
    assert approvals and set(approvals) < set(managers) and all(s.epic == "Approvals" for s in listing.stories)
    assert events[-1].answer.scope.line() == "5 of 30 stories: epic Approvals"


def test_a_quick_action_is_computed_on_the_scope_and_its_summary_names_it(fake_engine):
    action = quick_action("mention", BILL, "invoice", scope=TO_DO)
    assert [s.id for s in action.stories] == ["BILL-43", "BILL-44"]
    assert action.title == "Stories mentioning 'invoice': 2 (filter: 2 of 4 stories: status To Do)"
    assert [s.id for s in quick_action("mention", BILL, "invoice").stories] == ["BILL-41", "BILL-42", "BILL-43", "BILL-44"]
    fake_engine.reply = REMINDER
    summary = final(pipeline(fake_engine).summarise(action.instruction, action.stories, action.scoped)).to_json()
    assert lines(summary).context.startswith("Filter: 2 of 4 stories: status To Do · Context: 2 of 2 stories")


def test_what_changed_within_a_scope_lists_only_the_changes_of_items_it_keeps():
    changes = [Change(ADDED, s) for s in BILL]
    action = changes_action(changes, TO_DO)
    assert [s.id for s in action.stories] == ["BILL-43", "BILL-44"] and action.title.endswith("(filter: 2 of 4 stories: status To Do)")


def test_a_scoped_answer_does_not_time_the_whole_collection_for_the_cost_estimate(fake_engine):
    fake_engine.reply = REMINDER
    costs = Costs("fake.gguf")
    costs.record(pipeline(fake_engine).answer("Which invoices get a reminder?", BILL, scope=TO_DO), "bill")
    assert "bill" not in costs.local_runs
    costs.record(pipeline(fake_engine).answer("Which invoices get a reminder?", BILL), "bill")
    assert "bill" in costs.local_runs


def chat_panel(tmp_path, engine) -> ChatPanel:
    library = Library(tmp_path)
    library.add("bill", read_file(DATA / "jira-all-fields.csv"))
    library.add("leave", read_file(DATA / "leave.csv"))
    return ChatPanel(pipeline(engine), LibraryPanel(library, pipeline(engine), Limits(), Costs("fake.gguf")), Costs("fake.gguf"), Chats(library))


def test_the_filter_row_offers_each_field_a_collection_has_and_keeps_a_choice_still_offered(tmp_path, fake_engine):
    chat = chat_panel(tmp_path, fake_engine)
    row = dict(zip(FILTER_FIELDS, chat.filter_row("bill", "", "To Do", "", "", "", "", "")))
    assert all(update["visible"] for update in row.values())
    assert row["status"]["choices"] == [ANY, ("To Do (2)", "To Do"), ("Done (1)", "Done"), ("In Progress (1)", "In Progress")]
    assert row["status"]["value"] == "To Do" and row["type"]["value"] == ""
    row = dict(zip(FILTER_FIELDS, chat.filter_row("leave", "", "To Do", "", "", "", "", "")))
    assert [name for name, update in row.items() if update["visible"]] == ["type", "epic", "role"]
    assert row["status"]["value"] == ""  # leave.csv has no status: the choice made on bill goes


def test_a_question_asked_with_a_choice_in_the_row_is_scoped_and_its_coverage_line_names_it(tmp_path, fake_engine):
    fake_engine.reply = REMINDER
    chat = chat_panel(tmp_path, fake_engine)
    to_do = picked_scope("", "To Do", "", "", "", "", "")
    assert to_do == TO_DO
    *_, (shown, _, line, _, _) = chat.respond("Which invoices get a reminder?", [], Conversation(), "bill", False, to_do)
    assert line.startswith("Filter: 2 of 4 stories: status To Do · Context: 2 of 2 stories")
    assert in_prompt(fake_engine) == {"BILL-43", "BILL-44"} and "[BILL-43]" in shown[-1]["content"] + shown[-2]["content"]
    *_, (shown, _, line) = chat.quick_action("mention", "invoice", [], Conversation(), "bill", None, to_do)
    assert shown[0]["content"] == "Stories mentioning 'invoice': 2 (filter: 2 of 4 stories: status To Do)"
    assert shown[1]["content"] == "- [BILL-43] Remind customers of overdue invoices\n- [BILL-44] Remind customers of overdue invoices"
    assert line.startswith("Filter: 2 of 4 stories: status To Do · Context: 2 of 2 stories")


def test_the_model_s_second_opinion_keeps_the_scope_of_the_answer_it_judges():
    judged = lambda messages: messages[-1].content.endswith(opinion.QUESTION)  # noqa: E731
    fake = FakeEngine(lambda messages: "yes" if judged(messages) else "[HR-101] Employees request annual leave by email.")
    events = list(Pipeline(fake, options=AnswerOptions(profile="open", min_match=0.0)).ask(
        "How do employees request leave?", LEAVE, scope=parse_scope(["epic=Leave requests"]),
    ))
    reviewed = [e.answer for e in events if isinstance(e, Reviewed)]
    assert reviewed and all(a.scope and a.scope.line() == "9 of 30 stories: epic Leave requests" for a in reviewed)
    assert final(events).opinions and final(events).scope == reviewed[-1].scope
