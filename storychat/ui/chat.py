"""The chat column: questions and quick actions streamed through the pipeline, and the transcript."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import gradio as gr

from storychat.analysis.actions import quick_action
from storychat.answer import transcript
from storychat.answer.context import QuestionError
from storychat.answer.conversation import Conversation
from storychat.answer.pipeline import Done, Pipeline, Progress, Token
from storychat.ui.library import Costs, LibraryPanel
from storychat.ui.render import answer_messages, coverage_line, e, status_line


@dataclass
class ChatColumn:
    chatbot: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    exhaustive: gr.Checkbox
    stop: gr.Button
    duplicates: gr.Button
    quality: gr.Button
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


class ChatPanel:
    def __init__(self, pipeline: Pipeline, shelves: LibraryPanel, costs: Costs):
        self.pipeline = pipeline
        self.shelves = shelves
        self.costs = costs
        self.info = pipeline.engine.info()

    def respond(self, question: str, chat: list, conversation: Conversation, collection: str, exhaustive: bool = False):
        stories = self.shelves.shelf(collection).everything
        if not [s for s in stories if not s.is_note]:
            raise gr.Error(f"Collection {collection!r} has no stories yet. Paste or upload some on the right.")
        chat = chat + [{"role": "user", "content": e(question)}, {"role": "assistant", "content": ""}]
        try:
            events = (
                self.pipeline.ask_exhaustive(question, stories, collection) if exhaustive
                else self.pipeline.ask(question, stories, conversation.history, collection)
            )
            for event in events:
                if isinstance(event, Progress):
                    yield chat, conversation, f"… {e(event.message)}", gr.update()
                elif isinstance(event, Token):
                    chat[-1]["content"] += e(event.text)
                    yield chat, conversation, gr.update(), gr.update()
                elif isinstance(event, Done):
                    answer = event.answer
                    self.costs.record(answer)
                    yield (
                        chat[:-1] + answer_messages(answer), conversation.add(question, answer),
                        coverage_line(answer), status_line(self.info, collection, answer),
                    )
        except QuestionError as exc:
            raise gr.Error(str(exc)) from exc

    def quick_action(self, kind: str, argument: str, chat: list, collection: str):
        stories = self.shelves.shelf(collection).stories
        if not stories:
            raise gr.Error(f"Collection {collection!r} has no stories yet. Paste or upload some on the right.")
        try:
            action = quick_action(kind, stories, argument)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        listed = {
            "role": "assistant",
            "content": "\n".join(f"- {line}" for line in action.evidence_markdown or map(e, action.evidence)) or "Nothing found.",
            "metadata": {"title": f"Evidence: the complete list, computed by code ({len(action.evidence)})"},
        }
        chat = chat + [{"role": "user", "content": e(action.title)}]
        if action.empty:
            yield chat + [{"role": "assistant", "content": "Nothing found."}], ""
            return
        chat = chat + [{"role": "assistant", "content": ""}]
        for event in self.pipeline.summarise(action.instruction, action.stories):
            if isinstance(event, Token):
                chat[-1]["content"] += e(event.text)
                yield chat, gr.update()
            elif isinstance(event, Done):
                yield chat[:-1] + answer_messages(event.answer) + [listed], coverage_line(event.answer)

    def export(self, kind: str, conversation: Conversation, collection: str) -> str:
        if not conversation.turns:
            raise gr.Error("Nothing to export yet: ask a question first.")
        path = Path(tempfile.mkdtemp(prefix="storychat-")) / f"transcript-{collection}.{kind}"
        render = transcript.to_markdown if kind == "md" else transcript.to_json
        path.write_text(render(conversation.turns, collection), encoding="utf-8")
        return str(path)

    def layout(self) -> ChatColumn:
        with gr.Column(scale=3):
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
                role_pick = gr.Dropdown(label="Role", choices=[], allow_custom_value=True, scale=2)
                role = gr.Button("Stories by role", size="sm")
                epic_pick = gr.Dropdown(label="Epic", choices=[], allow_custom_value=True, scale=2)
                epic = gr.Button("Summarise an epic", size="sm")
                word = gr.Textbox(label="Word", placeholder="export", scale=2)
                mention = gr.Button("Stories mentioning", size="sm")
            coverage = gr.Markdown(elem_id="coverage")
            with gr.Accordion("Export this chat", open=False):
                with gr.Row():
                    export_md = gr.Button("Markdown", size="sm")
                    export_json = gr.Button("JSON", size="sm")
                transcript_file = gr.File(label="Transcript with checked citations", interactive=False)
            with gr.Accordion("Model", open=False):
                gr.Markdown("\n".join(f"- {e(line)}" for line in self.pipeline.report()), elem_id="model")
        return ChatColumn(
            chatbot, question, ask, exhaustive, stop, duplicates, quality, role_pick, role, epic_pick, epic, word, mention,
            coverage, export_md, export_json, transcript_file,
        )

    def wire(self, ui: ChatColumn, conversation: gr.State, collection: gr.Dropdown, status: gr.Markdown, concurrency: int) -> None:
        # One llama.cpp context answers one question at a time: the engine waits its callers in
        # turn, and the shared queue ("engine") shows each user their place while they wait.
        engine_queue = dict(concurrency_limit=concurrency, concurrency_id="engine")
        ask = dict(
            fn=self.respond, inputs=[ui.question, ui.chatbot, conversation, collection, ui.exhaustive],
            outputs=[ui.chatbot, conversation, ui.coverage, status], **engine_queue,
        )
        asked = ui.ask.click(**ask, api_name="ask", api_visibility="undocumented")
        submitted = ui.question.submit(**ask, api_visibility="private")
        for event in (asked, submitted):
            event.then(lambda: "", outputs=ui.question, api_visibility="private")
        ui.stop.click(
            lambda: "Stopped: the model is free for the next question.", outputs=ui.coverage,
            cancels=[asked, submitted], api_visibility="private",
        )
        ui.export_md.click(partial(self.export, "md"), [conversation, collection], ui.transcript, api_visibility="private")
        ui.export_json.click(partial(self.export, "json"), [conversation, collection], ui.transcript, api_visibility="private")
        no_argument = gr.State("")
        for button, kind, argument in [
            (ui.duplicates, "duplicates", no_argument), (ui.quality, "quality", no_argument),
            (ui.role, "role", ui.role_pick), (ui.epic, "epic", ui.epic_pick), (ui.mention, "mention", ui.word),
        ]:
            button.click(
                partial(self.quick_action, kind), [argument, ui.chatbot, collection], [ui.chatbot, ui.coverage],
                **engine_queue, api_visibility="private",
            )
