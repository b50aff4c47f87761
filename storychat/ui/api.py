"""The documented API (and the MCP tools with --mcp): plain functions for tools and scripts.

The UI's own endpoints stay callable but undocumented, so destructive ones
(clear_collection) are never offered to a coding assistant as tools.
"""

from __future__ import annotations

import gradio as gr

from storychat.answer.context import QuestionError
from storychat.answer.pipeline import Pipeline, final
from storychat.ui.library import LibraryPanel
from storychat.ui.render import story_record


def register(pipeline: Pipeline, shelves: LibraryPanel, concurrency: int) -> None:
    def ask_stories(question: str, collection: str, exhaustive: bool = False) -> dict:
        """Answer a question about the user stories of one collection, with checked citations.

        Args:
            question: what to ask about the backlog, e.g. "Which stories touch invoicing?"
            collection: the name of the story collection to answer from
            exhaustive: read every story (one pass per context-sized shard) before answering: for complete lists, slower
        Returns:
            The answer with its citations (each marked valid or not, and verified when a sentence of
            the answer is supported by it), every sentence judged against the stories it cites, the
            question's words no story mentions, the closest stories when it refuses, what was in the
            model's context, how an exhaustive answer read the stories, a hint when exhaustive mode
            would suit the question, and timings: the `ask --json` object.
        """
        shelf = shelves.shelf(collection)
        if not shelf.everything:
            raise gr.Error(f"No collection named {collection!r} with stories; known: {', '.join(shelf.names)}")
        try:
            ask = pipeline.ask_exhaustive if exhaustive else pipeline.ask
            return final(ask(question, shelf.everything, collection=collection)).to_json()
        except QuestionError as exc:
            raise gr.Error(str(exc)) from exc

    def search_stories(query: str, collection: str) -> list[dict]:
        """Find the user stories in a collection that best match a query, by words and meaning, best first.

        Args:
            query: words to look for, e.g. "export PDF"
            collection: the name of the story collection to search
        Returns:
            Up to 10 stories with id, text, role, goal, benefit, epic, source, line, score and relevance.
        """
        hits = pipeline.search(query, shelves.shelf(collection).stories, 10)
        return [{**story_record(h.story), "score": round(h.score, 3), "relevance": h.relevance} for h in hits]

    gr.api(ask_stories, api_name="ask_stories", concurrency_limit=concurrency, concurrency_id="engine")
    gr.api(search_stories, api_name="search_stories")
