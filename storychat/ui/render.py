"""Answers, evidence and reports as the chat and the panels show them: Markdown, escaped."""

from __future__ import annotations

import html

from storychat.analysis.duplicates import DuplicatePair
from storychat.answer.citations import Citation
from storychat.answer.pipeline import Answer
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


def status_line(info: EngineInfo, collection: str, answer: Answer | None = None) -> str:
    line = f"**{e(info.model)}** · context {info.n_ctx:,} model tokens · collection **{e(collection)}**"
    if answer:
        c = answer.context
        line += f" · last answer read {c.stories_in_context} of {c.stories_total} stories ({c.mode})"
    return line


def answer_messages(answer: Answer) -> list[dict]:
    """The answer, then its evidence (and, when withheld, the raw text) as collapsible messages."""
    messages = [{"role": "assistant", "content": e(answer.answer)}]
    if answer.citations:
        valid = len(answer.evidence)
        messages.append({
            "role": "assistant", "content": "\n".join(citation_line(c) for c in answer.citations),
            "metadata": {"title": f"Evidence: {valid} cited stor{'y' if valid == 1 else 'ies'} checked"},
        })
    if answer.closest:
        title = "No story matches the question. Closest stories" if answer.gated else "Closest stories"
        messages.append({
            "role": "assistant",
            "content": "\n".join(f"- **[{e(s.id)}]** {e(s.text)} _({e(s.source)}:{s.line})_" for s in answer.closest),
            "metadata": {"title": title},
        })
    if answer.unsupported and answer.answer != answer.raw:
        messages.append({
            "role": "assistant", "content": e(answer.raw),
            "metadata": {"title": "⚠ Model's raw answer (withheld: it cites no story it was shown)"},
        })
    elif answer.unsupported:
        messages.append({
            "role": "assistant",
            "content": "This answer cites no story the model was shown (--no-strict). Check it against the stories.",
            "metadata": {"title": "⚠ Unsupported answer"},
        })
    return messages


def summary_messages(answer: Answer) -> list[dict]:
    """A quick action's summary by the model, when a sentence of it survived the support check."""
    if not answer.answer:
        return []
    return [{
        "role": "assistant", "content": e(answer.answer),
        "metadata": {"title": "The model's summary: only the sentences the stories support"},
    }]


def citation_line(c: Citation) -> str:
    if c.valid:
        parts = " · ".join(f"{name}: {e(value)}" for name, value in (("role", c.role), ("goal", c.goal), ("benefit", c.benefit)) if value)
        return f"- ✓ **[{e(c.id)}]** {e(c.text)} _({e(c.source)}:{c.line})_" + (f"<br>{parts}" if parts else "")
    if c.text:
        return f"- ✗ **[{e(c.id)}]** exists but was not in the model's context"
    return f"- ✗ **[{e(c.id)}]** is not a story id"


def coverage_line(answer: Answer) -> str:
    c, t = answer.context, answer.timings
    dropped = f" · {answer.dropped_turns} oldest turns left out to fit" if answer.dropped_turns else ""
    return (
        f"Context: {c.stories_in_context} of {c.stories_total} stories, {c.tokens_in_context:,} of "
        f"{c.n_ctx:,} model tokens ({c.mode}){dropped} · first token {t.ttft_s:.1f}s, total {t.total_s:.1f}s"
    )


def report_text(report: ImportReport, near: list[DuplicatePair] = ()) -> str:
    text = (
        f"Added {len(report.added)} stories to **{e(report.collection)}**; "
        f"{len(report.duplicates)} skipped as duplicates; {len(report.notes)} kept as notes."
    )
    text += "".join(f"\n- ⚠ {e(w)}" for w in report.warnings)
    return text + "".join(
        f"\n- ⚠ {e(p.a.id)} duplicates {e(p.b.id)} (similarity {p.similarity:.2f})" for p in near
    )


def story_record(story: Story) -> dict:
    return {
        "id": story.id, "text": story.text, "role": story.role, "goal": story.goal, "benefit": story.benefit,
        "epic": story.epic, "source": story.source, "line": story.line,
    }
