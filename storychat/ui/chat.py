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
from storychat.answer import transcript
from storychat.answer.citations import changed_after
from storychat.answer.context import QuestionError
from storychat.answer.conversation import STOPPED, Conversation
from storychat.answer.pipeline import Done, Pipeline, Progress, Token
from storychat.ui.library import DEFAULT_COLLECTION, PICK_EPIC, PICK_ROLE, Costs, LibraryPanel, Shelf
from storychat.ui.mistakes import Mistake, shown_inline
from storychat.ui.render import (
    PENDING, answer_messages, coverage_line, e, message_text, pending_line, status_line, summary_messages,
)
from storychat.ui.ticking import ticking


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
    export_md: gr.Button
    export_json: gr.Button
    transcript: gr.File


FIRST_STEPS = (
    "**Start with your stories.** Paste them on the right (one per line, or blocks separated by a blank line), "
    "upload a file, or pick a collection you already have. Then ask a question or press a quick action."
)


class ChatPanel:
    def __init__(self, pipeline: Pipeline, shelves: LibraryPanel, costs: Costs):
        self.pipeline = pipeline
        self.shelves = shelves
        self.costs = costs
        self.info = pipeline.engine.info()

    @shown_inline
    def respond(self, question: str, chat: list, conversation: Conversation, collection: str, exhaustive: bool = False):
        """Stream the answer into the chat. The last output is the question while it is being answered,
        for Stop to mark it stopped. ``exhaustive``: read every shard of the collection ("Read everything")."""
        stories = self._stories(collection).everything
        chat = chat + [{"role": "user", "content": e(question)}, {"role": "assistant", "content": ""}]
        events = (
            self.pipeline.ask_exhaustive(question, stories, collection) if exhaustive
            else self.pipeline.ask(question, stories, conversation.history, collection)
        )
        try:
            for chat, answer in self._streamed(events, chat):
                if answer is None:
                    yield chat, conversation, gr.skip(), gr.skip(), question
                    continue
                self.costs.record(answer)
                yield (
                    chat[:-1] + answer_messages(answer), conversation.add(question, answer),
                    coverage_line(answer), status_line(self.info, collection, answer), "",
                )
        except QuestionError as exc:
            raise Mistake(str(exc)) from exc

    @staticmethod
    def answered(question: str, conversation: Conversation):
        """The question box empties once its question was answered; a refused one stays to be put right."""
        turns = conversation.turns
        return "" if turns and turns[-1].question == question else gr.skip()

    def stopped(self, chat: list, conversation: Conversation, answering: str):
        """After Stop: the unfinished answer says it was stopped, and the export keeps it as stopped."""
        if not answering or not chat:
            return gr.skip()
        partial = "" if message_text(chat[-1]).startswith(PENDING) else message_text(chat[-1])
        chat[-1] = {"role": "assistant", "content": (f"{partial}\n\n" if partial else "") + f"**⏹ {transcript.NOTES[STOPPED]}**"}
        return chat, conversation.add_stopped(answering, html.unescape(partial)), "", "Stopped: the model is free for the next question."

    @shown_inline
    def quick_action(self, kind: str, argument: str, chat: list, conversation: Conversation, collection: str):
        """The complete result computed by code first; then the model's summary, only what the stories support."""
        try:
            action = self._action(kind, argument, collection)
        except ValueError as exc:
            raise Mistake(str(exc)) from exc
        listed = "\n".join(f"- {line}" for line in action.evidence) or "Nothing found."
        chat = chat + [
            {"role": "user", "content": e(action.title)},
            {"role": "assistant", "content": action.evidence_markdown or e(listed)},
        ]
        if action.empty:
            yield chat, conversation.add_action(action.title, listed), ""
            return
        summarised = self.pipeline.summarise(action.instruction, action.stories)
        for chat, answer in self._streamed(summarised, chat + [{"role": "assistant", "content": ""}]):
            if answer is None:
                yield chat, conversation, gr.skip()
            else:
                summary = f"\n\nThe model's summary: {answer.answer}" if answer.answer else ""
                yield chat[:-1] + summary_messages(answer), conversation.add_action(action.title, listed + summary), coverage_line(answer)

    def _action(self, kind: str, argument: str, collection: str) -> Action:
        """``changes``: what the last import did, from the library's history; the others from the stories."""
        stories = self._stories(collection).stories
        if kind != "changes":
            return quick_action(kind, stories, argument, reader=self.pipeline.reader)
        library = self.shelves.library
        since = library.last_import(collection)  # None: nothing recorded, a library from before the history
        return changes_action(library.changed_since(collection, since) if since else [])

    def _streamed(self, events, chat: list):
        """``(chat, None)`` while ``events`` stream into the last bubble, then ``(chat, answer)``.

        Until the first word the bubble says what the model is doing and for how long,
        updated each second while the model reads its prompt.
        """
        started, stage, written = time.monotonic(), "Waiting for the model", ""
        for event in ticking(events):
            if isinstance(event, Done):
                yield chat, event.answer
            elif not (event is None and written):
                stage = event.message if isinstance(event, Progress) else stage
                written += event.text if isinstance(event, Token) else ""
                chat[-1]["content"] = e(written) if written else pending_line(stage, time.monotonic() - started)
                yield chat, None

    def _stories(self, collection: str) -> Shelf:
        shelf = self.shelves.shelf(collection)
        if not shelf.stories:
            raise Mistake(f"Collection {collection!r} has no stories yet. Paste or upload some on the right.")
        return shelf

    def note_changes(self, chat: list, conversation: Conversation, collection: str):
        """After stories changed: a line in the chat for each earlier answer citing one of them."""
        current = {s.id: s for s in self.shelves.shelf(collection).everything}
        notes = [
            f"⚠ {e(line)}: “{e(turn.question)}”"
            for turn in conversation.turns if turn.answer for line in changed_after(turn.answer.citations, current)
        ]
        return chat + [{"role": "assistant", "content": "\n\n".join(notes)}] if notes else gr.skip()

    @shown_inline
    def export(self, kind: str, conversation: Conversation, collection: str) -> str:
        if not conversation.turns:
            raise Mistake("Nothing to export yet: ask a question or run a quick action first.")
        path = Path(tempfile.mkdtemp(prefix="storychat-")) / f"transcript-{collection}.{kind}"
        render = transcript.to_markdown if kind == "md" else transcript.to_json
        current = {s.id: s for s in self.shelves.shelf(collection).everything}
        path.write_text(render(conversation.turns, collection, current), encoding="utf-8")
        return str(path)

    def layout(self) -> ChatColumn:
        with gr.Column(scale=3):
            first_steps = gr.Markdown(FIRST_STEPS, visible=not self.shelves.shelf(DEFAULT_COLLECTION).stories, elem_id="first-steps")
            chatbot = gr.Chatbot(label="Chat", height=520, elem_id="chat", buttons=["copy"])
            with gr.Row():
                question = gr.Textbox(placeholder="Which stories touch invoicing?", show_label=False, scale=6, elem_id="question")
                ask = gr.Button("Ask", variant="primary", scale=1, elem_id="ask")
                exhaustive = gr.Checkbox(
                    label="Read everything", value=False, scale=1, elem_id="exhaustive", min_width=120,
                    info="every story, pass by pass: for complete lists",
                )
                stop = gr.Button("Stop", variant="stop", scale=1, elem_id="stop")
            with gr.Row(equal_height=True):
                duplicates = gr.Button("Find duplicates", size="sm")
                quality = gr.Button("Quality report", size="sm")
                changes = gr.Button("What changed since the last import", size="sm", elem_id="what-changed")
                role_pick = gr.Dropdown(label="Role", choices=[], info=PICK_ROLE, allow_custom_value=True, scale=2, elem_id="role-pick")
                role = gr.Button("Stories by role", size="sm", interactive=False, elem_id="by-role")
                epic_pick = gr.Dropdown(label="Epic", choices=[], info=PICK_EPIC, allow_custom_value=True, scale=2, elem_id="epic-pick")
                epic = gr.Button("Summarise an epic", size="sm", interactive=False, elem_id="by-epic")
                word = gr.Textbox(label="Word", placeholder="export", info="Type a word first.", scale=2)
                mention = gr.Button("Stories mentioning", size="sm", interactive=False)
            coverage = gr.Markdown(elem_id="coverage")
            with gr.Accordion("Export this chat", open=False):
                with gr.Row():
                    export_md = gr.Button("Markdown", size="sm")
                    export_json = gr.Button("JSON", size="sm")
                transcript_file = gr.File(label="Transcript with checked citations", interactive=False)
            with gr.Accordion("Model", open=False):
                gr.Markdown("\n".join(f"- {e(line)}" for line in self.pipeline.report()), elem_id="model")
        return ChatColumn(
            first_steps, chatbot, question, ask, exhaustive, stop, duplicates, quality, changes, role_pick, role, epic_pick, epic, word, mention,
            coverage, export_md, export_json, transcript_file,
        )

    def wire(
        self, ui: ChatColumn, conversation: gr.State, collection: gr.Dropdown, status: gr.Markdown, concurrency: int,
        changed: list,
    ) -> None:
        """``changed``: the events after which stories may have changed."""
        # One llama.cpp context answers one question at a time: the engine waits its callers in
        # turn, and the shared queue ("engine") shows each user their place while they wait.
        engine_queue = dict(concurrency_limit=concurrency, concurrency_id="engine")
        answering = gr.State("")
        ask = dict(
            fn=self.respond, inputs=[ui.question, ui.chatbot, conversation, collection, ui.exhaustive],
            outputs=[ui.chatbot, conversation, ui.coverage, status, answering], **engine_queue,
        )
        asked = ui.ask.click(**ask, api_name="ask", api_visibility="undocumented")
        submitted = ui.question.submit(**ask, api_visibility="private")
        for event in (asked, submitted):
            event.then(self.answered, [ui.question, conversation], ui.question, api_visibility="private")
        ui.stop.click(None, cancels=[asked, submitted], api_visibility="private").then(
            self.stopped, [ui.chatbot, conversation, answering], [ui.chatbot, conversation, answering, ui.coverage],
            api_visibility="private",
        )
        for event in changed:
            event.then(self.note_changes, [ui.chatbot, conversation, collection], ui.chatbot, api_visibility="private")
        ui.export_md.click(partial(self.export, "md"), [conversation, collection], ui.transcript, api_visibility="private")
        ui.export_json.click(partial(self.export, "json"), [conversation, collection], ui.transcript, api_visibility="private")
        for pick, button in ((ui.role_pick, ui.role), (ui.epic_pick, ui.epic), (ui.word, ui.mention)):
            pick.change(lambda value: gr.update(interactive=bool((value or "").strip())), pick, button, api_visibility="private")
        no_argument = gr.State("")
        for button, kind, argument in [
            (ui.duplicates, "duplicates", no_argument), (ui.quality, "quality", no_argument), (ui.changes, "changes", no_argument),
            (ui.role, "role", ui.role_pick), (ui.epic, "epic", ui.epic_pick), (ui.mention, "mention", ui.word),
        ]:
            button.click(
                partial(self.quick_action, kind), [argument, ui.chatbot, conversation, collection], [ui.chatbot, conversation, ui.coverage],
                **engine_queue, api_visibility="private",
            )
