"""Commands for reports."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from dadkhah.cli.common import JsonOption, emit_json, handle_errors, opened_store, out
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
