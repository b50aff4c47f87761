"""Answers, evidence and reports as the chat and the panels show them: Markdown, escaped."""

from __future__ import annotations

import html
from typing import Mapping

from storychat.analysis.duplicates import DuplicatePair
from storychat.analysis.roles import epic_index, role_index
from storychat.answer.lines import Item, checked, lines, listing_lines, second_opinion, sentence_mark
from storychat.answer.citations import ChangedSince, changed_after
from storychat.answer.support import LIST_MARKER, PARAPHRASED, PARTLY, SUPPORTED, UNSUPPORTED
from storychat.chats.conversation import ANSWER, QUICK_ACTION, STOPPED, Turn
from storychat.chats.transcript import NOTES
from storychat.llm.engine import EngineInfo
from storychat.stories import Story
from storychat.stories.changes import Version
from storychat.stories.library import ImportReport


def escape(text: str) -> str:
    """Story and model text is shown as text, never as HTML."""
    return html.escape(text, quote=False)


PENDING = "⏳"
NO_SUMMARY = "The model's summary kept no sentence: none that the listed stories support said more than the list."
HISTORY_HINT = "Each earlier version: Stories tab, *Manage collection*, *Story history*."


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


# The sentences the chat marks: not (fully) supported by the stories they cite, supported in other words, or
# (supported) a claim of absence checked against every story.
SENTENCE_CLASS = {
    UNSUPPORTED: "sentence-unsupported", PARTLY: "sentence-partly", PARAPHRASED: "sentence-paraphrased", SUPPORTED: "sentence-checked",
}
# Text wraps between words only: Gradio's Markdown lets a table cell break anywhere
# (overflow-wrap: anywhere), which split "1,047,576" and "$0.0072" inside their digits.
CSS = f"""
.prose, .prose * {{ word-break: normal !important; overflow-wrap: break-word !important; }}
.prose td, .prose th {{ overflow-wrap: normal !important; }}
.{SENTENCE_CLASS[UNSUPPORTED]} {{ text-decoration: underline wavy #d97706; background: rgba(217, 119, 6, 0.12); }}
.{SENTENCE_CLASS[PARTLY]} {{ text-decoration: underline dotted #d97706; }}
.{SENTENCE_CLASS[PARAPHRASED]} {{ text-decoration: underline dotted #2563eb; }}
#chat .said {{ color: var(--body-text-color-subdued); font-size: 0.9em; }}
/* The stories table likewise: Gradio's word-break: break-word split "leave.csv" and "Approvals" in their
   narrow columns. The page's font is narrower than Gradio's monospace; only a word wider than its column breaks. */
#stories .text {{ font-family: var(--font); word-break: normal !important; overflow-wrap: break-word !important; }}
/* Narrower than its columns need (library.COLUMN_WIDTHS), the table scrolls sideways instead. */
#stories .upload-container {{ overflow-x: auto; }}
#stories .virtual-table-viewport {{ min-width: 940px; }}
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


def turn_messages(turn: Turn, current: Mapping[str, Story] | None = None) -> list[dict]:
    """The chat's messages after a kept turn's question, rendered from its record. ``current``: the collection's
    stories now, by id; an answer citing one that changed since says so, with the text then and now."""
    record = turn.record
    if turn.kind == STOPPED:
        partial = f"{escape(record['answer'])}\n\n" if record["answer"] else ""
        listed = listing_messages(record["listing"]) if record.get("listing") else []
        return [*listed, {"role": "assistant", "content": f"{partial}**⏹ {NOTES[STOPPED]}**"}]
    if turn.kind == QUICK_ACTION:
        listed = {"role": "assistant", "content": record["markdown"] or escape(record["answer"])}
        return [listed, *summary_messages(record["summary"])]
    changed = changed_after(turn.citations, current) if current is not None else []
    return answer_messages(record) + [changed_message(c) for c in changed]


def changed_message(change: ChangedSince) -> dict:
    """A collapsed notice under an answer: the cited story changed (or went) after it; open, the text then and now."""
    now = "removed from the collection" if change.now is None else f"“{escape(change.now)}”"
    return {
        "role": "assistant",
        "content": f"When answered: “{escape(change.then)}”<br>Now: {now}<br>{HISTORY_HINT}",
        "metadata": {"title": f"⚠ {change.line()}"},
    }


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
    """The answer, then its evidence (and, when withheld, what the model wrote) as collapsible messages."""
    shown = lines(record)
    text = escape(shown.answer) if shown.withheld or not record["sentences"] else answer_markdown(shown.answer, record["sentences"])
    if shown.listing and not shown.answer:
        text = NO_SUMMARY
    messages = listing_messages(record.get("listing")) + [
        {"role": "assistant", "content": text + "".join(f"\n\n{escape(line)}" for line in (shown.gap, shown.incomplete, shown.looped) if line)}
    ]
    if shown.citations:
        messages.append({"role": "assistant", "content": "\n".join(map(item_markdown, shown.citations)), "metadata": {"title": shown.evidence}})
    if shown.read:
        reading = record["reading"]
        messages.append({
            "role": "assistant", "content": ", ".join(f"[{escape(i)}]" for i in shown.read),
            "metadata": {"title": f"Cited by the passes: {reading['cited']} of {reading['stories']:,} stories"},
        })
    if shown.closest:
        messages.append({"role": "assistant", "content": "\n".join(map(item_markdown, shown.closest)), "metadata": {"title": "Possibly relevant:"}})
    if shown.withheld:
        messages.append({
            "role": "assistant", "content": escape(shown.withheld),
            "metadata": {"title": f"⚠ Model's raw answer (withheld: it {record['doubt']})"},
        })
    elif shown.doubt:
        messages.append({"role": "assistant", "content": escape(shown.doubt), "metadata": {"title": "⚠ Unsupported answer"}})
    return messages


def listing_messages(listing: dict | None) -> list[dict]:
    """A list question's exact list, computed by code, as the chat shows it before the model's summary."""
    if not listing:
        return []
    headline, listed = listing_lines(listing)
    return [{"role": "assistant", "content": f"**{escape(headline)}**\n\n" + "\n".join(map(item_markdown, listed))}]


def answer_markdown(text: str, sentences: list[dict]) -> str:
    """The answer as shown: each sentence the stories do not (fully) support marked ⚠ with the words they lack,
    and each they support in other words marked ≈."""
    parts, at = [], 0
    for s in sentences:
        start = -1 if s["cut"] else text.find(s["text"], at)
        if start >= 0:
            parts += [escape(text[at:start]), sentence_markdown(s)]
            at = start + len(s["text"])
    return "".join(parts) + escape(text[at:])


def sentence_markdown(s: dict) -> str:
    """A sentence of the answer, inside its mark when it has one (a list item's marker stays outside, so a list
    stays a list), with what a claim of absence was checked against and the model's second opinion, if any."""
    mark = sentence_mark(s)
    if not mark:
        return escape(s["text"])
    item = LIST_MARKER.match(s["text"])
    head = item.group(0) if item else ""
    said = "; ".join(part for part in (checked(s), second_opinion(s)) if part)
    return (
        f'{escape(head)}<span class="{SENTENCE_CLASS[s["verdict"]]}" title="{html.escape(s["why"])}">'
        f'{mark} {escape(s["text"][len(head):])}' + (f' <span class="said">({escape(said)})</span>' if said else "") + "</span>"
    )


def item_markdown(item: Item) -> str:
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
    return f"{escape(lines(record).context)}{hint}"


GONE_REMEDY = "the button below removes it"


def report_text(report: ImportReport, near: list[DuplicatePair] = ()) -> str:
    """A first import's counts; a re-import's change report, with what changed in each changed story; what each
    column of a table became."""
    if report.reimport:
        text = f"Updated **{escape(report.collection)}** from {escape(report.describe(GONE_REMEDY))}"
        text += "".join(f"\n- {escape(line)}" for line in report.details())
    else:
        notes = f"{len(report.notes):,} kept as notes" + (" (lines that are not stories: listed under Notes)" if report.notes else "")
        text = (
            f"Added {len(report.added)} stories to **{escape(report.collection)}**; "
            f"{len(report.duplicates)} skipped as duplicates; {notes}."
        )
    if report.held:
        text += f"\n- Read from {escape(report.source)}: {parsed_counts(report.held)}."
    if report.columns:
        text += f"\n- {escape(report.columns_line())}"
    text += "".join(f"\n- ⚠ {escape(w)}" for w in report.warnings)
    return text + "".join(
        f"\n- ⚠ {escape(p.a.id)} duplicates {escape(p.b.id)} ({escape(p.describe())})" for p in near
    )


def history_markdown(story_id: str, collection: str, versions: list[Version]) -> str:
    """A story's earlier versions, newest first, each as it was and why it was replaced."""
    if not versions:
        return f"No earlier versions of **{escape(story_id)}** in {escape(collection)}: no import changed or removed it."
    return "\n".join(
        f"- **{escape(v.at)}**, {escape(v.why)}; it was: {escape(v.story.text)}"
        + "".join(f"<br>✔ {escape(criterion)}" for criterion in v.story.acceptance)
        for v in versions
    )


def parsed_counts(stories: list[Story]) -> str:
    """What the parser found in ``stories``: "3 roles, 2 epics, 61 acceptance criteria"."""
    roles, epics = len(role_index(stories)), len(epic_index(stories))
    criteria = sum(len(s.acceptance) for s in stories)
    return (
        f"{roles} role{'' if roles == 1 else 's'}, {epics} epic{'' if epics == 1 else 's'}, "
        f"{criteria} acceptance criteri{'on' if criteria == 1 else 'a'}"
    )
