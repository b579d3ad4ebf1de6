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

import hashlib
import json
import os
import re
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
from dadkhah.ingest import parallel
from dadkhah.ingest.columns import ColumnPlan, load_mapping, plan_columns
from dadkhah.ingest.limits import ReadLimits
from dadkhah.ingest.quarantine import Quarantine
from dadkhah.ingest.readers import RowStream, open_rows
from dadkhah.ingest.staging import Staging, take_write_lock
from dadkhah.model import DATE_FIELDS, PLACE_FIELD_TYPES, FieldWarning, Import, Record
from dadkhah.model.base import utcnow
from dadkhah.normalize.dates import DateParseError, parse_date, year_last_layout
from dadkhah.normalize.gender import GenderParseError, parse_gender
from dadkhah.normalize.names import normalize_name, split_full_name
from dadkhah.normalize.places import Gazetteer
from dadkhah.normalize.script import INVISIBLE, fold_text, visible_text
from dadkhah.places import load_gazetteer
from dadkhah.sources import (
    ensure_incident,
    ensure_source,
    find_source,
    validate_incident_name,
    validate_source_name,
)
from dadkhah.store import Store, append_rows, collector_paused, insert_rows, json_text

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


def file_sha256(path: Path) -> tuple[str, int]:
    """SHA-256 and size, streamed."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


# A staged record's columns, in the order the normaliser gives them: the records table's, without
# its id and the columns every record of an import starts with the same value in (its source and
# import, given as it is published; version 1; not superseded). Checked against the model when this
# module loads.
RECORD_COLUMNS = (
    "line", "record_id", "raw",
    "given_name", "given_name_norm", "given_name_key", "family_name", "family_name_norm", "family_name_key",
    "full_name", "full_name_norm", "full_name_key", "father_name", "father_name_norm", "father_name_key",
    "name_script", "titles", "aliases", "gender", "gender_norm",
    "birth_date", "birth_calendar", "birth_precision", "birth_earliest", "birth_latest",
    "death_date", "death_calendar", "death_precision", "death_earliest", "death_latest",
    "city", "city_place_id", "prison", "prison_place_id", "affiliation", "affiliation_norm", "notes",
)
WARNING_COLUMNS = ("id", "import_id", "line", "field", "message", "value")  # id: the order they came in
_SAME_FOR_ALL = ("source_id", "import_id", "version", "superseded_by")
if set(RECORD_COLUMNS) != {c.name for c in Record.__table__.columns} - {"id", *_SAME_FOR_ALL}:  # pragma: no cover
    raise RuntimeError("the importer's RECORD_COLUMNS no longer match the records table; update both together")

# The fields a row's cells feed, in the order RowNormaliser reads them.
_FIELDS = ("given_name", "family_name", "full_name", "father_name", "gender", "birth_date", "death_date", "city",
           "prison", "affiliation", "notes", "record_id")
_ABSENT = 1 << 30  # where a field the file does not have sits: past the end of every row
_JSON_ESCAPES = re.compile(r"[\x00-\x1f\\]")  # and '"', counted apart (the joins hold quotes)


def raw_json(cells: list[str]) -> str:
    """``cells`` as the text the ``raw`` column stores: exactly what the workspace's JSON writer gives
    (:func:`dadkhah.store.json_text`), by joining when no cell needs escaping, as almost none does."""
    try:
        joined = '","'.join(cells)
    except TypeError:  # a cell that is not text
        return json_text(cells)
    if not cells or joined.count('"') != 2 * len(cells) - 2 or _JSON_ESCAPES.search(joined):
        return json_text(cells)
    return '["' + joined + '"]'


def _same(value):
    return value


class RowNormaliser:
    """Turns one row's cells into a record's columns plus warnings.

    Lists repeat the same cells (names, dates, cities) thousands of times, so each field's whole
    outcome is cached per import: a repeated cell costs one dictionary look-up. :meth:`row` gives the
    columns as one tuple in :data:`RECORD_COLUMNS` order (what the import stages, with no dictionary
    per row); ``date_value`` and ``raw_value`` turn a date and the row's cells into what the database
    is given (a date's once per distinct cell). Calling the normaliser gives the same as a dictionary.
    """

    def __init__(self, plan: ColumnPlan, gazetteer: Gazetteer, *, date_value=_same, raw_value=_same):
        self.width = len(plan.header)
        self.pos = {spec.field: i for i, spec in enumerate(plan.specs) if spec is not None}
        self.date_options = {spec.field: (spec.calendar, spec.order) for spec in plan.specs if spec and spec.field in DATE_FIELDS}
        self.gazetteer = gazetteer
        self._positions = tuple(self.pos.get(name, _ABSENT) for name in _FIELDS)
        self._raw_value = raw_value
        self._dates = {name: lru_cache(maxsize=65536)(partial(_date_outcome, calendar=c, order=o, convert=date_value))
                       for name, (c, o) in self.date_options.items()}
        self._birth = self._dates.get("birth_date")
        self._death = self._dates.get("death_date")
        self._gender = lru_cache(maxsize=1024)(_gender_outcome)
        self._fold = lru_cache(maxsize=65536)(fold_text)
        self._place = lru_cache(maxsize=65536)(self._place_outcome)
        self._father = lru_cache(maxsize=65536)(_father_outcome)

    def record_id(self, cells: list[str]) -> str | None:
        """The row's own record_id as given (None when it has none)."""
        position = self._positions[11]
        return (cells[position].strip() or None) if position < len(cells) else None

    def _place_outcome(self, text: str, types: tuple[str, ...]) -> tuple[str | None, str | None]:
        match = self.gazetteer.resolve(text, types)
        if match is None:
            return None, self.gazetteer.unknown_place(text, types)
        return match.place_id, None

    def row(self, cells: list[str], line: int | None = None, record_id: str | None = None
            ) -> tuple[tuple | None, list[tuple[str, str, str | None]], str | None]:
        """(record columns in :data:`RECORD_COLUMNS` order, warnings as (field, message, value), reason
        to refuse the row or None)."""
        count = len(cells)
        warnings: list[tuple[str, str, str | None]] = []
        values = [(cells[p].strip() or None) if p < count else None for p in self._positions]
        if INVISIBLE.search("\t".join(cells)):  # rare: one search of the row decides
            values = self._visible(values, warnings)
        (given, family, full, father, gender, birth, death, city, prison, affiliation, notes, _) = values
        names = _names_outcome(given, family, full)
        if names is None:
            return None, [], NO_NAME
        for field_name in names[9]:  # rare: a name column holding a number
            warnings.append((field_name, f"the {field_name.replace('_', ' ')} holds no letters; not used for "
                                         "matching", values[_FIELDS.index(field_name)]))
        father_norm, father_key = self._father(father) if father else _NO_NAME
        gender_norm = None
        if gender:
            gender_norm, problem = self._gender(gender)
            if problem:
                warnings.append(("gender", problem, gender))
        b = self._birth(birth) if birth else _NO_DATE
        if b[4]:
            warnings.append(("birth_date", b[4], birth))
        d = self._death(death) if death else _NO_DATE
        if d[4]:
            warnings.append(("death_date", d[4], death))
        if b[2] and d[3] and d[3] < b[2]:
            warnings.append(("death_date", "the death date is before the birth date; both kept as given", death))
        city_id = prison_id = None
        if city:
            city_id, problem = self._place(city, _CITY_TYPES)
            if problem:
                warnings.append(("city", problem, city))
        if prison:
            prison_id, problem = self._place(prison, _PRISON_TYPES)
            if problem:
                warnings.append(("prison", problem, prison))
        (given_norm, given_key, family_norm, family_key, full_norm, full_key, script, titles, aliases, _) = names
        return (line, record_id, self._raw_value(cells),
                given, given_norm, given_key, family, family_norm, family_key, full, full_norm, full_key,
                father, father_norm, father_key, script, titles, aliases, gender, gender_norm,
                birth, b[0], b[1], b[5], b[6], death, d[0], d[1], d[5], d[6],
                city, city_id, prison, prison_id, affiliation, self._fold(affiliation) if affiliation else None,
                notes), warnings, None

    @staticmethod
    def _visible(values: list, warnings: list) -> list:
        """The cells without control and bidi-override characters (:data:`INVISIBLE`), each removal a
        warning; the row as given keeps them."""
        cleaned = []
        for name, value in zip(_FIELDS, values, strict=True):
            if value is not None and INVISIBLE.search(value):
                shown, removed = visible_text(value)
                warnings.append((name, f"{removed} invisible control or text-direction character(s) removed: they "
                                        "could hide or reverse what is shown", value))
                value = shown.strip() or None
            cleaned.append(value)
        return cleaned

    def __call__(self, cells: list[str]) -> tuple[dict | None, list[tuple[str, str, str | None]], str | None]:
        """(record columns by name, warnings as (field, message, value), reason to refuse the row or None)."""
        values, warnings, reason = self.row(cells)
        if values is None:
            return None, warnings, reason
        row = dict(zip(RECORD_COLUMNS, values, strict=True))
        del row["line"], row["record_id"]
        return row, warnings, None


_CITY_TYPES = PLACE_FIELD_TYPES["city"]
_PRISON_TYPES = PLACE_FIELD_TYPES["prison"]
_NO_NAME = (None, None)
_LETTER = re.compile(r"[^\W\d_]")
NO_NAME = "no name: the given, family and full name are all empty, marked unknown or hold no letters"
# (calendar, precision, earliest, latest, warning, earliest and latest as the database is given them)
_NO_DATE = (None, None, None, None, None, None, None)


def _date_outcome(text: str, *, calendar: str, order: str, convert=_same) -> tuple:
    """(calendar, precision, earliest, latest, warning, earliest and latest converted) for one date cell."""
    try:
        value = parse_date(text, calendar=calendar, order=order)
    except DateParseError as exc:
        return (None, None, None, None, str(exc), None, None)
    if value is None:
        return _NO_DATE
    precision = "approximate" if value.approximate else value.precision
    earliest, latest = value.earliest, value.latest
    return (value.calendar, precision, earliest, latest, None,
            convert(earliest) if earliest is not None else None, convert(latest) if latest is not None else None)


def _gender_outcome(text: str) -> tuple[str | None, str | None]:
    try:
        return parse_gender(text), None
    except GenderParseError as exc:
        return None, str(exc)


def _father_outcome(text: str) -> tuple[str | None, str | None]:
    father = normalize_name(text, "father")
    return (father.normalized, father.key) if father else _NO_NAME


def _names_outcome(given_text, family_text, full_text) -> tuple | None:
    """The name columns of a record (given, family and full name, each normalised and keyed; the
    script, titles and aliases, and the name fields left out for holding no letters), or None
    when it has no name at all."""
    given = normalize_name(given_text, "given") if given_text else None
    family = normalize_name(family_text, "family") if family_text else None
    full = split_full_name(full_text) if full_text else None
    # A name of digits or signs alone ("12345", "#12") gives nothing to match a person on.
    letterless = tuple(name for name, value in (("given_name", given), ("family_name", family),
                                                ("full_name", full.full if full else None))
                       if value is not None and not _LETTER.search(value.normalized or ""))
    if letterless:
        given = None if "given_name" in letterless else given
        family = None if "family_name" in letterless else family
        full = None if "full_name" in letterless else full
    if full is not None:
        # A full name fills in the given and family name a list did not give separately.
        given_v = given or full.given
        family_v = family or full.family
        full_norm, full_key = full.full.normalized, full.full.key
        values = [v for v in (given, family, full.full) if v is not None]
    elif given is None:
        if family is None:
            return None
        given_v, family_v, values = None, family, (family,)
        full_norm, full_key = family.normalized or None, family.key or None
    elif family is None:
        given_v, family_v, values = given, None, (given,)
        full_norm, full_key = given.normalized or None, given.key or None
    else:
        given_v, family_v, values = given, family, (given, family)
        full_norm = given.normalized + " " + family.normalized
        given_key, family_key = given.key, family.key
        full_key = (given_key + " " + family_key if family_key else given_key) if given_key else (family_key or None)
    titles = aliases = None
    for v in values:
        if v.titles or v.aliases:  # rare: most rows carry neither
            titles = " ".join(dict.fromkeys(t for v in values for t in v.titles)) or None
            found = list(dict.fromkeys(a for v in values for a in v.aliases))
            aliases = json.dumps(found, ensure_ascii=False) if found else None
            break
    scripts = {v.script for v in values if v.script}
    return (given_v.normalized if given_v else None, given_v.key if given_v else None,
            family_v.normalized if family_v else None, family_v.key if family_v else None,
            full_norm, full_key, (scripts.pop() if len(scripts) == 1 else "mixed") if scripts else None,
            titles, aliases, letterless)


@dataclass
class _Batch:
    """Staged rows waiting to be written, as tuples in :data:`RECORD_COLUMNS` and :data:`WARNING_COLUMNS` order."""

    records: list[tuple] = field(default_factory=list)
    warnings: list[tuple] = field(default_factory=list)


def _flush(session: Session, staging: Staging, batch: _Batch) -> None:
    append_rows(session, staging.records, RECORD_COLUMNS, batch.records)
    batch.records.clear()
    append_rows(session, staging.warnings, WARNING_COLUMNS, batch.warnings)
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
    return _import(store, Path(path), actor=actor, source=validate_source_name(source), format=format,
                   encoding=encoding, mapping=load_mapping(mapping) if mapping else None,
                   incident=validate_incident_name(incident),
                   sheet=sheet, progress=progress, started=time.perf_counter(), in_parts=True)


def _import(store: Store, path: Path, *, actor: Actor, source: str, format, encoding, mapping, incident, sheet,
            progress, started: float, in_parts: bool) -> ImportSummary:
    """:func:`import_file`; a large CSV file is read in two parts at once (:mod:`dadkhah.ingest.parallel`)
    unless ``in_parts`` is False."""
    def names_a_person(cells: list[str]) -> bool:
        try:
            plan_columns(cells, mapping)
        except InputError:
            return False
        return True

    limits = ReadLimits.from_config(store.workspace.config)
    split = parallel.splitter(store, path, format) if in_parts else None
    stream = open_rows(path, format=format, encoding=encoding, sheet=sheet, is_header=names_a_person, limits=limits,
                       split=split)
    with stream:
        limit_mb = store.workspace.config.get("import", {}).get("max_file_mb", 4096)
        if stream.total_bytes > limit_mb * 1024 * 1024:
            raise InputError(f"the file is larger than the workspace's limit of {limit_mb} MB (import.max_file_mb)", file=str(path))
        sha256, size = file_sha256(path)
        if (summary := _already_imported(store, actor, source, sha256, started)) is not None:
            return summary
        part = split.part if split is not None else None
        try:
            return _import_rows(store, stream, part, actor=actor, source=source, mapping=mapping, incident=incident,
                                progress=progress, started=started, limits=limits, sha256=sha256, size=size,
                                fresh=split is not None and split.fresh)
        except parallel.CutInsideRow:
            pass  # read whole, below (once this file is closed)
    return _import(store, path, actor=actor, source=source, format=format, encoding=encoding, mapping=mapping,
                   incident=incident, sheet=sheet, progress=progress, started=started, in_parts=False)


def _import_rows(store: Store, stream: RowStream, part, *, actor: Actor, source: str, mapping, incident, progress,
                 started: float, limits: ReadLimits, sha256: str, size: int, fresh: bool = False) -> ImportSummary:
    """Stage the rows (two parts at once when ``part`` cuts the file; ``fresh``: the second part in a fresh
    interpreter, see :mod:`dadkhah.ingest.parallel`), then move them in one transaction."""
    path = stream.path
    with Staging(store) as staging:
        with staging.session() as session:
            gazetteer = load_gazetteer(session)
            converters = _database_values(session)
            session.rollback()  # a read, ended: nothing of the workspace is held while the rows are read
        quarantine = Quarantine(store.workspace.quarantine_dir, source=source, header=stream.header)
        stage = {"mapping": mapping, "gazetteer": gazetteer, "limits": limits, "converters": converters}
        second = None
        try:
            if part is not None:
                second = parallel.SecondPart(
                    _stage_rows, part=part, staged=staging.new_part(), path=path, encoding=stream.encoding,
                    header=stream.header, limits=limits,
                    options={"record_columns": RECORD_COLUMNS, "warning_columns": WARNING_COLUMNS, "stage": stage},
                    fresh=fresh)
            read = (lambda: stream.bytes_read + second.bytes_read) if second else (lambda: stream.bytes_read)
            report = (lambda: progress(read(), size)) if progress is not None else None
            with staging.session() as session, collector_paused():
                counts, seen = _stage_rows(stream, quarantine=quarantine, sink=_SessionSink(session, staging),
                                           report=report, **stage)
                candidates = set(seen.again)
                if second is not None:
                    if not part.clean:
                        raise parallel.CutInsideRow
                    more, again = second.wait(report)
                    session.commit()  # SQLite attaches no database inside a transaction
                    staging.attach(second.staged)
                    counts = _with_second_part(session, second.staged, quarantine, counts, more, limits, path)
                    candidates.update(again)
                    candidates.update(i for i in session.scalars(sa.select(second.staged.records.c.record_id)
                                                                 .where(second.staged.records.c.record_id.is_not(None)))
                                      if seen.may_hold(i))
                del seen
                ordered = [(c,) for c in sorted(candidates)]
                for start in range(0, len(ordered), BATCH_ROWS):
                    append_rows(session, staging.candidates, ("record_id",), ordered[start:start + BATCH_ROWS])
                if progress is not None:
                    progress(size, size)
                counts["duplicates"] = _quarantine_repeated_ids(session, staging, quarantine) if candidates else 0
                _check_date_orders(session, staging, plan_columns(stream.header, mapping), path)
                session.commit()
            with staging.session() as session:
                take_write_lock(session)
                summary = _publish(session, store, staging, actor, source=source, incident=incident, path=path,
                                   sha256=sha256, size=size, stream=stream, counts=counts, quarantine=quarantine,
                                   started=started)
                session.commit()
            quarantine.committed()
        except BaseException:
            quarantine.discard()
            raise
        finally:
            if second is not None:
                second.stop()
    return summary


_DATE_SEPARATORS = ("/", "-", ".")


def _check_date_orders(session: Session, staging: Staging, plan: ColumnPlan, path: Path) -> None:
    """Refuse a list whose date column can only be month first somewhere (``04/13/1988``) while other
    dates in it could be read either way (``03/04/1988``): read one value at a time, those would be
    taken day first, in silence, and wrong. The mapping file's date order settles it. Each
    distinct date is looked at once, with the first line that holds it."""
    for column, spec in zip(plan.header, plan.specs, strict=True):
        if spec is None or spec.field not in DATE_FIELDS or spec.order != "auto":
            continue
        first: dict[str, tuple[int, str]] = {}  # layout -> (line, text) of its first date
        for records, _, offset in staging.sections():
            value = records.c[spec.field]
            year_last = sa.or_(*(sa.func.substr(value, at, 1).in_(_DATE_SEPARATORS) for at in (2, 3)))  # 3/4/1988, 03/04/…
            for text, line in session.execute(sa.select(value, sa.func.min(records.c.line)).where(year_last)
                                              .group_by(value)):
                layout = year_last_layout(text)
                if layout is not None and (layout not in first or line + offset < first[layout][0]):
                    first[layout] = (line + offset, text)
        if "mdy" in first and "either" in first:
            (line, text), (either_line, either) = first["mdy"], first["either"]
            raise InputError(
                f"the column {column!r} writes {text!r} month first, while {either!r} (line {either_line}) and "
                "other dates in it could be read day first or month first; say which in a mapping file "
                "([dates] order = \"mdy\" for month first, \"dmy\" for day first) and import again",
                file=str(path), line=line, field=column)


def _with_second_part(session: Session, staged, quarantine: Quarantine, counts: dict, more: dict, limits: ReadLimits,
                      path: Path) -> dict:
    """The counts of both parts; the rows the second part refused added to the quarantine report, with
    their lines as the whole file numbers them."""
    refused = staged.refused
    for line, reason, field_name, cells in session.execute(
            sa.select(refused.c.line, refused.c.reason, refused.c.field, refused.c.cells).order_by(refused.c.line)):
        quarantine.add(line + staged.line_offset, reason, json.loads(cells), field_name)
    counts = counts | {k: counts[k] + more[k] for k in ("rows", "rejected", "blank")}
    if counts["rows"] > limits.max_rows:
        raise limits.refuse(f"the file has more than {limits.max_rows:,} rows", "max_rows", path)
    return counts


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
    if "record_id" not in counts["columns"].values() and session.scalar(
            sa.select(Record.id).where(Record.source_id == source_row.id, Record.superseded_by.is_(None)).limit(1)):
        # Without ids, no row can be matched to one the source already holds: a corrected copy of an
        # earlier list would stand beside it, every person twice and the old values still current.
        counts["file_warnings"] = [*counts["file_warnings"], (
            "record_id", f"this list has no record_id column, so its records cannot replace any that {source!r} "
            "already holds: both are now current. If it corrects an earlier list, give both a record_id column "
            "(a corrected list then replaces its earlier records), or import it into a source of its own")]
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
    a record without an id of its own gets ``#<import>.<line>``. Records take their ids in the
    order of their lines, warnings in the order they were found, on every database (PostgreSQL
    keeps a table's rows in no particular order, so there the rows are sorted; SQLite reads them
    back in the order they were written). A file read in two parts is moved part after part, the
    second's lines counted after the first's."""
    sqlite = session.connection().dialect.name == "sqlite"
    sections = staging.sections()
    for staged, _notes, offset in sections:
        line = staged.c.line + offset if offset else staged.c.line
        in_order = sa.literal_column("rowid") if sqlite else staged.c.line
        generated = sa.literal("#") + sa.cast(sa.literal(import_id), sa.String) + "." + sa.cast(line, sa.String)
        given = {"import_id": sa.literal(import_id), "source_id": sa.literal(source_id), "version": sa.literal(1),
                 "superseded_by": sa.null(), "record_id": sa.func.coalesce(staged.c.record_id, generated), "line": line}
        names = [c.name for c in staged.columns]
        session.execute(sa.insert(Record.__table__).from_select(
            names, sa.select(*[given.get(n, staged.c[n]).label(n) for n in names]).order_by(in_order)))
    for _staged, notes, offset in sections:
        given = {"import_id": sa.literal(import_id), "line": notes.c.line + offset if offset else notes.c.line}
        names = [c.name for c in notes.columns if c.name != "id"]
        session.execute(sa.insert(FieldWarning.__table__).from_select(
            names, sa.select(*[given.get(n, notes.c[n]).label(n) for n in names]).order_by(notes.c.id)))


class _Sieve:
    """Which record_ids may have come before: a fixed-size bit table (a Bloom filter with one hash),
    so memory does not grow with the file. Every id seen twice lands in ``again``, with the few others
    whose bit an earlier id had set (under 1% of a million rows); SQL then says which truly repeat."""

    BITS = 1 << 27  # 16 MB

    def __init__(self) -> None:
        self.table = bytearray(self.BITS >> 3)
        self.again: set[str] = set()

    def may_hold(self, record_id: str) -> bool:
        """Whether ``record_id`` may have been added (True for every one that was, and a few others)."""
        h = hash(record_id) & (self.BITS - 1)
        return bool(self.table[h >> 3] & (1 << (h & 7)))

    def add(self, record_id: str) -> None:
        h = hash(record_id) & (self.BITS - 1)
        byte, bit = h >> 3, 1 << (h & 7)
        if self.table[byte] & bit:
            self.again.add(record_id)
        else:
            self.table[byte] |= bit


class _SessionSink:
    """Staged rows written through the import's staging session (the first part of a file read in two,
    or the whole file)."""

    def __init__(self, session: Session, staging: Staging):
        self.session, self.staging = session, staging

    def write(self, batch: _Batch) -> None:
        _flush(self.session, self.staging, batch)

    def commit(self) -> None:
        self.session.commit()


def _stage_rows(stream: RowStream, *, mapping, gazetteer: Gazetteer, quarantine, sink, report, limits: ReadLimits,
                converters) -> tuple[dict, _Sieve]:
    """Read, normalise and stage every row of ``stream`` into ``sink`` (committed a few batches at a time:
    the staging area is the import's own); refused rows go to ``quarantine``. ``report()`` is called
    now and then (progress). Returns the counts and the sieve of record_ids seen."""
    file = str(stream.path)
    plan = plan_columns(stream.header, mapping, file=file) if stream.header else None
    date_value, raw_value = converters
    make = partial(RowNormaliser, gazetteer=gazetteer, date_value=date_value, raw_value=raw_value)
    normaliser = make(plan) if plan else None
    batch = _Batch()
    records, notes = batch.records, batch.warnings
    seen = _Sieve()
    rows = blank = rejected = flushed = noted = 0
    first_refused: tuple[int, str] | None = None
    max_rows = limits.max_rows
    file_warnings = [(f, m) for f, m in plan.warnings] if plan else []
    json_format = stream.format in ("json", "jsonl")
    header = stream.header
    last_report = 0.0
    width = normaliser.width if normaliser else 0
    has_id = normaliser is not None and "record_id" in normaliser.pos
    for line, cells, problem in stream.rows:
        if len(header) != width:
            # JSON lists discover columns as they go: plan again with the wider header.
            plan = plan_columns(header, mapping, file=file)
            normaliser = make(plan)
            width, has_id = normaliser.width, "record_id" in normaliser.pos
            quarantine.set_header(header)
        if not "".join(cells).strip():  # every cell blank (or none at all)
            blank += 1
            continue
        rows += 1
        if rows > max_rows:
            raise limits.refuse(f"the file has more than {max_rows:,} rows", "max_rows", stream.path, line=line)
        if problem:
            quarantine.add(line, problem, cells)
            rejected += 1
            first_refused = first_refused or (line, problem)
            continue
        if len(cells) != width:
            if len(cells) > width and not "".join(cells[width:]).strip():
                cells = cells[:width]
            if len(cells) != width and not json_format:
                quarantine.add(line, f"the row has {len(cells)} cells but the header has {width} columns", cells)
                rejected += 1
                continue
        record_id = normaliser.record_id(cells) if has_id else None
        warnings = None
        if record_id is not None and len(record_id) > 200:
            warnings = [("record_id", "record_id is longer than 200 characters; a generated id is used", record_id)]
            record_id = None  # given as #<import>.<line> when the import has its number
        elif record_id is None and has_id:
            warnings = [("record_id", "the record_id is empty; a generated id is used", None)]
        values, found, reason = normaliser.row(cells, line, record_id)
        if reason:
            quarantine.add(line, reason, cells)
            rejected += 1
            continue
        records.append(values)
        if record_id is not None:
            seen.add(record_id)
        if found or warnings:
            for field_name, message, value in (found + warnings if warnings else found):
                noted += 1
                notes.append((noted, None, line, field_name, message, value))
        if len(records) >= BATCH_ROWS:
            sink.write(batch)
            flushed += 1
            if flushed % 10 == 0:
                sink.commit()
            if report is not None and time.perf_counter() - last_report > 0.1:
                report()
                last_report = time.perf_counter()
    if plan is None and first_refused:  # every row refused, none with named fields: not such a list at all
        line, problem = first_refused
        raise InputError(f"none of its {rejected:,} rows can be read as a list's row (the first: {problem}): is it "
                         f"{'JSON Lines' if stream.format == 'jsonl' else 'JSON'}?", file=file, line=line)
    if plan is None:
        raise InputError("the file holds no rows", file=file)
    sink.write(batch)
    return {
        "rows": rows,
        "rejected": rejected,
        "blank": blank,
        "file_warnings": file_warnings,
        "columns": plan.as_dict(),
        "header": list(stream.header),
    }, seen


def _database_values(session: Session):
    """How a date and a row's cells are given to the staging tables on this database: on SQLite as the
    columns' own bind processors make them (so stored exactly as SQLAlchemy would store them); on
    PostgreSQL, whose staging is written with COPY, dates as they are and the cells as JSON text."""
    if session.connection().dialect.name == "sqlite":
        return sqlite_values()
    return _same, raw_json


def sqlite_values():
    """:func:`_database_values` on SQLite (also for the process reading a list's second part)."""
    from sqlalchemy.dialects import sqlite

    process = Record.__table__.c.birth_earliest.type._cached_bind_processor(sqlite.dialect()) or _same
    return process, raw_json


def _quarantine_repeated_ids(session: Session, staging: Staging, quarantine: Quarantine) -> int:
    """Refuse every row whose record_id an earlier row of the same file already used.

    Done in SQL on the staged rows, so memory does not grow with the file and nothing of the
    workspace is locked meanwhile: the ids that may repeat (:class:`_Sieve`) are checked first, and
    each later step reads the staged rows once, looking the ids up by key. A file read in two parts
    is checked as one (lines counted as in the whole file).
    """
    repeats, candidates = staging.repeats, sa.select(staging.candidates.c.record_id)
    lines = [sa.select(staged.c.record_id, (staged.c.line + offset).label("line"))
             .where(staged.c.record_id.in_(candidates)) for staged, _notes, offset in staging.sections()]
    staged_lines = (lines[0] if len(lines) == 1 else sa.union_all(*lines)).subquery()
    found = session.execute(sa.insert(repeats).from_select(
        ["record_id", "first_line"],
        sa.select(staged_lines.c.record_id, sa.func.min(staged_lines.c.line))
        .group_by(staged_lines.c.record_id)
        .having(sa.func.count() > 1)))
    if not found.rowcount:
        return 0
    refused = 0
    for staged, notes, offset in staging.sections():
        repeated = sa.and_(repeats.c.record_id == staged.c.record_id, staged.c.line + offset > repeats.c.first_line)
        rows = session.execute(
            sa.select(staged.c.line, staged.c.record_id, staged.c.raw, repeats.c.first_line)
            .select_from(staged).join(repeats, repeated)
            .order_by(staged.c.line)
        )
        for line, record_id, raw, first_line in rows:
            quarantine.add(line + offset, f"record_id {record_id!r} repeats line {first_line}", raw, field="record_id")
            refused += 1
        session.execute(sa.delete(notes).where(notes.c.line.in_(sa.select(staged.c.line).select_from(staged)
                                                                .join(repeats, repeated))))
        session.execute(sa.delete(staged).where(sa.exists().where(repeated)))
    return refused


def _supersede_earlier_versions(session: Session, import_id: int, source_id: int) -> None:
    """Records this import repeats (by record_id) become new versions of the source's earlier ones."""
    earlier_imports = session.scalar(
        sa.select(sa.func.count()).select_from(Import).where(Import.source_id == source_id, Import.id != import_id)
    )
    if not earlier_imports:
        return
    if session.connection().dialect.name == "postgresql":
        # The planner has not measured the records this transaction added: without this it compares
        # every new record with every old one (minutes for a corrected list of 30,000), with it it hashes.
        session.execute(sa.text("ANALYZE records"))
    old = sa.orm.aliased(Record)
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
        .where(Record.source_id == source_id, Record.import_id != import_id, Record.superseded_by.is_(None),
               Record.record_id.in_(sa.select(Record.record_id).where(Record.import_id == import_id)))
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
    importer reads (see :func:`dadkhah.ingest.readers.detect_encoding`) and hold no more control
    bytes than a damaged cell or two (a binary file holds them everywhere). ``name`` is the name to show in messages (the file as the user knows it).
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
    # A binary file is full of control bytes; a list with a damaged cell or two (a NUL, say) is not:
    # its import sets those rows aside in the quarantine report, as the command line does.
    controls = sum(1 for ch in text if ch < " " and ch not in _TEXT_CONTROLS)
    if controls > max(2, len(text) // 200):
        raise InputError("this is not a text list: it holds binary data (is it a PDF, an image or an old .xls file?)",
                         file=shown, field="file")
    return fmt


def _audit_import(session: Session, store: Store, actor: Actor, batch: Import, *, already: bool) -> None:
    record_audit(session, store, actor, action="list imported", object_kind="import", object_id=str(batch.id),
                 details={"import_id": batch.id, "source_id": batch.source_id, "file_sha256": batch.file_sha256,
                          "rows": batch.rows, "imported": batch.imported, "rejected": batch.rejected,
                          "blank": batch.blank, "warnings": batch.warning_count, "already_imported": already})
