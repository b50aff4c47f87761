"""The list-question set (issue 32) asked in the chat: precision and recall of the ids each answer lists or cites.

    python bench/lists_eval.py [--checkout PATH] [-c 4096] [-n 48] [--meaning on|off] [--json FILE] [--code-only]

Each question of storychat/evals/lists-questions.jsonl (written by bench/lists_set.py) is asked with
``Pipeline.ask`` on its own backlog (a Dalpiaz file, or a GPT2SP project made Jira-shaped by lists_set), on the
bundled model. The answer's ids are those of its list (the ``Listed`` event, when code answered) and every valid
id it cites. A list's summary is left out unless --summaries: the summary only reads the listed stories, and a
citation of any other is not valid, so it cannot change the ids; on this shared machine it cost 90-140 s a
question. Per question: recall (share of the exact answer found) and precision (share of the answer that is
in it; 0 for an empty answer). Pooled (micro) and averaged (macro) by kind: role and field questions, which a
field answers, and mixed questions (a field and a topic).

--checkout PATH asks with the StoryChat of another checkout (today's chat: a worktree at 6858e28), so both are
measured on the same questions and data. --code-only scores only what code lists, without loading the model
(the questions code does not answer score 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import lists_set

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--checkout", type=Path, default=lists_set.ROOT, help="the StoryChat checkout to ask with")
parser.add_argument("-c", "--ctx", type=int, default=4096)
parser.add_argument("-n", "--max-tokens", type=int, default=48)
parser.add_argument("--meaning", choices=("on", "off"), default="on")
parser.add_argument("--json", type=Path, help="write each question's answer and score here")
parser.add_argument("--code-only", action="store_true", help="score code's lists only; no model")
parser.add_argument("--score", type=Path, nargs="+", help="score the ids of runs' --json files against the set again, asking nothing")
parser.add_argument("--kind", choices=("role", "field", "mixed"), help="ask only the questions of this kind")
parser.add_argument("--only", help="ask only the questions whose source starts so (gpt2sp/titanium), to run parts side by side")
parser.add_argument(
    "--summaries", action="store_true",
    help="also let the model summarise a list code gave (slow here; its citations are checked against the list, so they add no id)",
)
args = parser.parse_args()
sys.path.insert(0, str(args.checkout.resolve()))

from storychat.answer.answer import Done, Listed  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402


def stories_of(source: str, folder: Path) -> list:
    kind, name = source.split("/")
    path = lists_set.DALPIAZ / name if kind == "dalpiaz-22" else lists_set.write_jira_csv(name, folder)
    return [s for s in read_file(path).stories if not s.is_note]


def pipeline():
    from storychat.answer.pipeline import AnswerOptions, Pipeline
    from storychat.llm.llama import EngineOptions, LlamaEngine
    from storychat.llm.models import bundled_model
    from storychat.stories.embedder import load_embedder

    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=args.ctx))
    return Pipeline(engine, options=AnswerOptions(max_tokens=args.max_tokens), embedder=load_embedder(args.meaning))


def answer_ids(chat, question: str, stories: list) -> tuple[list[str], float | None, str]:
    """The ids the chat's answer lists or cites, when its list came (seconds; None when code listed nothing), and
    the line it showed."""
    started = time.perf_counter()
    listed_at, found, line = None, [], ""
    events = chat.ask(question, stories)
    for event in events:
        if isinstance(event, Listed):
            listed_at = time.perf_counter() - started
            found += [s.id for s in event.listing.stories]
            line = event.listing.line()
            if not args.summaries:
                events.close()
                break
        elif isinstance(event, Done):
            found += [c.id for c in event.answer.citations if c.valid]
            line = line or event.answer.answer[:120]
    return list(dict.fromkeys(found)), listed_at, line


def code_ids(question: str, stories: list) -> tuple[list[str], float | None, str]:
    from storychat.analysis.lists import asked_list

    started = time.perf_counter()
    listing = asked_list(question, stories)
    return ([s.id for s in listing.stories] if listing else []), time.perf_counter() - started, listing.line() if listing else ""


def main() -> None:
    records = [json.loads(line) for line in lists_set.SET.read_text(encoding="utf-8").splitlines()]
    kept = {row["question"]: row for path in args.score or () for row in json.loads(path.read_text(encoding="utf-8"))}
    records = [r for r in records if r["source"].startswith(args.only or "") and r["kind"] == (args.kind or r["kind"])]
    chat = None if args.code_only or args.score else pipeline()
    folder = Path(tempfile.mkdtemp(prefix="lists-eval-"))
    loaded: dict[str, list] = {}
    rows = []
    started = time.perf_counter()
    for r in records:
        asked = time.perf_counter()
        if kept and r["question"] not in kept:
            continue  # a part-way run's: not asked
        if kept:
            found, listed_at, line = kept[r["question"]]["ids"], kept[r["question"]]["listed_s"], kept[r["question"]]["line"]
        else:
            stories = loaded.setdefault(r["source"], stories_of(r["source"], folder))
            found, listed_at, line = code_ids(r["question"], stories) if chat is None else answer_ids(chat, r["question"], stories)
        expected = set(r["ids"])
        hits = len(expected & set(found))
        row = {
            **{k: r[k] for k in ("question", "source", "kind")}, "expected": len(expected), "found": len(found), "hits": hits,
            "recall": hits / len(expected), "precision": hits / len(found) if found else 0.0,
            "listed_s": listed_at, "seconds": time.perf_counter() - asked, "line": line, "ids": found,
        }
        rows.append(row)
        if args.json:  # after each question, so that a run stopped part-way keeps what it measured
            args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
        print(
            f"{row['recall']:5.2f} {row['precision']:5.2f} {hits:4d}/{len(expected):<4d} {len(found):4d} {row['seconds']:6.1f}s  "
            f"{r['kind']:5s} {r['question']}  | {line[:90]}", flush=True,
        )
    wall = time.perf_counter() - started
    print()
    groups = (("role + field", ("role", "field")), ("role", ("role",)), ("field", ("field",)), ("mixed", ("mixed",)), ("all", ("role", "field", "mixed")))
    for name, kinds in groups:
        some = [row for row in rows if row["kind"] in kinds]
        if not some:
            continue
        expected, found, hits = (sum(row[k] for row in some) for k in ("expected", "found", "hits"))
        print(
            f"{name:13s} {len(some):2d} questions: recall micro {hits / expected:.3f} macro {sum(r['recall'] for r in some) / len(some):.3f}; "
            f"precision micro {hits / found if found else 0:.3f} macro {sum(r['precision'] for r in some) / len(some):.3f}"
        )
    again = f" (scored again from {', '.join(map(str, args.score))})" if kept else ""
    print(f"wall time {wall:.0f} s{again}, checkout {args.checkout}, -c {args.ctx} -n {args.max_tokens} --meaning {args.meaning}"
          f"{' (code only)' if chat is None else ''}")


if __name__ == "__main__":
    main()
