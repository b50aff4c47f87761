"""`make bench` rewrites the generated tables of docs/benchmarks.md and keeps every section written after them."""

from bench.bench_speed import READING, later_sections


def test_rewriting_the_tables_keeps_the_sections_written_after_them(tmp_path):
    out = tmp_path / "benchmarks.md"
    out.write_text("# Benchmarks\n\n### Old table\n\n| a |\n" + READING + "\n## Issue 14\n\nkept\n\n## Issue 18\n\nkept too\n")
    assert later_sections(out) == "\n## Issue 14\n\nkept\n\n## Issue 18\n\nkept too\n"


def test_a_new_file_has_no_later_sections(tmp_path):
    assert later_sections(tmp_path / "benchmarks.md") == ""
