"""Importing a list: every row kept, normalised, or refused with a reason; all of it or none of it.

The rules, in the order they bite:

* The same file (same SHA-256) imported into the same source again adds nothing.
* Row-level problems refuse the row into the quarantine report: a different number of cells than
  the header has columns, no name at all, a ``record_id`` that an earlier row of the file already
  used. ``rows == imported + rejected`` always holds; blank rows are not data rows.
* Field-level problems (an impossible date, an unknown place or gender) keep the record and its
  original text, leave the normalised value empty, and add a warning naming line and field.
* An import is all or nothing: if anything fails, nothing is written and the quarantine report is
  removed. The rows are read into a staging area of the import's own first and moved into the
  workspace's tables in one short transaction (:mod:`dadkhah.ingest.staging`), so a long import
  does not hold the database's write lock while it reads.
* A record whose ``record_id`` the source already holds from an earlier import becomes a new
  version of it; the older version is marked superseded, never edited or deleted.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah import __version__
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.ingest.columns import ColumnPlan, load_mapping, plan_columns
from dadkhah.ingest.limits import ReadLimits
from dadkhah.ingest.quarantine import Quarantine
from dadkhah.ingest.readers import RowStream, open_rows
from dadkhah.ingest.staging import Staging, take_write_lock
from dadkhah.model import CANONICAL_FIELDS, DATE_FIELDS, FieldWarning, Import, Record
from dadkhah.model.base import utcnow
from dadkhah.normalize.dates import DateParseError, parse_date
from dadkhah.normalize.gender import GenderParseError, parse_gender
from dadkhah.normalize.names import normalize_name, split_full_name
from dadkhah.normalize.places import Gazetteer
from dadkhah.normalize.script import fold_text
from dadkhah.places import load_gazetteer
from dadkhah.sources import ensure_incident, ensure_source, find_source, validate_source_name
from dadkhah.store import Store, insert_rows

BATCH_ROWS = 5000
Progress = Callable[[int, int], None]


@dataclass
class ImportSummary:
    """What an import did. ``to_dict`` is the ``--json`` document of ``dadkhah import``."""

    source: str
    import_id: int
    file: str
    file_sha256: str
    format: str
    encoding: str | None
    rows: int
    imported: int
    rejected: int
    blank: int
    warning_count: int
    warnings: list[dict]
    quarantine: str | None
    columns: dict[str, str]
    header_line: int = 1
    already_imported: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@contextlib.contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector while rows stream through.

    The row loop makes no reference cycles, but every collection still walks the millions of live
    objects an import holds (caches, batches): measured, 8% of a 100,000-row import. Reference
    counting still frees everything; the collector runs once at the end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.collect()


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 and size, streamed."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class RowNormaliser:
    """Turns one row's cells into a record's columns plus warnings.

    Lists repeat the same cells (names, dates, cities) thousands of times, so each field's whole
    outcome is cached per import: a repeated cell costs one dictionary look-up.
    """

    def __init__(self, plan: ColumnPlan, gazetteer: Gazetteer):
        self.width = len(plan.header)
        self.pos = {spec.field: i for i, spec in enumerate(plan.specs) if spec is not None}
        self.date_options = {spec.field: (spec.calendar, spec.order) for spec in plan.specs if spec and spec.field in DATE_FIELDS}
        self.gazetteer = gazetteer
        self._present = tuple((name, p) for name, p in self.pos.items())
        self._absent = dict.fromkeys(CANONICAL_FIELDS)
        self._dates = {name: lru_cache(maxsize=65536)(partial(_date_outcome, calendar=c, order=o)) for name, (c, o) in self.date_options.items()}
        self._gender = lru_cache(maxsize=1024)(_gender_outcome)
        self._fold = lru_cache(maxsize=65536)(fold_text)
        self._place = lru_cache(maxsize=65536)(self._place_outcome)

    def cells_by_field(self, cells: list[str]) -> dict[str, str | None]:
        values = self._absent.copy()
        count = len(cells)
        for name, p in self._present:
            if p < count:
                values[name] = cells[p].strip() or None
        return values

    def _place_outcome(self, text: str, types: tuple[str, ...]) -> tuple[str | None, str | None]:
        match = self.gazetteer.resolve(text, types)
        if match is None:
            return None, f"unknown place {text!r}, kept as given (teach it with `dadkhah places add-alias`)"
        return match.place_id, None

    def __call__(self, cells: list[str]) -> tuple[dict | None, list[tuple[str, str, str | None]], str | None]:
        """(record columns, warnings as (field, message, value), reason to refuse the row or None)."""
        v = self.cells_by_field(cells)
        names = _names_outcome(v["given_name"], v["family_name"], v["full_name"], v["father_name"])
        if names is None:
            return None, [], "no name: the given, family and full name are all empty or marked unknown"
        warnings: list[tuple[str, str, str | None]] = []
        row = dict(names)
        row["raw"] = cells
        row["given_name"], row["family_name"] = v["given_name"], v["family_name"]
        row["full_name"], row["father_name"] = v["full_name"], v["father_name"]

        text = v["gender"]
        row["gender"] = text
        row["gender_norm"] = None
        if text:
            row["gender_norm"], problem = self._gender(text)
            if problem:
                warnings.append(("gender", problem, text))

        for field_name, prefix in (("birth_date", "birth"), ("death_date", "death")):
            text = v[field_name]
            row[field_name] = text
            outcome = self._dates[field_name](text) if text else _NO_DATE
            (row[f"{prefix}_calendar"], row[f"{prefix}_precision"], row[f"{prefix}_earliest"],
             row[f"{prefix}_latest"], problem) = outcome
            if problem:
                warnings.append((field_name, problem, text))
        if row["birth_earliest"] and row["death_latest"] and row["death_latest"] < row["birth_earliest"]:
            warnings.append(("death_date", "the death date is before the birth date; both kept as given", row["death_date"]))

        for field_name, types in (("city", ("city", "province")), ("prison", ("prison",))):
            text = v[field_name]
            row[field_name] = text
            place_id = None
            if text:
                place_id, problem = self._place(text, types)
                if problem:
                    warnings.append((field_name, problem, text))
            row[f"{field_name}_place_id"] = place_id

        text = v["affiliation"]
        row["affiliation"] = text
        row["affiliation_norm"] = self._fold(text) if text else None
        row["notes"] = v["notes"]
        return row, warnings, None


_NO_DATE = (None, None, None, None, None)


def _date_outcome(text: str, *, calendar: str, order: str) -> tuple:
    """(calendar, precision, earliest, latest, warning) for one date cell."""
    try:
        value = parse_date(text, calendar=calendar, order=order)
    except DateParseError as exc:
        return (None, None, None, None, str(exc))
    if value is None:
        return _NO_DATE
    precision = "approximate" if value.approximate else value.precision
    return (value.calendar, precision, value.earliest, value.latest, None)


def _gender_outcome(text: str) -> tuple[str | None, str | None]:
    try:
        return parse_gender(text), None
    except GenderParseError as exc:
        return None, str(exc)


def _names_outcome(given_text, family_text, full_text, father_text) -> dict | None:
    """The name columns of a record, or None when it has no name at all.

    Not cached as a whole: combinations of names rarely repeat, while each name does (and
    :func:`normalize_name` caches those).
    """
    given = normalize_name(given_text, "given") if given_text else None
    family = normalize_name(family_text, "family") if family_text else None
    full = split_full_name(full_text) if full_text else None
    if given is None and family is None and full is None:
        return None
    father = normalize_name(father_text, "father") if father_text else None
    # A full name fills in the given and family name a list did not give separately.
    given_v = given or (full.given if full else None)
    family_v = family or (full.family if full else None)
    if full is not None:
        full_norm, full_key = full.full.normalized, full.full.key
    else:
        full_norm = " ".join(v.normalized for v in (given_v, family_v) if v) or None
        full_key = " ".join(v.key for v in (given_v, family_v) if v and v.key) or None
    values = [v for v in (given, family, full.full if full else None) if v is not None]
    titles = aliases = None
    if any(v.titles or v.aliases for v in values):  # rare: most rows carry neither
        titles = " ".join(dict.fromkeys(t for v in values for t in v.titles)) or None
        found = list(dict.fromkeys(a for v in values for a in v.aliases))
        aliases = json.dumps(found, ensure_ascii=False) if found else None
    scripts = {v.script for v in values if v.script}
    return {
        "given_name_norm": given_v.normalized if given_v else None,
        "given_name_key": given_v.key if given_v else None,
        "family_name_norm": family_v.normalized if family_v else None,
        "family_name_key": family_v.key if family_v else None,
        "full_name_norm": full_norm,
        "full_name_key": full_key,
        "father_name_norm": father.normalized if father else None,
        "father_name_key": father.key if father else None,
        "name_script": (scripts.pop() if len(scripts) == 1 else "mixed") if scripts else None,
        "titles": titles,
        "aliases": aliases,
    }


@dataclass
class _Batch:
    records: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)


def _flush(session: Session, staging: Staging, batch: _Batch) -> None:
    insert_rows(session, staging.records, batch.records)
    batch.records.clear()
    insert_rows(session, staging.warnings, batch.warnings)
    batch.warnings.clear()


def import_file(
    store: Store,
    path: str | os.PathLike,
    *,
    actor: Actor,
    source: str,
    format: str | None = None,
    encoding: str = "auto",
    mapping: str | os.PathLike | None = None,
    incident: str | None = None,
    sheet: str | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import one list file into ``source``. See the module docstring for the rules.

    The audit event "list imported" names the import and its counts (never the rows) and is
    written in the import's own transaction; a file the source already holds is recorded as such
    (``already_imported``), since nothing was added.
    """
    started = time.perf_counter()
    path = Path(path)
    source = validate_source_name(source)
    column_mapping = load_mapping(mapping) if mapping else None

    def names_a_person(cells: list[str]) -> bool:
        try:
            plan_columns(cells, column_mapping)
        except InputError:
            return False
        return True

    limits = ReadLimits.from_config(store.workspace.config)
    stream = open_rows(path, format=format, encoding=encoding, sheet=sheet, is_header=names_a_person, limits=limits)
    with stream:
        limit_mb = store.workspace.config.get("import", {}).get("max_file_mb", 4096)
        if stream.total_bytes > limit_mb * 1024 * 1024:
            raise InputError(f"the file is larger than the workspace's limit of {limit_mb} MB (import.max_file_mb)", file=str(path))
        sha256, size = file_sha256(path)
        if (summary := _already_imported(store, actor, source, sha256, started)) is not None:
            return summary
        with Staging(store) as staging:
            with staging.session() as session:
                gazetteer = load_gazetteer(session)
                session.rollback()  # a read, ended: nothing of the workspace is held while the rows are read
            quarantine = Quarantine(store.workspace.quarantine_dir, source=source, header=stream.header)
            try:
                with staging.session() as session, _collector_paused():
                    counts = _stage_rows(session, staging, stream, column_mapping, gazetteer, quarantine, progress,
                                         limits)
                    counts["duplicates"] = (_quarantine_repeated_ids(session, staging, quarantine)
                                            if counts.pop("has_record_ids") else 0)
                    session.commit()
                with staging.session() as session:
                    take_write_lock(session)
                    summary = _publish(session, store, staging, actor, source=source, incident=incident, path=path,
                                       sha256=sha256, size=size, stream=stream, counts=counts, quarantine=quarantine,
                                       started=started)
                    session.commit()
            except BaseException:
                quarantine.discard()
                raise
    return summary


def _already_imported(store: Store, actor: Actor, source: str, sha256: str, started: float) -> ImportSummary | None:
    """The summary of this file's earlier import into ``source`` (audited as such), or None."""
    with store.session() as session:
        source_row = find_source(session, source)
        earlier = (session.scalar(sa.select(Import).where(Import.source_id == source_row.id, Import.file_sha256 == sha256))
                   if source_row else None)
        if earlier is None:
            return None
        _audit_import(session, store, actor, earlier, already=True)
        return _summary(session, earlier, source, already=True, seconds=time.perf_counter() - started)


def _publish(session: Session, store: Store, staging: Staging, actor: Actor, *, source: str, incident: str | None,
             path: Path, sha256: str, size: int, stream: RowStream, counts: dict, quarantine: Quarantine,
             started: float) -> ImportSummary:
    """The one transaction that makes the import real: its row, its staged records and warnings moved
    in, earlier versions superseded, the quarantine report named, the audit event written."""
    source_row = ensure_source(session, source)
    earlier = session.scalar(sa.select(Import).where(Import.source_id == source_row.id, Import.file_sha256 == sha256))
    if earlier is not None:  # the same file, imported meanwhile by someone else: nothing to add
        quarantine.discard()
        _audit_import(session, store, actor, earlier, already=True)
        return _summary(session, earlier, source, already=True, seconds=time.perf_counter() - started)
    incident_row = ensure_incident(session, incident) if incident else None
    duplicates = counts["duplicates"]
    batch_row = Import(
        source_id=source_row.id, incident_id=incident_row.id if incident_row else None, file_name=path.name,
        file_sha256=sha256, file_size=size, format=stream.format, encoding=stream.encoding,
        header=counts["header"], header_line=stream.header_line, columns=counts["columns"],
        imported_by=actor.name, software_version=__version__,
        rows=counts["rows"], imported=counts["rows"] - counts["rejected"] - duplicates,
        rejected=counts["rejected"] + duplicates, blank=counts["blank"],
    )
    session.add(batch_row)
    session.flush()
    _move_staged(session, staging, batch_row.id, source_row.id)
    if counts["file_warnings"]:
        session.execute(sa.insert(FieldWarning.__table__), [
            {"import_id": batch_row.id, "line": stream.header_line, "field": f, "message": m, "value": None}
            for f, m in counts["file_warnings"]])
    _supersede_earlier_versions(session, batch_row.id, source_row.id)
    batch_row.warning_count = session.scalar(sa.select(sa.func.count()).select_from(FieldWarning)
                                             .where(FieldWarning.import_id == batch_row.id))
    batch_row.quarantine_path = quarantine.close(batch_row.id)
    batch_row.finished_at = utcnow()
    session.flush()
    _audit_import(session, store, actor, batch_row, already=False)
    return _summary(session, batch_row, source, already=False, seconds=time.perf_counter() - started)


def _move_staged(session: Session, staging: Staging, import_id: int, source_id: int) -> None:
    """Staged records and warnings into the workspace's tables, with the import's number and source;
    a record without an id of its own gets ``#<import>.<line>``."""
    staged = staging.records
    generated = sa.literal("#") + sa.cast(sa.literal(import_id), sa.String) + "." + sa.cast(staged.c.line, sa.String)
    given = {"import_id": sa.literal(import_id), "source_id": sa.literal(source_id),
             "record_id": sa.func.coalesce(staged.c.record_id, generated)}
    names = [c.name for c in staged.columns]
    session.execute(sa.insert(Record.__table__).from_select(
        names, sa.select(*[given.get(n, staged.c[n]).label(n) for n in names])))
    names = [c.name for c in staging.warnings.columns]
    session.execute(sa.insert(FieldWarning.__table__).from_select(
        names, sa.select(*[(sa.literal(import_id) if n == "import_id" else staging.warnings.c[n]).label(n)
                           for n in names])))


def _stage_rows(session, staging: Staging, stream: RowStream, mapping, gazetteer: Gazetteer, quarantine: Quarantine,
                progress, limits: ReadLimits) -> dict:
    """Read, normalise and stage every row (committed a few batches at a time: the staging area is
    the import's own); refused rows go to the quarantine report."""
    file = str(stream.path)
    plan = plan_columns(stream.header, mapping, file=file) if stream.header else None
    normaliser = RowNormaliser(plan, gazetteer) if plan else None
    batch = _Batch()
    rows = blank = rejected = flushed = 0
    file_warnings = [(f, m) for f, m in plan.warnings] if plan else []
    last_report = 0.0
    for line, cells, problem in stream.rows:
        if len(stream.header) != (normaliser.width if normaliser else 0):
            # JSON lists discover columns as they go: plan again with the wider header.
            plan = plan_columns(stream.header, mapping, file=file)
            normaliser = RowNormaliser(plan, gazetteer)
            quarantine.set_header(stream.header)
        if all(not c.strip() for c in cells):
            blank += 1
            continue
        rows += 1
        if rows > limits.max_rows:
            raise limits.refuse(f"the file has more than {limits.max_rows:,} rows", "max_rows", stream.path, line=line)
        if problem:
            quarantine.add(line, problem, cells)
            rejected += 1
            continue
        width = normaliser.width
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]
        if len(cells) != width and stream.format not in ("json", "jsonl"):
            quarantine.add(line, f"the row has {len(cells)} cells but the header has {width} columns", cells)
            rejected += 1
            continue
        values, warnings, reason = normaliser(cells)
        if reason:
            quarantine.add(line, reason, cells)
            rejected += 1
            continue
        position = normaliser.pos.get("record_id")
        record_id = (cells[position].strip() or None) if position is not None and position < len(cells) else None
        if record_id is None or len(record_id) > 200:
            if record_id is not None:
                warnings.append(("record_id", "record_id is longer than 200 characters; a generated id is used", record_id))
            elif "record_id" in normaliser.pos:
                warnings.append(("record_id", "the record_id is empty; a generated id is used", None))
            record_id = None  # given as #<import>.<line> when the import has its number
        values.update(source_id=None, import_id=None, line=line, record_id=record_id, version=1, superseded_by=None)
        batch.records.append(values)
        for field_name, message, value in warnings:
            batch.warnings.append({"import_id": None, "line": line, "field": field_name, "message": message, "value": value})
        if len(batch.records) >= BATCH_ROWS:
            _flush(session, staging, batch)
            flushed += 1
            if flushed % 10 == 0:
                session.commit()
            if progress is not None and time.perf_counter() - last_report > 0.1:
                progress(stream.bytes_read, stream.total_bytes)
                last_report = time.perf_counter()
    if plan is None:
        raise InputError("the file holds no rows", file=file)
    _flush(session, staging, batch)
    if progress is not None:
        progress(stream.total_bytes, stream.total_bytes)
    return {
        "rows": rows,
        "rejected": rejected,
        "blank": blank,
        "file_warnings": file_warnings,
        "has_record_ids": "record_id" in normaliser.pos,
        "columns": plan.as_dict(),
        "header": list(stream.header),
    }


def _quarantine_repeated_ids(session: Session, staging: Staging, quarantine: Quarantine) -> int:
    """Refuse every row whose record_id an earlier row of the same file already used.

    Done in SQL on the staged rows, so memory does not grow with the file and nothing of the
    workspace is locked meanwhile.
    """
    staged, notes = staging.records, staging.warnings
    firsts = (
        sa.select(staged.c.record_id, sa.func.min(staged.c.line).label("first_line"))
        .where(staged.c.record_id.is_not(None))
        .group_by(staged.c.record_id)
        .having(sa.func.count() > 1)
        .subquery()
    )
    repeats = session.execute(
        sa.select(staged.c.line, staged.c.record_id, staged.c.raw, firsts.c.first_line)
        .join(firsts, sa.and_(staged.c.record_id == firsts.c.record_id, staged.c.line > firsts.c.first_line))
        .order_by(staged.c.line)
    ).all()
    if not repeats:
        return 0
    for line, record_id, raw, first_line in repeats:
        quarantine.add(line, f"record_id {record_id!r} repeats line {first_line}", raw, field="record_id")
    lines = [r[0] for r in repeats]
    for start in range(0, len(lines), 500):
        chunk = lines[start:start + 500]
        session.execute(sa.delete(notes).where(notes.c.line.in_(chunk)))
        session.execute(sa.delete(staged).where(staged.c.line.in_(chunk)))
    return len(repeats)


def _supersede_earlier_versions(session: Session, import_id: int, source_id: int) -> None:
    """Records this import repeats (by record_id) become new versions of the source's earlier ones."""
    earlier_imports = session.scalar(
        sa.select(sa.func.count()).select_from(Import).where(Import.source_id == source_id, Import.id != import_id)
    )
    if not earlier_imports:
        return
    old = sa.orm.aliased(Record)
    new_ids = sa.select(Record.record_id).where(Record.import_id == import_id)
    previous = (
        sa.select(sa.func.count())
        .select_from(old)
        .where(old.source_id == source_id, old.record_id == Record.record_id, old.import_id != import_id)
        .scalar_subquery()
    )
    session.execute(
        sa.update(Record)
        .where(Record.import_id == import_id)
        .values(version=previous + 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        sa.update(Record)
        .where(Record.source_id == source_id, Record.import_id != import_id, Record.superseded_by.is_(None), Record.record_id.in_(new_ids))
        .values(superseded_by=import_id)
        .execution_options(synchronize_session=False)
    )


def _summary(session: Session, batch_row: Import, source: str, *, already: bool, seconds: float) -> ImportSummary:
    warnings = [
        {"line": line, "field": field_name, "message": message}
        for line, field_name, message in session.execute(
            sa.select(FieldWarning.line, FieldWarning.field, FieldWarning.message)
            .where(FieldWarning.import_id == batch_row.id)
            .order_by(FieldWarning.line, FieldWarning.id)
        )
    ]
    return ImportSummary(
        source=source,
        import_id=batch_row.id,
        file=batch_row.file_name,
        file_sha256=batch_row.file_sha256,
        format=batch_row.format,
        encoding=batch_row.encoding,
        rows=batch_row.rows,
        imported=batch_row.imported,
        rejected=batch_row.rejected,
        blank=batch_row.blank,
        warning_count=len(warnings),
        warnings=warnings,
        quarantine=batch_row.quarantine_path,
        columns=batch_row.columns,
        header_line=batch_row.header_line,
        already_imported=already,
        seconds=round(seconds, 3),
    )


# --- rows given in memory, inside the caller's transaction -------------------------------------


@dataclass
class CheckedRow:
    """One row given in memory, normalised: its record's columns, or the reason it cannot be one."""

    line: int
    cells: list[str]
    values: dict | None
    warnings: list[tuple[str, str, str | None]]
    reason: str | None = None
    field: str = ""


def check_rows(session: Session, header: list[str], rows, *, mapping=None, file: str | None = None
               ) -> tuple[ColumnPlan, list[CheckedRow]]:
    """Normalise rows given in memory (``(line, cells)`` pairs) as an import would, writing nothing.

    For an action that brings records in with other things (an intake from a field tool, where a
    submission's victims, testimony and files go in together or not at all): it learns which rows
    would be refused, and why, before it writes anything. The rules are the import's: no name, a
    different number of cells than the header has columns, a ``record_id`` an earlier row used.
    """
    plan = plan_columns(header, mapping, file=file)
    normaliser = RowNormaliser(plan, load_gazetteer(session))
    position = normaliser.pos.get("record_id")
    seen: dict[str, int] = {}
    checked = []
    for line, cells in rows:
        cells = list(cells)
        if len(cells) != normaliser.width:
            checked.append(CheckedRow(line, cells, None, [], f"the row has {len(cells)} cells but the header has "
                                                              f"{normaliser.width} columns"))
            continue
        values, warnings, reason = normaliser(cells)
        if reason:
            checked.append(CheckedRow(line, cells, None, [], reason))
            continue
        record_id = (cells[position].strip() or None) if position is not None else None
        if record_id is not None and len(record_id) > 200:
            warnings.append(("record_id", "record_id is longer than 200 characters; a generated id is used", record_id))
            record_id = None
        if record_id is not None and record_id in seen:
            checked.append(CheckedRow(line, cells, None, [], f"record_id {record_id!r} repeats line {seen[record_id]}",
                                      "record_id"))
            continue
        if record_id is not None:
            seen[record_id] = line
        values.update(source_id=None, import_id=None, line=line, record_id=record_id, version=1, superseded_by=None)
        checked.append(CheckedRow(line, cells, values, warnings))
    return plan, checked


def import_rows_in(session: Session, store: Store, actor: Actor, rows: list[CheckedRow], *, plan: ColumnPlan,
                   source: str, file_name: str, file_sha256: str, file_size: int, format: str,
                   incident: str | None = None, quarantine_path: str | None = None) -> ImportSummary:
    """Import rows :func:`check_rows` accepted, in the caller's transaction: the import's row, its records
    and warnings, earlier versions superseded, and the audit event "list imported", all committed or
    rolled back with the caller's action. Rows with a reason are refused by the caller, not here."""
    started = time.perf_counter()
    accepted = [r for r in rows if r.reason is None]
    source_row = ensure_source(session, source)
    incident_row = ensure_incident(session, incident) if incident else None
    batch_row = Import(
        source_id=source_row.id, incident_id=incident_row.id if incident_row else None, file_name=file_name,
        file_sha256=file_sha256, file_size=file_size, format=format, encoding=None, header=list(plan.header),
        header_line=1, columns=plan.as_dict(), imported_by=actor.name, software_version=__version__,
        rows=len(accepted), imported=len(accepted), rejected=0, blank=0, quarantine_path=quarantine_path,
    )
    session.add(batch_row)
    session.flush()
    records, notes = [], []
    for row in accepted:
        values = dict(row.values, source_id=source_row.id, import_id=batch_row.id)
        values["record_id"] = values["record_id"] or f"#{batch_row.id}.{row.line}"
        records.append(values)
        notes.extend({"import_id": batch_row.id, "line": row.line, "field": f, "message": m, "value": v}
                     for f, m, v in row.warnings)
    insert_rows(session, Record.__table__, records)
    insert_rows(session, FieldWarning.__table__, notes)
    if plan.warnings:
        session.execute(sa.insert(FieldWarning.__table__), [
            {"import_id": batch_row.id, "line": 1, "field": f, "message": m, "value": None} for f, m in plan.warnings])
    _supersede_earlier_versions(session, batch_row.id, source_row.id)
    batch_row.warning_count = len(notes) + len(plan.warnings)
    batch_row.finished_at = utcnow()
    session.flush()
    _audit_import(session, store, actor, batch_row, already=False)
    return _summary(session, batch_row, source_row.name, already=False, seconds=time.perf_counter() - started)


# --- lists that arrive over the web -----------------------------------------------------------

UPLOAD_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".xlsx": "xlsx"}
_ZIP_MAGIC = b"PK\x03\x04"
_TEXT_CONTROLS = {"\t", "\n", "\r", "\f", "\v"}


def check_list_file(path: str | os.PathLike, *, name: str | None = None) -> str:
    """Refuse what is not a CSV, TSV or XLSX list by its extension *and* its content; returns the format.

    An XLSX file must be a zip archive; a CSV or TSV file must decode as text in an encoding the
    importer reads (see :func:`dadkhah.ingest.readers.detect_encoding`) and hold no binary control
    bytes. ``name`` is the name to show in messages (the file as the user knows it).
    """
    from dadkhah.ingest.readers import detect_encoding

    path = Path(path)
    shown = name or path.name
    fmt = UPLOAD_EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(f"only CSV, TSV or XLSX lists can be imported here, not {path.suffix or 'a file without an extension'!r}",
                         file=shown, field="file")
    size = path.stat().st_size
    if size == 0:
        raise InputError("the file is empty", file=shown, field="file")
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if fmt == "xlsx":
        if not head.startswith(_ZIP_MAGIC):
            raise InputError("this is not an XLSX workbook (an XLSX file is a zip archive); save the list as .xlsx or .csv",
                             file=shown, field="file")
        return fmt
    if head.startswith(_ZIP_MAGIC):
        raise InputError("this is a zip archive or a workbook, not a CSV text file; name it .xlsx if it is a workbook",
                         file=shown, field="file")
    try:
        encoding = detect_encoding(path)
    except InputError as exc:
        raise InputError(f"this is not a text file the importer can read: {exc.message}", file=shown, field="file") from None
    text = head.decode(encoding, errors="replace")
    controls = sum(1 for ch in text if ch < " " and ch not in _TEXT_CONTROLS)
    if "\x00" in text or controls > max(2, len(text) // 200):
        raise InputError("this is not a text list: it holds binary data (is it a PDF, an image or an old .xls file?)",
                         file=shown, field="file")
    return fmt


def _audit_import(session: Session, store: Store, actor: Actor, batch: Import, *, already: bool) -> None:
    record_audit(session, store, actor, action="list imported", object_kind="import", object_id=str(batch.id),
                 details={"import_id": batch.id, "source_id": batch.source_id, "file_sha256": batch.file_sha256,
                          "rows": batch.rows, "imported": batch.imported, "rejected": batch.rejected,
                          "blank": batch.blank, "warnings": batch.warning_count, "already_imported": already})
