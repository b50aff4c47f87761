"""The load test, small: two sessions with collections of their own, asking at once."""

import re

import pytest

from bench import loadtest


@pytest.mark.model
def test_two_concurrent_sessions_all_answer_cite_only_their_own_collection_and_keep_their_chats(dalpiaz, capsys):
    status = loadtest.main(["--clients", "2", "--questions", "3", "--stories", "6", "--data", str(dalpiaz), "--timeout", "400"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "6/6 answers completed, 0 errors, 0 cross-talk" in out
    assert "chats kept  2 chats for 2 sessions, 6 turns" in out  # each session's chat, every turn
    waits = [float(w) for w in re.findall(r"waited\s+([\d.]+) s", out)]
    assert len(waits) == 6 and max(waits) > 0.5, out  # one engine: someone queued behind the other


def test_the_load_test_refuses_to_target_anything_but_loopback():
    with pytest.raises(SystemExit, match="only runs against a loopback address"):
        loadtest.main(["--url", "http://192.168.1.20:7860/", "--clients", "1"])


def test_percentiles_use_the_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert (loadtest.percentile(values, 50), loadtest.percentile(values, 95)) == (10.0, 19.0)
    assert loadtest.percentile([], 95) == 0.0
