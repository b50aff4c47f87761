"""A conversation with its checked citations, exported as Markdown or JSON."""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from storychat.answer.citations import changed_after
from storychat.answer.conversation import QUICK_ACTION, STOPPED, Turn
from storychat.stories import Story

# What a turn without a checked answer says about itself.
NOTES = {
    STOPPED: "Stopped: the answer was not finished, and its citations were not checked.",
    QUICK_ACTION: "Quick action: the list was computed by code; the model's summary keeps only the sentences the stories support.",
}


def to_json(turns: Sequence[Turn], collection: str, current: Mapping[str, Story] | None = None) -> str:
    """``current``: the collection's stories now, by id; an answer citing one that changed since says so."""
    return json.dumps(
        {"collection": collection, "turns": [{"question": t.question, **_turn_json(t, current)} for t in turns]},
        ensure_ascii=False,
        indent=2,
    )


def _turn_json(turn: Turn, current: Mapping[str, Story] | None) -> dict:
    if not turn.answer:
        return {"kind": turn.kind, "answer": turn.text}
    changed = {"changed_after": changed_after(turn.answer.citations, current)} if current is not None else {}
    return {"kind": turn.kind, **turn.answer.to_json(), **changed}


def to_markdown(turns: Sequence[Turn], collection: str, current: Mapping[str, Story] | None = None) -> str:
    lines = [f"# StoryChat transcript: {collection}", ""]
    for turn in turns:
        if not turn.answer:
            lines += [f"## {turn.question}", "", turn.text, "", f"_{NOTES[turn.kind]}_", ""]
            continue
        a, c = turn.answer, turn.answer.context
        lines += [f"## {turn.question}", "", a.answer, ""]
        if a.gap_line:
            lines += [a.gap_line, ""]
        flagged = [s for s in a.support.sentences if s.flagged and not s.cut]
        if flagged and not a.withheld:
            lines += [f"- {s.why()}: {s.text}" for s in flagged] + [""]
        if a.citations:
            lines.append(
                "Citations, checked against the stories the model was shown (✓: a sentence of the answer is supported "
                "by it; ≈: supported in other words):"
            )
            for cite in a.citations:
                if cite.valid:
                    mark = " ✓" if cite.verified else " ≈" if cite.paraphrased else ""
                    lines.append(f"- valid [{cite.id}] {cite.text} ({cite.source}:{cite.line}){mark}")
                else:
                    lines.append(f"- INVALID [{cite.id}]: " + ("not in the model's context" if cite.text else "no such story"))
            lines += [
                f"- misquoted [{m.id}]: the answer says \"{m.claimed}\"; the story says \"{m.library}\""
                + (f"; these are [{m.owner}]'s words" if m.owner else "")
                for m in a.support.misquotes
            ]
            lines.append("")
        if current is not None and (changed := changed_after(a.citations, current)):
            lines += [f"⚠ {line}." for line in changed] + [""]
        if a.withheld:
            lines += [f"Withheld model answer (it {a.doubt}): {a.raw}", ""]
        elif a.doubt:
            lines += [f"Warning: this answer {a.doubt}.", ""]
        lines += [
            f"_Context: {c.stories_in_context} of {c.stories_total} stories, {c.tokens_in_context} of "
            f"{c.n_ctx} model tokens ({c.mode})._",
            "",
        ]
    return "\n".join(lines)
