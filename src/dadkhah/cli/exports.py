"""Standard exports of what may be published: persons, records and acts as CSV or XLSX, the
accountability record as Popolo JSON, and Uwazi's CSV import. Registered on ``dadkhah export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    emit_json,
    handle_errors,
    opened_store,
    progress_bar,
)
from dadkhah.cli.common import out as console
from dadkhah.cli.vault import export_app
from dadkhah.publish.exports import export_table
from dadkhah.publish.popolo import export_popolo
from dadkhah.publish.uwazi import export_uwazi

ForceOption = Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")]
FormatOption = Annotated[str | None, typer.Option(
    "--format", help="csv or xlsx (default: from the file's extension, else csv).")]


def _table(ctx: typer.Context, table: str, out: Path, format: str | None, overwrite: bool,
           as_json: bool) -> None:
    with opened_store(ctx) as store, progress_bar(f"writing {table}", unit="persons") as progress:
        result = export_table(store, out, table=table, format=format, actor=cli_actor(ctx),
                              overwrite=overwrite, progress=progress)
    if as_json:
        emit_json(result)
    else:
        console.print(f"{result['rows']:,} rows of published {table} written to {result['out']} ({result['format']}, "
                  f"SHA-256 {result['sha256']}).", markup=False)


@handle_errors
def export_persons_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The file to write (.csv or .xlsx).")],
    format: FormatOption = None,
    overwrite: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """The published persons, one row each: names in both scripts, dates, places, sources, acts, graves.

    Example: dadkhah export persons --out persons.xlsx --format xlsx
    """
    _table(ctx, "persons", out, format, overwrite, as_json)


@handle_errors
def export_records_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The file to write (.csv or .xlsx).")],
    format: FormatOption = None,
    overwrite: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """The public sources' records of the published persons, one row each, published fields only.

    Example: dadkhah export records --out records.csv
    """
    _table(ctx, "records", out, format, overwrite, as_json)


@handle_errors
def export_acts_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The file to write (.csv or .xlsx).")],
    format: FormatOption = None,
    overwrite: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """The published acts, one row per accepted public account, with who is alleged to have taken part.

    Example: dadkhah export acts --out acts.csv --format csv
    """
    _table(ctx, "acts", out, format, overwrite, as_json)


@handle_errors
def export_popolo_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The JSON file to write.")],
    overwrite: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Officials, institutions, posts, memberships and acts (as events) in Popolo JSON, each with its claims.

    Example: dadkhah export popolo --out popolo.json
    """
    with opened_store(ctx) as store:
        result = export_popolo(store, out, actor=cli_actor(ctx), overwrite=overwrite)
    if as_json:
        emit_json(result)
    else:
        console.print(f"Popolo JSON written to {result['out']}: {result['persons']:,} officials, "
                  f"{result['organizations']:,} institutions, {result['posts']:,} posts, "
                  f"{result['memberships']:,} memberships, {result['events']:,} acts (SHA-256 {result['sha256']}).",
                  markup=False)


@handle_errors
def export_uwazi_command(
    ctx: typer.Context,
    template: Annotated[str, typer.Option("--template", help="persons, acts or officials.")],
    out: Annotated[Path, typer.Option("--out", help="The .zip file to write.")],
    overwrite: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """A zip for Uwazi's CSV import (import.csv, an attachment per row, template.json) of one template.

    Example: dadkhah export uwazi --template acts --out acts-uwazi.zip
    """
    with opened_store(ctx) as store, progress_bar(f"writing {template}", unit="rows") as progress:
        result = export_uwazi(store, out, template=template, actor=cli_actor(ctx), overwrite=overwrite,
                              progress=progress)
    if as_json:
        emit_json(result)
    else:
        console.print(f"{result['rows']:,} {template} written to {result['out']} for Uwazi's CSV import "
                  f"(SHA-256 {result['sha256']}).", markup=False)


export_app.command("persons")(export_persons_command)
export_app.command("records")(export_records_command)
export_app.command("acts")(export_acts_command)
export_app.command("popolo")(export_popolo_command)
export_app.command("uwazi")(export_uwazi_command)
