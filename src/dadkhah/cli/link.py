"""Commands for linkage, persons and review."""

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
from dadkhah.errors import InputError
from dadkhah.link import DEFAULT_REVIEW_BAND, DEFAULT_THRESHOLD
from dadkhah.link.review import decide, list_decisions, review_queue
from dadkhah.registry.persons import (
    describe_person,
    export_registry,
    list_persons,
    release_person,
    withhold_person,
)

link_app = typer.Typer(help="Linkage: one registry of persons from many lists.", no_args_is_help=True)
persons_app = typer.Typer(help="Persons: the registry, with stable ids.", no_args_is_help=True)
review_app = typer.Typer(help="Review: uncertain pairs and binding decisions.", no_args_is_help=True)


def _band(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise InputError(f"takes two probabilities, LOW,HIGH (e.g. 0.5,0.95), not {text!r}", field="review_band") from None
    return low, high


@link_app.command("run")
@handle_errors
def link_run(
    ctx: typer.Context,
    threshold: Annotated[float, typer.Option("--threshold", help="Match probability at which two records are linked.")] = DEFAULT_THRESHOLD,
    review_band: Annotated[str, typer.Option("--review-band", help="LOW,HIGH: pairs scored in this band go to review.")] = ",".join(map(str, DEFAULT_REVIEW_BAND)),
    engine: Annotated[str, typer.Option("--engine", help="duckdb (one machine) or spark (a cluster, or local Spark).")] = "duckdb",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random sampling in training (same seed, same model).")] = 1988,
    retrain: Annotated[bool, typer.Option("--retrain", help="Train the model again even if the records' make-up has not changed.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Link every current record into persons, keeping existing person ids and obeying every decision.

    The model trained by an earlier run is used again while the records keep much the same make-up;
    the output says whether this run trained it, and why.

    Example: dadkhah link run --threshold 0.8 --json
    """
    from dadkhah.link.run import run_linkage  # the engine (Splink, DuckDB, Arrow) only when linking

    band = _band(review_band)
    with opened_store(ctx) as store, progress_bar("linking") as progress:
        summary = run_linkage(store, actor=cli_actor(ctx), threshold=threshold, review_band=band, engine=engine,
                              seed=seed, retrain=retrain, progress=lambda done, total, what: progress(done, total))
    if as_json:
        emit_json(summary.to_dict())
        return
    out.print(
        f"[bold]{summary.records:,}[/] records -> [bold]{summary.persons:,}[/] persons "
        f"({summary.pairs_planned:,} pairs compared, {summary.pairs_linked:,} links, "
        f"{summary.pairs_for_review:,} pairs for review) in {summary.seconds:.1f} s.",
        markup=True,
    )
    out.print(f"Persons: {summary.created:,} new, {summary.merged:,} merged, {summary.split:,} split, {summary.unchanged:,} unchanged.")
    training = summary.training
    if training["retrained"]:
        out.print(f"Model: trained in this run ({training['reason']}).", markup=False)
    else:
        out.print(f"Model: the one run {training['trained_in_run']} trained, used again: {training['reason']}. "
                  "`--retrain` trains it anew.", markup=False)
    reused = summary.reused
    if reused.get("features_of_records") or reused.get("search_index_updated_for") is not None:
        index = reused.get("search_index_updated_for")
        pairs = ("" if reused.get("pairs") is None else
                 f"; the {reused['pairs']:,} pairs its rules made among records still current (the new records made "
                 f"{reused['pairs_made_for_new_records']:,} more)")
        out.print(f"Reused from the previous run: what {reused['features_of_records']:,} records offer for comparison{pairs}"
                  + (f"; the search index was updated for the {index:,} persons whose records changed." if index is not None
                     else "; the search index was rebuilt."), markup=False)
    for note in summary.training_notes:
        out.print(f"Note: {note}.", markup=False)
    if summary.pairs_for_review:
        out.print(f"Review the uncertain pairs with `dadkhah review list`: by the run's own reckoning (the model's "
                  f"probabilities, and the persons' other links) about {summary.review_expected_changes:,.0f} of the "
                  f"{summary.pairs_for_review:,} decisions would change the registry; the team's decisions will "
                  "correct that.", markup=False)


@link_app.command("evaluate")
@handle_errors
def link_evaluate(
    ctx: typer.Context,
    truth: Annotated[Path, typer.Option("--truth", help="CSV with source,record_id,person_id (e.g. a synthetic case's truth.csv).")],
    as_json: JsonOption = False,
) -> None:
    """Score the current persons against known truth: pairwise and cluster metrics.

    Example: dadkhah link evaluate --truth case/truth.csv --json
    """
    from dadkhah.link.run import evaluate_linkage

    with opened_store(ctx) as store:
        result = evaluate_linkage(store, truth)
    if as_json:
        emit_json(result)
        return
    table = Table("metric", "precision", "recall", "F1", title=f"{result['records']:,} records: {result['clusters']:,} persons found, {result['persons']:,} true")
    for name in ("pairwise", "bcubed"):
        m = result[name]
        table.add_row(name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}")
    out.print(table)
    out.print(f"Persons reconstructed exactly: {result['exact_clusters']:.1%}")
    for warning in result["warnings"]:
        err.print(f"warning: {warning}", markup=False, highlight=False)


@persons_app.command("show")
@handle_errors
def persons_show(
    ctx: typer.Context,
    person_id: Annotated[str, typer.Argument(help="Person id, e.g. P-000123.")],
    as_json: JsonOption = False,
) -> None:
    """One person: every record that names them, each attribute with its sources, conflicts shown.

    Example: dadkhah persons show P-000123 --json
    """
    with opened_store(ctx) as store, store.session() as session:
        person = describe_person(session, person_id)
        if person["status"] != "merged":
            # who is alleged to be involved in acts against the person, where the person may lie
            from dadkhah.accountability import person_accountability  # only for `persons show`
            person["accountability"] = person_accountability(session, person["person_id"], audience="team")
    if as_json:
        emit_json(person)
        return
    if person["status"] == "merged":
        out.print(f"{person['person_id']} was merged into {person['merged_into']}.")
        return
    out.print(f"[bold]{person['person_id']}[/] — {len(person['records'])} records in {len(person['sources'])} sources", markup=True)
    if person["withheld"]:
        held = person["withheld"]
        inherited = f" (as {held['as']}, whose records it holds)" if held.get("as") != person["person_id"] else ""
        err.print(f"Withheld from publication{inherited} since {held['at'][:10]} by {held['by']}: {held['reason']}",
                  markup=False, highlight=False)
    table = Table("attribute", "value", "records", "conflict")
    for name, attribute in person["attributes"].items():
        for i, value in enumerate(attribute["values"]):
            shown = value.get("value") or f"{value.get('earliest')} … {value.get('latest')}"
            if value.get("name"):
                shown = f"{value['name']} ({shown})"
            table.add_row(name if i == 0 else "", str(shown), ", ".join(value["records"]), "yes" if attribute["conflict"] and i == 0 else "")
    out.print(table)
    for event in person["events"]:
        out.print(f"  {event['at'][:19]} {event['kind']} {event['person_id']} {event['other_person_id'] or ''}", markup=False)
    for act in person["accountability"]["acts"]:
        involved = "; ".join(f"{i['actor']['id']} {i['actor']['name'] or i['actor']['name_fa'] or ''} {i['degree']} "
                             f"({i.get('likelihood', '')})" for i in act["involvements"])
        date = (act["claims"][0].get("date") or {}).get("original", "?") if act["claims"] else "?"
        out.print(f"Act {act['id']} {act['type'] or ''} {date}: {involved or 'no one named'}", markup=False)
    for burial in person["accountability"]["burials"]:
        site = burial["site"]
        where = site["location"].get("place") or f"location withheld ({site['location']['publication']})"
        out.print(f"May lie at {site['id']} {site['name'] or site['name_fa'] or ''}, {where} "
                  f"({burial.get('likelihood', '')}, {burial['review_status']})", markup=False)


@persons_app.command("withhold")
@handle_errors
def persons_withhold(
    ctx: typer.Context,
    person_id: Annotated[str, typer.Argument(help="Person id, e.g. P-000123.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (for the team; never published).")],
    as_json: JsonOption = False,
) -> None:
    """Keep a person out of everything published (the memorial, printed reports), e.g. at the family's request.

    Example: dadkhah persons withhold P-000123 --reason "the family asked, 2026-12-01"
    """
    with opened_store(ctx) as store:
        result = withhold_person(store, person_id, actor=cli_actor(ctx), reason=reason)
    emit_json(result) if as_json else out.print(f"{result['person_id']} is withheld from publication.")


@persons_app.command("release")
@handle_errors
def persons_release(
    ctx: typer.Context,
    person_id: Annotated[str, typer.Argument(help="Person id, e.g. P-000123.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why (for the team; never published).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Let a withheld person be published again.

    Example: dadkhah persons release P-000123 --reason "the family agreed"
    """
    with opened_store(ctx) as store:
        result = release_person(store, person_id, actor=cli_actor(ctx), reason=reason)
    emit_json(result) if as_json else out.print(f"{result['person_id']} may be published again.")


@persons_app.command("list")
@handle_errors
def persons_list(
    ctx: typer.Context,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="At most this many (default: all with --json, 20 otherwise).")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """Persons with how many records and sources name each.

    Example: dadkhah persons list --limit 50
    """
    with opened_store(ctx) as store, store.session() as session:
        persons = list_persons(session, limit=limit if (limit is not None or as_json) else 20, offset=offset)
    if as_json:
        emit_json(persons)
        return
    table = Table("person", "records", "sources")
    for p in persons:
        table.add_row(p["person_id"], str(p["records"]), str(p["sources"]))
    out.print(table)


@persons_app.command("export")
@handle_errors
def persons_export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="CSV file to write (refused if it exists, unless --force).")],
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    as_json: JsonOption = False,
) -> None:
    """One row per record: person_id, source, record_id, then the person's best attributes (the whole
    registry, restricted sources too: for the team; `export persons` gives what may be published).

    Example: dadkhah persons export --out registry.csv
    """
    from dadkhah.cli.common import (
        out as console,  # (``out`` is the option, named as the core's field)
    )

    with opened_store(ctx) as store:
        result = export_registry(store, out, actor=cli_actor(ctx), overwrite=force)
    if as_json:
        emit_json(result)
    else:
        console.print(f"{result['rows']:,} records of {result['persons']:,} persons written to {result['file']} "
                  f"(SHA-256 {result['sha256']}).", markup=False)


@review_app.command("list")
@handle_errors
def review_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many pairs.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """Undecided pairs in the review band of the latest run, those whose decision would change the most first.

    Each pair shows the chance that the run is wrong about it (corrected by the team's decisions once
    there are enough of them) and how many records a decision would move.

    Example: dadkhah review list --limit 10 --json
    """
    with opened_store(ctx) as store, store.session() as session:
        queue = review_queue(session, limit=limit, offset=offset)
    if as_json:
        emit_json(queue)
        return
    if not queue["pairs"]:
        out.print("Nothing to review." if queue["run_id"] else "No linkage run yet: `dadkhah link run`.")
        return
    out.print(f"{queue['total']:,} pairs to review (run {queue['run_id']}, band {queue['band'][0]}–{queue['band'][1]}); "
              f"about {queue['expected_changes']:,.0f} of the decisions are expected to change the registry.", markup=False)
    calibrated = queue["calibration"]
    if calibrated:
        joined, apart = calibrated["same_person_share_at"]["joined"], calibrated["same_person_share_at"]["kept_apart"]
        out.print(f"Calibrated on {calibrated['decisions']} decisions: pairs the model scores 0.3, 0.5 and 0.7 were the "
                  f"same person {joined['0.3']:.0%}, {joined['0.5']:.0%} and {joined['0.7']:.0%} of the time when the run "
                  f"joined them, {apart['0.3']:.0%}, {apart['0.5']:.0%} and {apart['0.7']:.0%} when it kept them apart "
                  f"(for a decision that moves {calibrated['records_moved']:g} records, typical of those decided).", markup=False)
    else:
        out.print("Uncalibrated: the chances are what the run says (the model's probability, or the person's other links where they say more) until the team has decided enough pairs.", markup=False)
    for pair in queue["pairs"]:
        a, b = pair["record_a"], pair["record_b"]
        now = "now one person" if pair["together"] else "now two persons"
        table = Table("", a["ref"], b["ref"], "evidence for or against one person", title=f"probability {pair['match_probability']:.3f}; {now}; "
                      f"chance that is wrong {pair['chance_wrong']:.0%}; a decision would move up to "
                      f"{pair['records_affected']} records", title_justify="left")
        evidence = {c["comparison"]: c for c in pair["comparisons"]}
        for field, comparison in (("given_name", "given_name"), ("family_name", "family_name"), ("full_name", "full_name"),
                                  ("father_name", "father_name"), ("birth_date", "birth_date"), ("death_date", "death_date"),
                                  ("city", "city"), ("prison", "prison"), ("gender", "gender")):
            c = evidence.get(comparison)
            shown = f"{_VERDICTS.get(c['verdict'], c['verdict'])}: {c['level']} ({c['weight']:+.1f})" if c and c["weight"] else ""
            table.add_row(field, _field(a.get(field)), _field(b.get(field)), shown)
        out.print(table)
        out.print(f"  dadkhah review decide {a['ref']} {b['ref']} same|different --reason ...", markup=False)


# A comparison's weight of evidence, said by its sign (not by the level's name: "intervals overlap" can weigh
# against one person); the API keeps "agrees" and "disagrees".
_VERDICTS = {"agrees": "for", "disagrees": "against"}


def _field(value) -> str:
    if not value:
        return ""
    return str(value.get("original") or value.get("normalized") or "")


@review_app.command("decide")
@handle_errors
def review_decide(
    ctx: typer.Context,
    record_a: Annotated[str, typer.Argument(help="SOURCE:RECORD_ID")],
    record_b: Annotated[str, typer.Argument(help="SOURCE:RECORD_ID")],
    decision: Annotated[str, typer.Argument(help="same or different")],
    reason: Annotated[str, typer.Option("--reason", help="Why: the next reviewer will read it.")],
    as_json: JsonOption = False,
) -> None:
    """Decide that two records are the same person or different persons; every later run obeys.

    Example: dadkhah review decide list-1:NGO-00017 list-2:UN/00301 same --reason "same father and prison"
    """
    with opened_store(ctx) as store:
        result = decide(store, decision, actor=cli_actor(ctx), reason=reason, records=(record_a, record_b))
    if as_json:
        emit_json(result)
    else:
        err.print(f"Decision #{result['id']} recorded ({result['decision']}); it takes effect {result['effective']}.")


@review_app.command("decisions")
@handle_errors
def review_decisions(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Every decision on file, including those later replaced.

    Example: dadkhah review decisions --json
    """
    with opened_store(ctx) as store, store.session() as session:
        decisions = list_decisions(session)
    if as_json:
        emit_json(decisions)
        return
    table = Table("#", "record a", "record b", "decision", "reason", "by", "replaced by")
    for d in decisions:
        table.add_row(str(d["id"]), d["record_a"], d["record_b"], d["decision"], d["reason"], d["decided_by"], str(d["replaced_by"] or ""))
    out.print(table)
