"""Chat quick actions: code computes the exact set, the model only summarises it.

Each action returns the stories it found, the full list as evidence lines
(always shown, whatever the model writes) and the instruction the model gets.
``quick_action`` runs one by name, for the UI's buttons and ``analyze``'s flags.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Sequence

from storychat.analysis.duplicates import DEFAULT_THRESHOLD, DuplicatePair, find_duplicates
from storychat.analysis.filters import Scope, Scoped
from storychat.analysis.lint import Finding, by_story, highlight_markdown, lint, summarise
from storychat.analysis.roles import (
    normalise_epic, normalise_role, stories_for_role, stories_in_epic, stories_mentioning,
)
from storychat.stories.embedder import Embedder
from storychat.stories import Story
from storychat.stories.changes import ADDED, CHANGED, REMOVED, Change


@dataclass(frozen=True)
class Action:
    title: str
    instruction: str
    stories: list[Story]
    evidence: list[str]
    evidence_markdown: str = ""  # the UI's view of the evidence, complete and already escaped; "" for a plain list
    scoped: Scoped | None = None  # the filtered stories it was computed from; None: the whole collection

    @property
    def empty(self) -> bool:
        return not self.stories


# What an action that needs an argument asks for when it has none.
ASK_FOR = {"role": "Pick a role first.", "epic": "Pick an epic first.", "mention": "Type a word first."}


def quick_action(
    kind: str, stories: Sequence[Story], argument: str | None = "", threshold: float = DEFAULT_THRESHOLD,
    embedder: Embedder | None = None, scope: Scope = Scope(),
) -> Action:
    """The action ``kind``: duplicates, quality, role, epic or mention (``argument`` names the role, epic or word);
    ``embedder``: the reader of meaning that duplicates also use; ``scope``: the filters, which only the stories
    they keep pass to the action, and which its title names.

    A missing argument is a ValueError that says what to give.
    """
    argument = (argument or "").strip()
    if kind in ASK_FOR and not argument:
        raise ValueError(ASK_FOR[kind])
    if scope:
        scoped = scope.within(stories)
        return within(quick_action(kind, scoped.stories, argument, threshold, embedder), scoped)
    if kind == "duplicates":
        return find_duplicates_action(stories, threshold, embedder)
    if kind == "quality":
        return quality_action(stories)
    return {"role": role_action, "epic": epic_action, "mention": mention_action}[kind](stories, argument)


def within(action: Action, scoped: Scoped) -> Action:
    """``action``, computed on the stories of ``scoped``, saying so in its title."""
    return replace(action, title=f"{action.title} (filter: {scoped.line()})", scoped=scoped)


def find_duplicates_action(stories: Sequence[Story], threshold: float = DEFAULT_THRESHOLD, embedder: Embedder | None = None) -> Action:
    pairs = find_duplicates(stories, threshold, embedder)
    involved = {s.id: s for p in pairs for s in (p.a, p.b)}
    return Action(
        title=(
            f"Find duplicates: {len(pairs)} pair{'' if len(pairs) == 1 else 's'} at similarity >= {threshold}"
            + (" or alike in meaning" if embedder else "")
        ),
        instruction="These stories were found to duplicate each other in pairs. Summarise which needs they repeat, citing the ids.",
        stories=list(involved.values()),
        evidence=[f"[{p.a.id}] ~ [{p.b.id}] {p.describe()}" for p in pairs],
        evidence_markdown=side_by_side(pairs),
    )


def side_by_side(pairs: Sequence[DuplicatePair]) -> str:
    """Each pair as one table row: the two stories' text next to each other, and how alike they are."""
    if not pairs:
        return ""
    rows = [
        f"| {_story_cell(p.a)} | {_story_cell(p.b)} | {p.describe().removeprefix('similarity ')} |"
        for p in pairs
    ]
    return "\n".join(["| Story | Its duplicate | Similarity |", "|---|---|---:|", *rows])


def _story_cell(story: Story) -> str:
    return f"**\\[{story.id}\\]** {highlight_markdown(story.text, ())}"


def quality_action(stories: Sequence[Story]) -> Action:
    findings = lint(stories)
    summary = summarise(stories, findings)
    grouped = by_story(findings)
    flagged = [s for s in stories if s.id in grouped]
    return Action(
        title=(
            f"Quality report: {summary.clean} of {summary.stories} stories clean; "
            + (", ".join(f"{rule} {n}" for rule, n in summary.by_rule.items()) or "no findings")
        ),
        instruction="These stories break user-story quality rules (QUS). Summarise the most common problems, citing the ids.",
        stories=flagged,
        evidence=[f"[{f.story_id}] {f.severity} {f.rule}: {f.message}" for f in findings],
        evidence_markdown=by_rule_markdown(flagged, findings),
    )


def by_rule_markdown(stories: Sequence[Story], findings: Sequence[Finding]) -> str:
    """The findings grouped by rule, each story with the words the rule points at in bold."""
    text = {s.id: s.text for s in stories}
    rules: dict[str, list[Finding]] = {}
    for finding in findings:
        rules.setdefault(finding.rule, []).append(finding)
    lines = []
    for rule, found in rules.items():
        lines.append(f"**{rule}** ({found[0].severity}, {len(found)}):")
        lines += [
            f"- **\\[{f.story_id}\\]** {highlight_markdown(text[f.story_id], [f])}<br>{_plain(f.message)}"
            for f in found
        ]
    return "\n".join(lines)


def role_action(stories: Sequence[Story], role: str) -> Action:
    return _listing(
        lambda n: f"Stories by role: {n} stories for {normalise_role(role)!r}",
        f"These are all the stories of the role {role!r}. Summarise what this role wants, citing the ids.",
        stories_for_role(stories, role),
    )


def epic_action(stories: Sequence[Story], epic: str) -> Action:
    return _listing(
        lambda n: f"Summarise an epic: {n} stories in {normalise_epic(epic)!r}",
        f"These are all the stories of the epic {epic!r}. Summarise what the epic delivers, citing the ids.",
        stories_in_epic(stories, epic),
    )


def mention_action(stories: Sequence[Story], term: str) -> Action:
    return _listing(
        lambda n: f"Stories mentioning {term!r}: {n}",
        f"These are all the stories that mention {term!r}. Summarise what they ask for, citing the ids.",
        stories_mentioning(stories, term),
    )


def changes_action(changes: Sequence[Change], scope: Scope = Scope()) -> Action:
    """What the last import (``Library.last_import`` on) added, changed and removed, each change with its diff;
    with ``scope``, only the changes whose story passes it."""
    if scope:
        kept = [c for c in changes if scope.passes(c.story)]
        return within(changes_action(kept), Scoped(scope, tuple(c.story for c in kept), len(changes)))
    counts = {kind: sum(c.kind == kind for c in changes) for kind in (ADDED, CHANGED, REMOVED)}
    return Action(
        title="What changed since the last import: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()),
        instruction=(
            "These stories were added or changed by the last import of the backlog, each as it is now. "
            "Summarise what changed, citing the ids."
        ),
        stories=[c.story for c in changes if c.kind != REMOVED],
        evidence=[line for c in changes for line in c.lines()],
    )


def _listing(title: Callable[[int], str], instruction: str, found: list[Story]) -> Action:
    """An action whose evidence is simply every story found; the title is given the count."""
    return Action(
        title=title(len(found)),
        instruction=instruction,
        stories=found,
        evidence=[f"[{s.id}] {s.text}" for s in found],
    )


def _plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("_", "\\_")
