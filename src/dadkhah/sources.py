"""Sources: where records came from, with the producer, date obtained and Admiralty grading."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.errors import DadkhahError, NotFound
from dadkhah.model import Import, Incident, Record, Source

RELIABILITY_GRADES = "ABCDEF"


def validate_source_name(name: str) -> str:
    """Source names appear in ``SOURCE:RECORD_ID`` references, so they may not hold a colon."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise DadkhahError("a source needs a name")
    if ":" in cleaned or "\n" in cleaned or len(cleaned) > 200:
        raise DadkhahError(f"source name {name!r} may not contain ':' or a line break, nor exceed 200 characters")
    return cleaned


def find_source(session: Session, name: str) -> Source | None:
    return session.scalar(sa.select(Source).where(Source.name == name))


def get_source(session: Session, name: str) -> Source:
    source = find_source(session, name)
    if source is None:
        raise NotFound(f"no source named {name!r}")
    return source


def ensure_source(session: Session, name: str) -> Source:
    """The source called ``name``, created with no details if it is new."""
    name = validate_source_name(name)
    source = find_source(session, name)
    if source is None:
        source = Source(name=name)
        session.add(source)
        session.flush()
    return source


def update_source(
    session: Session,
    name: str,
    *,
    producer: str | None = None,
    description: str | None = None,
    obtained_on: date | None = None,
    reliability: str | None = None,
    credibility: int | None = None,
    restrictions: str | None = None,
) -> Source:
    """Create or describe a source; only the details given are changed."""
    if reliability is not None:
        reliability = reliability.strip().upper()
        if reliability not in RELIABILITY_GRADES or len(reliability) != 1:
            raise DadkhahError(f"reliability must be one of A-F (Admiralty code), not {reliability!r}")
    if credibility is not None and not 1 <= credibility <= 6:
        raise DadkhahError(f"credibility must be 1-6 (Admiralty code), not {credibility}")
    source = ensure_source(session, name)
    for attr, value in (("producer", producer), ("description", description), ("obtained_on", obtained_on),
                        ("reliability", reliability), ("credibility", credibility), ("restrictions", restrictions)):
        if value is not None:
            setattr(source, attr, value)
    session.flush()
    return source


def ensure_incident(session: Session, name: str) -> Incident:
    name = (name or "").strip()
    if not name:
        raise DadkhahError("an incident needs a name")
    incident = session.scalar(sa.select(Incident).where(Incident.name == name))
    if incident is None:
        incident = Incident(name=name)
        session.add(incident)
        session.flush()
    return incident


def list_sources(session: Session) -> list[dict]:
    """Every source with its record and import counts (current records only)."""
    records = (
        sa.select(Record.source_id, sa.func.count().label("n"))
        .where(Record.superseded_by.is_(None))
        .group_by(Record.source_id)
        .subquery()
    )
    imports = sa.select(Import.source_id, sa.func.count().label("n")).group_by(Import.source_id).subquery()
    rows = session.execute(
        sa.select(Source, sa.func.coalesce(records.c.n, 0), sa.func.coalesce(imports.c.n, 0))
        .outerjoin(records, records.c.source_id == Source.id)
        .outerjoin(imports, imports.c.source_id == Source.id)
        .order_by(Source.name)
    )
    return [source_to_dict(source) | {"records": n_records, "imports": n_imports} for source, n_records, n_imports in rows]


def source_to_dict(source: Source) -> dict:
    return {
        "name": source.name,
        "producer": source.producer,
        "description": source.description,
        "obtained_on": source.obtained_on.isoformat() if source.obtained_on else None,
        "reliability": source.reliability,
        "credibility": source.credibility,
        "restrictions": source.restrictions,
        "created_at": source.created_at.isoformat(),
    }
