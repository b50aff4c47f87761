"""Answers, evidence and reports as the chat and the panels show them: Markdown, escaped."""

from __future__ import annotations

import html

from storychat.analysis.duplicates import DuplicatePair
from storychat.analysis.roles import epic_index, role_index
from storychat.answer.citations import Citation
from storychat.answer.pipeline import Answer
from storychat.answer.support import LIST_MARKER, PARAPHRASED, PARTLY, UNSUPPORTED, Misquote, Sentence
from storychat.llm.engine import EngineInfo
from storychat.stories import Story
from storychat.stories.library import ImportReport


def e(text: str) -> str:
    """Story and model text is shown as text, never as HTML."""
    return html.escape(text, quote=False)


PENDING = "⏳"


def pending_line(stage: str, elapsed_s: float) -> str:
    """The answer's bubble until its first word: what the model is doing, and for how long."""
    return f"{PENDING} {e(stage)} · {elapsed_s:.0f} s"


def message_text(message: dict) -> str:
    """A chat message's text as the browser sends it back (a string, or a list of parts)."""
    content = message.get("content", "")
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content if isinstance(part, dict))


def status_line(info: EngineInfo, collection: str) -> str:
    """The model and the collection; what an answer read is its own coverage line."""
    return f"**{e(info.model)}** · context {info.n_ctx:,} model tokens · collection **{e(collection)}**"


# The sentences the chat marks: not (fully) supported by the stories they cite, or supported in other words.
SENTENCE_CLASS = {UNSUPPORTED: "sentence-unsupported", PARTLY: "sentence-partly", PARAPHRASED: "sentence-paraphrased"}
SENTENCE_MARK = {UNSUPPORTED: "⚠", PARTLY: "⚠", PARAPHRASED: "≈"}
# Text wraps between words only: Gradio's Markdown lets a table cell break anywhere
# (overflow-wrap: anywhere), which split "1,047,576" and "$0.0072" inside their digits.
CSS = f"""
.prose, .prose * {{ word-break: normal !important; overflow-wrap: break-word !important; }}
.prose td, .prose th {{ overflow-wrap: normal !important; }}
.{SENTENCE_CLASS[UNSUPPORTED]} {{ text-decoration: underline wavy #d97706; background: rgba(217, 119, 6, 0.12); }}
.{SENTENCE_CLASS[PARTLY]} {{ text-decoration: underline dotted #d97706; }}
.{SENTENCE_CLASS[PARAPHRASED]} {{ text-decoration: underline dotted #2563eb; }}
"""


def answer_messages(answer: Answer) -> list[dict]:
    """The answer, then its evidence (and, when withheld, the raw text) as collapsible messages."""
    shown = e(answer.answer) if answer.withheld or not answer.support.sentences else answer.support.show(sentence_markdown)
    if answer.gap_line:
        shown += f"\n\n{e(answer.gap_line)}"
    messages = [{"role": "assistant", "content": shown}]
    if answer.citations:
        messages.append({
            "role": "assistant", "content": "\n".join(citation_line(c, answer.support.misquotes) for c in answer.citations),
            "metadata": {"title": evidence_title(answer.citations)},
        })
    if answer.reading and answer.reading.ids:
        messages.append({
            "role": "assistant", "content": ", ".join(f"[{e(i)}]" for i in answer.reading.ids),
            "metadata": {"title": f"Cited by the passes: {answer.reading.cited} of {answer.reading.stories:,} stories"},
        })
    if answer.closest:
        title = "Possibly relevant:"
        messages.append({
            "role": "assistant",
            "content": "\n".join(f"- **[{e(s.id)}]** {e(s.text)} _({e(s.source)}:{s.line})_" for s in answer.closest),
            "metadata": {"title": title},
        })
    if answer.withheld:
        messages.append({
            "role": "assistant", "content": e(answer.raw),
            "metadata": {"title": f"⚠ Model's raw answer (withheld: it {answer.doubt})"},
        })
    elif answer.doubt:
        messages.append({
            "role": "assistant",
            "content": f"This answer {answer.doubt}. Check it against the stories.",
            "metadata": {"title": "⚠ Unsupported answer"},
        })
    return messages


def evidence_title(citations: list[Citation]) -> str:
    valid = sum(c.valid for c in citations)
    verified = sum(c.verified for c in citations)
    paraphrased = sum(c.paraphrased for c in citations)
    title = f"Evidence: {valid} cited stor{'y' if valid == 1 else 'ies'} checked, {verified} support{'s' if verified == 1 else ''} the answer"
    return title + (f", {paraphrased} in other words" if paraphrased else "")


def sentence_markdown(s: Sentence) -> str:
    """A sentence of the answer; one the stories it cites do not (fully) support is marked ⚠, with the words they
    lack, and one they support in other words is marked ≈."""
    if s.verdict not in SENTENCE_MARK:
        return e(s.text)
    item = LIST_MARKER.match(s.text)  # left outside the mark, so a list stays a list
    head = item.group(0) if item else ""
    mark = SENTENCE_MARK[s.verdict]
    return f'{e(head)}<span class="{SENTENCE_CLASS[s.verdict]}" title="{html.escape(s.why())}">{mark} {e(s.text[len(head):])}</span>'


def summary_messages(answer: Answer) -> list[dict]:
    """A quick action's summary by the model, when a sentence of it survived the support check."""
    if not answer.answer:
        return []
    return [{
        "role": "assistant", "content": e(answer.answer),
        "metadata": {"title": "The model's summary: only the sentences the stories support"},
    }]


def citation_line(c: Citation, misquotes: list[Misquote] = ()) -> str:
    if c.valid:
        parts = " · ".join(f"{name}: {e(value)}" for name, value in (("role", c.role), ("goal", c.goal), ("benefit", c.benefit)) if value)
        mark = "✓" if c.verified else "≈" if c.paraphrased else "⚠"
        line = f"- {mark} **[{e(c.id)}]** {e(c.text)} _({e(c.source)}:{c.line})_" + (f"<br>{parts}" if parts else "")
        line += "".join(f"<br>✔ {e(criterion)}" for criterion in c.acceptance)
        if c.paraphrased:
            line += "<br>Supported in other words: it carries the question, not the answer's words. Check the wording."
        elif not c.verified:
            line += "<br>No sentence of the answer is supported by it."
        return line + "".join(
            f"<br>Misquoted. The answer says: “{e(m.claimed)}”<br>The story says: “{e(m.library)}”"
            + (f"<br>These are [{e(m.owner)}]'s words." if m.owner else "")
            for m in misquotes if m.id == c.id
        )
    if c.text:
        return f"- ✗ **[{e(c.id)}]** exists but was not in the model's context"
    return f"- ✗ **[{e(c.id)}]** is not a story id"


def coverage_line(answer: Answer) -> str:
    """What the answer read, and how long it took: one line. An exhaustive answer's is its reading;
    a refusal by the relevance gate never called the model, and says so instead of times."""
    c, t = answer.context, answer.timings
    if answer.reading:
        read = answer.reading.line()
        read = read[0].upper() + read[1:]
    else:
        dropped = f" · {answer.dropped_turns} oldest turns left out to fit" if answer.dropped_turns else ""
        read = (
            f"Context: {c.stories_in_context} of {c.stories_total} stories, {c.tokens_in_context:,} of "
            f"{c.n_ctx:,} model tokens ({c.mode}){dropped}"
        )
    took = "no model call" if answer.gated else f"first token {t.ttft_s:.1f}s, total {t.total_s:.1f}s"
    hint = f"\n\n💡 {e(answer.hint)} Tick *Read everything* and ask again." if answer.hint else ""
    return f"{read} · {took}{hint}"


GONE_REMEDY = "the button below removes it"


def report_text(report: ImportReport, near: list[DuplicatePair] = ()) -> str:
    """A first import's counts; a re-import's change report, with what changed in each changed story."""
    if report.reimport:
        text = f"Updated **{e(report.collection)}** from {e(report.describe(GONE_REMEDY))}"
        text += "".join(f"\n- {e(line)}" for line in report.details())
    else:
        notes = f"{len(report.notes):,} kept as notes" + (" (lines that are not stories: listed under Notes)" if report.notes else "")
        text = (
            f"Added {len(report.added)} stories to **{e(report.collection)}**; "
            f"{len(report.duplicates)} skipped as duplicates; {notes}."
        )
    if report.added:
        text += f"\n- Read from them: {parsed_counts(report.added)}."
    text += "".join(f"\n- ⚠ {e(w)}" for w in report.warnings)
    return text + "".join(
        f"\n- ⚠ {e(p.a.id)} duplicates {e(p.b.id)} ({e(p.describe())})" for p in near
    )


def parsed_counts(stories: list[Story]) -> str:
    """What the parser found in ``stories``: "3 roles, 2 epics, 61 acceptance criteria"."""
    roles, epics = len(role_index(stories)), len(epic_index(stories))
    criteria = sum(len(s.acceptance) for s in stories)
    return (
        f"{roles} role{'' if roles == 1 else 's'}, {epics} epic{'' if epics == 1 else 's'}, "
        f"{criteria} acceptance criteri{'on' if criteria == 1 else 'a'}"
    )


def story_record(story: Story) -> dict:
    return {
        "id": story.id, "text": story.text, "role": story.role, "goal": story.goal, "benefit": story.benefit,
        "epic": story.epic, "source": story.source, "line": story.line,
    }
