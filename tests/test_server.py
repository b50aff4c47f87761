"""The real app process, driven over HTTP with gradio_client."""

import subprocess
import sys

import pytest
from gradio_client import Client

from tests.helpers import ROOT
from tests.serving import running_app

STORIES = """\
As a moderator, I want to create a new game by entering a name, so that I can start inviting estimators.
As an estimator, I want to see the item we are estimating, so that I know what I am giving an estimate for.
As a moderator, I want to export a transcript of a game as a CSV file, so that I can process the estimates further.
"""


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("data"), "-n", "48") as url:
        yield url


@pytest.mark.model
def test_pasted_stories_are_answered_with_a_streamed_cited_answer(app_url):
    client = Client(app_url, verbose=False)
    report, table, *_ = client.predict(STORIES, "poker", api_name="/add_stories")
    assert "Added 3 stories" in report
    assert [row[0] for row in table["data"]] == ["paste-1", "paste-2", "paste-3"]

    # The bundled model quotes paste-3 faithfully for this question, so its citation gets the ✓.
    job = client.submit("Can the moderator export a transcript of the game?", [], "poker", False, api_name="/ask")
    partials = list(job)
    assert job.status().success, job.exception()  # an error mid-stream does not raise in the client
    assert len(partials) > 2  # streamed, not delivered at once
    chat, coverage, status = job.outputs()[-1]
    answer = chat[1]["content"][0]["text"]
    assert answer.startswith("[paste-")
    evidence = [m for m in chat if (m.get("metadata") or {}).get("title", "").startswith("Evidence")]
    assert evidence and "✓" in evidence[0]["content"][0]["text"]
    assert "3 of 3 stories" in coverage and "(full)" in coverage


@pytest.mark.model
def test_an_empty_collection_gets_a_clear_message_from_the_api(app_url):
    """The chat tab says so in a toast (test_browser.py); an API client gets the error."""
    client = Client(app_url, verbose=False)
    with pytest.raises(Exception, match="No collection named 'nothing-here'; known: "):
        client.predict("Anything?", "nothing-here", api_name="/ask_stories")


def test_serving_on_all_interfaces_without_auth_refuses_to_start(tmp_path):
    result = subprocess.run(
        [sys.executable, "app.py", "--host", "0.0.0.0", "--data-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Refusing to serve on 0.0.0.0 without a login" in result.stderr


@pytest.mark.model
def test_with_auth_the_api_rejects_anonymous_clients(tmp_path):
    with running_app(tmp_path, "--auth", "alice:s3cret") as url:
        with pytest.raises(Exception):
            Client(url, verbose=False)
        client = Client(url, auth=("alice", "s3cret"), verbose=False)
        assert "/ask_stories" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]
