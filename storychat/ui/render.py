"""Answers, evidence and reports as the chat and the panels show them: Markdown, escaped."""

from __future__ import annotations

import html

from storychat.analysis.duplicates import DuplicatePair
from storychat.analysis.roles import epic_index, role_index
from storychat.answer import lines
from storychat.answer.support import LIST_MARKER, PARAPHRASED, PARTLY, UNSUPPORTED
from storychat.chats.conversation import ANSWER, QUICK_ACTION, STOPPED, Turn
from storychat.chats.transcript import NOTES
from storychat.llm.engine import EngineInfo
from storychat.stories import Story
from storychat.stories.library import ImportReport


def escape(text: str) -> str:
    """Story and model text is shown as text, never as HTML."""
    return html.escape(text, quote=False)


PENDING = "⏳"


def pending_line(stage: str, elapsed_s: float) -> str:
    """The answer's bubble until its first word: what the model is doing, and for how long."""
    return f"{PENDING} {escape(stage)} · {elapsed_s:.0f} s"


def message_text(message: dict) -> str:
    """A chat message's text as the browser sends it back (a string, or a list of parts)."""
    content = message.get("content", "")
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content if isinstance(part, dict))


def status_line(info: EngineInfo, collection: str) -> str:
    """The model and the collection; what an answer read is its own coverage line."""
    return f"**{escape(info.model)}** · context {info.n_ctx:,} model tokens · collection **{escape(collection)}**"


# The sentences the chat marks: not (fully) supported by the stories they cite, or supported in other words.
SENTENCE_CLASS = {UNSUPPORTED: "sentence-unsupported", PARTLY: "sentence-partly", PARAPHRASED: "sentence-paraphrased"}
# Text wraps between words only: Gradio's Markdown lets a table cell break anywhere
# (overflow-wrap: anywhere), which split "1,047,576" and "$0.0072" inside their digits.
CSS = f"""
.prose, .prose * {{ word-break: normal !important; overflow-wrap: break-word !important; }}
.prose td, .prose th {{ overflow-wrap: normal !important; }}
.{SENTENCE_CLASS[UNSUPPORTED]} {{ text-decoration: underline wavy #d97706; background: rgba(217, 119, 6, 0.12); }}
.{SENTENCE_CLASS[PARTLY]} {{ text-decoration: underline dotted #d97706; }}
.{SENTENCE_CLASS[PARAPHRASED]} {{ text-decoration: underline dotted #2563eb; }}
/* The stories table likewise: Gradio's word-break: break-word split "leave.csv" and "Approvals" in their
   narrow columns. The page's font is narrower than Gradio's monospace; only a word wider than its column breaks. */
#stories .text {{ font-family: var(--font); word-break: normal !important; overflow-wrap: break-word !important; }}
/* Narrower than its columns need (library.COLUMN_WIDTHS), the table scrolls sideways instead. */
#stories .upload-container {{ overflow-x: auto; }}
#stories .virtual-table-viewport {{ min-width: 920px; }}
/* Gradio 6 shows every warning in one toast, oldest first: only the newest is shown, the ones before are stale. */
.toast-messages > div:not(:last-of-type), .toast-count {{ display: none; }}
/* A phone: the question box on the first screen, Stop beside Ask, no "Chat" badge over the first question,
   and the title clear of the chats' toggle. */
@media (max-width: 767px) {{
  #chat {{ height: 40vh !important; }}
  #chat [data-testid=block-label] {{ display: none; }}
  #question-row {{ flex-wrap: nowrap; }}
  #question-row > .form {{ min-width: 0 !important; }}
  #ask, #stop {{ min-width: 64px !important; }}
  #intro {{ padding-left: 8px; }}
}}
"""


def turn_messages(turn: Turn) -> list[dict]:
    """The chat's messages after a kept turn's question, rendered from its record."""
    record = turn.record
    if turn.kind == STOPPED:
        partial = f"{escape(record['answer'])}\n\n" if record["answer"] else ""
        return [{"role": "assistant", "content": f"{partial}**⏹ {NOTES[STOPPED]}**"}]
    if turn.kind == QUICK_ACTION:
        listed = {"role": "assistant", "content": record["markdown"] or escape(record["answer"])}
        return [listed, *summary_messages(record["summary"])]
    return answer_messages(record)


def turn_coverage(turn: Turn) -> str:
    """The coverage line under the chat after ``turn``: what its answer (or its summary) read."""
    if turn.kind == ANSWER:
        return coverage_line(turn.record)
    if turn.kind == STOPPED:
        return ""
    summary = turn.record["summary"]
    # A quick action kept before its summary's record was: the line as it was shown (migration m006).
    return coverage_line(summary) if summary and "context" in summary else turn.record.get("coverage", "")


def answer_messages(record: dict) -> list[dict]:
    """The answer, then its evidence (and, when withheld, the raw text) as collapsible messages."""
    shown = answer_markdown(record)
    if gap := lines.gap_line(record):
        shown += f"\n\n{escape(gap)}"
    messages = [{"role": "assistant", "content": shown}]
    if record["citations"]:
        messages.append({
            "role": "assistant", "content": "\n".join(map(item_markdown, lines.citations(record))),
            "metadata": {"title": lines.evidence_title(record)},
        })
    reading = record["reading"]
    if reading and reading["ids"]:
        messages.append({
            "role": "assistant", "content": ", ".join(f"[{escape(i)}]" for i in reading["ids"]),
            "metadata": {"title": f"Cited by the passes: {reading['cited']} of {reading['stories']:,} stories"},
        })
    if record["closest"]:
        messages.append({
            "role": "assistant", "content": "\n".join(map(item_markdown, lines.closest(record))),
            "metadata": {"title": "Possibly relevant:"},
        })
    if lines.withheld(record):
        messages.append({
            "role": "assistant", "content": escape(record["raw"]),
            "metadata": {"title": f"⚠ Model's raw answer (withheld: it {record['doubt']})"},
        })
    elif record["doubt"]:
        messages.append({"role": "assistant", "content": escape(lines.doubt_line(record)), "metadata": {"title": "⚠ Unsupported answer"}})
    return messages


def answer_markdown(record: dict) -> str:
    """The answer as shown: each sentence the stories do not (fully) support marked ⚠ with the words they lack,
    and each they support in other words marked ≈."""
    text = record["answer"]
    if lines.withheld(record) or not record["sentences"]:
        return escape(text)
    parts, at = [], 0
    for s in record["sentences"]:
        start = -1 if s["cut"] else text.find(s["text"], at)
        if start >= 0:
            parts += [escape(text[at:start]), sentence_markdown(s)]
            at = start + len(s["text"])
    return "".join(parts) + escape(text[at:])


def sentence_markdown(s: dict) -> str:
    """A sentence of the answer, inside its mark when it has one (a list item's marker stays outside, so a list
    stays a list)."""
    if s["verdict"] not in SENTENCE_CLASS:
        return escape(s["text"])
    item = LIST_MARKER.match(s["text"])
    head = item.group(0) if item else ""
    mark = lines.SENTENCE_MARK[s["verdict"]]
    return (
        f'{escape(head)}<span class="{SENTENCE_CLASS[s["verdict"]]}" title="{html.escape(s["why"])}">'
        f'{mark} {escape(s["text"][len(head):])}</span>'
    )


def item_markdown(item: lines.Item) -> str:
    """A story the answer names, as a list item: its mark, the id in bold, where it comes from in italics,
    and under it what the chat shows of a citation."""
    where = f" _({escape(item.where)})_" if item.where else ""
    mark = f"{item.mark} " if item.mark else ""
    return f"- {mark}**[{escape(item.id)}]** {escape(item.text)}{where}" + "".join(f"<br>{escape(d)}" for d in item.details)


def summary_messages(summary: dict | None) -> list[dict]:
    """A quick action's summary by the model, when a sentence of it survived the support check."""
    if not summary or not summary["answer"]:
        return []
    return [{
        "role": "assistant", "content": escape(summary["answer"]),
        "metadata": {"title": "The model's summary: only the sentences the stories support"},
    }]


def coverage_line(record: dict) -> str:
    """What the answer read, and how long it took: one line, with a hint when the question would suit
    *Read everything*."""
    hint = f"\n\n💡 {escape(record['hint'])} Tick *Read everything* and ask again." if record["hint"] else ""
    return f"{escape(lines.context_line(record))}{hint}"


GONE_REMEDY = "the button below removes it"


def report_text(report: ImportReport, near: list[DuplicatePair] = ()) -> str:
    """A first import's counts; a re-import's change report, with what changed in each changed story."""
    if report.reimport:
        text = f"Updated **{escape(report.collection)}** from {escape(report.describe(GONE_REMEDY))}"
        text += "".join(f"\n- {escape(line)}" for line in report.details())
    else:
        notes = f"{len(report.notes):,} kept as notes" + (" (lines that are not stories: listed under Notes)" if report.notes else "")
        text = (
            f"Added {len(report.added)} stories to **{escape(report.collection)}**; "
            f"{len(report.duplicates)} skipped as duplicates; {notes}."
        )
    if report.added:
        text += f"\n- Read from them: {parsed_counts(report.added)}."
    text += "".join(f"\n- ⚠ {escape(w)}" for w in report.warnings)
    return text + "".join(
        f"\n- ⚠ {escape(p.a.id)} duplicates {escape(p.b.id)} ({escape(p.describe())})" for p in near
    )


def parsed_counts(stories: list[Story]) -> str:
    """What the parser found in ``stories``: "3 roles, 2 epics, 61 acceptance criteria"."""
    roles, epics = len(role_index(stories)), len(epic_index(stories))
    criteria = sum(len(s.acceptance) for s in stories)
    return (
        f"{roles} role{'' if roles == 1 else 's'}, {epics} epic{'' if epics == 1 else 's'}, "
        f"{criteria} acceptance criteri{'on' if criteria == 1 else 'a'}"
    )
