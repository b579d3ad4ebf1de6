"""What every command shares: the workspace, output in JSON or for people, errors, progress.

The contract scripts rely on: with ``--json`` stdout holds exactly one JSON document (a result, or
``{"error": {...}}``) and nothing else; messages and progress go to stderr; any error exits non-zero
with a message naming the file, line and field where it has them.
"""

from __future__ import annotations

import functools
import json
import logging
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

from dadkhah.errors import DadkhahError
from dadkhah.store import Store, open_store
from dadkhah.workspace import Workspace, find_workspace

ENV_DATABASE_URL = "DADKHAH_DATABASE_URL"  # PostgreSQL for a shared server; the workspace's SQLite file otherwise

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
        force=True,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


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


def fail(message: str, *, as_json: bool, detail: dict | None = None, code: int = 1):
    if as_json:
        emit_json({"error": detail or {"message": message}})
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code)


def handle_errors(command: Callable) -> Callable:
    """Turn library errors into a clean message and exit status; bugs still show a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        as_json = bool(kwargs.get("as_json"))
        try:
            return command(*args, **kwargs)
        except DadkhahError as exc:
            fail(_escape(str(exc)), as_json=as_json, detail=exc.to_dict())
        except KeyboardInterrupt:
            fail("interrupted; nothing was written by the unfinished step", as_json=as_json, code=130)

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


@contextmanager
def opened_store(ctx: typer.Context) -> Iterator[Store]:
    store = open_store(cli_workspace(ctx))
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
            progress.update(task, completed=done, total=total)

        yield update
