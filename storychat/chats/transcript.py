"""A conversation with its checked citations, exported as Markdown or JSON, from the turns' records."""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from storychat.answer.lines import Lines, lines, listing_lines
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
    text = [f"# StoryChat transcript: {collection}", ""]
    for turn in turns:
        text += [f"## {turn.question}", "", *_listing_markdown(turn.record), turn.record["answer"], ""]
        if turn.kind in NOTES:
            text += [f"_{NOTES[turn.kind]}_", ""]
        else:
            changed = changed_after(turn.citations, current) if current is not None else []
            text += _answer_markdown(lines(turn.record), changed)
    return "\n".join(text)


def _listing_markdown(record: dict) -> list[str]:
    """A list question's exact list, before the model's summary of it (a stopped summary keeps it too)."""
    if not record.get("listing"):
        return []
    headline, listed = listing_lines(record["listing"])
    return [headline, "", *(f"- {item.line()}" for item in listed), ""]


def _answer_markdown(shown: Lines, changed: list[ChangedSince]) -> list[str]:
    """What the code found of an answer: the gap, the marked sentences, the checked citations, those
    ``changed`` since, any doubt, and what it read."""
    text = [line for gap in (shown.gap, shown.incomplete, shown.looped) if gap for line in (gap, "")]
    if shown.marked:
        text += [f"- {sentence}" for sentence in shown.marked] + [""]
    if shown.citations:
        text.append(
            "Citations, checked against the stories the model was shown (✓: a sentence of the answer is supported "
            "by it; ≈: supported in other words):"
        )
        for cite in shown.citations:
            text += [f"- {cite.line()}", *(f"  - {detail}" for detail in cite.details)]
        text.append("")
    if changed:
        text += [f"⚠ {c.line()}." for c in changed] + [""]
    if shown.doubt:
        text += [shown.doubt, ""]
    if shown.withheld:
        text += [f"The model's answer: {shown.withheld}", ""]
    return text + [f"_{shown.context}_", ""]
