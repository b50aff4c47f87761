"""What the model's second opinion costs (issue 33, point 5): tokens and seconds per judged sentence and per answer.

    python bench/second_opinion.py [--n-ctx 4096] [--max-tokens 40] [--profile tiny] [--cold 3]

Each question of QUESTIONS is asked over tests/data/leave.csv (30 stories) with --second-opinion on, on the
bundled model. For every answer: its own time, how many sentences the model then judged, and their time after it
(the first token waited for none of it). For every judged sentence: its prompt, the tokens the engine evaluated
with the answer's story prefix still in its KV cache (as the pipeline asks it), and, side by side, the same
question asked cold for the first ``--cold`` of them (another prompt in between, so the whole prompt is evaluated). The ratio is the result;
absolute times depend on the machine and its load. The verdicts are printed, not scored: the 135M model's yes or
no is not a measurement of quality.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storychat.answer import opinion  # noqa: E402
from storychat.answer.answer import Done, Reviewed  # noqa: E402
from storychat.answer.pipeline import AnswerOptions, Pipeline  # noqa: E402
from storychat.llm.engine import Message  # noqa: E402
from storychat.llm.llama import EngineOptions, LlamaEngine  # noqa: E402
from storychat.llm.models import bundled_model  # noqa: E402
from storychat.stories.embedder import load_embedder  # noqa: E402
from storychat.stories.formats import read_file  # noqa: E402

LEAVE = ROOT / "tests" / "data" / "leave.csv"
# Questions whose answers (by the bundled model, tiny profile) hold sentences the code marks ≈ or partly supported.
QUESTIONS = [
    "Can I get a Slack notification when my leave request is approved?",
    "Is there a story where managers approve leave requests in Slack?",
    "Do the stories mention Slack? Managers approve leave requests.",
    "Can an employee cancel a leave request after it has started?",
    "How many unused leave days carry over to the next year?",
    "Can a manager hand approvals to a deputy during a holiday?",
    "Can employees book half days off?",
    "Who can see the audit log of leave changes?",
]


def judged_cold(engine: LlamaEngine, messages: list[Message]) -> tuple[float, int]:
    """Seconds and evaluated tokens for ``messages`` with nothing of them in the KV cache."""
    evict = engine.stream_chat([Message("user", "Hello.")], max_tokens=1)
    list(evict)
    started = time.perf_counter()
    stream = engine.stream_chat(messages, max_tokens=opinion.REPLY_TOKENS, grammar=opinion.GRAMMAR)
    list(stream)
    return time.perf_counter() - started, stream.usage.prompt_evaluated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--max-tokens", type=int, default=40)
    parser.add_argument("--profile", default="tiny", help="answer profile (the 135M model refuses most questions under open)")
    parser.add_argument("--cold", type=int, default=3, help="judged sentences asked again cold, for the side-by-side")
    args = parser.parse_args()
    stories = read_file(LEAVE).stories
    engine = LlamaEngine(bundled_model(), EngineOptions(n_ctx=args.n_ctx))
    pipeline = Pipeline(
        engine, options=AnswerOptions(max_tokens=args.max_tokens, profile=args.profile, second_opinion="on"), embedder=load_embedder(),
    )
    known = {s.id: s for s in stories}
    print(f"bundled model {engine.info().model}, context {engine.context_length}, {args.profile} profile, -n {args.max_tokens}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'question':<64} {'answer s':>8} {'judged':>6} {'opinion s':>9}  verdicts")
    answers, per_answer, counts, rows = [], [], [], []
    for question in QUESTIONS:
        started = time.perf_counter()
        done_at, answer = None, None
        for event in pipeline.ask(question, stories):
            if isinstance(event, Done):
                done_at, answer = time.perf_counter(), event.answer
            elif isinstance(event, Reviewed):
                answer = event.answer
        ended = time.perf_counter()
        system = pipeline.prepare(question, stories).messages[0]
        for given in answer.opinions:
            sentence = answer.support.sentences[given.sentence]
            asked = Message("user", opinion.prompt(sentence.text, [known[i] for i in sentence.against if i in known]))
            rows.append((given, [system, asked]))
        answers.append(done_at - started)
        per_answer.append(ended - done_at)
        counts.append(len(answer.opinions))
        verdicts = ", ".join(f"{answer.support.sentences[o.sentence].verdict}: {o.verdict}" for o in answer.opinions) or "-"
        print(f"{question[:64]:<64} {done_at - started:>8.2f} {len(answer.opinions):>6} {ended - done_at:>9.2f}  {verdicts}", flush=True)

    # Cold last, and only for the first few: each evaluates the whole story prefix again.
    cold = [judged_cold(engine, messages) for _, messages in rows[: args.cold]]
    print(f"\n{'judged sentence':<15} {'prompt tok':>10} {'evaluated':>9} {'seconds':>7} | {'cold evaluated':>14} {'cold s':>7} {'cold/live':>9}")
    for n, (given, _) in enumerate(rows):
        cold_part = f"{cold[n][1]:>14} {cold[n][0]:>7.2f} {cold[n][0] / given.seconds:>9.1f}" if n < len(cold) else ""
        print(f"{n + 1:<15} {given.prompt_tokens:>10} {given.prompt_evaluated:>9} {given.seconds:>7.2f} | {cold_part}")
    if rows:
        live = [g.seconds for g, _ in rows]
        print(f"\nper judged sentence, median: {statistics.median(g.prompt_tokens for g, _ in rows):.0f} prompt tokens, "
              f"{statistics.median(g.prompt_evaluated for g, _ in rows):.0f} evaluated, {statistics.median(live):.2f} s; "
              f"cold, the first {len(cold)}: {statistics.median(e for _, e in cold):.0f} evaluated, "
              f"{statistics.median(s for s, _ in cold):.2f} s, against {statistics.median(live[: len(cold)]):.2f} s for the same live")
    judged = [t for t, n in zip(per_answer, counts) if n]
    print(f"per answer: {len(rows)} sentences judged in {len(judged)} of {len(QUESTIONS)} answers (at most {max(counts)}); "
          f"answer median {statistics.median(answers):.2f} s; second opinion after it, where one was given, median "
          f"{statistics.median(judged) if judged else 0:.2f} s, max {max(judged, default=0):.2f} s")


if __name__ == "__main__":
    main()
