"""Importing accountability data: a folder of CSV files, or one workbook with a sheet per file.

The files (``institutions``, ``officials``, ``sites``, ``acts``, ``posts``, ``involvements``,
``official_status``, ``site_status``, ``burials``; see :data:`dadkhah.accountability.rows.FILES`)
are read in that order, so a row may name what an earlier file or an earlier row of its own file
defines (an institution's parent may come later in ``institutions``). Everything is read and
checked first, with nothing of the workspace locked; then one transaction writes the claims, the
import's row and its audit event. A refused row goes to its file's quarantine report with the line,
the field and the reason; ``rows = imported + rejected`` for every file. Importing the same files
again adds nothing.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from dadkhah import __version__
from dadkhah.accountability.claims import (
    Lookups,
    NewEntity,
    Prepared,
    Written,
    lock_claims,
    write_claims,
)
from dadkhah.accountability.rows import CITATION_COLUMNS, FILES, Draft, read_row
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.ingest.importer import file_sha256
from dadkhah.ingest.limits import ReadLimits
from dadkhah.ingest.quarantine import Quarantine
from dadkhah.ingest.readers import open_rows
from dadkhah.model import ClaimImport, Source
from dadkhah.model.base import utcnow
from dadkhah.places import load_gazetteer
from dadkhah.sources import ensure_source, validate_source_name
from dadkhah.store import Store

_TEXT_EXTENSIONS = (".csv", ".tsv")
_SHEET = re.compile(rb'<sheet\b[^>]*\bname="([^"]*)"')


@dataclass
class AccountabilitySummary:
    """What an accountability import did, per file and in all."""

    source: str
    import_id: int | None
    path: str
    files: dict[str, dict]
    rows: int
    imported: int
    rejected: int
    claims: dict
    warnings: list[dict] = field(default_factory=list)
    quarantine: dict[str, str] = field(default_factory=dict)
    already_imported: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class _Table:
    """One file (or sheet) to read: its kind and where it is."""

    kind: str
    path: Path
    sheet: str | None = None

    @property
    def shown(self) -> str:
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name


def find_tables(path: Path) -> tuple[list[_Table], list[dict]]:
    """The files (or sheets) of an import, in reading order, and warnings for what is passed over."""
    warnings = []
    if not path.exists():
        raise InputError("not found", file=str(path))
    if path.is_dir():
        tables, seen = [], set()
        for child in sorted(path.iterdir()):
            stem, suffix = child.stem.lower(), child.suffix.lower()
            if child.is_file() and suffix in _TEXT_EXTENSIONS and stem in FILES:
                if stem in seen:
                    raise InputError(f"two files for {stem!r}: keep one", file=str(child))
                seen.add(stem)
                tables.append(_Table(stem, child))
            elif child.is_file() and suffix in (*_TEXT_EXTENSIONS, ".xlsx") and not child.name.startswith("."):
                # a table that is none of the files is worth a word (a misspelt name?); notes are not
                warnings.append({"file": child.name, "field": None, "line": None,
                                 "message": "not read: not one of " + ", ".join(f"{k}.csv" for k in FILES)})
    elif path.is_file() and path.suffix.lower() == ".xlsx":
        names = _sheet_names(path)
        tables = [_Table(name.lower(), path, name) for name in names if name.lower() in FILES]
        warnings += [{"file": f"{path.name}[{name}]", "field": None, "line": None,
                      "message": "not read: not one of the sheets " + ", ".join(FILES)}
                     for name in names if name.lower() not in FILES]
    elif path.is_file() and path.suffix.lower() in _TEXT_EXTENSIONS and path.stem.lower() in FILES:
        tables = [_Table(path.stem.lower(), path)]
    else:
        raise InputError("give a folder of CSV files (institutions.csv, officials.csv, …), one of those files, "
                         "or one .xlsx workbook with a sheet per file", file=str(path))
    if not tables:
        raise InputError("holds none of the files " + ", ".join(f"{k}.csv" for k in FILES), file=str(path))
    order = list(FILES)
    tables.sort(key=lambda t: order.index(t.kind))
    return tables, warnings


def _sheet_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("xl/workbook.xml")
            if info.file_size > 4 * 2**20:
                raise InputError("the workbook's list of sheets is too large to be a real workbook", file=str(path))
            return [html.unescape(m.decode("utf-8")) for m in _SHEET.findall(archive.read(info))]
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise InputError(f"cannot read the workbook: it is not a valid XLSX file ({exc})", file=str(path)) from None


def _content_sha256(tables: list[_Table]) -> tuple[str, dict[str, str]]:
    digest = hashlib.sha256()
    per_file = {}
    for table in tables:
        sha, _size = file_sha256(table.path)
        per_file[table.shown] = sha
        digest.update(f"{table.kind}\0{table.sheet or ''}\0{sha}\n".encode())
    return digest.hexdigest(), per_file


def import_accountability(store: Store, path: str | os.PathLike, *, actor: Actor, source: str,
                          progress=None) -> AccountabilitySummary:
    """Import a folder of accountability CSV files (or one workbook) on behalf of ``source``.

    ``progress(done, total)`` is called now and then, in rows. The audit event "accountability
    imported" names the import and its counts, in the import's own transaction.
    """
    started = time.perf_counter()
    path = Path(path)
    source = validate_source_name(source)
    tables, warnings = find_tables(path)
    content, per_file_sha = _content_sha256(tables)
    with store.session() as session:
        source_row = session.scalar(sa.select(Source).where(Source.name == source))
        earlier = (session.scalar(sa.select(ClaimImport).where(ClaimImport.source_id == source_row.id,
                                                               ClaimImport.content_sha256 == content))
                   if source_row else None)
        if earlier is not None:
            _audit(session, store, actor, earlier, already=True)
            session.commit()
            return _summary(earlier, source, warnings=warnings, already=True, claims={}, started=started)
    limits = ReadLimits.from_config(store.workspace.config)
    quarantines: dict[str, Quarantine] = {}
    counts: dict[str, dict] = {}
    items: list[Prepared] = []
    try:
        with store.session() as session:
            lookups = Lookups(session, load_gazetteer(session), source)
            for table in tables:
                counts[table.shown] = _read_table(table, lookups, items, warnings, quarantines, limits, progress,
                                                  source, store.workspace.quarantine_dir)
                counts[table.shown]["sha256"] = per_file_sha[table.shown]
            session.rollback()  # only read: nothing is held while the claims wait
        with store.session() as session:
            lock_claims(session)
            source_ids = {name: ensure_source(session, name).id for name in sorted({i.source for i in items} | {source})}
            batch = ClaimImport(source_id=source_ids[source], path_name=path.name, content_sha256=content,
                                files=counts, rows=sum(c["rows"] for c in counts.values()),
                                imported=sum(c["imported"] for c in counts.values()),
                                rejected=sum(c["rejected"] for c in counts.values()),
                                imported_by=actor.name, software_version=__version__)
            session.add(batch)
            session.flush()
            written = write_claims(session, items, lookups.new.values(), actor_name=actor.name, import_id=batch.id,
                                   source_ids=source_ids)
            paths = {name: q.close(batch.id) for name, q in quarantines.items()}
            batch.quarantine_path = os.path.dirname(next(iter(paths.values()))) if paths else None
            for name, report in paths.items():
                counts[name]["quarantine"] = report
            batch.files = dict(counts)
            flag_modified(batch, "files")  # changed inside: the reports' names are kept (the sweep keeps what they name)
            batch.finished_at = utcnow()
            session.flush()
            _audit(session, store, actor, batch, already=False, written=written)
            session.commit()
            for quarantine in quarantines.values():  # named by the import now: no sweep takes it for a dead one's
                quarantine.committed()
            return _summary(batch, source, warnings=warnings, already=False, claims=_claims_counts(written),
                            started=started)
    except BaseException:
        for quarantine in quarantines.values():
            quarantine.discard()
        raise


def _claims_counts(written: Written) -> dict:
    return {"added": written.claims, "corroborated": written.corroborated, "unchanged": written.unchanged,
            "superseded": written.superseded, "conflicts": written.conflicts, "entities": written.entities}


def _read_table(table: _Table, lookups: Lookups, items: list[Prepared], warnings: list[dict],
                quarantines: dict[str, Quarantine], limits: ReadLimits, progress, source: str, folder: Path) -> dict:
    """Read one file into ``items``; refused rows into its quarantine report. Returns its counts."""
    expected = FILES[table.kind]
    stream = open_rows(table.path, sheet=table.sheet, limits=limits,
                       is_header=lambda cells: expected[0] in {c.strip().lower() for c in cells})
    rows = rejected = 0
    deferred: list[tuple[int, list[str], Draft, dict]] = []
    with stream:
        header = [c.strip().lower() for c in stream.header]
        if expected[0] not in header:
            given = ", ".join(c.strip() for c in stream.header if c.strip()) or "none"
            raise InputError(f"has no column {expected[0]!r} (the columns of a {table.kind} file: "
                             f"{', '.join(expected + CITATION_COLUMNS)}; this file's: {given})",
                             file=table.shown, line=stream.header_line, field=expected[0])
        known = set(expected) | set(CITATION_COLUMNS)
        extras = [(i, name) for i, name in enumerate(stream.header) if header[i] not in known and name.strip()]
        width = len(header)

        def refuse(line: int, cells: list[str], error: InputError) -> None:
            nonlocal rejected
            if table.shown not in quarantines:
                quarantines[table.shown] = Quarantine(folder, source=f"{source}-{table.kind}",
                                                      header=list(stream.header))
            quarantines[table.shown].add(line, error.message, cells, error.field or "")
            rejected += 1

        last = 0.0
        for line, cells, problem in stream.rows:
            if not any(c.strip() for c in cells):
                continue
            rows += 1
            if problem:
                refuse(line, cells, InputError(problem))
                continue
            if len(cells) > width and not any(c.strip() for c in cells[width:]):
                cells = cells[:width]
            if len(cells) != width:
                refuse(line, cells, InputError(f"the row has {len(cells)} cells but the header has {width} columns"))
                continue
            named = {header[i]: cells[i] for i in range(width)}
            extra = {name: cells[i].strip() for i, name in extras if cells[i].strip()}
            try:
                drafts = read_row(table.kind, named, line=line)
                for draft in drafts:
                    draft.file = table.kind
                    if draft.kind == "relation":
                        deferred.append((line, cells, draft, extra))
                        continue
                    prepared, notes = lookups.prepare(draft, extra)
                    items.append(prepared)
                    warnings.extend({"file": table.shown, "line": line, "field": f, "message": m} for f, m in notes)
            except InputError as error:
                refuse(line, cells, error)
            if progress is not None and time.perf_counter() - last > 0.2:
                progress(rows, None)
                last = time.perf_counter()
    refused_lines = set()
    for line, cells, draft, extra in deferred:  # parents may be defined below their children
        try:
            prepared, _notes = lookups.prepare(draft, extra)
            items.append(prepared)
        except InputError as error:
            if line not in refused_lines:
                refused_lines.add(line)
                _drop_row(items, lookups, table.kind, line)
                refuse(line, cells, error)
    return {"rows": rows, "imported": rows - rejected, "rejected": rejected}


def _drop_row(items: list[Prepared], lookups: Lookups, kind: str, line: int) -> None:
    """A row is imported whole or not at all: an institution whose parent is unknown is refused with it."""
    for index in range(len(items) - 1, -1, -1):
        item = items[index]
        if item.file == kind and item.line == line and item.kind != "relation":
            del items[index]
            if isinstance(item.subject, NewEntity) and not any(i.subject is item.subject for i in items):
                lookups.new.pop((item.subject.kind, item.subject.external_id), None)
            break


def _summary(batch: ClaimImport, source: str, *, warnings, already: bool, claims: dict,
             started: float) -> AccountabilitySummary:
    files = {name: {k: v for k, v in counts.items() if k != "sha256"} for name, counts in (batch.files or {}).items()}
    quarantine = {name: counts["quarantine"] for name, counts in files.items() if counts.get("quarantine")}
    return AccountabilitySummary(source=source, import_id=batch.id, path=batch.path_name, files=files, rows=batch.rows,
                                 imported=batch.imported, rejected=batch.rejected, claims=claims, warnings=warnings,
                                 quarantine=quarantine, already_imported=already,
                                 seconds=round(time.perf_counter() - started, 3))


def _audit(session: Session, store: Store, actor: Actor, batch: ClaimImport, *, already: bool,
           written: Written | None = None) -> None:
    details = {"import_id": batch.id, "source_id": batch.source_id, "content_sha256": batch.content_sha256,
               "rows": batch.rows, "imported": batch.imported, "rejected": batch.rejected, "already_imported": already}
    if written is not None:
        details["claims"] = _claims_counts(written)
    record_audit(session, store, actor, action="accountability imported", object_kind="claim-import",
                 object_id=str(batch.id), details=details)


def add_claim(store: Store, file: str, cells: dict[str, str | None], *, actor: Actor,
              source: str | None = None) -> dict:
    """Add what one row of ``file`` (``posts``, ``acts``, …, as in an import) says, as a form does.

    The row is read and checked exactly as an import reads it; a row an import would refuse raises
    :class:`InputError` naming the field. Returns the claims written (``claims``) and those already
    held that say the same (``held``: the row's citation was added to them, or they cite it already).
    """
    if file not in FILES:
        raise InputError(f"must be one of {', '.join(FILES)}, not {file!r}", field="file")
    cells = {k.strip().lower(): (v if v is None else str(v)) for k, v in cells.items()}
    if source is not None:
        source = validate_source_name(source)
    with store.session() as session:
        lookups = Lookups(session, load_gazetteer(session), source)
        items, warnings = [], []
        for draft in read_row(file, cells, line=None):
            draft.file = file
            prepared, notes = lookups.prepare(draft, {})
            items.append(prepared)
            warnings += [{"field": f, "message": m} for f, m in notes]
    with store.session() as session:
        lock_claims(session)
        source_ids = {name: ensure_source(session, name).id for name in sorted({i.source for i in items})}
        written = write_claims(session, items, lookups.new.values(), actor_name=actor.name, import_id=None,
                               source_ids=source_ids)
        from dadkhah.accountability.claims import claim_public_id

        claims = [claim_public_id(pk) for pk in written.new_claim_ids]
        held = list(dict.fromkeys(claim_public_id(pk) for pk in written.held_claim_ids))
        record_audit(session, store, actor, action="claim added", object_kind="claim",
                     object_id=claims[0] if claims else (held[0] if held else None),
                     details={"file": file, "claims": claims, "held": held} | _claims_counts(written))
        session.commit()
        return {"file": file, "claims": claims, "held": held, "warnings": warnings} | _claims_counts(written)
