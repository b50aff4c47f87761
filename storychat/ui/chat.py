"""The chat column: questions and quick actions streamed through the pipeline, and the transcript."""

from __future__ import annotations

import html
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gradio as gr

from storychat.analysis.actions import Action, changes_action, quick_action
from storychat.analysis.filters import Scope, field_values, parse_scope
from storychat.chats import conversation as chat_turns
from storychat.chats import transcript
from storychat.chats.store import Chats
from storychat.stories.library import Shelf
from storychat.cost import Costs
from storychat.answer.context import QuestionError
from storychat.chats.conversation import Conversation, Turn
from storychat.answer.answer import Done, Listed, Progress, Reviewed, Token, listing_json
from storychat.answer.pipeline import Pipeline
from storychat.ui.history import messages, owner
from storychat.ui.library import DEFAULT_COLLECTION, PICK_EPIC, PICK_ROLE, LibraryPanel
from storychat.ui.mistakes import Mistake, shown_inline
from storychat.ui.render import (
    PENDING, escape, listing_messages, message_text, pending_line, status_line, turn_coverage, turn_messages,
)
from storychat.ui.ticking import ticking


@dataclass(frozen=True)
class Answering:
    """The question being answered, for Stop: with the exact list a list question showed before its summary."""

    question: str
    listing: dict | None = None


@dataclass
class ChatColumn:
    first_steps: gr.Markdown
    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    exhaustive: gr.Checkbox
    stop: gr.Button
    duplicates: gr.Button
    quality: gr.Button
    changes: gr.Button
    role_pick: gr.Dropdown
    role: gr.Button
    epic_pick: gr.Dropdown
    epic: gr.Button
    word: gr.Textbox
    mention: gr.Button
    coverage: gr.Markdown
    filters: list[gr.Dropdown]  # the filter row: one per FILTER_FIELDS
    export_md: gr.Button
    export_json: gr.Button
    transcript: gr.File


FIRST_STEPS = (
    "**Start with your stories.** Paste or upload them in the **Stories** tab (one per line, or blocks separated "
    "by a blank line), or pick a collection you already have above. Then ask a question or press a quick action."
)


# The filter row's fields, in its order; each is shown only when the collection's items have it.
FILTER_FIELDS = ("type", "status", "sprint", "label", "component", "epic", "role")
ANY = ("Any", "")


@shown_inline
def picked_scope(*picked: str) -> Scope:
    """The filter row's choices (one per FILTER_FIELDS, "" for any) as the Scope every question is asked within."""
    try:
        return parse_scope(f"{name}={value}" for name, value in zip(FILTER_FIELDS, picked) if value)
    except ValueError as exc:
        raise Mistake(str(exc)) from exc


class ChatPanel:
    def __init__(self, pipeline: Pipeline, shelves: LibraryPanel, costs: Costs, chats: Chats):
        self.pipeline = pipeline
        self.shelves = shelves
        self.library = shelves.library
        self.chats = chats
        self.costs = costs
        self.info = pipeline.engine.info()

    @shown_inline
    def respond(
        self, question: str, chat: list, conversation: Conversation, collection: str, exhaustive: bool = False,
        scope: Scope = Scope(), request: gr.Request | None = None,
    ):
        """Stream the answer into the chat, and keep it. The last output is the question while it is being
        answered, for Stop to mark it stopped. ``exhaustive``: read every shard of the collection ("Read everything");
        ``scope``: the filter row's choices, which scope the question."""
        stories = self._stories(collection).everything
        chat = chat + [{"role": "user", "content": escape(question)}]
        asked = len(chat)
        events = (
            self.pipeline.ask_exhaustive(question, stories, collection, scope) if exhaustive
            else self.pipeline.ask(question, stories, conversation.history, collection, scope)
        )
        kept = None
        try:
            for chat, answer, listing in self._streamed(events, chat + [{"role": "assistant", "content": ""}]):
                if answer is None:
                    yield chat, conversation, gr.skip(), gr.skip(), Answering(question, listing)
                    continue
                turn = chat_turns.answered(question, answer)
                if kept is None:
                    self.costs.record(answer, collection)
                    kept = self._keep(conversation, turn, collection, request)
                else:  # the model's second opinion on one more sentence: the same turn, its marks updated
                    kept = self.chats.revise(owner(request), collection, kept.revise(turn))
                yield chat[:asked] + turn_messages(turn), kept, turn_coverage(turn), status_line(self.info, collection), None
        except QuestionError as exc:
            raise Mistake(str(exc)) from exc

    @staticmethod
    def answered(question: str, conversation: Conversation):
        """The question box empties once its question was answered; a refused one stays to be put right."""
        turns = conversation.turns
        return "" if turns and turns[-1].question == question else gr.skip()

    def stopped(
        self, chat: list, conversation: Conversation, answering: Answering | None, collection: str, request: gr.Request | None = None,
    ):
        """After Stop: the unfinished answer says it was stopped, and the chat keeps it as stopped, with the exact
        list a list question showed before its summary."""
        if not answering or not chat:
            return gr.skip()
        partial = "" if message_text(chat[-1]).startswith(PENDING) else message_text(chat[-1])
        turn = chat_turns.stopped(answering.question, html.unescape(partial), answering.listing)
        shown = len(listing_messages(answering.listing)) if answering.listing else 0
        chat[-1 - shown:] = turn_messages(turn)
        return chat, self._keep(conversation, turn, collection, request), None, "Stopped: the model is free for the next question."

    @shown_inline
    def quick_action(
        self, kind: str, argument: str, chat: list, conversation: Conversation, collection: str, request: gr.Request | None = None,
        scope: Scope = Scope(),
    ):
        """The complete result computed by code first, on the stories the filter row's choices (``scope``) keep;
        then the model's summary, only what the stories support."""
        try:
            action = self._action(kind, argument, collection, scope)
        except ValueError as exc:
            raise Mistake(str(exc)) from exc
        listed = "\n".join(f"- {line}" for line in action.evidence) or "Nothing found."
        computed = chat_turns.quick_action(action.title, listed, action.evidence_markdown)
        chat = chat + [{"role": "user", "content": escape(action.title)}, *turn_messages(computed)]
        if action.empty:
            yield chat, self._keep(conversation, computed, collection, request), ""
            return
        summarised = self.pipeline.summarise(action.instruction, action.stories, action.scoped)
        for chat, answer, _ in self._streamed(summarised, chat + [{"role": "assistant", "content": ""}]):
            if answer is None:
                yield chat, conversation, gr.skip()
            else:
                turn = chat_turns.quick_action(action.title, listed, action.evidence_markdown, answer)
                yield chat[:-1] + turn_messages(turn)[1:], self._keep(conversation, turn, collection, request), turn_coverage(turn)

    def _keep(self, conversation: Conversation, turn: Turn, collection: str, request: gr.Request | None) -> Conversation:
        """The conversation with ``turn``, kept in the library as the user's."""
        return self.chats.keep(owner(request), collection, conversation.add(turn))

    def _action(self, kind: str, argument: str, collection: str, scope: Scope = Scope()) -> Action:
        """``changes``: what the last import did, from the library's history; the others from the stories."""
        stories = self._stories(collection).stories
        if kind != "changes":
            return quick_action(kind, stories, argument, embedder=self.pipeline.embedder, scope=scope)
        library = self.library
        since = library.last_import(collection)  # None: nothing recorded, a library from before the history
        return changes_action(library.changed_since(collection, since) if since else [], scope)

    def _streamed(self, events, chat: list):
        """``(chat, None, listing)`` while ``events`` stream into the last bubble, then ``(chat, answer, listing)``, and
        again for each second opinion the answer gets after it;
        ``listing``: the exact list shown before the model's summary (``listing_json``), None before or without one.

        Until the first word the bubble says what the model is doing and for how long,
        updated each second while the model reads its prompt.
        """
        started, stage, written, listing = time.monotonic(), "Waiting for the model", "", None
        answered = False
        for event in ticking(events):
            if isinstance(event, (Done, Reviewed)):
                answered = True
                yield chat, event.answer, listing
            elif answered:  # the answer is shown; only a second opinion changes it now
                continue
            elif isinstance(event, Listed):  # the exact list, before the model's summary of it
                listing = listing_json(event.listing)
                chat[-1:] = [*listing_messages(listing), {"role": "assistant", "content": ""}]
                yield chat, None, listing
            elif not (event is None and written):
                stage = event.message if isinstance(event, Progress) else stage
                written += event.text if isinstance(event, Token) else ""
                chat[-1]["content"] = escape(written) if written else pending_line(stage, time.monotonic() - started)
                yield chat, None, listing

    def _stories(self, collection: str) -> Shelf:
        shelf = self.library.shelf(collection)
        if not shelf.stories:
            raise Mistake(f"Collection {collection!r} has no stories yet. Paste or upload some on the right.")
        return shelf

    def filter_row(self, collection: str, *picked: str) -> list[dict]:
        """The filter row for ``collection``: each field its items have, with its values and how many items have
        each; a choice still offered stays chosen."""
        offered = field_values(self.library.shelf(collection).stories)
        return [
            gr.update(
                choices=[ANY, *((f"{value} ({n})", value) for value, n in offered.get(name, []))], visible=name in offered,
                value=value if any(value == v for v, _ in offered.get(name, [])) else "",
            )
            for name, value in zip(FILTER_FIELDS, picked)
        ]

    def note_changes(self, conversation: Conversation, collection: str):
        """After stories changed: the chat again, each answer citing one of them with its notice."""
        current = {s.id: s for s in self.library.shelf(collection).everything}
        return messages(conversation, current)

    @shown_inline
    def export(self, kind: str, conversation: Conversation, collection: str) -> str:
        if not conversation.turns:
            raise Mistake("Nothing to export yet: ask a question or run a quick action first.")
        path = Path(tempfile.mkdtemp(prefix="storychat-")) / f"transcript-{collection}.{kind}"
        render = transcript.to_markdown if kind == "md" else transcript.to_json
        current = {s.id: s for s in self.library.shelf(collection).everything}
        path.write_text(render(conversation.turns, collection, current), encoding="utf-8")
        return str(path)

    def layout(self) -> ChatColumn:
        """Chat first: the answers and their coverage line, the question box the chat's width, then one row with
        Read everything and the quick actions, a menu."""
        first_steps = gr.Markdown(FIRST_STEPS, visible=not self.library.shelf(DEFAULT_COLLECTION).stories, elem_id="first-steps")
        chatbot = gr.Chatbot(label="Chat", height="52vh", min_height=260, elem_id="chat", buttons=["copy"], autoscroll=False)
        coverage = gr.Markdown(elem_id="coverage")
        with gr.Row(equal_height=True, elem_id="question-row"):
            question = gr.Textbox(
                placeholder="Which stories touch invoicing?", show_label=False, scale=8, elem_id="question", lines=1, max_lines=6,
            )
            ask = gr.Button("Ask", variant="primary", scale=0, min_width=80, elem_id="ask")
            stop = gr.Button("Stop", variant="stop", scale=0, min_width=80, elem_id="stop", interactive=False)
        with gr.Row(elem_id="quick-actions"):
            exhaustive = gr.Checkbox(
                label="Read everything", value=False, scale=0, elem_id="exhaustive", min_width=180,
                info="every story, pass by pass: for complete lists",
            )
            # A menu, closed: the chat and the question box keep the screen.
            with gr.Accordion("Quick actions: duplicates, quality, changes, by role, by epic, by word", open=False, elem_id="quick-menu"):
                with gr.Row():
                    duplicates = gr.Button("Find duplicates", size="sm")
                    quality = gr.Button("Quality report", size="sm")
                    changes = gr.Button("What changed since the last import", size="sm", elem_id="what-changed")
                with gr.Row(equal_height=True):
                    role_pick = gr.Dropdown(label="Role", choices=[], info=PICK_ROLE, allow_custom_value=True, scale=2, elem_id="role-pick")
                    role = gr.Button("Stories by role", size="sm", scale=1, interactive=False, elem_id="by-role")
                    epic_pick = gr.Dropdown(label="Epic", choices=[], info=PICK_EPIC, allow_custom_value=True, scale=2, elem_id="epic-pick")
                    epic = gr.Button("Summarise an epic", size="sm", scale=1, interactive=False, elem_id="by-epic")
                    word = gr.Textbox(label="Word", placeholder="export", info="Type a word first.", scale=2)
                    mention = gr.Button("Stories mentioning", size="sm", scale=1, interactive=False)
        # Closed, like the menu; a field's dropdown shows once the collection's items have that field (filter_row).
        with gr.Accordion("Filters: ask about some items only", open=False, elem_id="filter-row"):
            with gr.Row():
                filters = [
                    gr.Dropdown(label=name.capitalize(), choices=[ANY], value="", visible=False, min_width=110, elem_id=f"filter-{name}")
                    for name in FILTER_FIELDS
                ]
        with gr.Row():
            with gr.Accordion("Export this chat", open=False):
                with gr.Row():
                    export_md = gr.Button("Markdown", size="sm")
                    export_json = gr.Button("JSON", size="sm")
                transcript_file = gr.File(label="Transcript with checked citations", interactive=False)
            with gr.Accordion("Model", open=False):
                gr.Markdown("\n".join(f"- {escape(line)}" for line in self.pipeline.report()), elem_id="model")
        return ChatColumn(
            first_steps, chatbot, question, ask, exhaustive, stop, duplicates, quality, changes, role_pick, role, epic_pick, epic, word, mention,
            coverage, filters, export_md, export_json, transcript_file,
        )

    def wire(
        self, ui: ChatColumn, conversation: gr.State, collection: gr.Dropdown, status: gr.Markdown, concurrency: int,
        changed: list,
    ) -> list:
        """``changed``: the events after which stories may have changed. Returns the events after which
        the chat kept a turn."""
        # One llama.cpp context answers one question at a time: the engine waits its callers in
        # turn, and the shared queue ("engine") shows each user their place while they wait.
        engine_queue = dict(concurrency_limit=concurrency, concurrency_id="engine")
        answering = gr.State(None)
        # The filter row's choices, read when a question or a quick action starts (below): the undocumented
        # /ask endpoint's callers need not send them, and a caller without a page asks unscoped.
        scope = gr.State(Scope())
        ask = dict(
            fn=self.respond, inputs=[ui.question, ui.chatbot, conversation, collection, ui.exhaustive, scope],
            outputs=[ui.chatbot, conversation, ui.coverage, status, answering], **engine_queue,
        )
        # Stop is live from the press of Ask until the answer ends: unqueued, and set before the answer's event,
        # for the page runs a trigger's events one after the other, each to its end.
        live = dict(outputs=ui.stop, queue=False, show_progress="hidden", api_visibility="private")
        read_filters = dict(fn=picked_scope, inputs=ui.filters, outputs=scope, queue=False, show_progress="hidden", api_visibility="private")
        for trigger in (ui.ask.click, ui.question.submit):
            trigger(lambda: gr.Button(interactive=True), **live)
            trigger(**read_filters)
        asked = ui.ask.click(**ask, api_name="ask", api_visibility="undocumented")
        submitted = ui.question.submit(**ask, api_visibility="private")
        for event in (asked, submitted):
            event.then(self.answered, [ui.question, conversation], ui.question, api_visibility="private")
            event.then(lambda: gr.Button(interactive=False), **live)
        stopped = ui.stop.click(None, cancels=[asked, submitted], api_visibility="private").then(
            self.stopped, [ui.chatbot, conversation, answering, collection], [ui.chatbot, conversation, answering, ui.coverage],
            api_visibility="private",
        )
        ui.stop.click(lambda: gr.Button(interactive=False), **live)  # after the cancel, which must not wait for it
        for event in changed:
            event.then(self.note_changes, [conversation, collection], ui.chatbot, api_visibility="private")
            event.then(self.filter_row, [collection, *ui.filters], ui.filters, api_visibility="private")
        ui.export_md.click(partial(self.export, "md"), [conversation, collection], ui.transcript, api_visibility="private")
        ui.export_json.click(partial(self.export, "json"), [conversation, collection], ui.transcript, api_visibility="private")
        for pick, button in ((ui.role_pick, ui.role), (ui.epic_pick, ui.epic), (ui.word, ui.mention)):
            pick.change(lambda value: gr.update(interactive=bool((value or "").strip())), pick, button, api_visibility="private")
        no_argument = gr.State("")
        actions = []
        for button, kind, argument in [
            (ui.duplicates, "duplicates", no_argument), (ui.quality, "quality", no_argument), (ui.changes, "changes", no_argument),
            (ui.role, "role", ui.role_pick), (ui.epic, "epic", ui.epic_pick), (ui.mention, "mention", ui.word),
        ]:
            button.click(**read_filters)
            actions.append(button.click(
                self._run_action(kind), [argument, ui.chatbot, conversation, collection, scope], [ui.chatbot, conversation, ui.coverage],
                **engine_queue, api_visibility="private",
            ))
        return [asked, submitted, stopped, *actions]

    def _run_action(self, kind: str):
        """The quick action ``kind`` as an event handler (Gradio passes the request only to a function that names it)."""

        def run(argument: str, chat: list, conversation: Conversation, collection: str, scope: Scope, request: gr.Request):
            yield from self.quick_action(kind, argument, chat, conversation, collection, request, scope)

        return run
