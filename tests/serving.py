"""The real app from outside, for the server, browser and load tests: start it as a subprocess, read its answers."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(proc: subprocess.Popen, request, log: Path, timeout: float) -> None:
    """Poll ``request`` (a URL or urllib Request) until the process answers; fail with its log."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[1:3]} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(request, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers, if only with 401 while auth is on
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.args[1:3]} did not answer within {timeout}s:\n{log.read_text()}")
            time.sleep(0.3)


# How long a starting app or server may take to answer: loading gradio and the
# model takes seconds on an idle machine, minutes on a loaded shared one.
STARTUP_TIMEOUT = 300


@contextmanager
def running_app(data_dir: Path, *flags: str, timeout: float = STARTUP_TIMEOUT):
    """Yield the URL of ``python app.py`` serving on a free loopback port."""
    port = free_port()
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "app.py", "--port", str(port), "--data-dir", str(data_dir), "--n-ctx", "4096", *flags],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_ready(proc, url, data_dir / "server.log", timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# --- reading an answer from the /ask API's chat --------------------------------------------

CITED = re.compile(r"\[([^\[\]\s]+)\]")
EVIDENCE_LINE = re.compile(r"✓ \*\*\[([^\[\]\s]+)\]\*\*")


def text_of(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part.get("text", "") for part in content)


def cited_ids(chat: list[dict]) -> set[str]:
    """Ids the answer cites: in its text and in its evidence."""
    assistant = [m for m in chat if m["role"] == "assistant"]
    evidence = [m for m in assistant if ((m.get("metadata") or {}).get("title") or "").startswith("Evidence")]
    return {i for m in assistant[:1] + evidence for i in CITED.findall(text_of(m))}


def valid_ids(chat: list[dict]) -> set[str]:
    """Ids the app checked as stories the model was shown (the ✓ evidence lines)."""
    return {i for m in chat if m["role"] == "assistant" for i in EVIDENCE_LINE.findall(text_of(m))}
