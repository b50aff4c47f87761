"""Quality lint for user stories after the QUS framework (the AQUSA rules).

Five rules, each finding pointing at the offending words where there are any:

- well_formed (high): the story has a role and a means ("As a <role>, I want <means>").
- atomic (medium): the means asks for one thing; "and"/"or"/"&"/"+" followed
  by a second action verb ("enter my zip code and get a list") asks for two.
- minimal (low): nothing beyond role, means and ends; no bracketed asides
  and no extra sentences.
- uniform (low): the means and ends indicators ("I want", "so that") are the
  ones most stories of the collection use.
- unique (high): no other story has the same text.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from storychat.analysis.duplicates import same_text_groups
from storychat.stories import Story
from storychat.stories.parse import parse_parts

SEVERITY = {"well_formed": "high", "unique": "high", "atomic": "medium", "minimal": "low", "uniform": "low"}
RULES = tuple(SEVERITY)

Span = tuple[int, int]


@dataclass(frozen=True)
class Finding:
    """One rule broken by one story; ``span`` is the offending words in
    ``story.text`` (start, end), None when the fault is no particular words."""

    story_id: str
    rule: str
    severity: str
    message: str
    span: Span | None = None


@dataclass(frozen=True)
class LintSummary:
    stories: int
    clean: int
    by_rule: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)

    @property
    def clean_share(self) -> float:
        return self.clean / self.stories if self.stories else 1.0


def lint(stories: Sequence[Story]) -> list[Finding]:
    """Every finding, in the order of the stories, then of the words."""
    laid_out = [(story, _layout(story)) for story in stories]
    findings = [f for story, layout in laid_out for f in _well_formed(story, layout)]
    for story, layout in laid_out:
        if layout is not None:
            findings += _atomic(story, layout) + _minimal(story)
    findings += _uniform(laid_out) + _unique(stories)
    order = {story.id: n for n, story in enumerate(stories)}
    return sorted(findings, key=lambda f: (order[f.story_id], f.span or (-1, -1), RULES.index(f.rule)))


def summarise(stories: Sequence[Story], findings: Sequence[Finding]) -> LintSummary:
    """Counts per rule and severity; a story is clean when it has no finding.
    Notes count only when they have a finding (a story without a role)."""
    flagged = {f.story_id for f in findings}
    total = len({s.id for s in stories if not s.is_note} | flagged)
    return LintSummary(
        stories=total,
        clean=total - len(flagged),
        by_rule=dict(Counter(f.rule for f in findings)),
        by_severity=dict(Counter(f.severity for f in findings)),
    )


def by_story(findings: Sequence[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by story id, in the order they come."""
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.story_id, []).append(finding)
    return grouped


def highlight_markdown(text: str, findings: Sequence[Finding]) -> str:
    """``text`` as Markdown with the words the findings point at in bold; the
    text is HTML-escaped and its own Markdown punctuation is escaped too."""
    pieces, at = [], 0
    for start, end in _merge(f.span for f in findings if f.span):
        pieces += [_escape(text[at:start]), f"**{_escape(text[start:end])}**"]
        at = end
    pieces.append(_escape(text[at:]))
    return "".join(pieces)


# --- where the parts of a story are in its text ----------------------------------------


@dataclass(frozen=True)
class _Layout:
    goal: Span
    means_marker: Span  # "I want", "I'd like", "I'm able"
    ends_marker: Span | None  # "so that", "in order to"; None without a benefit


_BENEFIT_FIRST = re.compile(r"\s*in\s+order\s+to\b", re.I)
_SUBJECT = re.compile(r"\b(?:I|we)\b", re.I)
# The word that names the means indicator, and how the message writes it.
_MEANS_KINDS = {
    "want": "I want", "wants": "I want", "like": "I would like", "love": "I would like",
    "need": "I need", "needs": "I need", "require": "I need", "able": "I am able to",
    "can": "I can", "could": "I can", "must": "I must", "wish": "I wish",
}
_MEANS_VERB = re.compile(r"\b(?:" + "|".join(_MEANS_KINDS) + r")\b", re.I)
# The want-verb may come a few words after the subject: "I'd like", "I would
# be able", "I don't want", "I only want".
_NEAR_WORDS = re.compile(r"\s*(?:\S+\s+){0,3}\S+")
_PUNCTUATION = " \t,;:."


def _layout(story: Story) -> _Layout | None:
    """Where the means and the indicator words are; None when the text is not a story."""
    text = story.text
    parts = parse_parts(text)
    if parts is None:
        return None
    benefit_first = bool(parts.benefit) and _BENEFIT_FIRST.match(text) is not None
    benefit = _locate(parts.benefit, text, 0) if benefit_first else None
    role = _locate(parts.role, text, benefit[1] if benefit else 0)
    goal = _locate(parts.goal, text, role[1]) if role else None
    if goal is None:
        return None
    if parts.benefit and not benefit_first:
        benefit = _locate(parts.benefit, text, goal[1])
    ends_marker = None
    if benefit:
        ends_marker = _trim(text, 0, benefit[0]) if benefit_first else _trim(text, goal[1], benefit[0])
    means = _means_words(text, role[1])
    if means is None or means[0] >= goal[0]:
        means = _trim(text, role[1], goal[0])  # no subject: "As a researcher, would like ..."
    return _Layout(goal, means, ends_marker)


def _locate(phrase: str, text: str, start: int) -> Span | None:
    """Where ``phrase`` (as the parser gives it: spaces collapsed, straight
    apostrophes) is in ``text`` as whole words, at or after ``start``."""
    words = [re.escape(w).replace("'", "['\u2018\u2019\u02bc]") for w in phrase.split()]
    match = re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.I).search(text, start)
    return match.span() if match else None


def _means_words(text: str, start: int = 0) -> Span | None:
    """From the first subject at or after ``start`` to its want-verb: "I want", "we'd like"."""
    subject = _SUBJECT.search(text, start)
    if subject is None:
        return None
    verb = _MEANS_VERB.search(text, subject.end(), _NEAR_WORDS.match(text, subject.end()).end())
    return (subject.start(), verb.end()) if verb else None


def _trim(text: str, start: int, end: int) -> Span:
    """The span without surrounding spaces and punctuation."""
    chunk = text[start:end]
    left = len(chunk) - len(chunk.lstrip(_PUNCTUATION))
    right = len(chunk.rstrip(_PUNCTUATION))
    return (start + left, start + max(left, right))


# --- the rules ---------------------------------------------------------------------------


def _finding(story: Story, rule: str, message: str, span: Span | None = None) -> Finding:
    return Finding(story.id, rule, SEVERITY[rule], message, span)


def _well_formed(story: Story, layout: _Layout | None) -> list[Finding]:
    if layout is not None:
        return []
    means = _means_words(story.text)
    if means:
        # A role given in a column of its own (CSV, Jira) is a role too.
        return [] if story.role else [_finding(story, "well_formed", "no role: start with 'As a <role>,'", means)]
    if story.is_note:
        return []  # a heading or a continuation line, not a story
    return [_finding(story, "well_formed", "not in the form 'As a <role>, I want <goal>': no role or no goal")]


# Verbs that start a second action after "and"/"or". Only base forms: "maps"
# and "reports" after "and" are objects, not actions.
_VERBS = frozenset("""
access add adjust aggregate allow analyse analyze annotate apply approve archive arrange assign attach
audit authenticate authorize block book browse build calculate cancel capture categorize change check
choose cite claim clean clear click close collect combine comment communicate compare complete configure
confirm connect contact convert convey copy correct create customise customize deactivate define delete
deliver deploy derive describe design determine disable discover display distribute do download edit
email embed enable encrypt enter estimate evaluate exclude export extract fill filter find fix follow
forward generate get give go hide highlight identify import include index inform insert install integrate
invite join keep know launch learn leave link list load locate lock log manage mark merge migrate modify
monitor move navigate notify obtain open organise organize pay pick plan post prepare present preview
print prioritise prioritize process provide publish purchase query rate read receive record redirect
register reject reload remove rename reorder replace reply report request reserve reset resolve restore
retrieve return reuse review revise run save schedule search see select send set share show sign sort
specify start stop store submit subscribe suggest support switch sync tag test track transfer translate
undo unlock unsubscribe update upgrade upload use validate verify view visualise visualize vote watch
withdraw write
""".split())

_CONJUNCTION = re.compile(r"(?<=\s)(?:and/or|and|or|&|\+)(?=\s)", re.I)
_NEXT_WORD = re.compile(r"\s+(?:(?:then|also|to)\s+)*(\w+)")


def _atomic(story: Story, layout: _Layout) -> list[Finding]:
    findings = []
    start, end = layout.goal
    for conjunction in _CONJUNCTION.finditer(story.text, start, end):
        following = _NEXT_WORD.match(story.text, conjunction.end(), end)
        if following and following.group(1).lower() in _VERBS:
            words = story.text[conjunction.start():following.end()]
            findings.append(_finding(
                story, "atomic", f"'{words}' adds a second action; write one story for each",
                conjunction.span(),
            ))
    return findings


_BRACKETS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"\u201c])")
_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|approx|incl|cf|no|dr|mr|mrs|ms|st)|\b[A-Za-z])\.$", re.I)


def _minimal(story: Story) -> list[Finding]:
    text = story.text.rstrip()
    findings = [
        _finding(story, "minimal", f"the aside {bracket.group()!r} is more than role, means and ends", bracket.span())
        for bracket in _BRACKETS.finditer(text)
        if not _touches_word(text, *bracket.span())
    ]
    for boundary in _SENTENCE_BREAK.finditer(text):
        if not _ABBREVIATION.search(text, 0, boundary.start()):
            span = (boundary.end(), len(text))
            findings.append(_finding(story, "minimal", "an extra sentence after the story", span))
            break
    return findings


def _touches_word(text: str, start: int, end: int) -> bool:
    """A bracket with no space inside that touches a word is part of it: "collection(s)", "(re-)use"."""
    inside = text[start + 1:end - 1]
    touches = (start > 0 and text[start - 1].isalnum()) or (end < len(text) and text[end].isalnum())
    return touches and not any(ch.isspace() for ch in inside)


def _means_kind(marker: str) -> str:
    words = re.findall(r"[a-z]+", marker.lower())
    return next((_MEANS_KINDS[w] for w in words if w in _MEANS_KINDS), " ".join(words))


def _ends_kind(marker: str) -> str:
    return " ".join(marker.lower().split())


def _uniform(laid_out: Sequence[tuple[Story, _Layout | None]]) -> list[Finding]:
    findings = []
    for name, marker_of, kind_of in (
        ("means", lambda layout: layout.means_marker, _means_kind),
        ("ends", lambda layout: layout.ends_marker, _ends_kind),
    ):
        used = [
            (story, span, kind_of(story.text[span[0]:span[1]]))
            for story, layout in laid_out
            if layout is not None and (span := marker_of(layout)) is not None
        ]
        counts = Counter(kind for _, _, kind in used)
        if not counts:
            continue
        dominant, count = counts.most_common(1)[0]
        if 2 * count <= len(used):
            continue  # no template most stories follow
        findings += [
            _finding(
                story, "uniform",
                f"the {name} indicator '{kind}' where {count} of {len(used)} stories use '{dominant}'", span,
            )
            for story, span, kind in used
            if kind != dominant
        ]
    return findings


def _unique(stories: Sequence[Story]) -> list[Finding]:
    return [
        _finding(story, "unique", f"the same text as {group[0].id}")
        for group in same_text_groups(stories)
        for story in group[1:]
    ]


# --- Markdown ---------------------------------------------------------------------------

_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]~|#])")


def _escape(text: str) -> str:
    # quote=False: an entity such as &#x27; would get its "#" escaped below and show as text.
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(text, quote=False))


def _merge(spans) -> list[Span]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]
