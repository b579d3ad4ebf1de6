"""The publication policy: what of the registry may be published, in one place.

- Only records of sources whose release is ``public`` are published, and only their own fields: a
  person named by a public and a restricted list is published with what the public list says, and
  the restricted list is never named.
- Of a record, only the fields a memorial shows are published (names, gender, dates, city, prison,
  affiliation, and the incident its list was imported under); never its notes (free text, which may hold anything: a relative's telephone
  number) nor the row as it was given.
- A withheld person (:func:`dadkhah.registry.persons.withhold_person`) is not published at all, nor
  the person they were merged into; the reason is never published.
- Nothing sealed is ever read here: testimonies, witnesses, evidence and signers are not in the
  registry's records.

Of the accountability record (:func:`published_accountability`), only accepted claims whose source
and every cited source are public are published (:func:`public_claim`): acts with their dates,
places and published victims, who is alleged to have taken part, and burials. A site is published
only when an accepted public claim describes it and its publication policy is ``exact`` or
``city``: ``city`` shows the city and never the coordinates; a ``hidden`` site is not named at all
(nor on the pages of the persons said to lie there), for a family may fear for the grave.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.accountability.claims import chunks, claim_public_id
from dadkhah.accountability.queries import citations_of, victims_of
from dadkhah.model import (
    Claim,
    Entity,
    Import,
    Incident,
    Person,
    PersonRecord,
    Place,
    Record,
    Source,
)
from dadkhah.registry.persons import withheld_persons

PUBLISHED_FIELDS = ("given_name", "family_name", "full_name", "father_name", "gender", "birth_date", "death_date",
                    "city", "prison", "affiliation", "incident")


def public_sources(session: Session) -> dict[int, str]:
    """The sources whose records may be published: id → name."""
    return dict(session.execute(sa.select(Source.id, Source.name).where(Source.release == "public")
                                .order_by(Source.name)).all())


def _date(record: sa.Row, prefix: str) -> dict | None:
    original = getattr(record, f"{prefix}_date")
    if original is None:
        return None
    earliest, latest = getattr(record, f"{prefix}_earliest"), getattr(record, f"{prefix}_latest")
    return {"original": original, "precision": getattr(record, f"{prefix}_precision"),
            "earliest": earliest.isoformat() if earliest else None, "latest": latest.isoformat() if latest else None}


def _published_record(record: sa.Row, source: str, places: dict[str, dict], incident: str | None) -> dict:
    """What may be published of a record, from its row (the columns of :data:`_RECORD_COLUMNS`)."""
    def place(field: str) -> dict | None:
        original, place_id = getattr(record, field), getattr(record, f"{field}_place_id")
        if original is None:
            return None
        known = places.get(place_id) if place_id else None
        return {"original": original, "place_id": place_id, "name": known["name_en"] if known else None,
                "name_fa": known["name_fa"] if known else None}

    return {
        "source": source, "record_id": record.record_id, "script": record.name_script,
        "given_name": record.given_name, "family_name": record.family_name, "full_name": record.full_name,
        "father_name": record.father_name, "gender": record.gender_norm,
        "birth_date": _date(record, "birth"), "death_date": _date(record, "death"),
        "city": place("city"), "prison": place("prison"), "affiliation": record.affiliation_norm,
        "incident": incident,  # the incident its list was imported under
        # the comparison keys of the names above (derived from them, nothing more), for the site's search
        "name_keys": sorted({word for key in (record.given_name_key, record.family_name_key, record.full_name_key)
                             if key for word in key.split()}),
    }


def best_value(records: list[dict], field: str):
    """The value most of a person's published records give for ``field`` (ties: the first source's)."""
    counts: dict = defaultdict(int)
    first: dict = {}
    for record in records:
        value = record.get(field)
        if value:
            key = repr(sorted(value.items())) if isinstance(value, dict) else value
            counts[key] += 1
            first.setdefault(key, value)
    return first[max(counts, key=lambda k: counts[k])] if counts else None


def person_name(records: list[dict], script: str) -> str | None:
    """The person's name as the first published record written in ``script`` (fa or latin) gives it."""
    for record in records:
        if record["script"] == script or (script == "latin" and record["script"] is None):
            name = record["full_name"] or " ".join(p for p in (record["given_name"], record["family_name"]) if p)
            if name:
                return name
    return None


def _age(birth: dict | None, death: dict | None) -> int | None:
    if not birth or not death or not birth.get("earliest") or birth.get("earliest") != birth.get("latest") \
            or not death.get("earliest") or death.get("earliest") != death.get("latest"):
        return None
    b, d = date.fromisoformat(birth["earliest"]), date.fromisoformat(death["earliest"])
    return d.year - b.year - ((d.month, d.day) < (b.month, b.day))


def person_summary(published: dict) -> dict:
    """What a page or a printed list shows of a published person: their names in both scripts and
    the value most of their published records give for each field (age only when both days are known)."""
    records = published["records"]
    birth, death = best_value(records, "birth_date"), best_value(records, "death_date")
    return {"id": published["person_id"], "name_fa": person_name(records, "fa"),
            "name_latin": person_name(records, "latin"), "father": best_value(records, "father_name"),
            "birth": birth, "death": death, "age": _age(birth, death), "city": best_value(records, "city"),
            "prison": best_value(records, "prison"), "sources": published["sources"],
            "incidents": sorted({r["incident"] for r in records if r.get("incident")})}


# What a published record is made from, read as plain columns: loading whole ORM records took two
# thirds of the time of every published table, page or list (11 of 17 s at 215,172 records).
_RECORD_COLUMNS = tuple(getattr(Record, name) for name in (
    "source_id", "record_id", "import_id", "name_script", "given_name", "family_name", "full_name", "father_name",
    "gender_norm", "birth_date", "birth_precision", "birth_earliest", "birth_latest", "death_date", "death_precision",
    "death_earliest", "death_latest", "city", "city_place_id", "prison", "prison_place_id", "affiliation_norm",
    "given_name_key", "family_name_key", "full_name_key"))


def published_persons(session: Session, *, batch: int = 2000) -> Iterator[dict]:
    """Every person who may be published, in person-id order, with the published records naming them.

    Each: ``{"person_id", "records": [...], "sources": [...]}``, a record holding only
    :data:`PUBLISHED_FIELDS` (and its source, id and script). Persons no public source names, and
    withheld persons, are left out. Streams: memory stays flat for any number of persons.
    """
    public = public_sources(session)
    if not public:
        return
    withheld = withheld_persons(session)
    places = {p.id: {"name_en": p.name_en, "name_fa": p.name_fa}
              for p in session.execute(sa.select(Place.id, Place.name_en, Place.name_fa))}
    incidents = dict(session.execute(sa.select(Import.id, Incident.name)
                                     .join(Incident, Incident.id == Import.incident_id)).all())
    query = (sa.select(Person.person_id, *_RECORD_COLUMNS)
             .join(PersonRecord, PersonRecord.person_pk == Person.id)
             .join(Record, sa.and_(Record.source_id == PersonRecord.source_id,
                                   Record.record_id == PersonRecord.record_id))
             .where(Person.status == "active", Record.superseded_by.is_(None), Record.source_id.in_(list(public)))
             .order_by(Person.id, Record.source_id, Record.record_id)
             .execution_options(yield_per=batch))
    current, records = None, []
    for record in session.execute(query):
        person_id = record.person_id
        if person_id != current:
            if current is not None and current not in withheld:
                yield {"person_id": current, "records": records, "sources": sorted({r["source"] for r in records})}
            current, records = person_id, []
        records.append(_published_record(record, public[record.source_id], places, incidents.get(record.import_id)))
    if current is not None and current not in withheld:
        yield {"person_id": current, "records": records, "sources": sorted({r["source"] for r in records})}


def public_claim(claim: dict, public: set[str] | dict) -> dict | None:
    """A claim as it may be published, or None when it may not be.

    A claim is published only when its review status is ``accepted`` and the source that makes it
    and every source it cites are public. What it cites is reduced to the source's name and the
    locator (page, line): the ids of testimonies and evidence items it rests on stay inside.
    """
    names = set(public.values()) if isinstance(public, dict) else set(public)
    if claim.get("review_status") != "accepted" or claim.get("claimed_by") not in names:
        return None
    citations = claim.get("citations") or []
    if any(citation.get("source") not in names for citation in citations):
        return None
    shown = {k: v for k, v in claim.items() if k not in ("citations", "extra")}
    shown["citations"] = [{k: v for k, v in citation.items() if k in ("source", "locator")} for citation in citations]
    return shown


def public_claims(session: Session, public: dict[int, str], kinds: tuple[str, ...]) -> list[tuple]:
    """The current claims of ``kinds`` that may be published (:func:`public_claim`), oldest first: each
    ``(row, shown)``, ``shown`` holding the claim's published citations."""
    C = Claim.__table__
    rows = session.execute(sa.select(C).where(C.c.superseded_by.is_(None), C.c.review_status == "accepted",
                                              C.c.source_id.in_(list(public)), C.c.kind.in_(kinds))
                           .order_by(C.c.id)).all()
    citations: dict[int, list[dict]] = {}
    for chunk in chunks([r.id for r in rows], 5000):
        citations.update(citations_of(session, chunk))
    found = []
    for row in rows:
        shown = public_claim({"review_status": row.review_status, "claimed_by": public[row.source_id],
                              "citations": citations.get(row.id, [])}, public)
        if shown is not None:
            found.append((row, shown))
    return found


def _interval(text, earliest, latest) -> dict | None:
    if text is None:
        return None
    return {"original": text, "earliest": earliest.isoformat() if earliest else None,
            "latest": latest.isoformat() if latest else None}


def published_accountability(session: Session, persons: set[str] | None = None) -> dict:
    """What of the accountability record may be published, shaped for pages.

    ``{"acts": {act id: act}, "sites": {site id: site}, "names": {entity id: {"name", "name_fa"}},
    "acts_by_person": {person: [act id]}, "burials_by_person": {person: [site id]}}``; ``names`` are
    the officials', institutions' and sites' names as accepted public claims give them (an entity no
    such claim describes has none: show its id). An act: its type, dates, places, the published
    victims among those named (``persons``: the persons the site publishes; others are only counted
    in ``unnamed``), who is alleged to have taken part and how, and the public sources saying so. A
    site: its name, kind, certainty, what of its location its policy allows, its status history and
    the published persons claimed to lie there (``persons``, and claim by claim in ``burials``).
    """
    public = public_sources(session)
    empty = {"acts": {}, "sites": {}, "acts_by_person": {}, "burials_by_person": {}}
    if not public:
        return empty
    claims = [(row, shown["citations"]) for row, shown in public_claims(
        session, public, ("act", "involvement", "site", "site-status", "burial", "official", "institution"))]
    entity_pks = {r.subject_pk for r, _ in claims} | {r.object_pk for r, _ in claims if r.object_pk}
    entities = {}
    for chunk in chunks(sorted(entity_pks)):
        entities.update((e.id, e) for e in session.scalars(sa.select(Entity).where(Entity.id.in_(chunk))))
    place_ids = {r.place_id for r, _ in claims if r.place_id}
    # An official's, an institution's or a site's name as an accepted public claim gives it (the newest):
    # the registry's own name for it may come from a restricted source.
    names = {row.subject_pk: ((row.data or {}).get("name"), (row.data or {}).get("name_fa"))
             for row, _ in claims if row.kind in ("official", "institution", "site")}
    places = {}
    kinds: dict[str, tuple[str, str | None]] = {}  # place -> (type, parent), to find a site's city
    wanted = set(place_ids)
    while wanted:  # the claims' places, then their parents in turn (a cemetery's city, a city's province)
        for chunk in chunks(sorted(wanted)):
            for p in session.execute(sa.select(Place.id, Place.type, Place.parent_id, Place.name_en, Place.name_fa,
                                               Place.lat, Place.lon).where(Place.id.in_(chunk))):
                places[p.id] = {"id": p.id, "name": p.name_en, "name_fa": p.name_fa, "lat": p.lat, "lon": p.lon}
                kinds[p.id] = (p.type, p.parent_id)
        wanted = {parent for _, parent in kinds.values() if parent and parent not in kinds} - wanted

    def city_of(place_id: str | None) -> dict | None:
        """The city (else the province) a place lies in: what a site published by city may show. A
        cemetery or a prison in the gazetteer is itself a location, with its own coordinates."""
        seen = set()
        while place_id and place_id in kinds and place_id not in seen:
            seen.add(place_id)
            if kinds[place_id][0] in ("city", "province"):
                return places[place_id]
            place_id = kinds[place_id][1]
        return None
    victims = {}
    for chunk in chunks([r.id for r, _ in claims if r.kind in ("act", "burial")], 5000):
        victims.update(victims_of(session, chunk))

    def named(row) -> tuple[list[str], int]:
        found = [v["person"] for v in victims.get(row.id, []) if v.get("person")]
        shown = sorted({p for p in found if persons is None or p in persons})
        return shown, len(victims.get(row.id, [])) - len(shown) + (row.count or 0)

    def sourced(citations: list[dict], row) -> list[dict]:
        return citations or [{"source": public[row.source_id]}]

    sites: dict[str, dict] = {}
    for row, cited in claims:
        if row.kind != "site":
            continue
        entity = entities[row.subject_pk]
        if entity.publication not in ("exact", "city"):
            continue
        data = row.data or {}
        place = places.get(row.place_id) if row.place_id else None
        if entity.publication == "city" and place is not None:
            place = city_of(row.place_id)
        location = {"publication": entity.publication, "place": place,
                    "place_text": None if row.place_id else data.get("place")}
        if entity.publication == "exact" and data.get("latitude") is not None:
            location["lat"], location["lon"] = data["latitude"], data["longitude"]
        name, name_fa = names[row.subject_pk]
        sites[entity.entity_id] = {"id": entity.entity_id, "slug": entity.entity_id, "name": name,
                                   "name_fa": name_fa, "kind": row.value,
                                   "certainty": data.get("certainty"), "location": location, "status": [],
                                   "persons": [], "unnamed": 0, "burials": [], "sources": sourced(cited, row)}
    acts: dict[str, dict] = {}
    acts_by_person: dict[str, set[str]] = defaultdict(set)
    burials_by_person: dict[str, set[str]] = defaultdict(set)
    for row, cited in claims:
        subject = entities[row.subject_pk]
        if row.kind == "site-status" and subject.entity_id in sites:
            sites[subject.entity_id]["status"].append({"status": row.value, "on": _interval(
                row.from_text, row.from_earliest, row.from_latest), "sources": sourced(cited, row)})
        elif row.kind == "burial" and subject.entity_id in sites:
            site = sites[subject.entity_id]
            shown, unnamed = named(row)
            site["persons"] = sorted(set(site["persons"]) | set(shown))
            site["unnamed"] += unnamed
            site["burials"].append({"claim": claim_public_id(row.id), "persons": shown, "likelihood": row.likelihood})
            for person in shown:
                burials_by_person[person].add(subject.entity_id)
        elif row.kind == "act":
            act = acts.setdefault(subject.entity_id, {"id": subject.entity_id, "type": subject.category,
                                                      "accounts": [], "involved": []})
            shown, unnamed = named(row)
            act["accounts"].append({"claim": claim_public_id(row.id), "type": row.value or subject.category,
                                    "date": _interval(row.from_text, row.from_earliest, row.from_latest),
                                    "place": places.get(row.place_id) if row.place_id else None,
                                    "place_text": None if row.place_id else (row.data or {}).get("place"),
                                    "persons": shown, "unnamed": unnamed, "likelihood": row.likelihood,
                                    "sources": sourced(cited, row)})
            for person in shown:
                acts_by_person[person].add(subject.entity_id)
    for row, cited in claims:
        if row.kind == "involvement" and entities[row.subject_pk].entity_id in acts:
            actor = entities[row.object_pk]
            name, name_fa = names.get(row.object_pk, (None, None))
            acts[entities[row.subject_pk].entity_id]["involved"].append(
                {"id": actor.entity_id, "kind": actor.kind, "name": name or (None if name_fa else actor.entity_id),
                 "name_fa": name_fa,
                 "degree": row.value, "likelihood": row.likelihood, "sources": sourced(cited, row)})
    return {"acts": acts, "sites": sites,
            "names": {entities[pk].entity_id: {"name": name, "name_fa": name_fa} for pk, (name, name_fa) in names.items()},
            "acts_by_person": {p: sorted(ids) for p, ids in acts_by_person.items()},
            "burials_by_person": {p: sorted(ids) for p, ids in burials_by_person.items()}}
