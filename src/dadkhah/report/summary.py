"""A case at a glance: records per source and per city, what was refused, what was doubtful."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.model import (
    FieldWarning,
    Import,
    Incident,
    Person,
    PersonRecord,
    Place,
    Record,
    Source,
)


def case_summary(session: Session, *, top_cities: int | None = None) -> dict:
    """Counts for the summary tables; current records only (superseded versions are left out)."""
    current = Record.superseded_by.is_(None)
    per_source = session.execute(
        sa.select(
            Source.name,
            sa.select(sa.func.count()).select_from(Record).where(Record.source_id == Source.id, current).scalar_subquery(),
            sa.select(sa.func.count()).select_from(Import).where(Import.source_id == Source.id).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(Import.rejected), 0)).where(Import.source_id == Source.id).scalar_subquery(),
            sa.select(sa.func.coalesce(sa.func.sum(Import.warning_count), 0)).where(Import.source_id == Source.id).scalar_subquery(),
        ).order_by(Source.name)
    ).all()
    # Records are counted by city and by import first, then named: joining each record to its place or
    # incident before grouping read a place per record (0.35 s and 0.15 s at 215,172 records; now 0.1 s).
    by_city = (sa.select(Record.city_place_id, sa.func.count().label("n")).where(current)
               .group_by(Record.city_place_id).subquery())
    per_city = session.execute(
        sa.select(by_city.c.city_place_id, Place.name_en, Place.name_fa, by_city.c.n)
        .outerjoin(Place, Place.id == by_city.c.city_place_id)
        .order_by(by_city.c.n.desc(), Place.name_en.is_(None), Place.name_en)  # the same order on both databases
    ).all()
    per_field = session.execute(
        sa.select(FieldWarning.field, sa.func.count()).group_by(FieldWarning.field).order_by(sa.func.count().desc())
    ).all()
    by_import = (sa.select(Record.import_id, sa.func.count().label("n")).where(current)
                 .group_by(Record.import_id).subquery())
    per_incident = session.execute(
        sa.select(Incident.name, sa.func.sum(by_import.c.n))
        .join(Import, Import.incident_id == Incident.id)
        .join(by_import, by_import.c.import_id == Import.id)
        .group_by(Incident.name)
        .order_by(Incident.name)
    ).all()
    total = sum(n for *_, n in per_city)  # every current record is in one city's count (or the empty one's)
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
            {"name": name, "records": n, "persons": per_source_persons.get(name), "imports": imports,
             "rejected": rejected, "warnings": warnings}
            for name, n, imports, rejected, warnings in per_source
        ],
        "cities": cities[:top_cities] if top_cities else cities,
        "distinct_cities": sum(1 for c in cities if c["place_id"]),
        "incidents": [{"name": name, "records": n} for name, n in per_incident],
        "warnings_by_field": [{"field": f, "warnings": n} for f, n in per_field],
    }
