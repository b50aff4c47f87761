"""The documented API (and the MCP tools with --mcp): plain functions for tools and scripts.

The UI's own endpoints stay callable but undocumented, so destructive ones
(clear_collection) are never offered to a coding assistant as tools. Gradio makes
each docstring the tool's description and joins the lines after "Returns:" with
", ", so each of those lines describes one whole field.
"""

from __future__ import annotations

import gradio as gr

from storychat.analysis.filters import Scope, parse_scope
from storychat.answer.context import QuestionError
from storychat.answer.answer import final
from storychat.answer.pipeline import Pipeline
from storychat.stories.changes import since_time
from storychat.stories.library import Library, Shelf
from storychat.ui.mistakes import Mistake, refused


def register(pipeline: Pipeline, library: Library, concurrency: int) -> None:
    @refused
    def ask_stories(question: str, collection: str, exhaustive: bool = False, filters: list[str] | None = None) -> dict:
        """Answer a question about the user stories of one collection with checked citations: a JSON object.

        Args:
            question: what to ask about the backlog, e.g. "Which stories touch invoicing?"
            collection: the name of the story collection to answer from
            exhaustive: read every story (one pass per context-sized shard) before answering: for complete lists, slower
            filters: answer only from the items that pass every filter, each written field=value, e.g. ["status=Open", "label=payments", "points>=8"]
        Returns:
            answer: the text to show the user: the model's answer less repeated sentences and empty openers; or the refusal; or that no item passes the filters
            refused: true when answer is the refusal: the model refused; or it cited no story it was shown (strict mode); or no story matches; or no item passes the filters
            unsupported: true when the answer cites no story the model was shown
            gated: true when the relevance gate refused without asking the model
            best_match: the relevance of the story that matches the question best (what the gate judges)
            raw: what the model wrote
            citations: the stories the answer cites with id and source and line and text (and role and goal and benefit and acceptance); valid when the story was in the model's context; verified (the chat's ✓) when valid and a sentence citing it is supported by it; paraphrased (≈) when one is supported in other words only
            doubt: why the answer cannot be trusted as written (cites no story the model was shown; or has no sentence that the stories it cites support); else empty
            sentences: each sentence of raw in order with text and cites (ids written in it) and against (ids it is held against) and verdict (supported or supported in other words or partly supported or unsupported or no claim) and unsupported_words and backed_by and cut (why answer leaves it out) and misquote (story text it claims that the story does not hold; else null) and why (the verdict in words)
            missing: the question's words that no story mentions with the closest story and the line the chat shows; else null
            no_story_says: the closest story and the line the chat shows when no story the answer cites addresses the question; else null
            closest: the stories closest to the question when the answer is refused or in doubt or no_story_says is set; else empty
            context: what the model read: stories_in_context and stories_total and tokens_in_context and n_ctx and mode (full or retrieval or exhaustive)
            timings: ttft_s and total_s in seconds and prompt_tokens and completion_tokens and prompt_evaluated (the tokens not taken from the cache)
            reading: how an exhaustive answer read the stories (stories and passes and cited and ids and line in words); else null
            hint: a suggestion for the user such as asking again with exhaustive for a complete list; else empty
            scope: the filters the question was answered within (filters and kept and total and line in words); else null
        """
        scope = scope_of(filters)
        stories = known(library, collection).everything
        if not stories:
            raise Mistake(f"The collection {collection!r} holds no stories to answer from.")
        try:
            ask = pipeline.ask_exhaustive if exhaustive else pipeline.ask
            return final(ask(question, stories, collection=collection, scope=scope)).to_json()
        except QuestionError as exc:
            raise Mistake(str(exc)) from exc

    @refused
    def search_stories(query: str, collection: str, filters: list[str] | None = None) -> list[dict]:
        """Find the user stories in a collection that best match a query by words and meaning: a JSON list of up to 10, best first.

        Args:
            query: words to look for, e.g. "export PDF"
            collection: the name of the story collection to search
            filters: search only the items that pass every filter, each written field=value, e.g. ["status=Open", "label=payments"]
        Returns:
            id: the story's id
            text: the story as written
            source: the name of the file it came from (paste for pasted text)
            line: its 1-based line or record number in that file
            role: who wants it ("As a <role>"); else empty
            goal: what they want ("I want ..."); else empty
            benefit: why ("so that ..."); else empty
            acceptance: its acceptance criteria; else empty
            epic: the epic it belongs to; else empty
            kind: story (or note for a kept line that is not a story)
            score: how well its words match the query (BM25; with meaning on: its rank score)
            relevance: how relevant the story is to the query (what the gate judges)
        """
        hits = pipeline.search(query, known(library, collection).stories, 10, scope_of(filters))
        return [{**h.story.to_record(), "score": round(h.score, 3), "relevance": h.relevance} for h in hits]

    @refused
    def changed_stories(collection: str, since: str = "") -> list[dict]:
        """The user stories added, changed or removed in a collection since a time or by its last import: a JSON list.

        Args:
            collection: the name of the story collection
            since: a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM, UTC); empty for what the last import changed
        Returns:
            kind: added or changed or removed
            story: the story as it is now (a removed one as it was) with id and text and source and line and role and goal and benefit and acceptance and epic and kind
            previous: a changed story's previous version; else null
            what_changed: a line per changed field of a changed story
        """
        known(library, collection)
        try:
            at = since_time(since) if since.strip() else library.last_import(collection)
        except ValueError as exc:
            raise Mistake(str(exc)) from exc
        changes = library.changed_since(collection, at) if at else []
        return [
            {"kind": c.kind, "story": c.story.to_record(), "previous": c.previous and c.previous.to_record(), "what_changed": c.what_changed()}
            for c in changes
        ]

    gr.api(ask_stories, api_name="ask_stories", concurrency_limit=concurrency, concurrency_id="engine")
    gr.api(search_stories, api_name="search_stories")
    gr.api(changed_stories, api_name="changed_stories")


def scope_of(filters: list[str] | None) -> Scope:
    """The ``field=value`` filters an API call gave, as one Scope; a bad one is the caller's mistake."""
    try:
        return parse_scope(filters or [])
    except ValueError as exc:
        raise Mistake(str(exc)) from exc


def known(library: Library, collection: str) -> Shelf:
    """``collection`` as the library holds it: a read never creates one, so any other name is a mistake."""
    shelf = library.shelf(collection)
    if collection not in shelf.names:
        raise Mistake(f"No collection named {collection!r}; known: {', '.join(shelf.names) or 'none yet'}.")
    return shelf
