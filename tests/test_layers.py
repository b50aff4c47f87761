"""The floors of the house, read from the source: imports only run down, and the pipeline has one front door.

A module may import from its own floor and the floors below it, never above, not even
inside a function. ``answer/`` may use what ``analysis/`` computes exactly, never the
other way; ``answer/`` never imports ``chats/``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imports(path: Path, root: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function; relative imports resolved."""
    package = list(path.relative_to(root).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join([*package[: len(package) - node.level + 1], node.module or ""]) if node.level else node.module
            found.add(base.strip("."))
            found.update(f"{base.strip('.')}.{alias.name}" for alias in node.names)
    return found


def imports_into(root: Path, folder: str, target: str) -> dict[str, list[str]]:
    """The modules under ``folder`` that import from the package ``target``, and what they import."""
    found = {}
    for path in sorted((root / folder).rglob("*.py")):
        into = sorted(name for name in imports(path, root) if name == target or name.startswith(target + "."))
        if into:
            found[path.relative_to(root).as_posix()] = into
    return found


def builder_lines(path: Path) -> list[int]:
    """Lines where ``path`` names the pipeline's context builder: an object's ``builder`` or ``_builder``,
    or ``ContextBuilder`` itself. (formats.py's local ``builder`` of an import batch is another thing.)"""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            (isinstance(node, ast.Name) and node.id == "ContextBuilder")
            or (isinstance(node, ast.Attribute) and node.attr in ("builder", "_builder"))
            or (isinstance(node, ast.alias) and node.name.rpartition(".")[2] == "ContextBuilder")
        ):
            lines.append(node.lineno)
    return sorted(lines)


def outside_answer(root: Path) -> list[Path]:
    paths = [p for folder in ("storychat", "bench", "tests") for p in sorted((root / folder).rglob("*.py"))]
    return [p for p in paths if p.relative_to(root).parts[:2] != ("storychat", "answer")]


# Each part of the package by floor, from the ground up (docs/development.md draws them).
FLOORS = (
    ("config", "text"),
    ("stories", "llm"),
    ("analysis",),
    ("answer",),
    ("chats", "cost"),
    ("evals", "runtime"),
    ("ui", "cli", "__main__"),
)
FLOOR = {part: level for level, parts in enumerate(FLOORS) for part in parts}


def part_of(module: str) -> str:
    """The part of the package a dotted module name belongs to: ``storychat.answer.lines`` -> ``answer``."""
    return module.split(".")[1] if module.startswith("storychat.") else ""


def upward_imports(root: Path) -> dict[str, list[str]]:
    """The modules of the package that import from a floor above their own, and what they import."""
    found = {}
    for path in sorted((root / "storychat").rglob("*.py")):
        own = FLOOR.get(path.relative_to(root / "storychat").parts[0].removesuffix(".py"), 0)
        up = sorted(name for name in imports(path, root) if FLOOR.get(part_of(name), 0) > own)
        if up:
            found[path.relative_to(root).as_posix()] = up
    return found


def test_every_part_of_the_package_has_a_floor():
    parts = {p.name.removesuffix(".py") for p in (ROOT / "storychat").iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert parts - {"__init__"} == set(FLOOR)


def test_no_module_imports_from_a_floor_above_its_own():
    assert upward_imports(ROOT) == {}


def test_nothing_in_llm_or_stories_imports_from_answer_or_chats():
    for folder in ("storychat/llm", "storychat/stories"):
        assert imports_into(ROOT, folder, "storychat.answer") == {}
        assert imports_into(ROOT, folder, "storychat.chats") == {}


def test_answer_does_not_import_from_chats():
    assert imports_into(ROOT, "storychat/answer", "storychat.chats") == {}


def test_the_ui_imports_evaluations_only_for_the_self_test():
    assert list(imports_into(ROOT, "storychat/ui", "storychat.evals")) == ["storychat/ui/selftest.py"]


def test_the_floor_check_catches_an_import_up_hidden_in_a_function(tmp_path):
    sample = tmp_path / "storychat" / "stories" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text("def late():\n    from storychat.chats.store import Chats\n    return Chats\n", encoding="utf-8")
    assert upward_imports(tmp_path) == {"storychat/stories/sample.py": ["storychat.chats.store", "storychat.chats.store.Chats"]}


def test_analysis_does_not_import_from_answer():
    assert imports_into(ROOT, "storychat/analysis", "storychat.answer") == {}


def test_no_module_outside_answer_names_the_builder():
    found = {p.relative_to(ROOT).as_posix(): builder_lines(p) for p in outside_answer(ROOT)}
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_the_checks_catch_a_module_that_reaches_up_or_in(tmp_path):
    """The three checks above can fail: an import up, however written, and a reach for the builder are seen."""
    sample = tmp_path / "storychat" / "llm" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "from ..answer.context import Coverage\n"
        "def late(pipeline):\n"
        "    import storychat.answer.pipeline\n"
        "    return pipeline.builder, pipeline._builder\n"
        "from storychat.answer.context import ContextBuilder as Fits\n",
        encoding="utf-8",
    )
    assert imports_into(tmp_path, "storychat/llm", "storychat.answer") == {
        "storychat/llm/sample.py": [
            "storychat.answer.context", "storychat.answer.context.ContextBuilder", "storychat.answer.context.Coverage",
            "storychat.answer.pipeline",
        ],
    }
    assert [p.name for p in outside_answer(tmp_path)] == ["sample.py"]
    assert builder_lines(sample) == [4, 4, 5]


def llama_lines(path: Path) -> list[int]:
    """Lines where ``path`` reaches into an engine's llama.cpp object (``_llm``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return sorted(node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "_llm")


def beyond_the_engine(root: Path) -> list[Path]:
    """The benches and every face (and the rest of the package) outside storychat/llm."""
    paths = [root / "app.py", *sorted((root / "bench").rglob("*.py")), *sorted((root / "storychat").rglob("*.py"))]
    return [p for p in paths if p.exists() and p.relative_to(root).parts[:2] != ("storychat", "llm")]


def test_no_bench_or_face_reaches_past_the_engine_into_llama_cpp():
    found = {p.relative_to(ROOT).as_posix(): llama_lines(p) for p in beyond_the_engine(ROOT)}
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_the_engine_check_catches_a_bench_that_reaches_in(tmp_path):
    bench = tmp_path / "bench" / "sample.py"
    bench.parent.mkdir(parents=True)
    bench.write_text("def turn(engine):\n    engine._llm.reset()\n    return engine.info()\n", encoding="utf-8")
    assert [p.name for p in beyond_the_engine(tmp_path)] == ["sample.py"]
    assert llama_lines(bench) == [2]
