"""Commands for the gazetteer."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    counted,
    emit_json,
    handle_errors,
    opened_store,
    out,
)
from dadkhah.places import add_place_alias, list_places, load_gazetteer

places_app = typer.Typer(help="The gazetteer: provinces, cities, prisons, cemeteries, grave sites.", no_args_is_help=True)


@places_app.command("list")
@handle_errors
def places_list(
    ctx: typer.Context,
    place_type: Annotated[str | None, typer.Option("--type", help="Only this type: province, city, prison, cemetery, mass_grave.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List places with all their names.

    Example: dadkhah places list --type prison
    """
    with opened_store(ctx) as store, store.session() as session:
        places = list_places(session, place_type=place_type)
    if as_json:
        emit_json(places)
        return
    table = Table("id", "type", "English", "Persian", "in", "other names")
    for p in places:
        others = [n for n in p["names"] if n not in (p["name_en"], p["name_fa"])]
        table.add_row(p["id"], p["type"], p["name_en"], p["name_fa"] or "", p["parent_id"] or "", ", ".join(others))
    out.print(table)


@places_app.command("add-alias")
@handle_errors
def places_add_alias(
    ctx: typer.Context,
    place_id: Annotated[str, typer.Argument(help="Place id, e.g. city:rasht (see `dadkhah places list`).")],
    alias: Annotated[str, typer.Argument(help="Another spelling of the place.")],
    as_json: JsonOption = False,
) -> None:
    """Teach the gazetteer another spelling of a place: later imports resolve it, and so do the
    records already imported with that spelling left unresolved.

    Example: dadkhah places add-alias city:rasht "Rasht-e Gilan"
    """
    with opened_store(ctx) as store:
        result = add_place_alias(store, place_id, alias, actor=cli_actor(ctx))
    if as_json:
        emit_json(result)
        return
    if not result["added"]:
        out.print(f"{alias!r} already named {result['place_id']}.", markup=False)
        return
    out.print(f"{alias!r} now names {result['place_id']}.", markup=False)
    for field, spellings in result["spellings_resolved"].items():
        others = {t: n for t, n in spellings.items() if t != result["alias"]}
        written = [f"{spellings[result['alias']]:,} written {result['alias']!r}"] if result["alias"] in spellings else []
        if others:
            read = ", ".join(f"{t!r} {n:,}" for t, n in others.items())
            written.append(f"{sum(others.values()):,} written in a spelling the gazetteer now reads as it ({read})")
        out.print(f"Resolved to it: {counted(result['records_resolved'][field], 'record')} whose {field} named no known "
                  f"place: {'; '.join(written)}. The next `link run` and estimates use them.", markup=False)


@places_app.command("unknown")
@handle_errors
def places_unknown(
    ctx: typer.Context,
    field: Annotated[str, typer.Option("--field", help="The records' city or prison.")] = "city",
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many spellings, most records first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Spellings the records give that name no known place, most records first, with the places each
    may be a typo of: teach the right ones with `places add-alias`.

    Example: dadkhah places unknown --field prison
    """
    from dadkhah.places import unknown_spellings

    with opened_store(ctx) as store, store.session() as session:
        found = unknown_spellings(session, field=field, limit=limit)
    if as_json:
        emit_json(found)
        return
    if not found["spellings"]:
        out.print(f"Every {field} the records give names a known place.", markup=False)
        return
    table = Table(field, "records", "close to")
    for row in found["unknown"]:
        table.add_row(row["spelling"], f"{row['records']:,}", ", ".join(f"{c['place_id']} ({c['name']})" for c in row["close"]))
    out.print(table)
    shown = len(found["unknown"])
    verb = "names" if found["spellings"] == 1 else "name"
    out.print(f"{counted(found['spellings'], 'spelling')} {verb} no known place, in {counted(found['records'], 'record')}"
              + (f" (the {shown} most frequent shown; --limit shows more)" if shown < found["spellings"] else "")
              + ". Teach one with `dadkhah places add-alias PLACE SPELLING`: the records with it resolve too.",
              markup=False)


@places_app.command("resolve")
@handle_errors
def places_resolve(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A place name as a list writes it.")],
    type_: Annotated[list[str] | None, typer.Option("--type", help="Types to try, in order (default: city, province).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show which place a name resolves to, as an import would.

    Example: dadkhah places resolve Resht
    """
    types = tuple(type_ or ("city", "province"))
    with opened_store(ctx) as store, store.session() as session:
        gazetteer = load_gazetteer(session)
        match = gazetteer.resolve(name, types)
        close = [] if match else gazetteer.close_to(name, types)
    result = {"name": name, "place_id": match.place_id if match else None, "type": match.type if match else None,
              "display": match.name if match else None, "how": match.how if match else None,
              "close": [{"place_id": m.place_id, "type": m.type, "display": m.name} for m in close]}
    if as_json:
        emit_json(result)
    elif match:
        out.print(f"{name} -> {match.place_id} ({match.name}, by {match.how})", markup=False)
    else:
        out.print(f"{name}: unknown" + (f"; close to {', '.join(f'{m.place_id} ({m.name})' for m in close)}"
                                         if close else ""), markup=False)
