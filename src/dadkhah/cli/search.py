"""``dadkhah persons search``: the registry's search at the command line, best match first, each hit
saying which of the person's names the query matched (the web's persons page does the same search)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Column, Table

from dadkhah.cli.common import JsonOption, emit_json, handle_errors, opened_store, out
from dadkhah.cli.link import persons_app


@handle_errors
def persons_search(
    ctx: typer.Context,
    query: Annotated[str | None, typer.Argument(metavar="QUERY", help="Names in Persian or Latin script, or a person id (P-000123).")] = None,
    city: Annotated[str | None, typer.Option("--city", help="Only persons of this city (its place id, e.g. city:rasht).")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Only persons named in this source.")] = None,
    death_from: Annotated[str | None, typer.Option("--death-from", help="Died on or after (ISO or Jalali date, e.g. 1367/05/01).")] = None,
    death_to: Annotated[str | None, typer.Option("--death-to", help="Died on or before (ISO or Jalali date).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many hits.")] = 20,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many hits first (the next page).")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Search persons by name in either script (best match first: the full name, then the given or
    family name, other names, the father's name), by id, city, source and death dates.

    Example: dadkhah persons search "Mohammad Rezaei" --city city:tehran --json
    """
    from dadkhah.registry.search import find_persons, parse_search_date

    start = parse_search_date(death_from, field="death_from", end=False)
    end = parse_search_date(death_to, field="death_to", end=True)
    with opened_store(ctx) as store:
        found = find_persons(store, query=query, city=city, source=source, death_from=start, death_to=end,
                             limit=limit, offset=offset)
    if as_json:
        emit_json(found)
        return
    table = Table(Column("person", no_wrap=True), "name", Column("matched", no_wrap=True), "city", "death",
                  Column("records", justify="right"), "sources")
    for hit in found["hits"]:
        names = " / ".join(n for n in (hit["name_fa"], hit["name_latin"]) if n)
        death = hit["death_earliest"] or ""
        if hit["death_latest"] and hit["death_latest"] != hit["death_earliest"]:
            death += f" – {hit['death_latest']}"
        table.add_row(hit["person_id"], names, hit["matched"] or "", (hit["city"] or {}).get("name_en") or "", death,
                      str(hit["records"]), ", ".join(hit["sources"]))
    out.print(table)
    if not found["hits"]:
        out.print("No person matches.", markup=False)
    elif found["has_next"]:
        out.print(f"More: --offset {offset + limit}", markup=False)


persons_app.command("search")(persons_search)
