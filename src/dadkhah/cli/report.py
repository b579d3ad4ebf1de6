"""Commands for reports: the case at a glance, and the printed report of what may be published."""

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
from dadkhah.cli.common import out as console
from dadkhah.report.summary import case_summary

report_app = typer.Typer(help="Reports on the case.", no_args_is_help=True)


@report_app.command("summary")
@handle_errors
def report_summary(
    ctx: typer.Context,
    top_cities: Annotated[int, typer.Option("--top-cities", min=1, help="How many cities to show.")] = 40,
    as_json: JsonOption = False,
) -> None:
    """Records per source and per city, refused rows and warnings.

    Example: dadkhah report summary
    """
    with opened_store(ctx) as store, store.session() as session:
        summary = case_summary(session, top_cities=top_cities)
    if as_json:
        emit_json(summary)
        return
    title = f"{summary['records']:,} records in {len(summary['sources'])} sources"
    if summary["persons"]:
        title += f", linked into {summary['persons']:,} persons"
    sources = Table("source", "records", "persons", "imports", "refused rows", "warnings", title=title)
    for s in summary["sources"]:
        sources.add_row(s["name"], f"{s['records']:,}", f"{s['persons']:,}" if s["persons"] is not None else "",
                        str(s["imports"]), f"{s['rejected']:,}", f"{s['warnings']:,}")
    out.print(sources)
    cities = Table("city", "نام", "records", title=f"Records per city ({summary['distinct_cities']} cities resolved)")
    for c in summary["cities"]:
        cities.add_row(c["name"], c["name_fa"] or "", f"{c['records']:,}")
    out.print(cities)
    warnings = Table("field", "warnings", title="Warnings by field (records kept, value left empty)")
    for w in summary["warnings_by_field"]:
        warnings.add_row(w["field"], f"{w['warnings']:,}")
    out.print(warnings)
    if summary["incidents"]:
        incidents = Table("incident", "records", title="Records per incident")
        for i in summary["incidents"]:
            incidents.add_row(i["name"], f"{i['records']:,}")
        out.print(incidents)


@report_app.command("pdf")
@handle_errors
def report_pdf_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The PDF file to write (refused if it exists, unless --force).")],
    language: Annotated[str, typer.Option("--lang", help="fa (Persian, right to left) or en.")] = "fa",
    city: Annotated[str | None, typer.Option("--city", help="List only the victims of this city (a place id or name).")] = None,
    incident: Annotated[str | None, typer.Option("--incident", help="List only the victims of this incident (its name).")] = None,
    official: Annotated[str | None, typer.Option("--official", help="Print this official's dossier instead of the list (id or name).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Print a PDF report of what may be published: summary, estimate with chart, method, and the victims by city or an official's dossier.

    Example: dadkhah report pdf --out report-fa.pdf --lang fa --city Rasht
    """
    from dadkhah.publish.report import print_report

    with opened_store(ctx) as store, progress_bar("printing the report") as progress:
        result = print_report(store, out, actor=cli_actor(ctx), language=language, city=city, incident=incident,
                              official=official, overwrite=force, progress=progress)
    if as_json:
        emit_json(result)
        return
    what = f"the dossier of {result['official']}" if result["official"] else f"{result['persons']:,} victims"
    console.print(f"Wrote {result['out']}: {result['pages']:,} pages in {result['language']}, {what}, from "
              f"{len(result['sources'])} public sources.", markup=False, highlight=False)
    if not result["sources"]:
        err.print("No public source names anyone yet, so no victim is named: see "
                  "`dadkhah sources set SOURCE --release public`.", markup=False, highlight=False)
