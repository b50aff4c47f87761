"""``python -m storychat analyze`` as a user runs it: a real process on a real library."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _storychat(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "storychat", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def data_dir(dalpiaz: Path, tmp_path_factory) -> str:
    """A library with the collection "backlog": g04-recycling and g13-planningpoker."""
    directory = str(tmp_path_factory.mktemp("library"))
    for name in ("g04-recycling.txt", "g13-planningpoker.txt"):
        result = _storychat("import", str(dalpiaz / name), "--collection", "backlog", "--data-dir", directory)
        assert result.returncode == 0, result.stderr
    return directory


def _analyze(data_dir: str, *args: str) -> subprocess.CompletedProcess:
    return _storychat("analyze", "--collection", "backlog", "--data-dir", data_dir, *args)


def test_analyze_prints_duplicates_lint_and_roles_as_text(data_dir):
    result = _analyze(data_dir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("104 stories\n")
    assert "[g04-recycling-5] As a user, I want to have a flexible pick up time" in out
    assert "[g04-recycling-12] As a user, I want to choose a flexible pick up time" in out
    assert "[g04-recycling-3] medium atomic: 'and get' adds a second action; write one story for each [and]" in out
    assert "administrator (as admin)" in out


def test_analyze_json_is_one_object_with_only_the_chosen_analyses(data_dir):
    result = _analyze(data_dir, "--json", "--duplicates", "--roles")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"stories", "duplicates", "roles"}
    assert report["duplicates"]["threshold"] == 0.65
    assert {(p["a"], p["b"]) for p in report["duplicates"]["pairs"]} >= {("g04-recycling-5", "g04-recycling-12")}
    assert report["roles"][0] == {
        "name": "user", "count": 29, "spellings": ["user"],
        "story_ids": report["roles"][0]["story_ids"],
    }


def test_the_threshold_flag_sets_how_similar_duplicates_must_be(data_dir):
    strict = json.loads(_analyze(data_dir, "--json", "--duplicates", "--threshold", "0.99").stdout)
    loose = json.loads(_analyze(data_dir, "--json", "--duplicates", "--threshold", "0.4").stdout)
    assert strict["duplicates"]["pairs"] == []
    assert len(loose["duplicates"]["pairs"]) > 1


def test_a_threshold_outside_zero_to_one_is_an_error(data_dir):
    result = _analyze(data_dir, "--threshold", "1.5")
    assert result.returncode == 2
    assert "threshold must be above 0 and at most 1" in result.stderr


def test_analyze_reads_story_files_like_ask(dalpiaz):
    """Unlike the library, a file keeps its copies of a story: they are exact pairs."""
    result = _storychat("analyze", "--stories", str(dalpiaz / "g02-federalspending.txt"), "--json", "--duplicates", "--lint")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    exact = {(p["a"], p["b"]) for p in report["duplicates"]["pairs"] if p["exact"]}
    assert ("g02-federalspending-5", "g02-federalspending-11") in exact
    assert report["lint"]["summary"]["by_rule"]["unique"] == 3


def test_csv_files_hold_the_same_results_as_the_json(data_dir, tmp_path):
    result = _analyze(data_dir, "--json", "--csv", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)

    def rows(name: str) -> list[dict]:
        with (tmp_path / "out" / name).open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))

    duplicates, findings, roles = rows("duplicates.csv"), rows("lint.csv"), rows("roles.csv")
    assert [(r["a"], r["b"]) for r in duplicates] == [(p["a"], p["b"]) for p in report["duplicates"]["pairs"]]
    assert len(findings) == len(report["lint"]["findings"])
    assert {"story_id": "g04-recycling-3", "rule": "atomic", "words": "and"}.items() <= findings[0].items()
    assert roles[0]["name"] == "user"
    assert roles[0]["story_ids"].split("; ") == report["roles"][0]["story_ids"]


def test_an_unknown_collection_is_an_error(data_dir):
    result = _storychat("analyze", "--collection", "nope", "--data-dir", data_dir)
    assert result.returncode == 2
    assert "no collection named 'nope'" in result.stderr


def test_analyze_without_stories_says_where_to_take_them_from():
    result = _storychat("analyze")
    assert result.returncode == 2
    assert "--stories FILE or --collection NAME" in result.stderr
