"""Commands for who did what: importing accountability files, reviewing claims, and the questions
(institution charts, officials' dossiers, acts, sites, the network)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from dadkhah.accountability import (
    AUDIENCES,
    add_claim,
    import_accountability,
    institution_chart,
    list_acts,
    list_entities,
    review_claim,
    show_official,
    show_site,
)
from dadkhah.accountability.rows import FILES
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
from dadkhah.errors import InputError
from dadkhah.publish.network import export_graph
from dadkhah.registry.search import parse_one_day

accountability_app = typer.Typer(help="Who did what: import institutions, officials, acts and sites; review claims; "
                                      "export the network.", no_args_is_help=True)
institutions_app = typer.Typer(help="Institutions and who held posts in them.", no_args_is_help=True)
officials_app = typer.Typer(help="Officials: posts, acts, victims, status.", no_args_is_help=True)
acts_app = typer.Typer(help="Acts (executions, disappearances, …) and who is alleged to be involved.",
                       no_args_is_help=True)
sites_app = typer.Typer(help="Burial, execution and detention sites.", no_args_is_help=True)

AudienceOption = Annotated[str, typer.Option(
    "--audience", help="Whose view of sites' locations: public, team or investigators (exact coordinates of "
                       "city-only and hidden sites).")]


def _audience(audience: str) -> str:
    if audience not in AUDIENCES:
        raise InputError(f"must be one of {', '.join(AUDIENCES)}, not {audience!r}", field="audience")
    return audience


@accountability_app.command("import")
@handle_errors
def accountability_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A folder of CSV files (institutions.csv, officials.csv, posts.csv, "
                                              "acts.csv, …) or one .xlsx workbook with a sheet per file.")],
    source: Annotated[str, typer.Option("--source", help="The source the rows cite when they name none.")],
    as_json: JsonOption = False,
) -> None:
    """Import institutions, officials, posts, acts, involvements, statuses, sites and burials.

    Example: dadkhah accountability import case/accountability --source synthetic-report
    """
    with opened_store(ctx) as store, progress_bar(f"reading {path.name}", unit="rows") as progress:
        summary = import_accountability(store, path, actor=cli_actor(ctx), source=source, progress=progress)
    if as_json:
        emit_json(summary.to_dict())
        return
    if summary.already_imported:
        err.print(f"{path} was already imported for {summary.source!r} (import {summary.import_id}); nothing added.",
                  markup=False)
        return
    table = Table("file", "rows", "imported", "refused", title=f"{summary.source}: {summary.rows:,} rows")
    for name, counts in summary.files.items():
        table.add_row(name, f"{counts['rows']:,}", f"{counts['imported']:,}", f"{counts['rejected']:,}")
    out.print(table)
    claims = summary.claims
    out.print(f"{claims['added']:,} claims added, {claims['corroborated']:,} corroborated, "
              f"{claims['superseded']:,} superseded by corrections, {claims['conflicts']:,} in conflict "
              f"({summary.seconds:.1f} s).", markup=False)
    for warning in summary.warnings[:10]:
        where = ", ".join(str(x) for x in (warning["file"], warning.get("line"), warning.get("field")) if x)
        out.print(f"  {where}: {warning['message']}", markup=False)
    if len(summary.warnings) > 10:
        out.print(f"  ... and {len(summary.warnings) - 10} more (--json lists them all)")
    for name, report in summary.quarantine.items():
        out.print(f"Refused rows of {name}, with reasons: {report}", markup=False)


@accountability_app.command("add")
@handle_errors
def accountability_add(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="Which kind of row: " + ", ".join(FILES) + ".")],
    cells: Annotated[list[str], typer.Option("--cell", help="A column and its value, as COLUMN=VALUE (repeat).")],
    source: Annotated[str | None, typer.Option("--source", help="The source the row cites (or a source= cell).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Add one row's claims, read exactly as an import reads that file's rows.

    Example: dadkhah accountability add posts --cell official_id=O-000001 --cell institution_id=I-000002 --cell role=judge --cell from=1988 --source field-notes
    """
    row = {}
    for cell in cells:
        column, equals, value = cell.partition("=")
        if not equals or not column.strip():
            raise InputError(f"{cell!r} is not COLUMN=VALUE", field="cells")
        row[column.strip()] = value
    with opened_store(ctx) as store:
        result = add_claim(store, file, row, actor=cli_actor(ctx), source=source)
    if as_json:
        emit_json(result)
        return
    if result["claims"]:
        out.print(f"Added {', '.join(result['claims'])}.", markup=False)
    if result["held"]:
        cited = "this citation was added to it" if result["corroborated"] else "it cites this already"
        out.print(f"Held already, saying the same: {', '.join(result['held'])} ({cited}).", markup=False)
    for warning in result["warnings"]:
        out.print(f"  {warning['field']}: {warning['message']}", markup=False)


@accountability_app.command("review")
@handle_errors
def accountability_review(
    ctx: typer.Context,
    claim: Annotated[str, typer.Argument(help="The claim's id, e.g. C-000123.")],
    status: Annotated[str, typer.Option("--status", help="accepted, conflict or work-needed.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the decision).")],
    as_json: JsonOption = False,
) -> None:
    """Set a claim's review status, with the reason.

    Example: dadkhah accountability review C-000123 --status accepted --reason "matches the court record"
    """
    with opened_store(ctx) as store:
        result = review_claim(store, claim, status=status, reason=reason, actor=cli_actor(ctx))
    if as_json:
        emit_json(result)
    else:
        out.print(f"{result['claim']}: {result['previous']} → {result['review_status']}.", markup=False)


@accountability_app.command("graph")
@handle_errors
def accountability_graph(
    ctx: typer.Context,
    out_path: Annotated[Path, typer.Option("--out", help="File to write (refused if it exists, unless --force).")],
    format_: Annotated[str | None, typer.Option(
        "--format", help="graphml or json (default: from the file's extension, else graphml).")] = None,
    audience: Annotated[str, typer.Option(
        "--audience", help="team (every current claim, whatever its review or source), investigators (the same, "
                           "with every site's coordinates) or public (only what may be published).")] = "team",
    overwrite: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Export the network of officials, institutions, acts, victims and sites for analysts' tools.

    Example: dadkhah accountability graph --out network.graphml --audience public
    """
    with opened_store(ctx) as store:
        result = export_graph(store, out_path, actor=cli_actor(ctx), format=format_, audience=_audience(audience),
                              overwrite=overwrite)
    if as_json:
        emit_json(result)
    else:
        out.print(f"{result['nodes']:,} nodes and {result['edges']:,} edges written to {result['out']}.",
                  markup=False)


def _names(item: dict) -> str:
    return " / ".join(n for n in (item.get("name"), item.get("name_fa")) if n) or ""


def _citations(claim: dict) -> str:
    parts = []
    for c in claim.get("citations", []):
        parts.append(" ".join(str(x) for x in (c["source"], c.get("locator"), c.get("testimony"), c.get("evidence"))
                              if x))
    return "; ".join(parts)


def _interval(value: dict | None) -> str:
    return value["original"] if value else "?"


def _list(kind: str):
    def command(
        ctx: typer.Context,
        query: Annotated[str | None, typer.Option("--name", help="Find by a name in either script, or an id.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
        offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many first.")] = 0,
        as_json: JsonOption = False,
    ) -> None:
        with opened_store(ctx) as store, store.session() as session:
            result = list_entities(session, kind, query=query, limit=limit, offset=offset)
        if as_json:
            emit_json(result)
            return
        table = Table("id", "files' id", "name", "kind", title=f"{result['total']:,} {kind}s")
        for item in result["items"]:
            table.add_row(item["id"], item["external_id"] or "", _names(item), item["category"] or "")
        out.print(table)

    command.__doc__ = f"List {kind}s, or find them by name.\n\n    Example: dadkhah {kind}s list --name Tehran\n    "
    return handle_errors(command)


institutions_app.command("list")(_list("institution"))
officials_app.command("list")(_list("official"))
sites_app.command("list")(_list("site"))


@institutions_app.command("chart")
@handle_errors
def institutions_chart(
    ctx: typer.Context,
    institution: Annotated[str, typer.Argument(help="Registry id (I-000001), the files' id, or a name.")],
    on: Annotated[str, typer.Option("--on", help="The date (Gregorian YYYY-MM-DD or Jalali 1367/05/08).")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show at most this many posts.")] = 200,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many posts first.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Who held which post in an institution and its sub-units on a date, with the citations.

    Example: dadkhah institutions chart I-000002 --on 1988-08-15
    """
    day = parse_day(on, field="on")
    with opened_store(ctx) as store, store.session() as session:
        chart = institution_chart(session, institution, on=day, limit=limit, offset=offset)
    if as_json:
        emit_json(chart)
        return
    table = Table("unit", "official", "role", "from", "to", "on the day", "status", "citations",
                  title=f"{_names(chart['institution'])} on {chart['on']}")
    for unit in chart["units"]:
        for post in unit["posts"] or [None]:
            unit_name = "  " * unit["depth"] + (_names(unit) or unit["id"])
            if post is None:
                table.add_row(unit_name, "", "", "", "", "", "", "")
                continue
            table.add_row(unit_name, f"{post['official']['id']} {_names(post['official'])}", post["role"],
                          _interval(post["from"]), _interval(post["to"]) if post["to"] else "",
                          post["on_date"], post["review_status"], _citations(post))
    out.print(table)
    if chart["posts"] > chart["shown"]:
        out.print(f"  {chart['shown']:,} of {chart['posts']:,} posts shown (--offset, --limit, or --json)", markup=False)


@officials_app.command("show")
@handle_errors
def officials_show(
    ctx: typer.Context,
    official: Annotated[str, typer.Argument(help="Registry id (O-000001), the files' id, or a name.")],
    acts_limit: Annotated[int, typer.Option("--acts-limit", min=0, help="Show at most this many acts.")] = 20,
    acts_offset: Annotated[int, typer.Option("--acts-offset", min=0, help="Skip this many acts first.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """An official's posts over time, acts with degree and likelihood, victims, status and later posts.

    Example: dadkhah officials show O-000001 --json
    """
    with opened_store(ctx) as store, store.session() as session:
        dossier = show_official(session, official, acts_limit=acts_limit, acts_offset=acts_offset)
    if as_json:
        emit_json(dossier)
        return
    person = dossier["official"]
    out.print(f"[bold]{person['id']}[/] {escape(_names(person))}" + (f" (also {escape(', '.join(person['aliases']))})"
                                                                if person["aliases"] else ""), markup=True)
    posts = Table("from", "to", "role", "institution", "status", "citations", title="Posts")
    later = {p["claim"] for p in dossier["later_posts"]}
    for post in dossier["posts"]:
        role = post["role"] + (" (after the acts)" if post["claim"] in later else "")
        posts.add_row(_interval(post["from"]), _interval(post["to"]) if post["to"] else "", role,
                      f"{post['institution']['id']} {_names(post['institution'])}", post["review_status"],
                      _citations(post))
    out.print(posts)
    victims = dossier["victims"]
    acts = Table("act", "type", "date", "degree", "likelihood", "victims", "status",
                 title=f"Acts: {dossier['acts_total']:,} ({victims['named_total']:,} named victims, "
                       f"{victims['unnamed_total']:,} unnamed)")
    for act in dossier["acts"]:
        claim = act["claims"][0] if act["claims"] else {}
        for involvement in act["involvement"]:
            acts.add_row(act["id"], act["type"] or "", _interval(claim.get("date")), involvement["degree"],
                         involvement.get("likelihood", ""), str(len(claim.get("victims", [])) +
                                                                claim.get("unnamed_victims", 0)),
                         involvement["review_status"])
    out.print(acts)
    if dossier["acts_total"] > len(dossier["acts"]):
        out.print(f"  ... {dossier['acts_total'] - len(dossier['acts']) - acts_offset:,} more "
                  "(--acts-offset, --acts-limit, or --json)")
    for status in dossier["status"]:
        out.print(f"Status: {status['status']} on {_interval(status['observed_on'])} ({_citations(status)})",
                  markup=False)


@acts_app.command("list")
@handle_errors
def acts_list(
    ctx: typer.Context,
    official: Annotated[str | None, typer.Option("--official", help="Acts this official is alleged to be involved in.")] = None,
    institution: Annotated[str | None, typer.Option("--institution", help="Acts this institution is alleged to be involved in.")] = None,
    person: Annotated[str | None, typer.Option("--person", help="Acts naming this person (P-000123) among the victims.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Acts whose victims are claimed to lie at this site.")] = None,
    act_type: Annotated[str | None, typer.Option("--type", help="Only acts of this type (execution, torture, …).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many first.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Acts matching every filter given, with victims and who is alleged to be involved.

    Example: dadkhah acts list --official O-000001 --type execution
    """
    with opened_store(ctx) as store, store.session() as session:
        result = list_acts(session, official=official, institution=institution, person=person, site=site,
                           act_type=act_type, limit=limit, offset=offset)
    if as_json:
        emit_json(result)
        return
    table = Table("act", "type", "date", "place", "victims", "involved", "status", title=f"{result['total']:,} acts")
    for act in result["acts"]:
        for claim in act["claims"]:
            named = ", ".join(v.get("person") or v.get("record") or "" for v in claim["victims"])
            if claim["unnamed_victims"]:
                named += f" (+{claim['unnamed_victims']} unnamed)"
            involved = "; ".join(f"{i['actor']['id']} {i['degree']} ({i.get('likelihood', '')})"
                                 for i in act["involvements"])
            table.add_row(act["id"], act["type"] or "", _interval(claim.get("date")), claim.get("place") or "", named,
                          involved, claim["review_status"])
    out.print(table)


@sites_app.command("show")
@handle_errors
def sites_show(
    ctx: typer.Context,
    site: Annotated[str, typer.Argument(help="Registry id (S-000001), the files' id, or a name.")],
    audience: AudienceOption = "team",
    as_json: JsonOption = False,
) -> None:
    """A site: certainty, location as its publication policy allows, status history, burial claims.

    Example: dadkhah sites show S-000001 --audience investigators
    """
    with opened_store(ctx) as store, store.session() as session:
        result = show_site(session, site, audience=_audience(audience))
    if as_json:
        emit_json(result)
        return
    location = result["location"]
    where = location.get("place") or ""
    if "latitude" in location:
        where += f" ({location['latitude']}, {location['longitude']})"
    if location.get("withheld"):
        where += f" [{location['withheld']} withheld: publication {location['publication']}]"
    out.print(f"[bold]{result['id']}[/] {escape(_names(result))}: {result['kind']}, {', '.join(result['certainty'])}",
              highlight=False, markup=True)
    out.print(f"Location: {where.strip()}", markup=False)
    history = Table("observed", "status", "method", "review", "citations", title="Status over time")
    for item in result["status_history"]:
        history.add_row(_interval(item.get("from")), item["value"], (item.get("data") or {}).get("method", ""),
                        item["review_status"], _citations(item))
    out.print(history)
    burials = Table("victim", "likelihood", "review", "citations",
                    title=f"Burial claims: {result['burials_total']:,}")
    for item in result["burials"]:
        victim = item.get("victim") or {}
        burials.add_row(victim.get("person") or victim.get("record") or "", item.get("likelihood", ""),
                        item["review_status"], _citations(item))
    out.print(burials)


def parse_day(text: str, *, field: str) -> dt.date:
    day = parse_one_day(text, field=field)
    if day is None:
        raise InputError("is required", field=field)
    return day
