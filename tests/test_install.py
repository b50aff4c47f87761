"""A clone is complete and installs like a Python tool.

A user's clone has nothing beside it: the data the tests and evaluations use
must be in the repository, and `pip install .` must give a working
`storychat` command with the pinned requirements.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from storychat.evals import DALPIAZ_ENV, dalpiaz_dir

ROOT = Path(__file__).resolve().parent.parent
# Data-dependent tests, run again in the bare clone: the importer on all 22
# backlogs, the role parser against roles-gold, and a CLI command that uses
# the shipped backlogs through the real model.
CLONE_TESTS = [
    "tests/test_stories_formats.py::test_all_22_dalpiaz_backlogs_import_to_the_reference_texts_and_lines",
    "tests/test_stories_parse.py::test_parsed_role_matches_the_first_gold_persona_for_at_least_95_percent",
    "tests/test_needle.py::test_needle_command_writes_the_csv_and_heatmap_and_prints_the_verdict",
]


def requirements(path: Path) -> set[str]:
    lines = (ln.split("#")[0].strip() for ln in path.read_text(encoding="utf-8").splitlines())
    return {str(Requirement(ln)) for ln in lines if ln}


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """A git clone of this repository in a folder with nothing beside it."""
    folder = tmp_path_factory.mktemp("fresh") / "storychat"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(folder)], check=True, timeout=120)
    assert [p.name for p in folder.parent.iterdir()] == ["storychat"]
    return folder


@pytest.mark.model  # the needle command it runs loads the model
def test_a_fresh_clone_with_nothing_beside_it_passes_the_data_tests(clone):
    env = {k: v for k, v in os.environ.items() if k != DALPIAZ_ENV}

    where = subprocess.run(
        [sys.executable, "-c", "import storychat.evals as e; print(e.dalpiaz_dir())"],
        cwd=clone, env=env, capture_output=True, text=True, check=True,
    )
    assert Path(where.stdout.strip()) == clone / "storychat" / "evals" / "data" / "dalpiaz-22"

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *CLONE_TESTS],
        cwd=clone, env=env, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"{len(CLONE_TESTS)} passed" in run.stdout


def sha256sums(folder: Path) -> dict[str, str]:
    """The checksums recorded when the files were copied from their publishers."""
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (ln.split(maxsplit=1) for ln in lines)}


def test_the_shipped_data_is_the_published_files_byte_for_byte(roles_gold):
    folder = dalpiaz_dir()
    assert folder == ROOT / "storychat" / "evals" / "data" / "dalpiaz-22"
    assert len(list(folder.glob("g*.txt"))) == 22
    for data in (folder, roles_gold):
        recorded = sha256sums(data)
        assert len(recorded) >= 22
        for name, digest in recorded.items():
            assert hashlib.sha256((data / name).read_bytes()).hexdigest() == digest, f"{data.name}/{name} changed"
    # The quirks the importer is tested on: byte-order marks, Windows-1252, no final newline.
    assert (folder / "g02-federalspending.txt").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\x92" in (folder / "g13-planningpoker.txt").read_bytes()
    assert (folder / "LICENSE-CC-BY-4.0").read_text().startswith("Attribution 4.0 International")
    assert (roles_gold / "LICENSE-CC0").is_file()


def test_the_package_declares_exactly_the_pinned_requirements():
    declared = {str(Requirement(r)) for r in importlib.metadata.requires("storychat") or []}
    assert declared == requirements(ROOT / "requirements.txt"), (
        "the installed storychat's requirements differ from requirements.txt: run `make install`"
    )
    assert all(r.specifier and str(r.specifier).startswith("==") for r in map(Requirement, declared))


def test_the_storychat_command_is_installed_and_runs():
    command = Path(sys.executable).parent / "storychat"
    run = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: storychat")
    for name in ("serve", "ask", "import", "info", "needle", "eval"):
        assert name in run.stdout


def test_the_built_wheel_carries_the_backlogs_byte_for_byte(clone, tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(clone)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = tmp_path.glob("storychat-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {Path(n).name: archive.read(n) for n in archive.namelist() if "/evals/data/dalpiaz-22/" in n}
        names = archive.namelist()
    for path in dalpiaz_dir().iterdir():
        assert shipped.get(path.name) == path.read_bytes(), f"{path.name} is missing from the wheel or changed"
    assert "storychat/evals/qa-dalpiaz.jsonl" in names and "storychat/prices.json" in names
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def test_the_shipped_jira_items_are_the_published_files_byte_for_byte():
    folder = ROOT / "storychat" / "evals" / "data" / "gpt2sp"
    recorded = sha256sums(folder)
    assert len(recorded) == len(list(folder.glob("*.csv"))) >= 5
    for name, digest in recorded.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, f"gpt2sp/{name} changed"
    assert (folder / "LICENSE").read_text().startswith("MIT License")
