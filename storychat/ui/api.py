"""The documented API (and the MCP tools with --mcp): plain functions for tools and scripts.

The UI's own endpoints stay callable but undocumented, so destructive ones
(clear_collection) are never offered to a coding assistant as tools.
"""

from __future__ import annotations

import gradio as gr

from storychat.answer.context import QuestionError
from storychat.answer.answer import final
from storychat.answer.pipeline import Pipeline
from storychat.stories.changes import since_time
from storychat.stories.library import Library


def register(pipeline: Pipeline, library: Library, concurrency: int) -> None:
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
        shelf = library.shelf(collection)
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
            Up to 10 stories with id, text, source, line, role, goal, benefit, acceptance, epic, kind, score and relevance.
        """
        hits = pipeline.search(query, library.shelf(collection).stories, 10)
        return [{**h.story.to_record(), "score": round(h.score, 3), "relevance": h.relevance} for h in hits]

    def changed_stories(collection: str, since: str = "") -> list[dict]:
        """The user stories added, changed or removed in a collection since a time, or by its last import.

        Args:
            collection: the name of the story collection
            since: a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM, UTC); empty for what the last import changed
        Returns:
            One record per story: kind (added, changed or removed), the story as it is now (a removed
            one as it was), for a changed story its previous version and what_changed (a line per field).
        """
        try:
            at = since_time(since) if since.strip() else library.last_import(collection)
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc
        changes = library.changed_since(collection, at) if at else []
        return [
            {"kind": c.kind, "story": c.story.to_record(), "previous": c.previous and c.previous.to_record(), "what_changed": c.what_changed()}
            for c in changes
        ]

    gr.api(ask_stories, api_name="ask_stories", concurrency_limit=concurrency, concurrency_id="engine")
    gr.api(search_stories, api_name="search_stories")
    gr.api(changed_stories, api_name="changed_stories")
