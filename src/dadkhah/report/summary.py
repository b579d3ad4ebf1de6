"""A case at a glance: records per source and per city, what was refused, what was doubtful."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.model import (
    FieldWarning,
    Import,
    Incident,
    Person,
    PersonRecord,
    Place,
    Source,
)
from dadkhah.registry.records import current_record_counts


def case_summary(session: Session, *, top_cities: int | None = None) -> dict:
    """Counts for the summary tables; current records only (superseded versions are left out)."""
    imports = {import_id: (source_id, incident_id) for import_id, source_id, incident_id
               in session.execute(sa.select(Import.id, Import.source_id, Import.incident_id))}
    # Current records counted once, by import and city (registry.records.current_record_counts, read
    # from one index), then summed per source, city and incident here: the separate counts per source,
    # city and import read the whole records table three times (4 s at 1.7 million records; now 0.4 s).
    per_import: dict[int, int] = defaultdict(int)
    per_city_n: dict[str | None, int] = defaultdict(int)
    for import_id, city, _, n in current_record_counts(session):
        per_import[import_id] += n
        per_city_n[city] += n
    per_source_n: dict[int, int] = defaultdict(int)
    per_incident_n: dict[int, int] = defaultdict(int)
    for import_id, n in per_import.items():
        source_id, incident_id = imports[import_id]
        per_source_n[source_id] += n
        if incident_id is not None:
            per_incident_n[incident_id] += n
    per_source = session.execute(
        sa.select(
            Source.id, Source.name,
            sa.select(sa.func.count()).select_from(Import).where(Import.source_id == Source.id).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(Import.rejected), 0)).where(Import.source_id == Source.id).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(Import.warning_count), 0)).where(Import.source_id == Source.id).scalar_subquery(),
        ).order_by(Source.name)
    ).all()
    names = {place_id: (name_en, name_fa) for place_id, name_en, name_fa in session.execute(
        sa.select(Place.id, Place.name_en, Place.name_fa).where(Place.id.in_([c for c in per_city_n if c is not None])))}
    # most records first; then by name, the unplaced last (the same order on both databases)
    per_city = sorted(((city, *names.get(city, (None, None)), n) for city, n in per_city_n.items()),
                      key=lambda row: (-row[3], row[1] is None, row[1] or ""))
    per_field = session.execute(
        sa.select(FieldWarning.field, sa.func.count()).group_by(FieldWarning.field).order_by(sa.func.count().desc())
    ).all()
    incident_names = dict(session.execute(sa.select(Incident.id, Incident.name).where(Incident.id.in_(list(per_incident_n)))).all())
    per_incident = sorted((incident_names[i], n) for i, n in per_incident_n.items())
    total = sum(per_city_n.values())  # every current record is in one city's count (or the empty one's)
    persons = session.scalar(sa.select(sa.func.count()).select_from(Person).where(Person.status == "active"))
    per_source_persons = dict(session.execute(
        sa.select(Source.name, sa.func.count(sa.distinct(PersonRecord.person_pk)))
        .join(PersonRecord, PersonRecord.source_id == Source.id).group_by(Source.name)
    ).all())
    cities = [
        {"place_id": place_id, "name": name_en or "(unresolved or empty)", "name_fa": name_fa, "records": n}
        for place_id, name_en, name_fa, n in per_city
    ]
    return {
        "records": total,
        "persons": persons,
        "sources": [
            {"name": name, "records": per_source_n.get(source_id, 0), "persons": per_source_persons.get(name),
             "imports": imports, "rejected": rejected, "warnings": warnings}
            for source_id, name, imports, rejected, warnings in per_source
        ],
        "cities": cities[:top_cities] if top_cities else cities,
        "distinct_cities": sum(1 for c in cities if c["place_id"]),
        "incidents": [{"name": name, "records": n} for name, n in per_incident],
        "warnings_by_field": [{"field": f, "warnings": n} for f, n in per_field],
    }
