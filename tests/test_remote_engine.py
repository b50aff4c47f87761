"""The remote backend against a real OpenAI-compatible server: ``python -m llama_cpp.server``
serving the bundled model, started once for this module."""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.utils import Status

from storychat.config import BackendError, Settings, add_options, check_backend
from storychat.llm.engine import Message, Usage
from storychat.llm.engine import EngineError
from storychat.llm.models import bundled_model
from storychat.llm.remote import (
    ESTIMATE_MARGIN, EstimateTokenizer, RemoteEngine, RemoteOptions, api_root, reported_usage,
)
from storychat.stories.formats import read_file
from tests.helpers import ROOT, assert_contract
from tests.serving import STARTUP_TIMEOUT, free_port, running_app, wait_until_ready

API_KEY = "test-key"
SERVER_CTX = 4096
STORIES = """\
As a moderator, I want to create a new game by entering a name, so that I can start inviting estimators.
As an estimator, I want to see the item we are estimating, so that I know what I am giving an estimate for.
As a moderator, I want to export a transcript of a game as a CSV file, so that I can process the estimates further.
"""


@dataclass
class ServerProcess:
    url: str
    proc: subprocess.Popen

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@contextmanager
def llama_cpp_server(log_dir: Path, timeout: float = STARTUP_TIMEOUT):
    """Yield ``python -m llama_cpp.server`` on a free port, ready to answer."""
    port = free_port()
    log = open(log_dir / "llama_cpp_server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model()), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", str(SERVER_CTX), "--api_key", API_KEY],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    server = ServerProcess(f"http://127.0.0.1:{port}", proc)
    ready = urllib.request.Request(f"{server.url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})
    try:
        wait_until_ready(proc, ready, log_dir / "llama_cpp_server.log", timeout)
        yield server
    finally:
        server.stop()
        log.close()


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    with llama_cpp_server(tmp_path_factory.mktemp("llama_server")) as server:
        yield server.url


@pytest.fixture(scope="module")
def remote(server_url):
    return RemoteEngine(RemoteOptions(server_url, api_key=API_KEY, n_ctx=SERVER_CTX))


@pytest.fixture(scope="module")
def app_url(server_url, tmp_path_factory):
    flags = ("--backend", "openai", "--base-url", server_url, "--api-key", API_KEY, "--concurrency", "2", "-n", "48")
    with running_app(tmp_path_factory.mktemp("data"), *flags) as url:
        client = Client(url, verbose=False)
        report, *_ = client.predict(STORIES, "poker", api_name="/add_stories")
        assert "Added 3 stories" in report
        yield url


def ask_cli(*flags: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "storychat", "ask", "--backend", "openai", "-n", "48", *flags]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


def settings(argv: list[str]) -> Settings:
    parser = argparse.ArgumentParser()
    add_options(parser, "model", "server")
    return Settings.from_namespace(parser.parse_args(argv))


@pytest.mark.model
def test_cli_ask_json_through_the_server_honours_the_contract(server_url, dalpiaz):
    backlog = dalpiaz / "g13-planningpoker.txt"
    result = ask_cli("--json", "--base-url", f"{server_url}/v1", "--api-key", API_KEY, "--n-ctx", str(SERVER_CTX),
                     "--stories", str(backlog), "What can estimators do?")
    assert result.returncode == 0, result.stderr
    assert_contract(json.loads(result.stdout), read_file(backlog).stories)
    assert f"context {SERVER_CTX} tokens (--n-ctx)" in result.stderr
    assert "llama_cpp.server /extras/tokenize" in result.stderr  # counted by the served model's tokenizer


@pytest.mark.model
def test_cli_ask_exhaustive_through_the_server_reads_every_shard(server_url, dalpiaz):
    backlog = dalpiaz / "g13-planningpoker.txt"
    result = ask_cli("--exhaustive", "--json", "--base-url", f"{server_url}/v1", "--api-key", API_KEY, "--n-ctx", "2048",
                     "--stories", str(backlog), "Which stories are about estimates?")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    stories = read_file(backlog).stories
    assert_contract(payload, stories)
    reading = payload["reading"]
    assert reading["stories"] == len(stories) and reading["passes"] >= 2
    assert all(f"pass {n} of {reading['passes']}:" in result.stderr for n in range(1, reading["passes"] + 1))


@pytest.mark.model
def test_counts_come_from_the_served_models_tokenizer(remote, engine):
    text = "As a moderator, I want to export a transcript of a game as a CSV file."
    assert remote.tokenize(text) == engine.tokenize(text)
    assert remote.count(text) == engine.count(text)


@pytest.mark.model
def test_a_streamed_answer_arrives_in_pieces_and_leaves_its_usage(remote):
    messages = [Message("system", "You are terse."), Message("user", "Name three colours.")]
    stream = remote.stream_chat(messages, max_tokens=32)
    pieces = list(stream)
    assert len(pieces) > 1
    usage = stream.usage
    # llama_cpp.server sends no usage chunk, so the engine counts, and knows nothing of its cache.
    assert usage.completion_tokens == remote.count("".join(pieces))
    assert usage.prompt_tokens > remote.count("You are terse.Name three colours.")
    assert usage.prompt_evaluated == usage.prompt_tokens


@pytest.mark.model
def test_a_server_that_does_not_report_its_context_needs_n_ctx(server_url):
    with pytest.raises(EngineError, match="does not say how long its context is. Pass --n-ctx"):
        RemoteEngine(RemoteOptions(server_url, api_key=API_KEY))


@pytest.mark.model
def test_an_unknown_remote_model_names_the_ones_served(server_url):
    with pytest.raises(EngineError, match="--remote-model gpt-9: .* serves .*SmolLM2"):
        RemoteEngine(RemoteOptions(server_url, api_key=API_KEY, model="gpt-9", n_ctx=SERVER_CTX))


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line a failed command ends with; it must not be a traceback."""
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.splitlines()[-1]


@pytest.mark.model
def test_a_closed_port_is_one_line_that_names_the_url_and_the_fix(dalpiaz):
    url = f"http://127.0.0.1:{free_port()}"
    line = error_line(ask_cli("--base-url", url, "--stories", str(dalpiaz / "g13-planningpoker.txt"), "Anything?"))
    assert line.startswith(f"error: cannot reach the model server at {url}")
    assert line.endswith("Start the server, or fix --base-url.")


@pytest.mark.model
def test_an_http_error_carries_the_status_and_the_servers_message(server_url, dalpiaz):
    backlog = str(dalpiaz / "g13-planningpoker.txt")
    line = error_line(ask_cli("--base-url", server_url, "--api-key", "wrong", "--stories", backlog, "Anything?"))
    assert line == f"error: GET {server_url}/v1/models answered HTTP 401: Invalid API key"


@pytest.mark.model
def test_a_prompt_beyond_the_servers_context_fails_clearly(server_url):
    oversold = RemoteEngine(RemoteOptions(server_url, api_key=API_KEY, n_ctx=4 * SERVER_CTX))
    too_long = [Message("user", "estimate " * (2 * SERVER_CTX))]
    # llama_cpp.server has already answered 200 when it finds the prompt too long; it ends the stream.
    with pytest.raises(EngineError, match="closed the answer stream before it finished"):
        list(oversold.stream_chat(too_long, max_tokens=8))


@pytest.mark.model
def test_the_ui_streams_a_cited_answer_from_the_server(app_url):
    # The bundled model quotes paste-3 faithfully for this question: no sentence is marked.
    job = Client(app_url, verbose=False).submit("Can the moderator export a transcript of the game?", [], "poker", False, api_name="/ask")
    partials = list(job)
    assert len(partials) > 2  # streamed, not delivered at once
    chat, coverage, _ = job.outputs()[-1]
    assert chat[1]["content"][0]["text"].startswith("[paste-")
    assert "3 of 3 stories" in coverage


@pytest.mark.model
def test_two_browser_clients_are_answered_at_the_same_time(app_url):
    questions = ["Can the moderator export the game?", "What does the estimator see?"]
    clients = [Client(app_url, verbose=False) for _ in questions]
    start = threading.Barrier(len(questions))
    jobs, overlapped, outputs = {}, {}, {}

    def ask(client: Client, question: str) -> None:
        start.wait()
        jobs[question] = job = client.submit(question, [], "poker", False, api_name="/ask")
        while not job.done():
            if question not in overlapped and job.status().code in (Status.PROCESSING, Status.ITERATING):
                overlapped[question] = not any(other.done() for q, other in jobs.items() if q != question)
            time.sleep(0.01)
        outputs[question] = job.outputs()[-1]

    threads = [threading.Thread(target=ask, args=pair) for pair in zip(clients, questions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert set(outputs) == set(questions)
    for chat, coverage, _ in outputs.values():
        assert chat[1]["content"][0]["text"] and "3 of 3 stories" in coverage
    # With --concurrency 2 Gradio runs both at once: neither waits in its queue
    # for the other to finish (llama_cpp.server itself still takes them in turn).
    assert overlapped == {q: True for q in questions}


@pytest.mark.model
def test_the_ui_reports_a_server_that_went_away_in_one_line(tmp_path):
    with llama_cpp_server(tmp_path) as server:
        flags = ("--backend", "openai", "--base-url", server.url, "--api-key", API_KEY, "-n", "32")
        with running_app(tmp_path, *flags) as app:
            client = Client(app, verbose=False)
            client.predict(STORIES, "poker", api_name="/add_stories")
            server.stop()
            with pytest.raises(Exception, match=f"cannot reach the model server at {server.url}.*fix --base-url"):
                client.predict("Can the moderator export the game?", [], "poker", False, api_name="/ask")


def test_more_than_one_answer_at_a_time_needs_a_remote_backend():
    with pytest.raises(BackendError, match="--concurrency 2 needs --backend openai"):
        check_backend(settings(["--concurrency", "2"]))
    check_backend(settings(["--concurrency", "2", "--backend", "openai", "--base-url", "http://gpu:8080"]))


def test_the_openai_backend_needs_a_base_url():
    with pytest.raises(BackendError, match="needs --base-url"):
        check_backend(settings(["--backend", "openai"]))


def test_llama_server_timings_tell_how_much_of_the_prompt_came_from_its_cache():
    final = {"choices": [], "usage": {"prompt_tokens": 1200, "completion_tokens": 40, "total_tokens": 1240},
             "timings": {"cache_n": 1180, "prompt_n": 20, "predicted_n": 40}}
    assert reported_usage(final) == Usage(prompt_tokens=1200, prompt_evaluated=20, completion_tokens=40)


def test_vllm_cached_tokens_are_subtracted_from_the_prompt():
    final = {"choices": [], "usage": {"prompt_tokens": 1200, "completion_tokens": 40,
                                      "prompt_tokens_details": {"cached_tokens": 1024}}}
    assert reported_usage(final) == Usage(prompt_tokens=1200, prompt_evaluated=176, completion_tokens=40)


def test_a_chunk_without_usage_reports_none():
    assert reported_usage({"choices": [{"delta": {"content": "x"}}]}) is None


def test_without_a_server_tokenizer_counts_are_a_cl100k_estimate_with_a_margin():
    estimate = EstimateTokenizer()
    text = "As an estimator, I want to see the item we are estimating, so that I know what I am giving an estimate for."
    assert estimate.count(text) == math.ceil(len(estimate.tokenize(text)) * ESTIMATE_MARGIN)
    assert estimate.count(text) > len(estimate.tokenize(text))


def test_the_base_url_may_name_the_v1_path_or_not():
    for given in ("http://gpu:8080", "http://gpu:8080/", "http://gpu:8080/v1", "http://gpu:8080/v1/"):
        assert api_root(given) == "http://gpu:8080"
