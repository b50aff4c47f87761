"""The floors of the house, read from the source: imports only run down, and the pipeline has one front door."""

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


def test_nothing_in_llm_or_stories_imports_from_answer():
    assert imports_into(ROOT, "storychat/llm", "storychat.answer") == {}
    assert imports_into(ROOT, "storychat/stories", "storychat.answer") == {}


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
