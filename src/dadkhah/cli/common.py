"""What every command shares: the workspace, who is acting, output in JSON or for people, errors,
progress.

The contract scripts rely on: with ``--json`` stdout holds exactly one JSON document (a result, or
``{"error": {...}}``) and nothing else; messages and progress go to stderr; any error exits non-zero
with a message naming the file, line and field where it has them. The core names fields (``method``);
here a field is shown as the command's own option (``--method``) or argument (``RECORD_A``).

The environment is read here, at the edge, once: the database URL (``DADKHAH_DATABASE_URL``) and
who is acting (``DADKHAH_USER``, else the operating system's user), recorded with the channel
``cli`` in every audit event the command causes.
"""

from __future__ import annotations

import functools
import getpass
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from dadkhah.audit import Actor
from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.store import Store, open_store
from dadkhah.workspace import Workspace, find_workspace

ENV_DATABASE_URL = "DADKHAH_DATABASE_URL"  # PostgreSQL for a shared server; the workspace's SQLite file otherwise
ENV_USER = "DADKHAH_USER"  # who is acting, when not the operating system's user

# Text is data unless a line asks for markup (markup=True, its data escaped): a name, reason or path
# printed with brackets keeps them.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # exifread notes every image without EXIF ("PNG file does not have exif data."): nothing the user
    # must act on (what matters is in the evidence's metadata errors), so shown only with --verbose.
    logging.getLogger("exifread").setLevel(logging.INFO if verbose else logging.ERROR)


def emit_json(document) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


_END = object()


def emit_json_array(items: Iterable) -> None:
    """Stream a large array without holding it in memory.

    The first item is fetched before anything is written, so an error raised at the start leaves
    stdout empty for the error document.
    """
    iterator = iter(items)
    first = next(iterator, _END)
    write = sys.stdout.write
    write("[")
    if first is not _END:
        write(json.dumps(first, ensure_ascii=False, default=str))
        for item in iterator:
            write(",\n")
            write(json.dumps(item, ensure_ascii=False, default=str))
    write("]\n")
    sys.stdout.flush()


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """"1 testimony", "2 testimonies", "1,204 persons": a count with its noun."""
    return f"{number:,} {singular if number == 1 else plural or singular + 's'}"


def fail(message: str, *, as_json: bool, detail: dict | None = None, code: int = 1):
    if as_json:
        emit_json({"error": detail or {"message": message}})
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def parameter_words(command: Callable) -> dict[str, str]:
    """How ``command`` names each of its parameters at the command line: its option (``--linkage-thresholds``)
    or its argument (``RECORD_A``), by the parameter's name, which is the core's field name."""
    import inspect

    from typer.models import ArgumentInfo, OptionInfo

    words = {}
    for name, param in inspect.signature(command, eval_str=True).parameters.items():
        for info in getattr(param.annotation, "__metadata__", ()):
            if isinstance(info, OptionInfo):
                declared = [d for d in (info.default, *(info.param_decls or ())) if isinstance(d, str) and d.startswith("--")]
                words[name] = max(declared, key=len) if declared else "--" + name.replace("_", "-")
            elif isinstance(info, ArgumentInfo):
                words[name] = info.metavar or name.upper()
    return words


def _naming(exc: NotFound, command: Callable | None, given: dict | None) -> tuple[str, str] | None:
    """The one option or argument whose value a "not found" error names ("no person P-999999": the
    value given to ``--person``), in ``command``'s words: (parameter, option)."""
    if command is None or not given:
        return None
    message = str(exc)
    named = []
    for name, value in given.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and v.strip() and re.search(rf"(?<![\w-]){re.escape(v.strip())}(?![\w-])", message)
               for v in values):  # the value as a whole word: "en" is not named by "no evidence"
            named.append(name)
    if len(named) != 1:
        return None
    try:
        word = parameter_words(command).get(named[0])
    except (NameError, TypeError, ValueError):
        return None
    return (named[0], word) if word else None


def describe_error(exc: DadkhahError, command: Callable | None = None, given: dict | None = None) -> tuple[str, dict]:
    """The message for people and the error document, with the field in ``command``'s own words
    (for a thing not found, the option whose value named it, among the ``given`` values)."""
    detail = exc.to_dict()
    if isinstance(exc, NotFound) and (found := _naming(exc, command, given)):
        detail |= {"field": found[0], "option": found[1]}
        return f"{found[1]}: {exc}", detail
    if not isinstance(exc, InputError):
        return str(exc), detail
    try:
        option = parameter_words(command).get(exc.field) if command is not None and exc.field else None
    except (NameError, TypeError, ValueError):  # a signature that cannot be read: name the field instead
        option = None
    where = [str(exc.file)] if exc.file else []
    if exc.line is not None:
        where.append(f"line {exc.line}")
    if exc.field:
        where.append(option or f"field {exc.field!r}")
    detail["option"] = option
    return (f"{', '.join(where)}: {exc.message}" if where else exc.message), detail


def handle_errors(command: Callable) -> Callable:
    """Turn library errors into a clean message and exit status; bugs still show a traceback (and,
    with ``--json``, an error document on stdout, as scripts expect one)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        as_json = bool(kwargs.get("as_json"))
        try:
            return command(*args, **kwargs)
        except DadkhahError as exc:
            message, detail = describe_error(exc, wrapper, kwargs)
            fail(_escape(message), as_json=as_json, detail=detail)
        except KeyboardInterrupt:
            fail("interrupted; nothing was written by the unfinished step", as_json=as_json, code=130)
        except (typer.Exit, typer.Abort, typer.exceptions.TyperException):
            raise  # the command's own way out (its document, if any, is already on stdout)
        except Exception as exc:  # a bug: its traceback goes to stderr; with --json, stdout still holds one document
            if as_json:
                emit_json({"error": {"message": f"unexpected error ({type(exc).__name__}: {exc}); this is a bug in "
                                                "Dadkhah: please report it with the traceback printed on standard error",
                                     "bug": True}})
            raise

    return wrapper


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def workspace_path(ctx: typer.Context) -> Path | None:
    obj = ctx.find_root().obj or {}
    return obj.get("workspace")


def database_url(ctx: typer.Context) -> str | None:
    """The database named by ``DADKHAH_DATABASE_URL`` when the command started (None: the workspace's SQLite)."""
    obj = ctx.find_root().obj or {}
    return obj.get("database_url")


def cli_workspace(ctx: typer.Context) -> Workspace:
    return find_workspace(workspace_path(ctx), database_url=database_url(ctx))


def acting_user() -> Actor:
    """Who acts at the command line: ``DADKHAH_USER``, else the operating system's user."""
    try:
        name = os.environ.get(ENV_USER) or getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(name, "cli")


def cli_actor(ctx: typer.Context) -> Actor:
    """The actor this command records in the audit log (read from the environment when it started)."""
    obj = ctx.find_root().obj or {}
    return obj.get("actor") or acting_user()


def say_what_was_swept(swept: dict) -> None:
    """One line on stderr when opening the workspace cleaned up after interrupted runs."""
    parts = []
    if swept.get("files"):
        parts.append(f"{counted(swept['files'], 'temporary file or folder', 'temporary files or folders')} "
                     f"({swept['bytes'] / 2**20:,.1f} MB)")
    if swept.get("quarantine_reports"):
        parts.append(f"{counted(swept['quarantine_reports'], 'quarantine report')} no import names")
    if parts:
        err.print(f"Removed what interrupted runs left in the workspace: {' and '.join(parts)}.", markup=False,
                  highlight=False)


def say_what_the_gazetteer_resolved(resolved: dict) -> None:
    """One line on stderr when opening the workspace brought in a newer shipped gazetteer that
    resolved records whose city or prison named no known place."""
    if resolved:
        parts = [f"{counted(n, 'record')} now {'has' if n == 1 else 'have'} a known {field}" for field, n in resolved.items()]
        err.print(f"This version's gazetteer knows places it did not: {' and '.join(parts)} (the next "
                  "`dadkhah link run` takes them into account).", markup=False, highlight=False)


@contextmanager
def opened_store(ctx: typer.Context) -> Iterator[Store]:
    """The workspace's store. The audit log is signed with the workspace's keys when they can be had
    without asking (see :func:`dadkhah.vault.keys.load_keys_unattended`); otherwise it is written unsigned."""
    from dadkhah.vault.keys import load_keys_unattended

    workspace = cli_workspace(ctx)
    store = open_store(workspace, keys=lambda: load_keys_unattended(workspace), claim=True, create=False)
    say_what_was_swept(store.swept)
    say_what_the_gazetteer_resolved(store.places_resolved)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def progress_bar(description: str, *, unit: str = "items") -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr (drawn only on a terminal) fed with (done, total) bytes or items."""
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn() if unit == "bytes" else MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = progress.add_task(description, total=None)
    with progress:

        def update(done: int, total: int) -> None:
            # A total of 0 means "not known yet" (persons read before they are counted): drawn as a
            # count without an end, not as "1,000/0".
            progress.update(task, completed=done, total=total or None)

        yield update
