"""Sources: where records came from, with the producer, date obtained and Admiralty grading."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.model import FieldWarning, Import, Incident, Record, Source
from dadkhah.store import Store

RELIABILITY_GRADES = "ABCDEF"
RELEASES = ("public", "restricted")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_source_name(name: str) -> str:
    """Source names appear in ``SOURCE:RECORD_ID`` references, so they may not hold a colon."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise InputError("a source needs a name", field="source")
    if ":" in cleaned or _CONTROL.search(cleaned) or len(cleaned) > 200:
        raise InputError(f"a source's name may not contain ':', a line break or another control character, nor "
                         f"exceed 200 characters: {name!r}", field="source")
    return cleaned


def validate_incident_name(name: str | None) -> str | None:
    """An incident's name as given (None or blank: no incident); one line, at most 500 characters."""
    cleaned = (name or "").strip()
    if not cleaned:
        return None
    if _CONTROL.search(cleaned) or len(cleaned) > 500:
        raise InputError(f"an incident's name is one line of at most 500 characters, without control characters: "
                         f"{name!r}", field="incident")
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


def describe_source(
    store: Store,
    name: str,
    *,
    actor: Actor,
    producer: str | None = None,
    description: str | None = None,
    obtained_on: date | None = None,
    reliability: str | None = None,
    credibility: int | None = None,
    restrictions: str | None = None,
) -> dict:
    """Create a source or describe an existing one (only the details given change), in the audit
    log as ``source added`` (with the details given) or ``source described`` (each changed detail,
    before and after). Saying again what is already recorded changes nothing and logs nothing."""
    if reliability is not None:
        reliability = reliability.strip().upper()
        if reliability not in RELIABILITY_GRADES or len(reliability) != 1:
            raise InputError(f"is an Admiralty grade of the source, one of A-F, not {reliability!r}", field="reliability")
    if credibility is not None and not 1 <= credibility <= 6:
        raise InputError(f"is an Admiralty grade of the information, 1-6, not {credibility}", field="credibility")
    given = {"producer": producer, "description": description, "obtained_on": obtained_on,
             "reliability": reliability, "credibility": credibility, "restrictions": restrictions}
    with store.session() as session:
        existing = find_source(session, validate_source_name(name))
        before = source_to_dict(existing) if existing is not None else {}
        for detail in ("producer", "description", "restrictions"):  # text: as written, trimmed
            if given[detail] is not None:
                given[detail] = given[detail].strip() or None
                if given[detail] is None and before.get(detail):
                    raise InputError("cannot be emptied once given, only replaced: give the new text (the audit log "
                                     "keeps every earlier one)", field=detail)
        source = ensure_source(session, name)
        for detail, value in given.items():
            if value is not None:
                setattr(source, detail, value)
        session.flush()
        after = source_to_dict(source)
        changed = [detail for detail in given if after[detail] != before.get(detail)]
        if existing is None:
            record_audit(session, store, actor, action="source added", object_kind="source", object_id=source.name,
                         details={detail: after[detail] for detail in changed})
        elif changed:
            record_audit(session, store, actor, action="source described", object_kind="source",
                         object_id=source.name,
                         details={detail: {"before": before[detail], "after": after[detail]} for detail in changed})
        return after | {"created": existing is None, "changed": changed}


def set_release(store: Store, name: str, release: str, *, actor: Actor) -> dict:
    """Say whether a source's records may be published (``public``) or not (``restricted``, the
    default: a source is published only when someone decides it may be)."""
    release = (release or "").strip().lower()
    if release not in RELEASES:
        raise InputError(f"is public or restricted, not {release!r}", field="release")
    with store.session() as session:
        source = get_source(session, name)
        before = source.release
        source.release = release
        if before != release:
            record_audit(session, store, actor, action="source release set", object_kind="source",
                         object_id=source.name, details={"release": release, "before": before})
        return source_to_dict(source) | {"changed": before != release}


def ensure_incident(session: Session, name: str) -> Incident:
    name = validate_incident_name(name)
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
        "release": source.release,
        "created_at": source.created_at.isoformat(),
    }


def import_to_dict(row: Import, source_name: str, incident_name: str | None = None) -> dict:
    """One import batch: the file, how it was read, and what came in, was refused or was blank."""
    return {
        "id": row.id,
        "source": source_name,
        "incident": incident_name,
        "file": row.file_name,
        "file_sha256": row.file_sha256,
        "file_size": row.file_size,
        "format": row.format,
        "encoding": row.encoding,
        "header_line": row.header_line,
        "columns": row.columns,
        "rows": row.rows,
        "imported": row.imported,
        "rejected": row.rejected,
        "blank": row.blank,
        "warning_count": row.warning_count,
        "quarantine": bool(row.quarantine_path),
        "imported_by": row.imported_by,
        "software_version": row.software_version,
        "started_at": row.started_at.isoformat() if row.started_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def sources_with_imports(session: Session) -> list[dict]:
    """Every source (as :func:`list_sources`) with its imports, newest first."""
    sources = list_sources(session)
    incidents = dict(session.execute(sa.select(Incident.id, Incident.name)).all())
    by_source: dict[str, list[dict]] = {s["name"]: [] for s in sources}
    rows = session.execute(sa.select(Import, Source.name).join(Source, Source.id == Import.source_id)
                           .order_by(Import.id.desc()))
    for row, name in rows:
        by_source.setdefault(name, []).append(import_to_dict(row, name, incidents.get(row.incident_id)))
    return [s | {"import_list": by_source.get(s["name"], [])} for s in sources]


def get_import(session: Session, import_id: int, *, warnings_limit: int | None = None, warnings_offset: int = 0) -> dict:
    """One import with its warnings (line, field, message, value as given), in line order."""
    row = session.get(Import, import_id)
    if row is None:
        raise NotFound(f"no import with id {import_id}")
    source = session.get(Source, row.source_id)
    incident = session.get(Incident, row.incident_id) if row.incident_id else None
    query = (sa.select(FieldWarning.line, FieldWarning.field, FieldWarning.message, FieldWarning.value)
             .where(FieldWarning.import_id == import_id).order_by(FieldWarning.line, FieldWarning.id)
             .offset(warnings_offset))
    if warnings_limit is not None:
        query = query.limit(warnings_limit)
    warnings = [{"line": line, "field": field, "message": message, "value": value}
                for line, field, message, value in session.execute(query)]
    return import_to_dict(row, source.name, incident.name if incident else None) | {"warnings": warnings}


def quarantine_report(session: Session, quarantine_dir: Path, import_id: int) -> Path:
    """The quarantine report of an import: its file, which must lie inside ``quarantine_dir``.

    Raises NotFound when the import refused no row (or the report is gone), and refuses a stored
    path that resolves anywhere else (a moved workspace or an edited database must not serve
    other files).
    """
    row = session.get(Import, import_id)
    if row is None:
        raise NotFound(f"no import with id {import_id}")
    if not row.quarantine_path:
        raise NotFound(f"import {import_id} refused no row: it has no quarantine report")
    folder = Path(quarantine_dir).resolve()
    stored = Path(row.quarantine_path)
    # A workspace copied or moved elsewhere keeps its reports under its own quarantine folder.
    candidate = stored if stored.is_absolute() else folder / stored
    path = candidate.resolve()
    if not path.is_relative_to(folder):
        moved = (folder / stored.name).resolve()
        if moved.parent == folder and moved.is_file():
            path = moved
        else:
            raise DadkhahError(f"the quarantine report of import {import_id} is not in the workspace's quarantine folder")
    if not path.is_file():
        raise NotFound(f"the quarantine report of import {import_id} is missing from {folder}")
    return path
