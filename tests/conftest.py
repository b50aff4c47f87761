"""Shared fixtures: the real test data in the repo, a private data folder, the bundled model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storychat.evals import DALPIAZ_ENV, dalpiaz_dir

ROOT = Path(__file__).resolve().parent.parent
ROLES_GOLD = ROOT / "tests" / "data" / "roles-gold"


@pytest.fixture(scope="session", autouse=True)
def private_data_dir(tmp_path_factory) -> Path:
    """Commands the tests start keep their library and KV snapshots out of the user's data folder."""
    path = tmp_path_factory.mktemp("storychat-data")
    os.environ["STORYCHAT_DATA_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def dalpiaz() -> Path:
    """The 22 Dalpiaz backlogs shipped in the package (or ``$STORYCHAT_DALPIAZ``)."""
    folder = dalpiaz_dir()
    if len(list(folder.glob("g*.txt"))) != 22:
        pytest.fail(f"the 22 Dalpiaz backlogs are not in {folder}; unset {DALPIAZ_ENV} or point it at them")
    return folder


@pytest.fixture(scope="session")
def roles_gold() -> Path:
    return ROLES_GOLD


@pytest.fixture(scope="session")
def engine():
    """The real bundled model, loaded once; 4k context keeps CPU prefill short."""
    from storychat.llm.llama import EngineOptions, LlamaEngine
    from storychat.llm.models import bundled_model

    return LlamaEngine(bundled_model(), EngineOptions(n_ctx=4096))


@pytest.fixture(scope="session")
def pipeline(engine, embedder):
    """The pipeline as the app makes it: the bundled model, with the reader of meaning (--meaning on)."""
    from storychat.answer.pipeline import AnswerOptions, Pipeline

    return Pipeline(engine, options=AnswerOptions(max_tokens=64), embedder=embedder)


@pytest.fixture(scope="session")
def disk_read_speed(tmp_path_factory) -> float:
    """This machine's disk read speed, measured once for every KV cache the tests make."""
    from storychat.llm.kvcache import measure_read_speed

    return measure_read_speed(tmp_path_factory.mktemp("read-speed"))


@pytest.fixture(scope="session")
def generated_model(tmp_path_factory):
    """make(shape_name) -> a random-weight GGUF of that shape (tests/fixtures/make_gguf.py), made once, deleted at the end."""
    from tests.fixtures.make_gguf import SHAPES, write_model
    from storychat.llm.models import bundled_model

    made: dict[str, Path] = {}

    def make(name: str) -> Path:
        if name not in made:
            made[name] = write_model(tmp_path_factory.mktemp("gguf") / f"{name}.gguf", SHAPES[name], bundled_model())
        return made[name]

    yield make
    for path in made.values():
        path.unlink(missing_ok=True)


# --- the quick tier: `pytest -m "not model"` leaves out every test that loads the real model ---

MODEL_FIXTURES = {"engine", "pipeline", "generated_model"}


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


@pytest.fixture(scope="session")
def embedder():
    """The bundled reader of meaning (WordLlama, from its wheel), loaded once."""
    from storychat.stories.embedder import load_embedder

    return load_embedder()


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium, driven by Playwright: one browser per test module."""
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: run `make test`, or `.venv/bin/pip install playwright==1.65.2`.")
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: install it with `apt-get install -y chromium` (`make test` does this as root).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
