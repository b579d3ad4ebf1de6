"""The documentation stays true: every command, field, table and setting is documented."""

from __future__ import annotations

import functools
import re
import shlex
from pathlib import Path

import typer
from typer._click.exceptions import ClickException, UsageError  # Typer's own copy of click

from dadkhah.cli import app
from dadkhah.model import CANONICAL_FIELDS, Base
from tests.cli.test_cli import all_commands

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_command_is_in_the_user_guide():
    guide = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    missing = [name for name, _ in all_commands() if f"dadkhah {name}" not in guide]
    assert not missing, f"undocumented commands: {missing}"


def test_every_option_is_in_the_user_guide():
    guide = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    missing = []
    for name, command in all_commands():
        for param in command.params:
            long_options = [o for o in param.opts if o.startswith("--")]
            if long_options and not any(o in guide for o in long_options) and long_options[0] != "--help":
                missing.append(f"{name} {long_options[0]}")
    assert not missing, f"undocumented options: {missing}"


def test_every_canonical_field_is_in_the_user_guide():
    guide = (DOCS / "user-guide.md").read_text(encoding="utf-8")
    assert [f for f in CANONICAL_FIELDS if f"`{f}`" not in guide] == []


def test_every_table_and_column_is_in_the_data_model():
    model = (DOCS / "data-model.md").read_text(encoding="utf-8")
    missing = []
    for table in Base.metadata.sorted_tables:
        if f"## {table.name}" not in model:
            missing.append(table.name)
            continue
        section = model.split(f"## {table.name}", 1)[1].split("\n## ", 1)[0]
        for column in table.columns:
            documented = f"`{column.name}`" in section or (
                column.name.endswith(("_norm", "_key")) and ("`*_norm`" in section or "`*_key`" in section)
            )
            if not documented and column.name != "id" and table.name not in ("incidents", "settings", "import_warnings"):
                missing.append(f"{table.name}.{column.name}")
    assert not missing, f"undocumented: {missing}"


def test_the_readme_opens_with_the_two_commands():
    opening = "\n".join((DOCS.parent / "README.md").read_text(encoding="utf-8").splitlines()[:10])
    assert "make demo" in opening and "make test" in opening


def _examples() -> list[tuple[str, str]]:
    """(file, command line) of every `dadkhah` line in the docs' code blocks: continuation lines
    joined, comments, output redirections and pipes cut off."""
    found = []
    for path in sorted(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]:
        inside, block = False, []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip().startswith("```"):
                if inside:
                    for command in re.sub(r"\\\n\s*", " ", "\n".join(block)).splitlines():
                        command = command.strip().removeprefix("$ ")
                        if command.startswith("dadkhah "):
                            found.append((path.name, command))
                    block = []
                inside = not inside
            elif inside:
                block.append(line)
    return found


def _words(command: str) -> tuple[list[str], list[str]]:
    """The arguments of an example, and the options its synopsis shows as optional (``[--limit N]``,
    taken out of the arguments: ``N`` stands for a value); a shell substitution (``$(date +%F)``)
    stands for one word, and the shell's operators end the command."""
    command = re.sub(r"\s+#.*$", "", command)
    command = re.sub(r"\$\([^)]*\)", "X", command)
    optional = re.findall(r"\[(--[\w-]+)[^\]]*\]", command)
    words = shlex.split(re.sub(r"\[--[^\]]*\]", " ", command))[1:]
    for index, word in enumerate(words):
        if word in ("|", ">", ">>", "<", "&&", ";", "2>", "2>&1"):
            return words[:index], optional
    return words, optional


@functools.cache
def _program():
    return typer.main.get_command(app)


def _command_of(command: str) -> str:
    """The name of the command an example runs ("report pdf"), after parsing it as the program does;
    raises the program's own usage error when it would refuse it."""
    words, optional = _words(command)
    parent, group, names = None, _program(), []
    while True:
        context = group.make_context("dadkhah", list(words), parent=parent)
        if not hasattr(group, "commands"):
            break
        words = [*context._protected_args, *context.args]
        if not words:
            break
        name, *words = words
        if name not in group.commands:
            raise UsageError(f"no command {name!r}")
        parent, group = context, group.commands[name]
        names.append(name)
    known = {option for param in group.params for option in param.opts}
    if unknown := [option for option in optional if option not in known]:
        raise UsageError(f"no option {', '.join(unknown)}")
    return " ".join(names)


def test_every_example_in_the_docs_is_a_command_line_the_program_takes():
    """Each example names commands and options that exist, with the arguments they take: parsed,
    not run (they name files of the reader's)."""
    examples = _examples()
    assert len(examples) > 100
    refused = []
    for file, command in examples:
        try:
            _command_of(command)
        except ClickException as exc:
            refused.append(f"{file}: {command}: {exc.format_message()}")
    assert refused == []


def test_every_command_s_help_ends_with_an_example_of_itself_that_it_takes():
    """``dadkhah X --help`` shows an example; it runs X (not another command), and X takes it."""
    wrong = []
    for name, command in all_commands():
        found = re.search(r"Example:\s*(?:[A-Z_]+=\S+\s+)*(dadkhah [^\n]+)", command.help or "")
        try:
            if found is None:
                wrong.append(f"{name}: no example")
            elif (runs := _command_of(found.group(1))) != name:
                wrong.append(f"{name}: its example runs {runs!r}")
        except ClickException as exc:
            wrong.append(f"{name}: {found.group(1)}: {exc.format_message()}")
    assert wrong == []


def test_every_api_path_the_docs_name_is_a_route_of_the_server():
    """``POST /api/v1/claims/{claim}/review`` in a guide is a route the server has, for that method;
    a path with a real id (``/api/v1/evidence/E-000001/file``) matches its route's pattern."""
    from fastapi.routing import APIRoute

    from dadkhah.web.routes import ROUTERS

    routes = [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]
    named = set()
    for path in sorted(DOCS.glob("*.md")) + [DOCS.parent / "README.md"]:
        for method, where in re.findall(r"(?:\b(GET|POST|PUT|PATCH|DELETE) )?(/api/v1/[\w{}.:/-]*[\w}])",
                                        path.read_text(encoding="utf-8")):
            named.add((path.name, method, where))
    assert len(named) > 20
    unknown = [f"{file}: {method or 'any'} {where}" for file, method, where in sorted(named)
               if not any(route.path_regex.match(where) and (not method or method in route.methods)
                          for route in routes)]
    assert unknown == []


# Read by the program but for its own use, not a user's: how `serve` hands its settings to the
# processes it starts, and the hook the key rotation's crash test kills it with.
INTERNAL_VARIABLES = {"DADKHAH_WEB_SETTINGS", "DADKHAH_TEST_CRASH_AT"}


def test_every_environment_variable_is_documented_and_every_documented_one_is_read():
    root = DOCS.parent
    variable = re.compile(r"DADKHAH_[A-Z0-9_]+")

    def named(paths) -> set[str]:
        return {name for path in paths for name in variable.findall(path.read_text(encoding="utf-8"))}

    documented = named([*DOCS.glob("*.md"), root / "README.md"])
    read = named((root / "src").rglob("*.py"))
    tested = named((root / "tests").rglob("*.py"))
    assert sorted(read - documented - INTERNAL_VARIABLES) == [], "read by the program, said nowhere in the docs"
    assert sorted(documented - read - tested) == [], "named in the docs, read by nothing"
