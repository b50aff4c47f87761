from pathlib import Path

from storychat.config import OPTIONS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_documents_every_flag_and_its_environment_variable():
    missing = [o.flags[-1] for o in OPTIONS if f"`{o.flags[-1]}`" not in README or f"`{o.env}`" not in README]
    assert not missing, f"add these to the README table (python -m storychat flags): {missing}"


def test_readme_names_the_two_commands():
    assert "make run" in README and "make test" in README
