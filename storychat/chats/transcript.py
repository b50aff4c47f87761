"""A conversation with its checked citations, exported as Markdown or JSON, from the turns' records."""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from storychat.answer import lines as answer_lines
from storychat.answer.citations import ChangedSince, changed_after
from storychat.chats.conversation import QUICK_ACTION, STOPPED, Turn
from storychat.stories import Story

# What a turn without a checked answer says about itself.
NOTES = {
    STOPPED: "Stopped: the answer was not finished, and its citations were not checked.",
    QUICK_ACTION: "Quick action: the list was computed by code; the model's summary keeps only the sentences the stories support.",
}


def to_json(turns: Sequence[Turn], collection: str, current: Mapping[str, Story] | None = None) -> str:
    """``current``: the collection's stories now, by id; an answer citing one that changed since says so."""
    return json.dumps(
        {"collection": collection, "turns": [_turn_json(t, current) for t in turns]},
        ensure_ascii=False,
        indent=2,
    )


def _turn_json(turn: Turn, current: Mapping[str, Story] | None) -> dict:
    changed = {"changed_after": [c.line() for c in changed_after(turn.citations, current)]} if current is not None and turn.kind not in NOTES else {}
    return {"question": turn.question, "kind": turn.kind, **turn.record, **changed}


def to_markdown(turns: Sequence[Turn], collection: str, current: Mapping[str, Story] | None = None) -> str:
    lines = [f"# StoryChat transcript: {collection}", ""]
    for turn in turns:
        lines += [f"## {turn.question}", "", turn.record["answer"], ""]
        if turn.kind in NOTES:
            lines += [f"_{NOTES[turn.kind]}_", ""]
        else:
            changed = changed_after(turn.citations, current) if current is not None else []
            lines += _answer_markdown(turn.record, changed) + [f"_{answer_lines.context_line(turn.record)}_", ""]
    return "\n".join(lines)


def _answer_markdown(r: dict, changed: list[ChangedSince]) -> list[str]:
    """What the code found of an answer: the gap, the marked sentences, the checked citations, those
    ``changed`` since, any doubt."""
    lines = []
    if gap := answer_lines.gap_line(r):
        lines += [gap, ""]
    marked = [] if answer_lines.withheld(r) else answer_lines.marked_sentences(r)
    if marked:
        lines += [f"- {answer_lines.sentence_line(s)}" for s in marked] + [""]
    if r["citations"]:
        lines.append(
            "Citations, checked against the stories the model was shown (✓: a sentence of the answer is supported "
            "by it; ≈: supported in other words):"
        )
        for cite in answer_lines.citations(r):
            lines += [f"- {cite.line()}", *(f"  - {detail}" for detail in cite.details)]
        lines.append("")
    if changed:
        lines += [f"⚠ {c.line()}." for c in changed] + [""]
    if doubt := answer_lines.doubt_line(r):
        lines += [doubt, ""]
    if answer_lines.withheld(r):
        lines += [f"Model's raw answer: {r['raw']}", ""]
    return lines
