"""The command line's shape: no command serves the UI, and every command line the docs show parses."""

import re
import shlex
from pathlib import Path

import pytest

from storychat import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(?:[\w.~/-]*/)?(python app\.py|python -m storychat|storychat)((?: .*)?)$")
MAKE_RUN = re.compile(r'make run ARGS="([^"]*)"')
SHELL_OPERATORS = {">", ">>", "2>", "<", "|", "&&", "||", ";"}


def shell_words(line: str) -> list[str]:
    """The words of a shell line up to its first redirection or pipe: what the program itself receives."""
    words = shlex.split(line, comments=True)
    cut = next((i for i, word in enumerate(words) if word in SHELL_OPERATORS), len(words))
    return words[:cut]


def documented_command_lines() -> list[tuple[str, list[str]]]:
    """(where, argv for ``cli.main``) for every ``storychat``, ``python -m storychat`` and ``python app.py``
    line of a code block in the README and docs/, and every ``make run ARGS="..."``."""
    found = []
    for path in DOCS:
        in_code = False
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.name}:{number}"
            if line.startswith("```"):
                in_code = not in_code
            elif in_code and (match := COMMAND.match(line.strip())):
                argv = shell_words(match[2])
                found.append((where, ["serve", *argv] if match[1] == "python app.py" else argv))
            found += [(where, ["serve", *shlex.split(args)]) for args in MAKE_RUN.findall(line)]
    return found


def test_without_a_command_the_app_serves_and_takes_the_serve_flags():
    args = cli.parser().parse_args([])
    assert args.run is cli.run_serve
    args = cli.parser().parse_args(["--port", "7000", "-c", "2048", "--no-strict"])
    assert args.run is cli.run_serve and (args.port, args.n_ctx, args.strict) == (7000, 2048, False)


def test_a_command_takes_its_own_flags():
    args = cli.parser().parse_args(["ask", "--json", "-c", "2048", "--stories", "b.txt", "Who exports?"])
    assert args.run is cli.run_ask and (args.question, args.n_ctx, args.stories) == ("Who exports?", 2048, ["b.txt"])


@pytest.mark.parametrize(("where", "argv"), documented_command_lines(), ids=lambda value: value if isinstance(value, str) else "")
def test_every_command_line_in_the_docs_parses(where, argv):
    cli.parser().parse_args(argv)


def test_the_docs_show_command_lines_to_check():
    lines = documented_command_lines()
    assert len(lines) >= 20
    assert any(argv[:1] == ["serve"] for _, argv in lines) and any(argv[:1] == ["ask"] for _, argv in lines)


def test_a_user_error_is_one_line_and_exit_status_2(tmp_path, capsys):
    assert cli.main(["ask", "--stories", str(tmp_path / "absent.txt"), "Anything?"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
