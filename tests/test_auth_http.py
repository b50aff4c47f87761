"""Login on a real app process: raw HTTP without a session is refused on every
route that reads or changes stories, and gradio_client needs the password."""

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

import pytest
from gradio_client import Client

from storychat.stories.formats import read_text
from storychat.stories.library import Library
from tests.serving import running_app

pytestmark = pytest.mark.model

SECRET_STORY = "As a CFO, I want the merger plan kept private, so that the share price holds."
SECRET_COLLECTION = "project-bluebird"


@dataclass
class Reply:
    status: int
    body: str


def request(url: str, method: str = "GET", data: bytes | None = None, headers: dict | None = None, opener=None) -> Reply:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=10) as response:
            return Reply(response.status, response.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode("utf-8", "replace"))


def post_json(url: str, payload: dict, opener=None) -> Reply:
    return request(url, "POST", json.dumps(payload).encode(), {"Content-Type": "application/json"}, opener)


def multipart(name: str, content: bytes) -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
        "Content-Type: text/plain\r\n\r\n"
    ).encode() + content + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def logged_in(url: str, user: str, password: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = urllib.parse.urlencode({"username": user, "password": password}).encode()
    reply = request(url + "login", "POST", form, opener=opener)
    assert reply.status == 200, reply
    return opener


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """An app with --auth whose library already holds a confidential story."""
    data_dir = tmp_path_factory.mktemp("auth")
    library = Library(data_dir)
    for collection in ("my-stories", SECRET_COLLECTION):
        library.add(collection, read_text(SECRET_STORY))
    with running_app(data_dir, "--auth", "alice:s3cret", "-n", "24") as url:
        yield url, library


API_READS = ["config", "gradio_api/info", "gradio_api/openapi.json", "gradio_api/queue/data?session_hash=abc123"]


@pytest.mark.parametrize("path", API_READS)
def test_anonymous_reads_of_the_api_are_refused(secured, path):
    url, _ = secured
    reply = request(url + path)
    assert reply.status == 401, reply
    assert SECRET_STORY not in reply.body


def test_anonymous_writes_are_refused_and_change_nothing(secured):
    url, library = secured
    before = library.fingerprint(SECRET_COLLECTION)
    attempts = [
        post_json(url + "gradio_api/queue/join", {"data": ["x", SECRET_COLLECTION], "fn_index": 1, "session_hash": "abc123"}),
        post_json(url + "gradio_api/call/add_stories", {"data": ["As a thief, I want in, so that I steal.", SECRET_COLLECTION]}),
        post_json(url + "gradio_api/run/clear_collection", {"data": [SECRET_COLLECTION]}),
        post_json(url + "gradio_api/call/ask", {"data": ["What does the CFO want?", [], SECRET_COLLECTION]}),
        request(url + "gradio_api/upload", "POST", *multipart("evil.txt", b"As a thief, I want in, so that I steal.\n")),
    ]
    assert [a.status for a in attempts] == [401] * len(attempts), attempts
    assert library.fingerprint(SECRET_COLLECTION) == before


def test_a_forged_session_cookie_is_refused(secured):
    url, _ = secured
    reply = request(url + "config", headers={"Cookie": "access-token=forged; access-token-unsecure=forged"})
    assert reply.status == 401


def test_the_anonymous_login_page_holds_no_stories_or_collection_names(secured):
    url, _ = secured
    page = request(url)
    assert page.status == 200 and '"auth_required":true' in page.body
    assert SECRET_STORY not in page.body and SECRET_COLLECTION not in page.body


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_api(secured):
    url, _ = secured
    form = urllib.parse.urlencode({"username": "alice", "password": "guess"}).encode()
    assert request(url + "login", "POST", form).status == 400
    opener = logged_in(url, "alice", "s3cret")
    info = json.loads(request(url + "gradio_api/info", opener=opener).body)
    assert "/ask_stories" in info["named_endpoints"]


def test_even_logged_in_the_library_file_cannot_be_downloaded(secured):
    url, library = secured
    opener = logged_in(url, "alice", "s3cret")
    reply = request(url + "gradio_api/file=" + str(library.path), opener=opener)
    assert reply.status in (403, 404), reply.status
    assert SECRET_STORY not in reply.body


def test_gradio_client_needs_the_password(secured):
    url, _ = secured
    with pytest.raises(ValueError, match="credentials were not provided"):
        Client(url, verbose=False)
    with pytest.raises(ValueError, match="Could not login"):
        Client(url, auth=("alice", "guess"), verbose=False)
    client = Client(url, auth=("alice", "s3cret"), verbose=False)
    chat, coverage, _ = client.predict("What does the CFO want kept private?", [], SECRET_COLLECTION, False, api_name="/ask")
    assert chat[1]["content"][0]["text"].startswith("[paste-1]")


def test_auth_file_and_storychat_auth_both_log_users_in(tmp_path, monkeypatch):
    users = tmp_path / "users.txt"
    users.write_text("# the team\ncarol:from-file\n\n", encoding="utf-8")
    monkeypatch.setenv("STORYCHAT_AUTH", "bob:from-env,dan:also-env")
    with running_app(tmp_path, "--auth-file", str(users), "-n", "24") as url:
        assert request(url + "config").status == 401
        for user, password in [("carol", "from-file"), ("bob", "from-env"), ("dan", "also-env")]:
            client = Client(url, auth=(user, password), verbose=False)
            report, *_ = client.predict(f"As a {user}, I want to log in, so that I work.", "team", api_name="/add_stories")
            assert report.startswith("Added 1 stories"), (user, report)
        with pytest.raises(ValueError, match="Could not login"):
            Client(url, auth=("alice", "s3cret"), verbose=False)
