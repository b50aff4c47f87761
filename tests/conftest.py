"""Shared fixtures: where the real test data lives, a private data folder, the bundled model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STORIES_DATA = Path(
    os.environ.get("STORYCHAT_TEST_DATA", ROOT.parent / "shared" / "data" / "user-stories")
)
DALPIAZ = STORIES_DATA / "dalpiaz-22"
ROLES_GOLD = STORIES_DATA / "roles-gold"


@pytest.fixture(scope="session", autouse=True)
def private_data_dir(tmp_path_factory) -> Path:
    """Commands the tests start keep their library and KV snapshots out of the user's data folder."""
    path = tmp_path_factory.mktemp("storychat-data")
    os.environ["STORYCHAT_DATA_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def dalpiaz() -> Path:
    if not DALPIAZ.is_dir():
        pytest.fail(f"test data not found at {DALPIAZ}; set STORYCHAT_TEST_DATA")
    return DALPIAZ


@pytest.fixture(scope="session")
def engine():
    """The real bundled model, loaded once; 4k context keeps CPU prefill short."""
    from storychat.llm.llama import EngineOptions, LlamaEngine
    from storychat.llm.models import bundled_model

    return LlamaEngine(bundled_model(), EngineOptions(n_ctx=4096))


@pytest.fixture(scope="session")
def pipeline(engine):
    from storychat.answer.pipeline import AnswerOptions, Pipeline

    return Pipeline(engine, options=AnswerOptions(max_tokens=64))


# --- the quick tier: `pytest -m "not model"` leaves out every test that loads the real model ---

MODEL_FIXTURES = {"engine", "pipeline"}


def pytest_collection_modifyitems(items):
    """A test that uses the real model's fixtures must carry the ``model`` mark, so the quick tier never loads it."""
    unmarked = [i.nodeid for i in items if MODEL_FIXTURES & set(i.fixturenames) and not i.get_closest_marker("model")]
    if unmarked:
        raise pytest.UsageError("mark these tests @pytest.mark.model, they load the real model: " + ", ".join(unmarked))


@pytest.fixture
def fake_engine():
    """A deterministic engine with real (cl100k) token counts, for unit tests of pure logic; set ``reply``."""
    from tests.fakes import FakeEngine

    return FakeEngine()
