"""The page: the layout of the panels and the events between them; ``serve`` starts it."""

from __future__ import annotations

import gradio as gr

from storychat import runtime
from storychat.answer.conversation import Conversation
from storychat.answer.pipeline import Pipeline
from storychat.config import Settings, credentials
from storychat.llm.engine import Engine
from storychat.stories.formats import Limits
from storychat.stories.library import Library
from storychat.ui import api
from storychat.ui.chat import ChatPanel
from storychat.ui.library import DEFAULT_COLLECTION, Costs, LibraryPanel
from storychat.ui.render import CSS, status_line
from storychat.ui.selftest import SelfTest

INTRO = (
    "## StoryChat\nAsk about your user stories. Answers come from the local model, cite story ids, "
    "and refuse when the stories do not say."
)


def serve(settings: Settings, engine: Engine) -> None:
    limits = runtime.limits(settings)
    demo = build(runtime.make_pipeline(settings, engine), runtime.open_library(settings), limits, settings.concurrency)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=credentials(settings) or None,
        show_error=True,
        css=CSS,
        max_file_size=limits.max_bytes,
        mcp_server=settings.mcp,
    )


def build(pipeline: Pipeline, library: Library, limits: Limits, concurrency: int = 1) -> gr.Blocks:
    costs = Costs(pipeline.engine.info().model)
    shelves = LibraryPanel(library, pipeline, limits, costs)
    chat = ChatPanel(pipeline, shelves, costs)
    selftest = SelfTest(pipeline, shelves)
    with gr.Blocks(title="StoryChat") as demo:
        conversation = gr.State(Conversation())
        gr.Markdown(INTRO)
        status = gr.Markdown(status_line(shelves.info, DEFAULT_COLLECTION), elem_id="status")
        with gr.Tabs():
            with gr.Tab("Chat"):
                with gr.Row():
                    chat_ui = chat.layout()
                    library_ui = shelves.layout()
                # The page's full width: every column in view, numbers and words never broken.
                library_ui.table.render()
                with gr.Accordion("Cloud cost comparison", open=False):
                    library_ui.cost.render()
            with gr.Tab("Self-test"):
                selftest_ui = selftest.layout()

        collection = library_ui.collection
        targets = [
            library_ui.report, library_ui.table, collection, status, library_ui.summary,
            chat_ui.role_pick, chat_ui.epic_pick, library_ui.cost, chat_ui.first_steps,
        ]
        chat.wire(chat_ui, conversation, collection, status, concurrency, shelves.wire(library_ui, targets))
        selftest.wire(selftest_ui, collection, concurrency, demo)

        def choose(name: str):
            """Another collection: a new conversation, and the library panel shows it."""
            name = (name or DEFAULT_COLLECTION).strip()
            return [], Conversation(), *shelves.refresh(name)[1:], ""

        collection.change(choose, collection, [chat_ui.chatbot, conversation, *targets[1:], chat_ui.coverage], api_visibility="private")
        demo.load(lambda name: shelves.refresh(name)[1:], collection, targets[1:], api_visibility="private")
        api.register(pipeline, shelves, concurrency)
    return demo
