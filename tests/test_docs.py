"""The documentation stays true: every command, field, table and setting is documented."""

from __future__ import annotations

from pathlib import Path

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
