"""Reading records back: each canonical field as given and as normalised, with its provenance."""

from __future__ import annotations

import json
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.model import Import, Place, Record, Source
from dadkhah.sources import get_source


def _date(record: Record, field: str, prefix: str) -> dict | None:
    original = getattr(record, field)
    if original is None:
        return None
    earliest = getattr(record, f"{prefix}_earliest")
    latest = getattr(record, f"{prefix}_latest")
    return {
        "original": original,
        "calendar": getattr(record, f"{prefix}_calendar"),
        "precision": getattr(record, f"{prefix}_precision"),
        "earliest": earliest.isoformat() if earliest else None,
        "latest": latest.isoformat() if latest else None,
    }


def _name(record: Record, field: str) -> dict | None:
    original = getattr(record, field)
    normalized = getattr(record, f"{field}_norm")
    if original is None and normalized is None:
        return None
    return {"original": original, "normalized": normalized, "key": getattr(record, f"{field}_key")}


def unique_header(header: list[str]) -> list[str]:
    """Column names made unique: repeated or empty names get a suffix ("Notes (2)", "column 3")."""
    seen: dict[str, int] = {}
    unique = []
    for position, name in enumerate(header, start=1):
        name = name or f"column {position}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        unique.append(name)
    return unique


def raw_row(header: list[str], cells: list[str]) -> dict[str, str]:
    """The row as given, column by column (repeated or empty column names get a suffix)."""
    names = unique_header(header)
    if len(cells) > len(names):  # JSON lists may have grown their header after this row
        names = names + [f"column {i}" for i in range(len(names) + 1, len(cells) + 1)]
    return dict(zip(names, cells, strict=False))


def record_to_dict(record: Record, source_name: str, place_names: dict[str, str], header: list[str]) -> dict:
    """The ``records list --json`` shape of one record."""

    def place(field: str) -> dict | None:
        original = getattr(record, field)
        if original is None:
            return None
        place_id = getattr(record, f"{field}_place_id")
        return {"original": original, "place_id": place_id, "name": place_names.get(place_id) if place_id else None}

    return {
        "source": source_name,
        "record_id": record.record_id,
        "line": record.line,
        "version": record.version,
        "import_id": record.import_id,
        "raw": raw_row(header, record.raw),
        "given_name": _name(record, "given_name"),
        "family_name": _name(record, "family_name"),
        "full_name": _name(record, "full_name"),
        "father_name": _name(record, "father_name"),
        "titles": record.titles.split() if record.titles else [],
        "aliases": json.loads(record.aliases) if record.aliases else [],
        "gender": {"original": record.gender, "normalized": record.gender_norm} if record.gender is not None else None,
        "birth_date": _date(record, "birth_date", "birth"),
        "death_date": _date(record, "death_date", "death"),
        "city": place("city"),
        "prison": place("prison"),
        "affiliation": {"original": record.affiliation, "normalized": record.affiliation_norm} if record.affiliation is not None else None,
        "notes": {"original": record.notes} if record.notes is not None else None,
    }


def iter_records(
    session: Session,
    *,
    source: str | None = None,
    include_superseded: bool = False,
    limit: int | None = None,
    offset: int = 0,
    batch_size: int = 2000,
) -> Iterator[dict]:
    """Records in import order, as dictionaries, streamed in batches so memory stays flat.

    An unknown source raises here, before the first record, not halfway through a stream.
    """
    place_names = dict(session.execute(sa.select(Place.id, Place.name_en)).all())
    query = (
        sa.select(Record, Source.name, Import.header)
        .join(Source, Source.id == Record.source_id)
        .join(Import, Import.id == Record.import_id)
    )
    if source is not None:
        query = query.where(Record.source_id == get_source(session, source).id)
    return _stream(session, query, place_names, include_superseded=include_superseded, limit=limit, offset=offset, batch_size=batch_size)


def _stream(session, query, place_names, *, include_superseded, limit, offset, batch_size) -> Iterator[dict]:
    if not include_superseded:
        query = query.where(Record.superseded_by.is_(None))
    query = query.order_by(Record.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    result = session.execute(query.execution_options(yield_per=batch_size))
    for record, source_name, header in result:
        yield record_to_dict(record, source_name, place_names, header)
    session.expunge_all()


def count_records(session: Session, *, source: str | None = None, include_superseded: bool = False) -> int:
    """How many current records (with ``include_superseded``, every version) the registry holds, or ``source`` does."""
    query = sa.select(sa.func.count()).select_from(Record)
    if not include_superseded:
        query = query.where(Record.superseded_by.is_(None))
    if source is not None:
        query = query.where(Record.source_id == get_source(session, source).id)
    return session.scalar(query)


def current_record_counts(session: Session, *, place_id: str | None = None) -> list[tuple[int, str | None, str | None, int]]:
    """Current records counted by import, city and prison (only those naming ``place_id`` as either,
    when given): ``(import_id, city_place_id, prison_place_id, n)``.

    One pass over the index that holds exactly these columns (``ix_records_import_places``), in its own
    order: nothing is sorted and no record is read (1.7 million records: 0.4 s against 4 s for the
    separate scans of the table it replaces)."""
    query = (sa.select(Record.import_id, Record.city_place_id, Record.prison_place_id, sa.func.count())
             .where(Record.superseded_by.is_(None))
             .group_by(Record.import_id, Record.city_place_id, Record.prison_place_id))
    if place_id is not None:
        query = query.where(sa.or_(Record.city_place_id == place_id, Record.prison_place_id == place_id))
    return [tuple(row) for row in session.execute(query)]


def place_record_counts(session: Session, *, place_id: str | None = None) -> dict[str, dict[str, int]]:
    """For each place named by current records (or only ``place_id``): how many name it as their
    city, and as their prison."""
    counts: dict[str, dict[str, int]] = {}
    for _, city, prison, n in current_record_counts(session, place_id=place_id):
        for named, label in ((city, "as_city"), (prison, "as_prison")):
            if named is not None and place_id in (None, named):
                counts.setdefault(named, {"as_city": 0, "as_prison": 0})[label] += n
    return counts
