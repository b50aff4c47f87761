"""Command line: ``python -m storychat COMMAND``. Every command is a thin face on the pipeline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from storychat.config import OPTIONS, Settings, add_options, check_exposure
from storychat.analysis.duplicates import DEFAULT_THRESHOLD
from storychat.analysis.filters import parse_scope
from storychat.stories import Story

if TYPE_CHECKING:
    from storychat.answer.answer import Answer

ANALYSES = ("duplicates", "lint", "roles")
SERVE_OPTIONS = ("model", "answer", "library", "server")


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except (CommandError, ValueError, RuntimeError, OSError) as exc:
        # Errors raised for the user (bad file, no model, bad flag) carry a full sentence.
        print(f"error: {exc}", file=sys.stderr)
        return 2


def parser() -> argparse.ArgumentParser:
    # Without a command it serves the UI: the top level takes serve's flags.
    top = argparse.ArgumentParser(prog="storychat", description="Chat with your user stories, on a local model.")
    add_options(top, *SERVE_OPTIONS)
    top.set_defaults(run=run_serve)
    sub = top.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    serve = sub.add_parser("serve", help="start the browser UI (the default command)")
    add_options(serve, *SERVE_OPTIONS)
    serve.set_defaults(run=run_serve)

    ask = sub.add_parser("ask", help="answer one question on the command line")
    ask.add_argument("question")
    add_story_source(ask, "story file to answer from (repeatable)", "library collection to answer from")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ask.add_argument(
        "--exhaustive", action="store_true",
        help="read every story, one pass per context-sized shard, then answer from those cited (for complete lists; slower)",
    )
    add_filter(ask, "answer only from the items that pass")
    add_options(ask, "model", "answer", "library")
    ask.set_defaults(run=run_ask)

    imp = sub.add_parser("import", help="add story files to a library collection; a file imported before updates its stories")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--collection", required=True, metavar="NAME")
    imp.add_argument("--sync", action="store_true", help="also remove the stories of a re-imported file that it no longer holds")
    add_options(imp, "library")
    imp.set_defaults(run=run_import)

    stories = sub.add_parser("stories", help="show the stories in a collection, what changed, and earlier versions")
    shown = stories.add_subparsers(dest="action", title="actions", metavar="ACTION", required=True)
    listing = shown.add_parser("list", help="every story, or with --changed-since those added, changed or removed since")
    listing.add_argument("--collection", required=True, metavar="NAME")
    listing.add_argument(
        "--changed-since", metavar="DATE",
        help="only what was added, changed or removed since DATE (YYYY-MM-DD, or YYYY-MM-DDTHH:MM in UTC), with what changed",
    )
    add_filter(listing, "list only the items that pass")
    listing.add_argument("--json", action="store_true")
    add_options(listing, "library")
    listing.set_defaults(run=run_stories)
    history = shown.add_parser("history", help="the earlier versions of one story, newest first")
    history.add_argument("id", metavar="ID")
    history.add_argument("--collection", metavar="NAME", help="only in this collection (default: every collection)")
    history.add_argument("--json", action="store_true")
    add_options(history, "library")
    history.set_defaults(run=run_history)

    info = sub.add_parser("info", help="load the model and print the runtime self-check")
    add_options(info, "model", "answer", "library")
    info.set_defaults(run=run_info)

    analyze = sub.add_parser("analyze", help="find duplicate stories, lint their quality, index their roles")
    add_story_source(analyze, "story file to analyse (repeatable)", "library collection to analyse")
    analyze.add_argument("--duplicates", action="store_true", help="duplicate and near-duplicate stories only")
    analyze.add_argument("--lint", action="store_true", help="quality findings (QUS rules) only")
    analyze.add_argument("--roles", action="store_true", help="the role index only")
    analyze.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD, metavar="X",
        help=f"similarity from which two stories are duplicates (default {DEFAULT_THRESHOLD})",
    )
    analyze.add_argument("--csv", metavar="DIR", help="also write duplicates.csv, lint.csv and roles.csv to DIR")
    analyze.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    analyze.add_argument("--role", metavar="NAME", help="list every story of this role (admin and administrator are one role)")
    analyze.add_argument("--epic", metavar="NAME", help="list every story of this epic")
    analyze.add_argument("--mentioning", metavar="WORD", help="list (and count) every story that mentions this word (export also finds exports, exporting)")
    analyze.add_argument("--summarise", action="store_true", help="have the model summarise each computed set, citing ids (the full list is still printed)")
    add_options(analyze, "model", "answer", "library")
    analyze.set_defaults(run=run_analyze)

    needle = sub.add_parser("needle", help="needle-in-a-haystack test: CSV and heatmap of where the model finds a planted story")
    add_story_source(needle, "haystack story file (repeatable; default: the 22 Dalpiaz backlogs)", "library collection to use as the haystack")
    needle.add_argument("--quick", action="store_true", help="context lengths 1000,2000 x depths 0,50,100 (a few minutes on a CPU)")
    needle.add_argument("--lengths", metavar="N,N", help="context lengths in model tokens (default: 1000, 2000, 4000, ... up to what the model holds)")
    needle.add_argument("--depths", metavar="P,P", help="needle depths in percent of the haystack (default: 0,25,50,75,100)")
    needle.add_argument("--out", default=".", metavar="DIR", help="folder for needle-NAME.csv and needle-NAME.png (default: here)")
    needle.add_argument("--name", metavar="NAME", help="NAME in the file names (default: the model file's name)")
    add_options(needle, "model", "answer", "library")
    needle.set_defaults(run=run_needle)

    cost = sub.add_parser("cost", help="what sending the whole backlog with every question would cost on cloud models")
    add_story_source(cost, "story file (repeatable; default: the 22 Dalpiaz backlogs)", "library collection to price")
    cost.add_argument("--prices", metavar="FILE", help="JSON price table (default: storychat/prices.json)")
    cost.add_argument("--no-measure", action="store_true", help="do not load the local model to time one answer")
    cost.add_argument("--json", action="store_true", help="print one JSON object instead of Markdown")
    add_options(cost, "model", "answer", "library")
    cost.set_defaults(run=run_cost)

    evaluate = sub.add_parser("eval", help="answer a question set through the pipeline and score refusals and citations")
    evaluate.add_argument("--qa", required=True, metavar="FILE", help="question set, JSONL (e.g. storychat/evals/qa-dalpiaz.jsonl)")
    evaluate.add_argument("--data-root", metavar="DIR", help="folder the questions' story file names are in (default: the Dalpiaz backlogs)")
    evaluate.add_argument("--focus", type=int, metavar="N", help="stories repeated before the question, 0 for none (default: the pipeline's)")
    evaluate.add_argument("--constrained", choices=["on", "off"], help="grammar that makes answers open with a cited id (default: the pipeline's)")
    evaluate.add_argument("--cite-from", type=int, metavar="N", help="how many best-matching stories that opening id may name (default: the pipeline's)")
    evaluate.add_argument("--min-match", type=float, metavar="X", help="relevance gate threshold (default: the pipeline's)")
    evaluate.add_argument("--sweep-gate", action="store_true", help="run with the gate off and report thresholds 0.00 to 0.80")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object, every answer included")
    add_options(evaluate, "model", "answer", "library")
    evaluate.set_defaults(run=run_eval)

    flags = sub.add_parser("flags", help="print every flag and environment variable as a Markdown table")
    flags.set_defaults(run=run_flags)
    return top


def add_story_source(parser: argparse.ArgumentParser, stories_help: str, collection_help: str) -> None:
    """--stories FILE (repeatable) and --collection NAME: where a command reads its stories."""
    parser.add_argument("--stories", action="append", default=[], metavar="FILE", help=stories_help)
    parser.add_argument("--collection", metavar="NAME", help=collection_help)


def add_filter(parser: argparse.ArgumentParser, what: str) -> None:
    """--filter FIELD=VALUE (repeatable): the scope every face spells the same way (``analysis/filters.py``)."""
    parser.add_argument(
        "--filter", action="append", default=[], metavar="FIELD=VALUE", dest="filters",
        help=f"{what} (repeatable, all must pass): status=Open, label=payments, sprint=..., type=Bug, component=..., "
        "epic=..., role=..., points>=8, points=3..8, created>=2024-03-01",
    )


def run_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_namespace(args)
    warning = check_exposure(settings)  # before the model and the UI load: fail fast
    from storychat import runtime, ui

    if warning:
        runtime.log(warning)
    ui.serve(settings, runtime.load_engine(settings))
    return 0


def load_stories(args: argparse.Namespace, settings: Settings) -> list[Story]:
    from storychat import runtime
    from storychat.stories.formats import read_file

    if not args.stories and not args.collection:
        raise CommandError("say which stories to answer from: --stories FILE or --collection NAME")
    stories: list[Story] = []
    for name in args.stories:
        stories += read_file(Path(name), runtime.limits(settings)).stories
    if args.collection:
        library = runtime.open_library(settings)
        if args.collection not in {c.name for c in library.collections()}:
            raise CommandError(f"no collection named {args.collection!r}; import stories first")
        stories += library.stories(args.collection)
    return stories


def run_ask(args: argparse.Namespace) -> int:
    from storychat import runtime
    from storychat.answer.answer import Done, Listed, Progress, Reviewed, Token, listing_json
    from storychat.answer.lines import listing_lines

    settings = Settings.from_namespace(args)
    scope = parse_scope(args.filters)  # a bad filter fails before the model loads
    stories = load_stories(args, settings)
    pipeline = runtime.make_pipeline(settings, runtime.load_engine(settings))
    ask = pipeline.ask_exhaustive if args.exhaustive else pipeline.ask
    for event in ask(args.question, stories, collection=cache_label(args), scope=scope):
        if isinstance(event, Progress):
            runtime.log(event.message)
        elif isinstance(event, Listed) and not args.json:
            headline, listed = listing_lines(listing_json(event.listing))
            print("\n".join([headline, *(f"  {story.line()}" for story in listed), ""]), flush=True)
        elif isinstance(event, Token) and not args.json:
            print(event.text, end="", flush=True)
        elif isinstance(event, (Done, Reviewed)):
            answer = event.answer  # printed once the model's second opinions, if any, are in
    print_answer(answer, args.json)
    return 0


def cache_label(args: argparse.Namespace) -> str:
    """What the KV snapshot of these stories is filed under, so a changed backlog replaces it."""
    return args.collection or "files:" + ",".join(sorted(str(Path(f).resolve()) for f in args.stories))


def print_answer(answer: Answer, as_json: bool) -> None:
    from storychat.answer.lines import lines

    record = answer.to_json()
    if as_json:
        print(json.dumps(record, ensure_ascii=False, indent=2))
        return
    shown = lines(record)
    print()
    if shown.doubt:
        print(f"\n{shown.doubt}" + (f"\n{shown.answer}" if shown.withheld else ""))
    elif not record["raw"]:  # no model call (the gate, or filters that keep nothing): nothing was streamed
        print(shown.answer)
    elif shown.answer != record["raw"]:
        print(f"\n[shown without its repeated sentences and empty openers]\n{shown.answer}")
    for sentence in shown.marked:
        print(f"  {sentence}")
    if shown.gap:
        print(shown.gap)
    for note in (shown.incomplete, shown.looped):
        if note:
            print(note)
    for cite in shown.citations:
        print(f"  {cite.line()}", *(f"\n      {detail}" for detail in cite.details), sep="")
    if shown.closest:
        print("Possibly relevant:")
    for story in shown.closest:
        print(f"  {story.line()}")
    print(shown.context)
    for story_id in shown.read:
        print(f"  [{story_id}]")
    if record["hint"]:
        print(f"tip: {record['hint']} Ask again with --exhaustive.")


def run_import(args: argparse.Namespace) -> int:
    from storychat import runtime
    from storychat.analysis.duplicates import after_import
    from storychat.stories.formats import read_file

    settings = Settings.from_namespace(args)
    library = runtime.open_library(settings)
    for name in args.files:
        report = library.add(args.collection, read_file(Path(name), runtime.limits(settings)), sync=args.sync)
        print(report.describe())
        if report.columns:
            print(f"  {report.columns_line()}")
        for line in report.details():
            print(f"  {line}")
        for warning in report.warnings:
            print(f"  warning: {warning}")
        for pair in after_import(report, library):
            print(f"  warning: {pair.a.id} duplicates {pair.b.id} ({pair.describe()})")
    return 0


def run_stories(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from storychat import runtime

    scope = parse_scope(args.filters)
    library = runtime.open_library(Settings.from_namespace(args))
    if args.collection not in {c.name for c in library.collections()}:
        raise CommandError(f"no collection named {args.collection!r}; import stories first")
    if args.changed_since:
        from storychat.stories.changes import since_time

        changes = [c for c in library.changed_since(args.collection, since_time(args.changed_since)) if scope.passes(c.story)]
        if args.json:
            print(json.dumps([asdict(c) for c in changes], ensure_ascii=False, indent=2))
        else:
            print(f"{len(changes)} stories added, changed or removed since {args.changed_since}")
            for change in changes:
                print("\n".join(change.lines()))
        return 0
    scoped = scope.within(library.stories(args.collection))
    if args.json:
        print(json.dumps([s.to_record() for s in scoped.stories], ensure_ascii=False, indent=2))
        return 0
    if scoped.scope:
        print(scoped.line() if scoped.stories else scoped.nothing_line())
    for s in scoped.stories:
        print(f"[{s.id}] {'(note) ' if s.is_note else ''}{s.title or s.text}")
        if s.fields.shown():
            print("  " + " · ".join(f"{name}: {value}" for name, value in s.fields.shown().items()))
    return 0


def run_history(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from storychat import runtime
    from storychat.stories.changes import show

    library = runtime.open_library(Settings.from_namespace(args))
    versions = library.history(args.id, args.collection)
    if args.json:
        print(json.dumps([asdict(v) for v in versions], ensure_ascii=False, indent=2))
        return 0
    where = f" in {args.collection!r}" if args.collection else ""
    if not versions:
        print(f"no earlier versions of {args.id}{where}: it was never changed or removed")
    for version in versions:
        print(f"{version.at} {version.collection}: {version.why}; it was:")
        print(f"  [{version.story.id}] {version.story.text}")
        if version.story.acceptance:
            print(f"  acceptance criteria: {show(version.story.acceptance)}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from storychat import runtime

    settings = Settings.from_namespace(args)
    for line in runtime.make_pipeline(settings, runtime.load_engine(settings)).report():
        print(line)
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from storychat.analysis import export
    from storychat.analysis.duplicates import find_duplicates
    from storychat.analysis.lint import lint, summarise
    from storychat.analysis.roles import role_index
    from storychat.stories.embedder import load_embedder

    settings = Settings.from_namespace(args)
    stories = load_stories(args, settings)
    embedder = load_embedder(settings.meaning)
    chosen = [name for name in ANALYSES if getattr(args, name)] or list(ANALYSES)
    csv_dir = Path(args.csv) if args.csv else None
    if csv_dir:
        csv_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {"stories": sum(not s.is_note for s in stories)}
    if "duplicates" in chosen:
        pairs = find_duplicates(stories, args.threshold, embedder)
        result["duplicates"] = {
            "threshold": args.threshold, "meaning": embedder.name if embedder else None, "pairs": [export.pair_record(p) for p in pairs],
        }
        if csv_dir:
            export.write_duplicates_csv(pairs, csv_dir / "duplicates.csv")
    if "lint" in chosen:
        findings = lint(stories)
        texts = {s.id: s.text for s in stories}
        result["lint"] = {
            "summary": export.summary_record(summarise(stories, findings)),
            "findings": [export.finding_record(f, texts[f.story_id]) for f in findings],
        }
        if csv_dir:
            export.write_findings_csv(findings, stories, csv_dir / "lint.csv")
    if "roles" in chosen:
        groups = role_index(stories)
        result["roles"] = [export.group_record(g) for g in groups]
        if csv_dir:
            export.write_groups_csv(groups, csv_dir / "roles.csv")
    actions = chosen_actions(args, stories, chosen, embedder)
    for action in actions:
        result.setdefault("sets", []).append({"title": action.title, "ids": [s.id for s in action.stories], "evidence": action.evidence})
    if args.summarise:
        from storychat import runtime
        from storychat.answer.answer import final

        pipeline = runtime.make_pipeline(settings, runtime.load_engine(settings))
        for action, record in zip(actions, result.get("sets", [])):
            if not action.empty:
                record["summary"] = final(pipeline.summarise(action.instruction, action.stories)).to_json()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_analysis(result)
    return 0


def chosen_actions(args: argparse.Namespace, stories: list[Story], chosen: list[str], embedder=None) -> list:
    """The quick-action sets: exact lists computed by code, for --role, --epic, --mentioning and --summarise."""
    from storychat.analysis.actions import quick_action

    wanted = [
        ("duplicates", "", args.summarise and "duplicates" in chosen),
        ("quality", "", args.summarise and "lint" in chosen),
        ("role", args.role, bool(args.role)),
        ("epic", args.epic, bool(args.epic)),
        ("mention", args.mentioning, bool(args.mentioning)),
    ]
    return [quick_action(kind, stories, argument, args.threshold, embedder) for kind, argument, asked in wanted if asked]


def print_analysis(result: dict) -> None:
    print(f"{result['stories']} stories")
    for record in result.get("sets", []):
        print(f"\n{record['title']}")
        for line in record["evidence"]:
            print(f"  {line}")
        if "summary" in record:
            summary = record["summary"]
            valid = [c["id"] for c in summary["citations"] if c["valid"]]
            shown = summary["answer"] or "none left: no sentence the stories support said more than the instruction"
            print(f"  summary (model, cites {', '.join(valid) or 'nothing valid'}): {shown}")
    if "duplicates" in result:
        pairs = result["duplicates"]["pairs"]
        alike = " or alike in meaning" if result["duplicates"]["meaning"] else ""
        print(f"\nduplicate pairs (similarity >= {result['duplicates']['threshold']}{alike}): {len(pairs)}")
        for p in pairs:
            kind = "same text" if p["exact"] else f"{p['similarity']:.2f}" + (f" (meaning {p['meaning']:.2f})" if p["meaning"] is not None else "")
            print(f"  {kind}  [{p['a']}] {p['a_text']}\n  {' ' * len(kind)}  [{p['b']}] {p['b_text']}")
    if "lint" in result:
        summary = result["lint"]["summary"]
        rules = ", ".join(f"{rule} {n}" for rule, n in summary["by_rule"].items()) or "no findings"
        print(f"\nlint: {summary['clean']} of {summary['stories']} stories clean ({summary['clean_share']:.0%}); {rules}")
        for f in result["lint"]["findings"]:
            words = f" [{f['words']}]" if f["words"] else ""
            print(f"  [{f['story_id']}] {f['severity']} {f['rule']}: {f['message']}{words}")
    if "roles" in result:
        print(f"\nroles: {len(result['roles'])}")
        for g in result["roles"]:
            other = [s for s in g["spellings"] if s.casefold() != g["name"]]
            print(f"  {g['count']:>4}  {g['name']}" + (f" (as {', '.join(other)})" if other else ""))


def run_needle(args: argparse.Namespace) -> int:
    from storychat import runtime
    from storychat.evals import dalpiaz_stories, needle

    settings = Settings.from_namespace(args)
    haystack = load_stories(args, settings) if args.stories or args.collection else dalpiaz_stories()
    pipeline = runtime.make_pipeline(settings, runtime.load_engine(settings))
    if args.lengths:
        lengths = needle.parse_numbers(args.lengths, "--lengths")
    else:
        lengths = needle.QUICK_LENGTHS if args.quick else needle.lengths_up_to(needle.longest(pipeline, haystack))
    if args.depths:
        depths = needle.parse_numbers(args.depths, "--depths")
    else:
        depths = needle.QUICK_DEPTHS if args.quick else needle.DEPTHS
    cells = needle.run_grid(pipeline, haystack, lengths, depths, lambda done, step: runtime.log(f"[{done:4.0%}] {step}"))
    model = pipeline.engine.info().model
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = args.name or Path(model).stem.lower()
    table = needle.write_csv(cells, out / f"needle-{name}.csv")
    picture = needle.heatmap(cells, out / f"needle-{name}.png", f"Needle in a haystack: {model}")
    print(needle.verdict(cells))
    print(f"wrote {table} and {picture}")
    return 0


def run_cost(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from storychat import runtime
    from storychat import cost
    from storychat.evals import dalpiaz_stories

    settings = Settings.from_namespace(args)
    stories = load_stories(args, settings) if args.stories or args.collection else dalpiaz_stories()
    prices = cost.load_prices(Path(args.prices)) if args.prices else cost.load_prices()
    local = None
    if not args.no_measure:
        pipeline = runtime.make_pipeline(settings, runtime.load_engine(settings))
        runtime.log("Timing one answer from the local model ...")
        local = cost.time_answer(pipeline, stories)
    report = cost.estimate(stories, prices, local)
    print(json.dumps(asdict(report), ensure_ascii=False, indent=2) if args.json else report.markdown())
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from storychat import runtime
    from storychat.evals import dalpiaz_dir, qa

    if args.sweep_gate and args.min_match is not None:
        raise CommandError("--sweep-gate runs with the gate off; drop --min-match")
    settings = Settings.from_namespace(args)
    path = Path(args.qa)
    questions = qa.load_questions(path)
    data_root = Path(args.data_root) if args.data_root else dalpiaz_dir()
    backlogs = qa.load_backlogs(questions, data_root, lambda: runtime.open_library(settings), runtime.limits(settings))
    constrained = None if args.constrained is None else args.constrained == "on"
    changes = {"focus": args.focus, "constrained": constrained, "cite_from": args.cite_from, "min_match": args.min_match}
    pipeline = runtime.make_pipeline(settings, runtime.load_engine(settings)).with_options(
        **{name: value for name, value in changes.items() if value is not None}
    )

    def progress(done: int, total: int, r: qa.Result) -> None:
        verdict = "gated" if r.gated else "refused" if r.refused else "cited " + ",".join(r.valid_ids + r.invalid_ids)
        runtime.log(f"[{done}/{total}] {r.seconds:5.1f}s match {r.best_match:.2f} {verdict}: {r.question.question}")

    evaluation = qa.evaluate(pipeline, questions, backlogs, args.sweep_gate, path.name, progress)
    print(json.dumps(evaluation.to_json(), ensure_ascii=False, indent=2) if args.json else evaluation.text())
    return 0


def run_flags(args: argparse.Namespace) -> int:
    print("| Flag | Environment variable | Default | What it does |")
    print("|---|---|---|---|")
    for opt in OPTIONS:
        env = "" if opt.const else ", ".join(f"`{e}`" for e in (opt.env, *opt.env_aliases))
        hidden = opt.const or opt.negates or opt.default is None or opt.default is False or opt.default == ()
        default = "" if hidden else f"`{opt.default}`"
        flags = ", ".join(f"`{f}`" for f in opt.flags)
        print(f"| {flags} | {env} | {default} | {opt.help} |")
    return 0
