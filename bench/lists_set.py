"""The list-question set of issue 32: 40 questions and their exact answers, computed from the data here.

    python bench/lists_set.py        # writes storychat/evals/lists-questions.jsonl

20 questions ask for a role's stories in one of the 22 Dalpiaz backlogs; 14 ask for items by their fields
(type, status, component, sprint, story points, resolved date) and 6 for a field and a topic, in two GPT2SP
projects (usergrid, titanium) made Jira-shaped by ``jira_rows``. Their fields are real where GPT2SP has them
(key, title, description, story points) and derived by the rules below where it does not; the rules are the
set's definition of those fields (storychat/evals/lists-questions.README.md).

The answers are computed here with the standard library only, from the published text and the derived rows,
not with StoryChat's own parser or filters, so the evaluation (bench/lists_eval.py) scores those too. This file
is also what the evaluation imports to write the Jira-shaped CSVs, in any checkout it runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVALS = ROOT / "storychat" / "evals"
DALPIAZ = EVALS / "data" / "dalpiaz-22"
GPT2SP = EVALS / "data" / "gpt2sp"
SET = EVALS / "lists-questions.jsonl"
PROJECTS = ("usergrid", "titanium")  # duracloud and mulestudio are held out of all tuning
HEADER = [
    "Issue key", "Issue Type", "Status", "Summary", "Description", "Custom field (Story Points)", "Component/s",
    "Sprint", "Created", "Resolved",
]
EPOCH = dt.date(2012, 1, 1)
# Titanium's titles name the platform first ("Android: ...", "iOS: ..."); a prefix the project writes at least
# 10 times is read as the item's component.
COMPONENT_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z0-9.]*)\s*:")
MIN_COMPONENT = 10
BUG_WORDS = re.compile(
    r"\b(crash(es|ed)?|errors?|fail(s|ed|ing)?|broken|exceptions?|wrong|incorrect|bugs?|not working|doesn'?t|does not"
    r"|cannot|can'?t|not passing)\b",
    re.I,
)
STATUS = {"train": "Closed", "val": "In Progress", "test": "Open"}


def jira_rows(project: str) -> list[dict[str, str]]:
    """A GPT2SP project's items with Jira's fields; the derived ones by these rules:

    - Issue Type: Bug when the title has a word of failure (BUG_WORDS), else Story;
    - Component/s: the title's platform prefix, where the project uses it at least 10 times;
    - Created: 1 January 2012 plus a day for every 10 of the key's number (Jira numbers items as they are made);
    - Status: GPT2SP's split mark stands in for it: train Closed, val In Progress, test Open;
    - Resolved: a Closed item's Created plus a week for each story point;
    - Sprint: a Closed or In Progress item's two-week sprint since 1 January 2012, counted from 1.
    """
    with open(GPT2SP / f"{project}.csv", encoding="utf-8", newline="") as source:
        items = list(csv.DictReader(source))
    prefixes = [m[1] for item in items if (m := COMPONENT_PREFIX.match(item["title"]))]
    components = {p for p in prefixes if prefixes.count(p) >= MIN_COMPONENT}
    rows = []
    for item in items:
        created = EPOCH + dt.timedelta(days=int(item["issuekey"].rsplit("-", 1)[1]) // 10)
        status = STATUS[item["split_mark"]]
        prefix = COMPONENT_PREFIX.match(item["title"])
        points = float(item["storypoint"])
        resolved = created + dt.timedelta(days=7 * points) if status == "Closed" else None
        rows.append({
            "Issue key": item["issuekey"],
            "Issue Type": "Bug" if BUG_WORDS.search(item["title"]) else "Story",
            "Status": status,
            "Summary": item["title"],
            "Description": item["description"],
            "Custom field (Story Points)": item["storypoint"],
            "Component/s": prefix[1] if prefix and prefix[1] in components else "",
            "Sprint": f"Sprint {(created - EPOCH).days // 14 + 1}" if status != "Open" else "",
            "Created": _jira_time(created),
            "Resolved": _jira_time(resolved) if resolved else "",
        })
    return rows


def write_jira_csv(project: str, folder: Path) -> Path:
    path = folder / f"{project}-jira.csv"
    with open(path, "w", encoding="utf-8", newline="") as target:
        writer = csv.DictWriter(target, HEADER)
        writer.writeheader()
        writer.writerows(jira_rows(project))
    return path


def _jira_time(day: dt.date) -> str:
    return f"{day.day:02d}/{day.strftime('%b')}/{day.strftime('%y')} 9:00 AM"


def _day(jira_time: str) -> dt.date:
    return dt.datetime.strptime(jira_time.split()[0], "%d/%b/%y").date()


# The Dalpiaz questions: backlog, question, the role as its stories write it.
ROLE_QUESTIONS = (
    ("g02-federalspending", "Which stories are for UI designers?", "ui designer"),
    ("g03-loudoun", "What does the applicant want?", "applicant"),
    ("g04-recycling", "Which stories are for admins?", "administrator"),
    ("g05-openspending", "List the platform administrator stories", "platform administrator"),
    ("g08-frictionless", "Show all stories for publishers", "publisher"),
    ("g10-scrumalliance", "Which stories are for trainers?", "trainer"),
    ("g11-nsf", "What do the user researchers want?", "user researcher"),
    ("g12-camperplus", "Which stories are for parents?", "parent"),
    ("g13-planningpoker", "What does the participant want?", "participant"),
    ("g14-datahub", "Which stories are for consumers?", "consumer"),
    ("g16-mis", "List the repository manager stories", "repository manager"),
    ("g17-cask", "Which stories are for dataset developers?", "dataset developer"),
    ("g18-neurohub", "What does the system administrator want?", "system administrator"),
    ("g19-alfred", "Which stories are for developers?", "developer"),
    ("g22-rdadmp", "What does the data manager want?", "data manager"),
    ("g23-archivesspace", "Which stories are for application administrators?", "application administrator"),
    ("g24-unibath", "Show all stories for data reusers", "data reuser"),
    ("g26-racdam", "Which stories are for donor representatives?", "donor representative"),
    ("g27-culrepo", "What do patrons want?", "patron"),
    ("g28-zooniverse", "Which stories are for admins?", "administrator"),
)
_ROLE = re.compile(r"^\s*as\s+(?:an?\s+)?([^,]+?)\s*,", re.I)
_SHORT = {"admin": "administrator", "dev": "developer"}


def role_of(text: str) -> str:
    """A Dalpiaz story's role, lower case, the last word singular, short forms spelled out: "" when not written
    "As a <role>, ..."."""
    match = _ROLE.match(text)
    if not match:
        return ""
    words = match[1].lower().split()
    if words[0] in ("the", "a", "an"):
        words = words[1:]
    last = words[-1]
    if len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
        words[-1] = last[:-3] + "y" if last.endswith("ies") else last[:-1]
    return " ".join(_SHORT.get(w, w) for w in words)


def role_records() -> list[dict]:
    lines = [json.loads(line) for line in (DALPIAZ / "all_stories.normalized.jsonl").read_text(encoding="utf-8").splitlines()]
    records = []
    for backlog, question, role in ROLE_QUESTIONS:
        ids = [f"{backlog}-{r['line']}" for r in lines if r["dataset"] == backlog and role_of(r["text"]) == role]
        records.append({"question": question, "source": f"dalpiaz-22/{backlog}.txt", "kind": "role", "ids": ids, "answer": f"role {role}"})
    return records


Row = dict[str, str]


def _mentions(word: str) -> Callable[[Row], bool]:
    pattern = re.compile(rf"\b{word}", re.I)
    return lambda r: bool(pattern.search(r["Summary"]) or pattern.search(r["Description"]))


def _newest(rows: list[Row]) -> dt.date:
    return max(_day(r[c]) for r in rows for c in ("Created", "Resolved") if r[c])


def _latest(rows: list[Row], month: int, day: int) -> dt.date:
    """A day without a year: the latest such day not after the newest date an item carries."""
    newest = _newest(rows)
    when = dt.date(newest.year, month, day)
    return when if when <= newest else dt.date(newest.year - 1, month, day)


# The GPT2SP questions: project, question, kind (field or mixed), what the answer is, and the rows it keeps.
FIELD_QUESTIONS: tuple[tuple[str, str, str, str, Callable[[list[Row]], Callable[[Row], bool]]], ...] = (
    ("titanium", "Which stories are in the CLI component?", "field", "component CLI",
     lambda rows: lambda r: r["Component/s"].lower() == "cli"),
    ("titanium", "List the stories in the Hyperloop component", "field", "component Hyperloop",
     lambda rows: lambda r: r["Component/s"].lower() == "hyperloop"),
    ("titanium", "What is in the LiveView component?", "field", "component LiveView",
     lambda rows: lambda r: r["Component/s"].lower() == "liveview"),
    ("titanium", "Which stories are over 15 points?", "field", "points > 15",
     lambda rows: lambda r: float(r["Custom field (Story Points)"]) > 15),
    ("titanium", "Which bugs are in the BlackBerry component?", "field", "type Bug, component BlackBerry",
     lambda rows: lambda r: r["Issue Type"] == "Bug" and r["Component/s"].lower() == "blackberry"),
    ("titanium", "What is in sprint 45?", "field", "sprint Sprint 45",
     lambda rows: lambda r: r["Sprint"] == "Sprint 45"),
    ("titanium", "Which bugs were fixed since 1 March?", "field", "type Bug, resolved >= the latest 1 March",
     lambda rows: lambda r, since=_latest(rows, 3, 1): r["Issue Type"] == "Bug" and bool(r["Resolved"]) and _day(r["Resolved"]) >= since),
    ("usergrid", "Which stories are 8 points?", "field", "points = 8",
     lambda rows: lambda r: float(r["Custom field (Story Points)"]) == 8),
    ("usergrid", "Stories over 3 points", "field", "points > 3",
     lambda rows: lambda r: float(r["Custom field (Story Points)"]) > 3),
    ("usergrid", "Which bugs are still open?", "field", "type Bug, status Open",
     lambda rows: lambda r: r["Issue Type"] == "Bug" and r["Status"] == "Open"),
    ("usergrid", "What is in sprint 3?", "field", "sprint Sprint 3",
     lambda rows: lambda r: r["Sprint"] == "Sprint 3"),
    ("usergrid", "Which stories are in progress?", "field", "status In Progress",
     lambda rows: lambda r: r["Status"] == "In Progress"),
    ("usergrid", "Stories resolved before 1 February 2012", "field", "resolved < 2012-02-01",
     lambda rows: lambda r: bool(r["Resolved"]) and _day(r["Resolved"]) < dt.date(2012, 2, 1)),
    ("usergrid", "Which open stories are between 5 and 8 points?", "field", "status Open, points 5..8",
     lambda rows: lambda r: r["Status"] == "Open" and 5 <= float(r["Custom field (Story Points)"]) <= 8),
    ("titanium", "Stories in the Android component about the keyboard", "mixed", "component Android; mentions keyboard",
     lambda rows: lambda r: r["Component/s"].lower() == "android" and _mentions("keyboard")(r)),
    ("titanium", "Bugs about the simulator", "mixed", "type Bug; mentions simulator",
     lambda rows: lambda r: r["Issue Type"] == "Bug" and _mentions("simulator")(r)),
    ("titanium", "Stories over 8 points about webviews", "mixed", "points > 8; mentions webview",
     lambda rows: lambda r: float(r["Custom field (Story Points)"]) > 8 and _mentions("webview")(r)),
    ("usergrid", "Open stories about notifications", "mixed", "status Open; mentions notification",
     lambda rows: lambda r: r["Status"] == "Open" and _mentions("notification")(r)),
    ("usergrid", "Stories over 3 points about cassandra", "mixed", "points > 3; mentions cassandra",
     lambda rows: lambda r: float(r["Custom field (Story Points)"]) > 3 and _mentions("cassandra")(r)),
    ("usergrid", "Which bugs are about the portal?", "mixed", "type Bug; mentions portal",
     lambda rows: lambda r: r["Issue Type"] == "Bug" and _mentions("portal")(r)),
)


def field_records() -> list[dict]:
    rows = {project: jira_rows(project) for project in PROJECTS}
    records = []
    for project, question, kind, answer, keeps in FIELD_QUESTIONS:
        passes = keeps(rows[project])
        ids = [r["Issue key"] for r in rows[project] if passes(r)]
        records.append({"question": question, "source": f"gpt2sp/{project}", "kind": kind, "ids": ids, "answer": answer})
    return records


def main() -> None:
    records = role_records() + field_records()
    empty = [r["question"] for r in records if not r["ids"]]
    if empty:
        raise SystemExit(f"questions with no answer: {empty}")
    SET.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    for r in records:
        print(f"{len(r['ids']):5d}  {r['kind']:6s} {r['source']:32s} {r['question']}")
    print(f"{len(records)} questions written to {SET.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
