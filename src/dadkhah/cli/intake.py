"""Commands for intake from field tools: ODK Central and KoboToolbox exports, files shared from Tella."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    emit_json,
    err,
    handle_errors,
    opened_store,
    out,
    progress_bar,
)
from dadkhah.cli.vault import unlocked
from dadkhah.vault.evidence import DEFAULT_RELEASE
from dadkhah.vault.intake import IntakeSummary, intake_kobo, intake_odk, intake_tella, list_intakes

intake_app = typer.Typer(help="Intake from field tools: ODK Central, KoboToolbox and Tella exports, taken in once.",
                         no_args_is_help=True)

MappingOption = Annotated[Path, typer.Option("--mapping", help="TOML file: which answers become a testimony, "
                                                               "evidence and a victim record (see the interchange guide).")]
SourceOption = Annotated[str | None, typer.Option("--source", help="Source the records and evidence belong to "
                                                                   "(default: the mapping's, else TOOL-FORM).")]
IncidentOption = Annotated[str | None, typer.Option("--incident", help="Incident the victim records are about (created if new).")]


def _render(summary: IntakeSummary, as_json: bool) -> None:
    if as_json:
        emit_json(summary.to_dict())
        return
    for warning in summary.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    if summary.nothing_new:
        err.print(f"{summary.file}: nothing new: all {summary.rows} submissions were taken in before "
                  f"(intake {summary.intake_id}); nothing added.", markup=False, highlight=False)
        return
    out.print(f"{summary.file}: {summary.rows} submissions, {summary.imported} taken in, {summary.already_held} "
              f"taken in before, {summary.rejected} refused ({summary.seconds:.1f} s).", markup=False)
    made = []
    if summary.testimonies:
        made.append(f"testimonies {', '.join(summary.testimonies)}")
    if summary.evidence:
        made.append(f"evidence {', '.join(summary.evidence)}")
    if summary.records:
        made.append(f"{summary.records} victim records in {summary.source!r} (import {summary.import_id})")
    if made:
        out.print("  " + "; ".join(made) + ".", markup=False)
    if summary.record_warnings:
        out.print(f"  {len(summary.record_warnings)} warnings on the victim records (--json lists them).", markup=False)
    for rejection in summary.rejections[:10]:
        out.print(f"  line {rejection['line']}: {rejection['reason']}", markup=False)
    if len(summary.rejections) > 10:
        out.print(f"  ... and {len(summary.rejections) - 10} more (the quarantine report lists them all)")
    if summary.quarantine:
        out.print(f"Refused submissions, with reasons: {summary.quarantine}", markup=False)


@intake_app.command("odk")
@handle_errors
def intake_odk_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="ZIP", help="ODK Central's submissions download (CSV files and media/).")],
    mapping: MappingOption,
    source: SourceOption = None,
    incident: IncidentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take in an ODK Central submissions ZIP: each submission once, all of the file or none of it.

    Example: dadkhah intake odk witness_statement.zip --mapping odk-witness.toml --source field-team-2024
    """
    with unlocked(ctx) as (store, keys), progress_bar(f"taking in {file.name}") as progress:
        summary = intake_odk(store, keys, file, actor=cli_actor(ctx), mapping=mapping, source=source,
                             incident=incident, progress=progress)
    _render(summary, as_json)


@intake_app.command("kobo")
@handle_errors
def intake_kobo_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE.json", help="KoboToolbox's data JSON (the API's answer, or a list).")],
    mapping: MappingOption,
    attachments: Annotated[Path | None, typer.Option("--attachments", help="Folder holding the submissions' "
                                                                           "files (default: the JSON file's folder).")] = None,
    source: SourceOption = None,
    incident: IncidentOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take in KoboToolbox's data JSON with its attached files: each submission once, all or none.

    Example: dadkhah intake kobo data.json --mapping kobo-witness.toml --attachments ./attachments
    """
    with unlocked(ctx) as (store, keys), progress_bar(f"taking in {file.name}") as progress:
        summary = intake_kobo(store, keys, file, actor=cli_actor(ctx), mapping=mapping, attachments=attachments,
                              source=source, incident=incident, progress=progress)
    _render(summary, as_json)


@intake_app.command("tella")
@handle_errors
def intake_tella_command(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Argument(metavar="FOLDER", help="Files shared from Tella with their verification information.")],
    source: SourceOption = None,
    description: Annotated[str | None, typer.Option("--description", help="What the files show (stored in clear).")] = None,
    release: Annotated[str, typer.Option("--release", help="Who case files may carry them to: investigators,courts,public.")] = ",".join(DEFAULT_RELEASE),
    as_json: JsonOption = False,
) -> None:
    """Take in files shared from Tella: each file whose SHA-256 matches Tella's record becomes evidence.

    Example: dadkhah intake tella ~/tella-shared --source field-team-2024 --description "Evin, north wall"
    """
    with unlocked(ctx) as (store, keys), progress_bar(f"taking in {folder.name}") as progress:
        summary = intake_tella(store, keys, folder, actor=cli_actor(ctx), source=source, description=description,
                               release=release, progress=progress)
    _render(summary, as_json)


@intake_app.command("list")
@handle_errors
def intake_list_command(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="At most this many (newest first).")] = None,
    as_json: JsonOption = False,
) -> None:
    """The intakes so far, newest first, with what each took in and refused.

    Example: dadkhah intake list --json
    """
    with opened_store(ctx) as store, store.session() as session:
        intakes = list_intakes(session, limit=limit)
    if as_json:
        emit_json(intakes)
        return
    table = Table("id", "tool", "form", "file", "rows", "taken in", "before", "refused", "source", "when")
    for i in intakes:
        table.add_row(str(i["id"]), i["tool"], i["form_id"] or "", i["file"], str(i["rows"]), str(i["imported"]),
                      str(i["already_held"]), str(i["rejected"]), i["source"] or "", (i["started_at"] or "")[:19])
    out.print(table)
