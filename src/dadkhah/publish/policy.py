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

Sites (their publication policy) and acts (accepted claims of public sources) are applied by the
accountability package's own audience rules (``audience="public"``).
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.model import Import, Incident, Person, PersonRecord, Place, Record, Source
from dadkhah.registry.persons import withheld_persons

PUBLISHED_FIELDS = ("given_name", "family_name", "full_name", "father_name", "gender", "birth_date", "death_date",
                    "city", "prison", "affiliation", "incident")


def public_sources(session: Session) -> dict[int, str]:
    """The sources whose records may be published: id → name."""
    return dict(session.execute(sa.select(Source.id, Source.name).where(Source.release == "public")
                                .order_by(Source.name)).all())


def _date(record: Record, prefix: str) -> dict | None:
    original = getattr(record, f"{prefix}_date")
    if original is None:
        return None
    earliest, latest = getattr(record, f"{prefix}_earliest"), getattr(record, f"{prefix}_latest")
    return {"original": original, "precision": getattr(record, f"{prefix}_precision"),
            "earliest": earliest.isoformat() if earliest else None, "latest": latest.isoformat() if latest else None}


def _published_record(record: Record, source: str, places: dict[str, dict], incident: str | None) -> dict:
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
    }


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
    query = (sa.select(Person.person_id, Record, Record.source_id)
             .join(PersonRecord, PersonRecord.person_pk == Person.id)
             .join(Record, sa.and_(Record.source_id == PersonRecord.source_id,
                                   Record.record_id == PersonRecord.record_id))
             .where(Person.status == "active", Record.superseded_by.is_(None), Record.source_id.in_(list(public)))
             .order_by(Person.id, Record.source_id, Record.record_id)
             .execution_options(yield_per=batch))
    current, records = None, []
    for person_id, record, source_id in session.execute(query):
        if person_id != current:
            if current is not None and current not in withheld:
                yield {"person_id": current, "records": records, "sources": sorted({r["source"] for r in records})}
            current, records = person_id, []
        records.append(_published_record(record, public[source_id], places, incidents.get(record.import_id)))
    if current is not None and current not in withheld:
        yield {"person_id": current, "records": records, "sources": sorted({r["source"] for r in records})}
