"""The person dossier: everything the registry holds about one person, as the person page shows it.

Every current record naming the person (each field as given and as normalised), the records
compared field by field with their conflicts marked, the registry's events about the person, the
person's best-supported name in each script and, for those allowed to see the vault, which
testimonies and evidence items are about the person (by id and pseudonym: nothing sealed is read).
"""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.model import (
    EvidenceItem,
    EvidencePerson,
    Import,
    Person,
    PersonRecord,
    Place,
    Record,
    Source,
    Testimony,
    TestimonyPerson,
    Witness,
)
from dadkhah.registry.persons import describe_person, get_person, surviving_person_id
from dadkhah.registry.records import record_to_dict
from dadkhah.registry.search import latin_display

# Rows of the side-by-side comparison, and the attribute of describe_person() that says whether
# the records conflict on it (full names and notes are compared here, by key and not at all).
COMPARED_FIELDS = ("full_name", "given_name", "family_name", "father_name", "gender", "birth_date", "death_date",
                   "city", "prison", "affiliation", "notes")


def _cell(record: dict, field: str) -> str | None:
    value = record.get(field)
    if value is None:
        return None
    if field in ("birth_date", "death_date", "notes"):
        return value["original"]
    return value.get("original") or value.get("normalized")


def _full_name_conflict(records: list[dict]) -> bool:
    keys = {r["full_name"]["key"] for r in records if r.get("full_name") and r["full_name"].get("key")}
    return len(keys) > 1


def _display_names(records: list[dict], scripts: dict[str, str | None]) -> dict:
    """The spelling most records give, per script, as the search index shows it (ties as there).

    Persian: given and family name as written (else the full name); Latin: as normalised (the
    order "Family, Given" undone), each word capitalised.
    """
    counts: dict[str, Counter] = {"fa": Counter(), "latin": Counter()}
    for record in records:
        script = scripts.get(f"{record['source']}:{record['record_id']}")
        if script not in counts:
            continue
        form = "normalized" if script == "latin" else "original"
        parts = [(record.get(f) or {}).get(form) for f in ("given_name", "family_name")]
        if script == "fa" and not any(parts):
            parts = [(record.get("full_name") or {}).get("original")]
        text = " ".join(p.strip() for p in parts if p and p.strip())
        text = latin_display(text) if script == "latin" else text
        if text:
            counts[script][text] += 1
    return {script: (max(c.items(), key=lambda kv: (kv[1], kv[0]))[0] if c else None) for script, c in counts.items()}


def person_details(session: Session, person_id: str, *, include_vault: bool = False) -> dict:
    """Everything the registry holds about one person, for reading side by side.

    Every current record naming the person (each field as given and as normalised), a comparison
    of the records field by field with conflicts marked, the registry's events about the person,
    and — only with ``include_vault`` — the testimonies (by id and witness pseudonym, never names)
    and evidence items about the person or about persons merged into it. A merged person answers
    ``{"status": "merged", "merged_into": <surviving id>}``.
    """
    described = describe_person(session, person_id)
    if described["status"] == "merged":
        return {"person_id": described["person_id"], "status": "merged",
                "merged_into": surviving_person_id(session, described["person_id"]), "events": described["events"]}
    person = get_person(session, described["person_id"])
    place_names = dict(session.execute(sa.select(Place.id, Place.name_en)).all())
    query = (
        sa.select(Record, Source.name, Import.header)
        .join(PersonRecord, sa.and_(PersonRecord.source_id == Record.source_id, PersonRecord.record_id == Record.record_id))
        .join(Source, Source.id == Record.source_id)
        .join(Import, Import.id == Record.import_id)
        .where(PersonRecord.person_pk == person.id, Record.superseded_by.is_(None))
        .order_by(Source.name, Record.record_id)
    )
    records, scripts = [], {}
    for record, source, header in session.execute(query):
        records.append(record_to_dict(record, source, place_names, header))
        scripts[f"{source}:{record.record_id}"] = record.name_script
    attributes = described["attributes"]
    comparison = []
    for field in COMPARED_FIELDS:
        if field == "full_name":
            conflict = _full_name_conflict(records)
        else:
            conflict = bool(attributes.get(field, {}).get("conflict"))
        cells = [{"record": f"{r['source']}:{r['record_id']}", "value": _cell(r, field)} for r in records]
        if any(c["value"] is not None for c in cells):
            comparison.append({"field": field, "conflict": conflict, "values": cells})
    names = _display_names(records, scripts)
    document = {
        "person_id": described["person_id"],
        "status": described["status"],
        "name_fa": names["fa"],
        "name_latin": names["latin"],
        "sources": described["sources"],
        "conflicts": sorted({*described["conflicts"], *(["full_name"] if _full_name_conflict(records) else [])}),
        "comparison": comparison,
        "records": records,
        "attributes": attributes,
        "events": described["events"],
        "withheld": described["withheld"],
    }
    if include_vault:
        document |= vault_items_about(session, described["person_id"])
    return document


def _absorbed_ids(session: Session, person_id: str) -> list[str]:
    """The person id and every id merged into it, directly or through others."""
    ids, frontier = [person_id], [person_id]
    while frontier:
        merged = list(session.scalars(sa.select(Person.person_id).where(Person.merged_into.in_(frontier))))
        frontier = [m for m in merged if m not in ids]
        ids.extend(frontier)
    return ids


def vault_items_about(session: Session, person_id: str) -> dict:
    """Testimonies (id, witness pseudonym, language) and evidence (id, media type, description) about a person.

    Nothing sealed is read: witnesses appear by pseudonym only.
    """
    ids = _absorbed_ids(session, person_id)
    testimonies = [{"id": tid, "witness": pseudonym, "language": language} for tid, pseudonym, language in session.execute(
        sa.select(Testimony.testimony_id, Witness.pseudonym, Testimony.language).distinct()
        .join(TestimonyPerson, TestimonyPerson.testimony_pk == Testimony.id)
        .join(Witness, Witness.id == Testimony.witness_pk)
        .where(TestimonyPerson.person_id.in_(ids)).order_by(Testimony.testimony_id))]
    evidence = [{"id": eid, "media_type": media_type, "description": description}
                for eid, media_type, description in session.execute(
                    sa.select(EvidenceItem.evidence_id, EvidenceItem.media_type, EvidenceItem.description).distinct()
                    .join(EvidencePerson, EvidencePerson.evidence_pk == EvidenceItem.id)
                    .where(EvidencePerson.person_id.in_(ids)).order_by(EvidenceItem.evidence_id))]
    return {"testimonies": testimonies, "evidence": evidence}
