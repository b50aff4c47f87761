"""Shards and exhaustive mode on a FakeEngine: how a collection is cut, and the map and reduce steps.

What the bundled model does with a pass (its grammar, its KV snapshots) is in
test_exhaustive_model.py; the faces are in test_cli.py, test_api.py and test_browser.py.
"""

import re
from dataclasses import replace
from typing import Callable

from storychat.answer.exhaustive import HINT, asks_for_everything
from storychat.answer.answer import final, Progress, Token
from storychat.answer.pipeline import AnswerOptions, Pipeline
from storychat.answer.prompt import REFUSAL
from storychat.answer.shards import Sharder
from storychat.llm.engine import MESSAGE_OVERHEAD, Message
from storychat.stories import Story
from storychat.stories.formats import ImportBatch
from storychat.stories.library import Library
from storychat.ui.render import answer_messages

TOPICS = ["drawer", "badge", "ledger", "stamp"]
# 200 stories, far more than a 1,024-token context holds; every tenth is about invoices.
STORIES = [
    Story(f"S-{n}", f"As a clerk, I want {TOPICS[n % 4] if n % 10 else 'the invoice'} {n} filed, so that audit {n} passes.", "office.txt", n)
    for n in range(1, 201)
]
INVOICES = [s.id for s in STORIES if "invoice" in s.text]
QUESTION = "Which stories are about invoices?"


def shard_ids(shards) -> list[list[str]]:
    return [[s.id for s in shard.stories] for shard in shards]


def in_prompt(messages: list[Message]) -> list[str]:
    """The ids of the stories in the system prompt."""
    return re.findall(r"^\[([^\]]+)\]", messages[0].content, re.MULTILINE)


def embedder(cite=lambda story_id, text: "invoice" in text, reply="[{first}] These stories are about invoices."):
    """A scripted model: a pass lists the ids in its shard that ``cite`` picks (or none); an answer cites the first story it is shown."""

    def answer(messages: list[Message]) -> str:
        lines = dict(re.findall(r"^\[([^\]]+)\] (.*)$", messages[0].content, re.MULTILINE))
        if messages[-1].content.startswith("List the id of every story"):
            picked = [i for i, text in lines.items() if cite(i, text)]
            return ", ".join(f"[{i}]" for i in picked) or "none"
        return reply.format(first=next(iter(lines)))

    return answer


def pipeline(engine, reply=None, n_ctx: int = 1024, sharder: Sharder | None = None) -> Pipeline:
    engine.reply, engine.n_ctx = reply or embedder(), n_ctx
    return Pipeline(engine, options=AnswerOptions(max_tokens=64), sharder=sharder)


def test_shards_are_consecutive_runs_in_library_order_that_each_fill_the_story_budget(fake_engine):
    p = pipeline(fake_engine)
    shards = p.shards(STORIES, "office")
    budget = p.fit(STORIES).budget
    assert len(shards) > 3
    assert [s for shard in shards for s in shard.stories] == STORIES
    for shard, after in zip(shards, shards[1:]):
        assert shard.tokens == p.fit(shard.stories).tokens <= budget
        assert shard.tokens + p.fit(after.stories[:1]).tokens > budget  # the next story would not fit
    assert p.fit(shards[-1].stories).fits


def test_adding_stories_changes_only_the_last_shard(fake_engine):
    p = pipeline(fake_engine)
    before = shard_ids(p.shards(STORIES[:150], "office"))
    after = shard_ids(p.shards(STORIES, "office"))
    assert after[: len(before) - 1] == before[:-1]
    assert after[len(before) - 1][: len(before[-1])] == before[-1]  # the last shard grew, then new ones follow
    assert len(after) > len(before)


def delete_one_from_shard_2(before: Pipeline, after: Callable[[], Pipeline]) -> tuple[list[list[str]], list[list[str]], str]:
    """The shards ``before`` cuts; those the pipeline ``after()`` makes then cuts once a story of the second is deleted; that story."""
    cuts = shard_ids(before.shards(STORIES, "office"))
    gone = cuts[1][3]
    return cuts, shard_ids(after().shards([s for s in STORIES if s.id != gone], "office")), gone


def test_deleting_a_story_changes_only_its_own_shard(fake_engine):
    p = pipeline(fake_engine)
    before, after, gone = delete_one_from_shard_2(p, lambda: p)
    assert after[1] == [i for i in before[1] if i != gone]
    assert after[:1] + after[2:] == before[:1] + before[2:]


def test_without_the_remembered_layout_a_deletion_would_move_every_later_cut(fake_engine):
    # Why the layout is remembered: cut afresh, the shards after the deletion all change.
    before, fresh, _ = delete_one_from_shard_2(pipeline(fake_engine), lambda: pipeline(fake_engine))
    assert fresh[2:] != before[2:]


def test_the_cuts_survive_a_restart_when_the_layouts_are_kept_in_a_file(fake_engine, tmp_path):
    layouts = tmp_path / "shard-layouts.json"
    first = pipeline(fake_engine, sharder=Sharder(layouts))
    before, after, gone = delete_one_from_shard_2(first, lambda: pipeline(fake_engine, sharder=Sharder(layouts)))
    assert after[1] == [i for i in before[1] if i != gone]
    assert after[:1] + after[2:] == before[:1] + before[2:]


def test_a_pipeline_with_other_options_keeps_the_same_cuts(fake_engine):
    p = pipeline(fake_engine)
    before, after, _ = delete_one_from_shard_2(p, lambda: p.with_options(strict=True))
    assert after[2:] == before[2:]


def test_an_unreadable_layout_file_only_means_cutting_afresh(fake_engine, tmp_path):
    layouts = tmp_path / "shard-layouts.json"
    layouts.write_bytes(b"\x00 not json")
    fresh = shard_ids(pipeline(fake_engine).shards(STORIES, "office"))
    assert shard_ids(pipeline(fake_engine, sharder=Sharder(layouts)).shards(STORIES, "office")) == fresh
    assert "office" in layouts.read_text()


def test_a_layout_file_that_cannot_be_written_does_not_stop_the_cut(fake_engine, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    shards = pipeline(fake_engine, sharder=Sharder(blocked / "shard-layouts.json")).shards(STORIES, "office")
    assert shard_ids(shards) == shard_ids(pipeline(fake_engine).shards(STORIES, "office"))


def test_another_story_budget_cuts_afresh(fake_engine):
    p = pipeline(fake_engine)
    small = shard_ids(p.shards(STORIES, "office"))
    fake_engine.n_ctx = 2048
    large = shard_ids(p.shards(STORIES, "office"))
    assert len(large) < len(small)
    assert large == shard_ids(pipeline(fake_engine, n_ctx=2048).shards(STORIES, "fresh"))


def test_each_pass_is_a_stable_prefix_with_its_own_cache_label(fake_engine):
    p = pipeline(fake_engine)
    final(p.ask_exhaustive(QUESTION, STORIES, "office"))
    first = list(fake_engine.calls)
    labels = list(fake_engine.labels)
    fake_engine.calls.clear()
    final(p.ask_exhaustive("Which stories are about badges?", STORIES, "office"))
    passes = len(p.shards(STORIES, "office"))
    assert [m[0] for m in fake_engine.calls[:passes]] == [m[0] for m in first[:passes]]  # same system prompts
    assert labels[:passes] == [f"office shard {n}" for n in range(1, passes + 1)]


def test_a_pass_may_answer_only_with_its_own_ids_or_none(fake_engine):
    p = pipeline(fake_engine)
    final(p.ask_exhaustive(QUESTION, STORIES, "office"))
    shards = p.shards(STORIES, "office")
    for shard, messages, grammar in zip(shards, fake_engine.calls, fake_engine.grammars):
        assert in_prompt(messages) == [s.id for s in shard.stories]
        rules = dict(line.split(" ::= ") for line in grammar.splitlines())
        assert rules["root"].startswith('"none" | item')
        assert re.findall(r'"([^"]+)"', rules["id"]) == [s.id for s in shard.stories]


def test_exhaustive_mode_reads_every_shard_and_answers_from_every_cited_story(fake_engine):
    p = pipeline(fake_engine)
    events = list(p.ask_exhaustive(QUESTION, STORIES, "office"))
    passes = len(p.shards(STORIES, "office"))
    progress = [e.message for e in events if isinstance(e, Progress) and e.message.startswith("pass")]
    assert progress[0] == f"pass 1 of {passes}: 0 stories cited so far"
    assert len(progress) == passes
    answer = final(events)
    assert in_prompt(fake_engine.calls[-1]) == INVOICES  # the reduce step saw exactly the cited stories
    assert answer.reading.line() == f"read all 200 stories in {passes} passes: {len(INVOICES)} cited"
    assert answer.reading.pass_sources == ("prompt",) * passes
    assert answer.reading.ids == tuple(INVOICES)
    assert answer_messages(answer.to_json())[-1] == {
        "role": "assistant", "content": ", ".join(f"[{i}]" for i in INVOICES),
        "metadata": {"title": f"Cited by the passes: {len(INVOICES)} of 200 stories"},
    }
    assert answer.reading.pass_tokens == answer.reading.pass_evaluated == sum(
        fake_engine.count(m.content) + MESSAGE_OVERHEAD for messages in fake_engine.calls[:passes] for m in messages
    )
    assert [c.id for c in answer.evidence] == [INVOICES[0]] and not answer.refused
    assert (answer.context.stories_in_context, answer.context.stories_total, answer.context.mode) == (len(INVOICES), 200, "exhaustive")
    assert "".join(e.text for e in events if isinstance(e, Token)) == answer.raw  # passes are not shown as text


def test_stop_between_passes_asks_the_model_no_more(fake_engine):
    p = pipeline(fake_engine)
    events = p.ask_exhaustive(QUESTION, STORIES, "office")
    for event in events:
        if isinstance(event, Progress) and event.message.startswith("pass 3 "):
            break
    events.close()
    assert len(fake_engine.calls) == 2


def test_ids_a_shard_does_not_hold_are_not_taken_from_its_pass(fake_engine):
    p = pipeline(fake_engine, reply=lambda m: "[S-999], [S-1]" if m[-1].content.startswith("List") else "[S-1] yes")
    answer = final(p.ask_exhaustive(QUESTION, STORIES, "office"))
    assert answer.reading.cited == 1  # S-1, from the first shard only


def test_when_no_pass_cites_a_story_the_answer_is_the_refusal(fake_engine):
    p = pipeline(fake_engine, reply=embedder(cite=lambda i, t: False))
    answer = final(p.ask_exhaustive("Which stories are about dragons?", STORIES, "office"))
    assert answer.refused and answer.answer == REFUSAL and answer.reading.cited == 0
    assert answer.reading.passes == len(fake_engine.calls)  # no reduce step


def test_cited_stories_that_do_not_fit_one_context_are_answered_in_rounds_and_it_says_so(fake_engine):
    p = pipeline(fake_engine, reply=embedder(cite=lambda i, t: True))
    events = list(p.ask_exhaustive(QUESTION, STORIES, "office"))
    answer = final(events)
    rounds = [e.message for e in events if isinstance(e, Progress) and e.message.startswith("answer round")]
    assert answer.reading.rounds == len(rounds) > 1
    assert "answered in" in answer.reading.line() and "do not fit one context" in answer.reading.line()
    assert all(c.valid for c in answer.citations) and len(answer.evidence) == answer.reading.rounds


def test_a_complete_list_question_in_retrieval_mode_suggests_exhaustive_mode_without_using_it(fake_engine):
    p = pipeline(fake_engine, reply="[S-10] An invoice.")
    answer = p.answer("List every story about invoices", STORIES, collection="office")
    assert answer.hint == HINT and answer.reading is None
    assert not any(m[-1].content.startswith("List the id") for m in fake_engine.calls)  # no pass ran
    assert p.answer("Who files invoice 10?", STORIES).hint == ""
    assert p.answer("List every story about invoices", STORIES[:5]).hint == ""  # full mode reads them all anyway


def test_complete_list_questions_are_recognised():
    assert all(map(asks_for_everything, ["List the stories on invoices", "Which stories touch payments?", "every export", "All admin stories"]))
    assert not any(map(asks_for_everything, ["Can the moderator export?", "Who is allowed to vote?"]))


def test_the_json_of_an_exhaustive_answer_says_how_it_read(fake_engine):
    answer = final(pipeline(fake_engine).ask_exhaustive(QUESTION, STORIES, "office"))
    reading = answer.to_json()["reading"]
    assert reading["stories"] == 200 and reading["line"].startswith("read all 200 stories")


def test_a_story_changed_in_place_by_a_reimport_changes_only_its_own_shard(fake_engine, tmp_path):
    library = Library(tmp_path)
    library.add("office", ImportBatch("office.txt", STORIES, []))
    p = pipeline(fake_engine)
    before = p.shards(library.stories("office"), "office")
    changed = before[2].stories[4]
    reworded = [replace(s, text=s.text.replace("filed", "filed twice")) if s.id == changed.id else s for s in STORIES]
    report = library.add("office", ImportBatch("office.txt", reworded, []))
    assert [c.id for c in report.changed] == [changed.id]
    after = p.shards(library.stories("office"), "office")
    differ = [i for i, (a, b) in enumerate(zip(before, after)) if a.stories != b.stories]
    assert differ == [2] and len(after) == len(before)


def test_a_pass_that_repeats_itself_stops_says_so_and_keeps_what_it_cited_before_the_loop(fake_engine):
    def looping(messages: list[Message]) -> str:
        if messages[-1].content.startswith("List the id of every story"):
            ids = [i for i in in_prompt(messages) if i in INVOICES]
            return ", ".join(f"[{i}]" for i in ids[:2] * 40) if ids else "none"  # the same two ids, over and over
        return embedder()(messages)

    p = pipeline(fake_engine, looping)
    p = p.with_options(max_tokens=400)
    answer = final(p.ask_exhaustive(QUESTION, STORIES))
    shards = p.shards(STORIES)
    looping_shards = [s for s in shards if any(x.id in INVOICES for x in s.stories)]
    kept = [i for s in looping_shards for i in [x.id for x in s.stories if x.id in INVOICES][:2]]
    assert list(answer.reading.ids) == kept  # the ids before the loop, each once
    assert answer.reading.looped == len(looping_shards) > 0
    assert f"{answer.reading.looped} passes repeated themselves and stopped early" in answer.reading.line()


def test_an_answer_that_repeats_a_sentence_is_cut_before_the_repetition_and_says_so(fake_engine):
    fake_engine.reply = "[S-10] The invoice 10 is filed. " + "[S-10] The invoice 10 is filed so audit passes. " * 30
    answer = Pipeline(fake_engine, options=AnswerOptions(max_tokens=400)).answer("Is invoice 10 filed?", STORIES)
    assert answer.looped and answer.raw == "[S-10] The invoice 10 is filed. [S-10] The invoice 10 is filed so audit passes."
    record = answer.to_json()
    assert record["looped"] and "repeated itself" in answer_messages(record)[0]["content"]
    assert len(fake_engine.tokenize(fake_engine.reply)) > 300  # it stopped long before the cap
    # and it is counted as an answer that ended: its prompt, and the tokens it wrote before it was stopped
    written = answer.timings.completion_tokens
    assert answer.timings.prompt_tokens >= answer.context.tokens_in_context and 0 < written < 300


def test_a_pass_that_lists_its_ids_once_is_no_loop():
    from storychat.answer.exhaustive import loop_start

    assert loop_start("[S-1], [S-2], [S-3]") is None and loop_start("Managers approve. Employees ask. Managers approve.") is None
    assert loop_start("[A], [B], [A], [B], [A]") == len("[A], [B], ")
