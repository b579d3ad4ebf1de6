"""Standard exports of what may be published: persons, records and acts as CSV or XLSX tables; and,
in :mod:`~dadkhah.publish.popolo` and :mod:`~dadkhah.publish.uwazi`, the accountability record as
Popolo JSON and an Uwazi CSV import.

Every export is for the public: it holds what the publication policy
(:mod:`dadkhah.publish.policy`) allows and nothing else: public sources' records and only their
published fields, no withheld person, only accepted claims whose source and every cited source are
public (citations as the source's name and locator, never the testimony or evidence behind them),
sites as their publication policy allows the public. The name of an official or institution is
itself a claim: it is exported only as an accepted public claim gives it, so one that only a
restricted source names appears by its registry id alone.

Each export is one function that writes its file (a temporary file in the same folder, moved into
place) and its audit event, with the file's SHA-256, in one transaction: a file that cannot be
audited is removed, and an existing file is replaced only when asked (``overwrite``).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah import outfiles
from dadkhah.accountability.claims import chunks, claim_public_id
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.model import Entity, Place
from dadkhah.outfiles import checked_out
from dadkhah.publish.policy import (
    person_name,
    public_claims,
    public_sources,
    published_accountability,
    published_persons,
)
from dadkhah.spreadsheet import SafeWriter, SafeXlsxWriter
from dadkhah.store import Store

TABLES = ("persons", "records", "acts")
AUDIENCE = "public"
SEPARATOR = "; "  # between several values in one cell of a table

# the claims about officials and institutions that the policy's own view of acts and sites leaves out
_KINDS = ("institution", "official", "relation", "post", "official-status", "involvement")


# --- the file: checked, written beside its place, moved in (dadkhah.outfiles) ----------------------

def deliver(store: Store, target: Path, *, overwrite: bool, write: Callable[[Session, Path], dict],
            audit: Callable[[Session, str, dict], None]) -> dict:
    """:func:`dadkhah.outfiles.deliver`, for the public."""
    return outfiles.deliver(store, target, overwrite=overwrite, write=write, audit=audit) | {"audience": AUDIENCE}


# --- what of the accountability record may be published ------------------------------------------

def interval(text, earliest, latest) -> dict | None:
    if text is None:
        return None
    return {"original": text, "earliest": earliest.isoformat() if earliest else None,
            "latest": latest.isoformat() if latest else None}


def public_record(session: Session) -> dict:
    """The accountability record as it may be published, for the exports.

    ``acts``, ``sites``, ``acts_by_person`` and ``burials_by_person`` are the policy's own
    (:func:`~dadkhah.publish.policy.published_accountability`, every named victim kept, to be
    narrowed to the published persons by the caller). Beside them, from accepted claims of public
    sources only (:func:`~dadkhah.publish.policy.public_claim`): ``entities`` (officials and
    institutions as those claims describe them: names, aliases, kind; ``described`` is False for one
    named by no such claim), ``posts``, ``relations``, ``statuses`` and ``involvements`` (of the
    published acts), each with its claim id, review status, likelihood and citations.
    """
    record = published_accountability(session, None)
    record.update(entities={}, posts=[], relations=[], statuses=[], involvements=[], public=[])
    public = public_sources(session)
    if not public:
        return record
    record["public"] = sorted(public.values())
    claims = [(row, _claim(row, shown)) for row, shown in public_claims(session, public, _KINDS)]
    pks = {r.subject_pk for r, _ in claims} | {r.object_pk for r, _ in claims if r.object_pk}
    ids: dict[int, tuple[str, str]] = {}
    for chunk in chunks(sorted(pks)):
        ids.update((pk, (entity_id, kind)) for pk, entity_id, kind in session.execute(
            sa.select(Entity.id, Entity.entity_id, Entity.kind).where(Entity.id.in_(chunk))))
    entities: dict[str, dict] = {}

    def entity(pk: int) -> dict:
        entity_id, kind = ids[pk]
        return entities.setdefault(entity_id, {"id": entity_id, "kind": kind, "name": None, "name_fa": None,
                                               "aliases": [], "category": None, "described": False, "claims": []})

    acts = record["acts"]
    for row, claim in claims:
        if row.kind in ("institution", "official"):
            data = row.data or {}
            described = entity(row.subject_pk)
            # the newest accepted public description names it (claims come oldest first)
            described.update(name=data.get("name"), name_fa=data.get("name_fa"), described=True,
                             category=row.value if row.kind == "institution" else None)
            described["aliases"] = sorted(set(described["aliases"]) | set(data.get("aliases") or []))
            if row.kind == "official":
                described.update(gender=data.get("gender"),
                                 birth_date=interval(row.from_text, row.from_earliest, row.from_latest))
            described["claims"].append(claim | {"kind": row.kind})
        elif row.kind == "post":
            record["posts"].append(claim | {"official": entity(row.subject_pk)["id"],
                                            "institution": entity(row.object_pk)["id"], "role": row.value,
                                            "from": interval(row.from_text, row.from_earliest, row.from_latest),
                                            "to": interval(row.to_text, row.to_earliest, row.to_latest)})
        elif row.kind == "relation":
            record["relations"].append(claim | {"unit": entity(row.subject_pk)["id"],
                                                "parent": entity(row.object_pk)["id"], "relation": row.value,
                                                "from": interval(row.from_text, row.from_earliest, row.from_latest),
                                                "to": interval(row.to_text, row.to_earliest, row.to_latest)})
        elif row.kind == "official-status":
            record["statuses"].append(claim | {"official": entity(row.subject_pk)["id"], "status": row.value,
                                               "on": interval(row.from_text, row.from_earliest, row.from_latest)})
        elif row.kind == "involvement" and ids[row.subject_pk][0] in acts:
            actor = entity(row.object_pk)
            record["involvements"].append(claim | {"act": ids[row.subject_pk][0], "actor": actor["id"],
                                                   "actor_kind": actor["kind"], "degree": row.value})
    record["entities"] = entities
    return record


def _claim(row, shown: dict) -> dict:
    claim = {"claim": claim_public_id(row.id), "review_status": shown["review_status"],
             "claimed_by": shown["claimed_by"], "citations": shown["citations"]}
    if row.likelihood:
        claim["likelihood"] = row.likelihood
    return claim


def actor_names(record: dict, actor_id: str) -> tuple[str | None, str | None]:
    """An official's or institution's names as public claims give them (none: only its id is shown)."""
    described = record["entities"].get(actor_id) or {}
    return described.get("name"), described.get("name_fa")


def published_victims(session: Session, record: dict, *, burials: bool = False) -> dict[str, dict]:
    """The published persons among the victims the record's acts name (and, with ``burials``, those
    said to lie at its sites): id → names in both scripts. The others (withheld, named by no public
    source) are only counted."""
    wanted = {p for act in record["acts"].values() for account in act["accounts"] for p in account["persons"]}
    if burials:
        wanted |= {p for site in record["sites"].values() for p in site["persons"]}
    found = {}
    if wanted:
        for published in published_persons(session):
            if published["person_id"] in wanted:
                found[published["person_id"]] = {"name": person_name(published["records"], "latin"),
                                                 "name_fa": person_name(published["records"], "fa")}
    return found


def narrowed(account: dict, victims: dict[str, dict]) -> tuple[list[str], int]:
    """An act's account's victims as published: the published persons named, and how many others."""
    shown = [p for p in account["persons"] if p in victims]
    return shown, account["unnamed"] + len(account["persons"]) - len(shown)


def places(session: Session) -> dict[str, sa.Row]:
    """The gazetteer (public reference data): id → names and coordinates."""
    return {row.id: row for row in session.execute(sa.select(Place.id, Place.name_en, Place.name_fa, Place.lat,
                                                             Place.lon))}


def citation_text(citations: list[dict]) -> str:
    return SEPARATOR.join(", ".join(p for p in (c["source"], c.get("locator")) if p) for c in citations)


def joined(values) -> str:
    return SEPARATOR.join(dict.fromkeys(str(v) for v in values if v not in (None, "")))


# --- the tables ----------------------------------------------------------------------------------

PERSON_COLUMNS = ("person_id", "name_fa", "name_latin", "given_names", "family_names", "father_names", "gender",
                  "birth_date", "birth_earliest", "birth_latest", "death_date", "death_earliest", "death_latest",
                  "city", "city_fa", "prison", "prison_fa", "affiliation", "incident", "sources", "acts",
                  "burial_sites")
RECORD_COLUMNS = ("person_id", "source", "record_id", "script", "given_name", "family_name", "full_name",
                  "father_name", "gender", "birth_date", "birth_precision", "birth_earliest", "birth_latest",
                  "death_date", "death_precision", "death_earliest", "death_latest", "city", "city_place_id",
                  "city_fa", "prison", "prison_place_id", "prison_fa", "affiliation", "incident")
ACT_COLUMNS = ("act_id", "claim", "type", "date", "date_earliest", "date_latest", "place", "place_fa", "victims",
               "victims_named", "victims_unnamed", "likelihood", "involved", "sources")
COLUMNS = {"persons": PERSON_COLUMNS, "records": RECORD_COLUMNS, "acts": ACT_COLUMNS}


def _span(dates: list[dict]) -> tuple[str, str | None, str | None]:
    """Several records' dates: as written, and the first and last day any of them can mean."""
    earliest = [d["earliest"] for d in dates if d.get("earliest")]
    latest = [d["latest"] for d in dates if d.get("latest")]
    return (joined(d["original"] for d in dates), min(earliest) if earliest else None,
            max(latest) if latest else None)


def _place_text(records: list[dict], field: str, name: str) -> str:
    return joined((r[field] or {}).get(name) or ((r[field] or {}).get("original") if name == "name" else None)
                  for r in records if r.get(field))


def person_row(published: dict, record: dict, sites: dict) -> list:
    records = published["records"]
    person = published["person_id"]
    birth = _span([r["birth_date"] for r in records if r["birth_date"]])
    death = _span([r["death_date"] for r in records if r["death_date"]])
    burials = [sites[s]["name"] or sites[s]["name_fa"] or s for s in record["burials_by_person"].get(person, [])
               if s in sites]
    return [person, person_name(records, "fa"), person_name(records, "latin"),
            joined(r["given_name"] for r in records), joined(r["family_name"] for r in records),
            joined(r["father_name"] for r in records), joined(r["gender"] for r in records), *birth, *death,
            _place_text(records, "city", "name"), _place_text(records, "city", "name_fa"),
            _place_text(records, "prison", "name"), _place_text(records, "prison", "name_fa"),
            joined(r["affiliation"] for r in records), joined(r["incident"] for r in records),
            joined(published["sources"]), joined(record["acts_by_person"].get(person, [])), joined(burials)]


def record_rows(published: dict) -> Iterator[list]:
    for r in published["records"]:
        birth, death, city, prison = (r["birth_date"] or {}), (r["death_date"] or {}), (r["city"] or {}), \
            (r["prison"] or {})
        yield [published["person_id"], r["source"], r["record_id"], r["script"], r["given_name"], r["family_name"],
               r["full_name"], r["father_name"], r["gender"], birth.get("original"), birth.get("precision"),
               birth.get("earliest"), birth.get("latest"), death.get("original"), death.get("precision"),
               death.get("earliest"), death.get("latest"), city.get("original"), city.get("place_id"),
               city.get("name_fa"), prison.get("original"), prison.get("place_id"), prison.get("name_fa"),
               r["affiliation"], r["incident"]]


def involved_text(record: dict, act_id: str) -> str:
    parts = []
    for involvement in record["involvements"]:
        if involvement["act"] != act_id:
            continue
        name, name_fa = actor_names(record, involvement["actor"])
        how = ", ".join(p for p in (involvement["degree"], involvement.get("likelihood")) if p)
        parts.append(f"{involvement['actor']} {name or name_fa or ''}".strip() + f": {how}")
    return SEPARATOR.join(parts)


def act_rows(record: dict, victims: dict[str, dict]) -> Iterator[list]:
    for act_id in sorted(record["acts"]):
        act = record["acts"][act_id]
        involved = involved_text(record, act_id)
        for account in act["accounts"]:
            date, place = account["date"] or {}, account["place"] or {}
            shown, unnamed = narrowed(account, victims)
            yield [act_id, account["claim"], account["type"], date.get("original"), date.get("earliest"),
                   date.get("latest"), place.get("name") or account.get("place_text"), place.get("name_fa"),
                   joined(shown), len(shown), unnamed, account.get("likelihood"), involved,
                   citation_text(account["sources"])]


def export_table(store: Store, out: str | os.PathLike, *, table: str, actor: Actor, format: str | None = None,
                 overwrite: bool = False, progress=None) -> dict:
    """Write the published ``persons`` (one row each), their ``records`` (one row per public source's
    record, published fields only) or ``acts`` (one row per accepted public account of an act) as
    ``csv`` (UTF-8 with a byte-order mark, for spreadsheets) or ``xlsx``; ``format`` defaults to the
    file's extension. Every cell is made inert for spreadsheets (:mod:`dadkhah.spreadsheet`).

    Example:
        >>> export_table(store, "persons.xlsx", table="persons", actor=Actor("ana", "cli"))
        {'out': 'persons.xlsx', 'table': 'persons', 'format': 'xlsx', 'rows': 4, 'sha256': '…', …}
    """
    if table not in TABLES:
        raise InputError(f"must be one of {', '.join(TABLES)}, not {table!r}", field="table")
    format = outfiles.format_for(out, format, extensions={".csv": "csv", ".xlsx": "xlsx"}, default="csv")
    target = checked_out(out, overwrite=overwrite)

    def rows(session: Session) -> Iterator[list]:
        if table == "acts":
            record = public_record(session)
            yield from act_rows(record, published_victims(session, record))
            return
        record = published_accountability(session, None) if table == "persons" else None
        for number, published in enumerate(published_persons(session), start=1):
            if table == "persons":
                yield person_row(published, record, record["sites"])
            else:
                yield from record_rows(published)
            if progress and number % 1000 == 0:
                progress(number, 0)

    def write(session: Session, partial: Path) -> dict:
        count = 0
        if format == "csv":
            with open(partial, "w", encoding="utf-8-sig", newline="") as handle:
                writer = SafeWriter(handle)
                writer.writerow(COLUMNS[table])
                for row in rows(session):
                    writer.writerow(row)
                    count += 1
        else:
            book = SafeXlsxWriter(partial)
            try:
                book.sheet(table).writerow(COLUMNS[table])
                for row in rows(session):
                    book.writerow(row)
                    count += 1
            finally:
                book.close()
        return {"table": table, "format": format, "rows": count}

    def audit(session: Session, digest: str, counts: dict) -> None:
        record_audit(session, store, actor, action="table exported", object_kind="export", object_id=digest,
                     details=counts | {"audience": AUDIENCE})

    return deliver(store, target, overwrite=overwrite, write=write, audit=audit)



def grouped(items: list[dict], key: str) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        found[item[key]].append(item)
    return found
