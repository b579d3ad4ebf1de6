"""The architecture stays as docs/architecture.md says: its layers are the import contract, every
package is described, every audited action is listed with the function that does it, and the core
speaks field names, not command-line options."""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import dadkhah

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
SOURCE = Path(dadkhah.__file__).parent


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def test_the_layers_in_the_document_are_the_import_contract():
    written = re.search(r"```layers\n(.*?)```", DOC, re.S).group(1).split("\n")
    [layers] = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    assert [line for line in written if line] == layers


def test_every_package_is_placed_in_the_layers_and_described():
    [layers] = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    top = {f"dadkhah.{p.stem if p.is_file() else p.name}" for p in SOURCE.iterdir()
           if (p.suffix == ".py" and p.stem not in ("__init__", "__main__")) or (p / "__init__.py").is_file()}
    top.discard("dadkhah.migrations")  # run by Alembic, imported by nothing
    assert top == placed, f"not in the layers: {sorted(top - placed)}; no such package: {sorted(placed - top)}"
    assert [name for name in sorted(top) if f"`{name}`" not in DOC] == []


def test_the_shell_contracts_name_packages_not_modules():
    for contract in _contracts():
        if contract["type"] == "forbidden":
            assert contract["source_modules"] == ["dadkhah"], contract["name"]


def _audited_actions() -> set[str]:
    written = set()
    for path in SOURCE.rglob("*.py"):
        for call in re.finditer(r"record_audit\((.*?)\)\n", path.read_text(encoding="utf-8"), re.S):
            written.update(re.findall(r'action="([^"]+)"', call.group(1)))
            written.update(re.findall(r'"(user (?:re|de)activated)"', call.group(1)))
    return written


def test_every_audited_action_is_listed_with_the_function_that_does_it():
    table = DOC.split("| action | function | audit event |", 1)[1].split("\n\n", 1)[0]
    listed, functions = set(), []
    for row in table.strip().split("\n")[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        listed.update(re.findall(r"`([^`]+)`", cells[2]))
        functions.extend(re.findall(r"`([a-z_.]+)`", cells[1]))
    assert listed == _audited_actions()
    for dotted in functions:
        module, _, name = dotted.rpartition(".")
        if not module:  # a function of the module named just before it
            continue
        assert callable(getattr(importlib.import_module(f"dadkhah.{module}"), name)), dotted


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
            and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def test_below_the_command_line_errors_and_messages_name_fields_not_options():
    """No ``--flag`` in a string outside ``cli/`` (docstrings may explain the command line)."""
    found = []
    for path in SOURCE.rglob("*.py"):
        if "cli" in path.relative_to(SOURCE).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and re.search(r"(?<![\w-])--[a-z]", node.value)):
                found.append(f"{path.relative_to(SOURCE)}:{node.lineno}: {node.value[:60]!r}")
    for path in (SOURCE / "web" / "templates").rglob("*.html"):
        found.extend(f"{path.relative_to(SOURCE)}: {m}" for m in re.findall(r"(?<![\w-])--[a-z][\w-]*", path.read_text("utf-8")))
    assert found == []


def test_the_environment_is_read_at_the_edge():
    """Only the shells read DADKHAH_DATABASE_URL and DADKHAH_USER; the core takes them as parameters."""
    readers = [str(p.relative_to(SOURCE)) for p in SOURCE.rglob("*.py")
               if re.search(r"(environ|getenv)\W[^\n]*(DADKHAH_(DATABASE_URL|USER)|ENV_(DATABASE_URL|USER))",
                            p.read_text(encoding="utf-8"))
               and not p.relative_to(SOURCE).parts[0] == "cli"]
    assert readers == []
