"""The ``dadkhah`` command. Each command parses, makes one call into the Python API, and renders.

A command's module is imported only when that command runs: ``dadkhah link run`` does not load the
accountability importer, the vault or the web server (a third of a second off every command's start).
``app`` (``from dadkhah.cli import app``) is the whole command line, every command loaded.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from dadkhah import __version__
from dadkhah.cli.common import ENV_DATABASE_URL, acting_user, setup_logging

# Every top-level command, in the order --help lists them: the module that defines it and its name
# there (a command, or a group of commands).
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("dadkhah.cli.ingest", "init"),
    "import": ("dadkhah.cli.ingest", "import_"),
    "synth": ("dadkhah.cli.synth", "synth"),
    "sources": ("dadkhah.cli.ingest", "sources_app"),
    "records": ("dadkhah.cli.ingest", "records_app"),
    "intake": ("dadkhah.cli.intake", "intake_app"),
    "places": ("dadkhah.cli.places", "places_app"),
    "report": ("dadkhah.cli.report", "report_app"),
    "link": ("dadkhah.cli.link", "link_app"),
    "persons": ("dadkhah.cli.link", "persons_app"),
    "review": ("dadkhah.cli.link", "review_app"),
    "estimate": ("dadkhah.cli.estimate", "estimate_app"),
    "jobs": ("dadkhah.cli.jobs", "jobs_app"),
    "worker": ("dadkhah.cli.jobs", "worker_command"),
    "accountability": ("dadkhah.cli.accountability", "accountability_app"),
    "institutions": ("dadkhah.cli.accountability", "institutions_app"),
    "officials": ("dadkhah.cli.accountability", "officials_app"),
    "acts": ("dadkhah.cli.accountability", "acts_app"),
    "sites": ("dadkhah.cli.accountability", "sites_app"),
    "appeal": ("dadkhah.cli.appeal", "appeal_app"),
    "publish": ("dadkhah.cli.publish", "publish_app"),
    "evidence": ("dadkhah.cli.vault", "evidence_app"),
    "testimony": ("dadkhah.cli.vault", "testimony_app"),
    "custody": ("dadkhah.cli.vault", "custody_app"),
    "timestamp": ("dadkhah.cli.vault", "timestamp_command"),
    "keys": ("dadkhah.cli.vault", "keys_app"),
    "export": ("dadkhah.cli.vault", "export_app"),
    "verify": ("dadkhah.cli.vault", "verify"),
    "verify-site": ("dadkhah.cli.publish", "verify_site_command"),
    "backup": ("dadkhah.cli.backup", "backup_command"),
    "restore": ("dadkhah.cli.backup", "restore_command"),
    "users": ("dadkhah.cli.web", "users_app"),
    "tokens": ("dadkhah.cli.web", "tokens_app"),
    "audit": ("dadkhah.cli.web", "audit_app"),
    "serve": ("dadkhah.cli.web", "serve"),
}
# Groups another module adds commands to (``persons search``, ``export persons`` …): that module too.
GATHERED: dict[str, tuple[str, ...]] = {"persons": ("dadkhah.cli.search",), "export": ("dadkhah.cli.exports",)}
# The options the root takes before the command's name, and whether each takes a value.
_ROOT_OPTIONS = {"--workspace": True, "-w": True, "--verbose": False, "-v": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dadkhah {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", envvar="DADKHAH_WORKSPACE", help="Workspace folder (default: the current folder)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More messages on stderr.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    setup_logging(verbose)
    # What the commands write (workspace files, case files, evidence written out, exports) is for
    # the user alone, whatever the shell's umask.
    os.umask(0o077)
    # The environment is read here, once: everything below takes the database URL as a parameter.
    ctx.obj = {"workspace": workspace, "database_url": os.environ.get(ENV_DATABASE_URL) or None,
               "actor": acting_user()}


def command_line(names=None) -> typer.Typer:
    """The command line with the commands ``names`` (all when None), their modules imported."""
    built = typer.Typer(
        name="dadkhah",
        help="Dadkhah: one verified registry of victims from many lists, an honest estimate, a verifiable case file.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,  # locals may hold personal data
        add_completion=False,
    )
    built.callback()(root)
    for name in COMMANDS if names is None else names:
        module, attribute = COMMANDS[name]
        for gathered in GATHERED.get(name, ()):
            importlib.import_module(gathered)
        found = getattr(importlib.import_module(module), attribute)
        if isinstance(found, typer.Typer):
            built.add_typer(found, name=name)
        else:
            built.command(name)(found)
    return built


def command_named(args: list[str]) -> str | None:
    """The top-level command ``args`` run (after the root's options), or None when they run none
    (``--help``, ``--version``, a name that is not a command, an option it does not know)."""
    position = 0
    while position < len(args):
        word = args[position]
        if word.split("=", 1)[0] in _ROOT_OPTIONS and "=" in word:
            position += 1
        elif word in _ROOT_OPTIONS:
            position += 2 if _ROOT_OPTIONS[word] else 1
        elif word.startswith("-"):
            return None
        else:
            return word if word in COMMANDS else None
    return None


_whole: typer.Typer | None = None


def __getattr__(name: str):
    if name == "app":  # the whole command line, built once
        global _whole
        if _whole is None:
            _whole = command_line()
        return _whole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """``dadkhah``: only the command asked for is loaded (everything for --help or a mistyped name)."""
    chosen = command_named(sys.argv[1:])
    try:
        _run(command_line(None if chosen is None else [chosen]), as_json="--json" in sys.argv[1:])
    finally:
        # The command is done. Python's last garbage collection at exit would walk every object the
        # libraries made (a quarter of a second after `link run`): objects are then freed one by
        # one as their last reference goes, exit handlers run and threads are waited for as usual;
        # only objects caught in reference cycles are left to the operating system (Python does
        # not promise their finalizers at exit anyway; every file a command writes is closed by it).
        gc.freeze()


def _run(command: typer.Typer, *, as_json: bool) -> None:
    """Run the command line. With ``--json``, a command line that cannot be run as written (an unknown
    option, a value out of range, a missing one) still leaves one error document on stdout, naming
    the option, as every other error does; the usual message goes to stderr, and the status is 2."""
    if not as_json:
        command()
        return
    from typer import rich_utils

    from dadkhah.cli.common import emit_json

    try:
        status = command(standalone_mode=False)
    except typer.exceptions.TyperException as exc:  # the command line as written cannot run (click's usage errors)
        parameter = getattr(exc, "param", None)
        option = max(parameter.opts, key=len) if parameter is not None and getattr(parameter, "opts", None) else None
        emit_json({"error": {"message": exc.format_message(), "option": option, "usage": True}})
        rich_utils.rich_format_error(exc)
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("Aborted!", file=sys.stderr)
        sys.exit(1)
    if isinstance(status, int) and status:
        sys.exit(status)

