"""Commands for the workspace, imports, records and sources."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    counted,
    database_url,
    emit_json,
    emit_json_array,
    err,
    handle_errors,
    opened_store,
    out,
    progress_bar,
    say_what_the_gazetteer_resolved,
    workspace_path,
)
from dadkhah.ingest.importer import import_file
from dadkhah.normalize.places import UNKNOWN_PLACE
from dadkhah.registry.records import count_records, iter_records
from dadkhah.sources import describe_source, list_sources, set_release
from dadkhah.store import checked_database_url, current_revision, open_store
from dadkhah.workspace import create_workspace

sources_app = typer.Typer(help="Sources: where records came from.", no_args_is_help=True)
records_app = typer.Typer(help="Records: rows of sources, as given and as normalised.", no_args_is_help=True)


@handle_errors
def init(
    ctx: typer.Context,
    path: Annotated[Path | None, typer.Argument(help="Folder for the workspace (default: --workspace, $DADKHAH_WORKSPACE or here).")] = None,
    key_file: Annotated[Path | None, typer.Option("--key-file", help="Where to keep the keys, outside the workspace (default ~/.config/dadkhah/keys/).")] = None,
    passphrase: Annotated[bool, typer.Option("--passphrase", help="Protect the key file with a passphrase (asked, or $DADKHAH_PASSPHRASE).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a workspace and its keys (or bring an existing one up to date).

    Example: dadkhah init my-case --passphrase
    """
    from dadkhah.cli.vault import ask_passphrase
    from dadkhah.vault.keys import create_keys, workspace_id

    if database_url(ctx):  # a bad address is said before any folder is made
        checked_database_url(database_url(ctx))
    folder = Path(path or workspace_path(ctx) or Path.cwd()).expanduser()
    made = not folder.exists()
    workspace = create_workspace(folder, database_url=database_url(ctx))
    try:
        store = open_store(workspace, claim=True)
    except BaseException:
        if made:  # refused (another case's database, say): leave no half-made workspace behind
            shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        secret = ask_passphrase(confirm=True) if passphrase and not workspace_id(workspace) else None
        keys = create_keys(workspace, key_file=key_file, passphrase=secret)
        result = {
            "workspace": str(workspace.path),
            "database": store.engine.url.render_as_string(hide_password=True),
            "schema_revision": current_revision(store.engine),
            "keys": keys,
            "places_resolved": store.places_resolved,
        }
    finally:
        store.close()
    say_what_the_gazetteer_resolved(result["places_resolved"])
    if as_json:
        emit_json(result)
    else:
        out.print(f"Workspace ready at [bold]{escape(str(workspace.path))}[/] (database {escape(result['database'])}).",
                  markup=True)
        out.print(f"Keys: {keys['key_file']}{' (new)' if keys['created'] else ''}, signing key {keys['fingerprint']}. "
                  "Back the key file up apart from the workspace: without it nothing encrypted can be read.", markup=False)


@handle_errors
def import_(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The list: .csv, .xlsx, .json or .jsonl.")],
    source: Annotated[str, typer.Option("--source", help="Name of the source the list belongs to (created if new).")],
    format: Annotated[str | None, typer.Option("--format", help="csv, xlsx, json or jsonl (default: from the extension).")] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="auto, utf-8, utf-16 or cp1256.")] = "auto",
    mapping: Annotated[Path | None, typer.Option("--mapping", help="TOML file naming columns, calendars and date orders.")] = None,
    incident: Annotated[str | None, typer.Option("--incident", help="Incident the list is about (created if new).")] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Worksheet of an XLSX file (default: the first one not hidden).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Import a list of victims into a source: all rows or none; refused rows go to a quarantine report.

    Example: dadkhah import ngo-list.xlsx --source ngo-2019 --incident "1988 prison executions"
    """
    with opened_store(ctx) as store, progress_bar(f"importing {file.name}", unit="bytes") as progress:
        summary = import_file(
            store, file, actor=cli_actor(ctx), source=source, format=format, encoding=encoding, mapping=mapping,
            incident=incident, sheet=sheet, progress=progress,
        )
    if as_json:
        emit_json(summary.to_dict())
        return
    if summary.already_imported:
        err.print(f"{file} was already imported into {summary.source!r} (import {summary.import_id}); nothing added.")
        return
    out.print(
        f"[bold]{escape(summary.source)}[/]: {counted(summary.rows, 'row')}, {summary.imported:,} imported, "
        f"{summary.rejected:,} refused, {counted(summary.warning_count, 'warning')} ({summary.seconds:.1f} s).",
        markup=True,
    )
    for warning in summary.warnings[:10]:
        out.print(f"  line {warning['line']}, {warning['field']}: {warning['message']}", markup=False)
    if summary.warning_count > 10:
        out.print(f"  ... and {summary.warning_count - 10} more (dadkhah import --json lists them all)")
    unknown = {w["field"] for w in summary.warnings if w["field"] in ("city", "prison") and w["message"].startswith(UNKNOWN_PLACE)}
    for field in sorted(unknown):
        out.print(f"Spellings of a {field} that name no known place: `dadkhah places unknown --field {field}` lists "
                  f"them all, most given first, with the places each may be.", markup=False)
    if summary.quarantine:
        out.print(f"Refused rows, with reasons: {summary.quarantine}", markup=False)


@records_app.command("list")
@handle_errors
def records_list(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="At most this many (default: all with --json, 20 otherwise).")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many first.")] = 0,
    include_superseded: Annotated[bool, typer.Option("--include-superseded", help="Also older versions of corrected records.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List records with each field as given and as normalised.

    Example: dadkhah records list --source ngo-2019 --json
    """
    with opened_store(ctx) as store, store.session() as session:
        if as_json:
            emit_json_array(iter_records(session, source=source, include_superseded=include_superseded, limit=limit, offset=offset))
            return
        total = count_records(session, source=source, include_superseded=include_superseded)
        table = Table("source", "record", "line", "given", "family", "father", "death", "city", title=counted(total, "record"))
        for record in iter_records(session, source=source, include_superseded=include_superseded, limit=20 if limit is None else limit, offset=offset):
            def norm(field, record=record):
                value = record[field]
                return (value["normalized"] or value["original"] or "") if value else ""
            death = record["death_date"]
            city = record["city"]
            table.add_row(
                record["source"], record["record_id"], str(record["line"]), norm("given_name"), norm("family_name"),
                norm("father_name"),
                f"{death['earliest']} … {death['latest']}" if death and death["earliest"] else (death["original"] if death else ""),
                (city["name"] or city["original"]) if city else "",
            )
        out.print(table)


@sources_app.command("list")
@handle_errors
def sources_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List sources with how many records and imports each has.

    Example: dadkhah sources list --json
    """
    with opened_store(ctx) as store, store.session() as session:
        sources = list_sources(session)
    if as_json:
        emit_json(sources)
        return
    table = Table("source", "records", "imports", "producer", "grade", "obtained")
    for s in sources:
        grade = f"{s['reliability'] or '?'}{s['credibility'] or '?'}" if s["reliability"] or s["credibility"] else ""
        table.add_row(s["name"], str(s["records"]), str(s["imports"]), s["producer"] or "", grade, s["obtained_on"] or "")
    out.print(table)


@sources_app.command("add")
@handle_errors
def sources_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Source name (no colon).")],
    producer: Annotated[str | None, typer.Option("--producer", help="Who made the list.")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    obtained_on: Annotated[dt.datetime | None, typer.Option("--obtained-on", formats=["%Y-%m-%d"], help="Date obtained (YYYY-MM-DD).")] = None,
    reliability: Annotated[str | None, typer.Option("--reliability", help="Admiralty grade of the source, A-F.")] = None,
    credibility: Annotated[int | None, typer.Option("--credibility", help="Admiralty grade of its information, 1-6.")] = None,
    restrictions: Annotated[str | None, typer.Option("--restrictions", help="Conditions on use or sharing.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a source or describe an existing one (only the options given change).

    Example: dadkhah sources add ngo-2019 --producer "An NGO" --reliability B --credibility 2
    """
    with opened_store(ctx) as store:
        result = describe_source(
            store, name, actor=cli_actor(ctx), producer=producer, description=description,
            obtained_on=obtained_on.date() if obtained_on else None,
            reliability=reliability, credibility=credibility, restrictions=restrictions,
        )
    if as_json:
        emit_json(result)
    else:
        what = "added" if result["created"] else ("saved" if result["changed"] else "unchanged: nothing new was given")
        out.print(f"Source {result['name']} {what}.", markup=False, highlight=False)


@sources_app.command("set")
@handle_errors
def sources_set(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="SOURCE", help="The source's name.")],
    release: Annotated[str, typer.Option("--release", help="public (its records may be published) or restricted (never).")],
    as_json: JsonOption = False,
) -> None:
    """Say whether a source's records may be published (every source starts restricted).

    Example: dadkhah sources set ngo-2019 --release public
    """
    with opened_store(ctx) as store:
        result = set_release(store, name, release, actor=cli_actor(ctx))
    if as_json:
        emit_json(result)
    else:
        out.print(f"Source {result['name']} is {result['release']}" + ("" if result["changed"] else " (it already was)")
                  + ".", markup=False, highlight=False)
