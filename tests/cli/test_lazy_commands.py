"""Each command loads only its own modules, and is the same command the whole command line holds."""

from __future__ import annotations

import subprocess
import sys

import typer

from dadkhah.cli import COMMANDS, app, command_line, command_named


def test_the_command_is_found_after_the_roots_options():
    assert command_named(["link", "run"]) == "link"
    assert command_named(["--workspace", "ws", "-v", "persons", "search", "ali"]) == "persons"
    assert command_named(["-w", "ws", "import", "x.csv"]) == "import"
    assert command_named(["--workspace=ws", "verify-site", "out"]) == "verify-site"
    # No command, an unknown one or an option the root does not know: the whole command line answers.
    assert command_named([]) is None
    assert command_named(["--help"]) is None
    assert command_named(["--version"]) is None
    assert command_named(["lnik", "run"]) is None
    assert command_named(["--workspace"]) is None


def _shape(command) -> dict:
    """A command's parameters and, for a group, its subcommands' shapes."""
    shape = {"params": sorted(tuple(p.opts) for p in command.params), "help": command.help}
    if hasattr(command, "commands"):
        shape["commands"] = {name: _shape(sub) for name, sub in command.commands.items()}
    return shape


def test_each_command_alone_is_the_command_of_the_whole_command_line():
    whole = typer.main.get_command(app)
    assert set(whole.commands) == set(COMMANDS)
    for name in COMMANDS:
        alone = typer.main.get_command(command_line([name]))
        assert list(alone.commands) == [name]
        assert _shape(alone.commands[name]) == _shape(whole.commands[name]), name
    assert "search" in whole.commands["persons"].commands
    assert {"persons", "records", "acts", "popolo", "uwazi", "casefile"} <= set(whole.commands["export"].commands)


def test_a_command_does_not_load_the_others():
    probe = ("import sys\nsys.argv = ['dadkhah', 'link', '--help']\nfrom dadkhah.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m.startswith(('dadkhah.accountability', 'dadkhah.vault', 'dadkhah.web', 'scipy'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Link records into persons" in done.stdout or "link" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_reading_stored_estimates_does_not_load_the_estimators():
    """`estimate list`, `estimate show` and the web's estimate pages read stored results: numba and
    scipy (about a second to load) come only with an estimator, when one is asked for by name."""
    probe = ("import sys\nimport dadkhah.estimate.stored\n"
             "print(sorted(m for m in sys.modules if m.startswith(('numba', 'scipy'))))\n"
             "from dadkhah.estimate import LCMCR, chao\nprint(LCMCR.__name__, chao.__name__, 'numba' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["[]", "LCMCR chao True"]
