"""A conversation with its checked citations, exported as Markdown or JSON, from the turns' records."""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from storychat.answer.citations import changed_after
from storychat.answer.conversation import QUICK_ACTION, STOPPED, Turn
from storychat.answer.support import PARTLY, UNSUPPORTED
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
    changed = {"changed_after": changed_after(turn.citations, current)} if current is not None and turn.kind not in NOTES else {}
    return {"question": turn.question, "kind": turn.kind, **turn.record, **changed}


def to_markdown(turns: Sequence[Turn], collection: str, current: Mapping[str, Story] | None = None) -> str:
    lines = [f"# StoryChat transcript: {collection}", ""]
    for turn in turns:
        lines += [f"## {turn.question}", "", turn.record["answer"], ""]
        if turn.kind in NOTES:
            lines += [f"_{NOTES[turn.kind]}_", ""]
        else:
            changed = changed_after(turn.citations, current) if current is not None else []
            lines += _answer_markdown(turn.record, changed) + [_context_line(turn.record["context"]), ""]
    return "\n".join(lines)


def _answer_markdown(r: dict, changed: list[str]) -> list[str]:
    """What the code found of an answer: the gap, the flagged sentences, the checked citations, those
    ``changed`` since, any doubt."""
    lines = []
    gap = r["missing"] or r["no_story_says"]
    if gap:
        lines += [gap["line"], ""]
    withheld = bool(r["doubt"]) and r["refused"]
    flagged = [s for s in r["sentences"] if s["verdict"] in (PARTLY, UNSUPPORTED) and not s["cut"]]
    if flagged and not withheld:
        lines += [f"- {s['why']}: {s['text']}" for s in flagged] + [""]
    if r["citations"]:
        lines.append(
            "Citations, checked against the stories the model was shown (✓: a sentence of the answer is supported "
            "by it; ≈: supported in other words):"
        )
        for cite in r["citations"]:
            if cite["valid"]:
                mark = " ✓" if cite["verified"] else " ≈" if cite["paraphrased"] else ""
                lines.append(f"- valid [{cite['id']}] {cite['text']} ({cite['source']}:{cite['line']}){mark}")
            else:
                lines.append(f"- INVALID [{cite['id']}]: " + ("not in the model's context" if cite["text"] else "no such story"))
        misquotes = {tuple(m.values()): m for s in r["sentences"] if (m := s["misquote"])}.values()
        lines += [
            f"- misquoted [{m['id']}]: the answer says \"{m['claimed']}\"; the story says \"{m['library']}\""
            + (f"; these are [{m['owner']}]'s words" if m["owner"] else "")
            for m in misquotes
        ]
        lines.append("")
    if changed:
        lines += [f"⚠ {line}." for line in changed] + [""]
    if withheld:
        lines += [f"Withheld model answer (it {r['doubt']}): {r['raw']}", ""]
    elif r["doubt"]:
        lines += [f"Warning: this answer {r['doubt']}.", ""]
    return lines


def _context_line(c: dict) -> str:
    return (
        f"_Context: {c['stories_in_context']} of {c['stories_total']} stories, {c['tokens_in_context']} of "
        f"{c['n_ctx']} model tokens ({c['mode']})._"
    )
