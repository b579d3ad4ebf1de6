"""Bounds on what a list file may ask of the reader, checked before anything large is allocated.

A list of a million victims is a few hundred megabytes; a hostile file of a few kilobytes can ask
for far more: a workbook whose one cell sits at the sheet's far corner (a spreadsheet reader then
allocates the whole sheet, half a terabyte), rows or cells by the tens of millions that compress to
almost nothing, shared strings that expand a thousandfold, JSON nested hundreds of thousands deep.
Each bound below is checked as the file is read, or for a workbook before it is opened at all, and
a file beyond one is refused with a message naming the file and the limit (in ``dadkhah.toml``,
section ``[import]``, where a workspace can raise it).
"""

from __future__ import annotations

import re
import time
import zipfile
from dataclasses import dataclass, fields
from pathlib import Path

from dadkhah.errors import InputError, LimitExceeded


@dataclass(frozen=True)
class ReadLimits:
    """The most a list file may hold. The defaults keep a read under about 1 GB of memory."""

    max_rows: int = 5_000_000  # data rows
    max_columns: int = 1_000
    max_cells: int = 20_000_000  # rows × columns a workbook spans (its reader holds them all at once)
    max_line_kb: int = 16 * 1024  # one line of a CSV or JSON Lines file
    max_uncompressed_mb: int = 2_048  # a workbook's sheet, once decompressed
    max_shared_strings_mb: int = 256  # a workbook's shared strings, once decompressed
    max_depth: int = 64  # nesting of JSON
    max_seconds: int = 3_600  # reading the whole file
    max_memory_mb: int = 2_048  # the process that reads a workbook

    @classmethod
    def from_config(cls, config: dict) -> ReadLimits:
        """The limits a workspace sets in ``[import]`` (the defaults for those it does not)."""
        section = config.get("import") or {}
        given = {}
        for spec in fields(cls):
            value = section.get(spec.name)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"import.{spec.name} must be a whole number of at least 1, not {value!r}",
                                 file="dadkhah.toml", field=spec.name)
            given[spec.name] = value
        return cls(**given)

    def refuse(self, what: str, name: str, path: Path, *, line: int | None = None) -> LimitExceeded:
        """The error for a file beyond the limit ``name``: it says which limit, and where to raise it."""
        return LimitExceeded(f"{what}: more than this workspace's limit of {getattr(self, name):,} "
                             f"(import.{name} in dadkhah.toml)", file=str(path), line=line)


class Clock:
    """How long reading may still take (checked now and then, not on every row)."""

    def __init__(self, limits: ReadLimits, path: Path):
        self.limits, self.path = limits, path
        self.deadline = time.monotonic() + limits.max_seconds

    def check(self, line: int | None = None) -> None:
        if time.monotonic() > self.deadline:
            raise self.limits.refuse(f"reading the file took too long (stopped at line {line or 0:,})",
                                     "max_seconds", self.path, line=line)


# ----- workbooks ---------------------------------------------------------------------------------

_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(row|c)(?=[\s/>])([^>]*)>")
_REF = re.compile(rb'\br="([A-Za-z]{0,3})([0-9]{1,9})"')
_SHEET = re.compile(rb'<(?:\w+:)?sheet\b[^>]*?\bname="([^"]*)"[^>]*?\br:id="([^"]*)"', re.S)
_SHEET_RID_FIRST = re.compile(rb'<(?:\w+:)?sheet\b[^>]*?\br:id="([^"]*)"[^>]*?\bname="([^"]*)"', re.S)
_RELATIONSHIP = re.compile(rb'<(?:\w+:)?Relationship\b[^>]*?\bId="([^"]*)"[^>]*?\bTarget="([^"]*)"', re.S)
_RELATIONSHIP_TARGET_FIRST = re.compile(rb'<(?:\w+:)?Relationship\b[^>]*?\bTarget="([^"]*)"[^>]*?\bId="([^"]*)"', re.S)
_SMALL_PART = 16 * 1024 * 1024  # workbook.xml and its relationships: a few kilobytes in any real file
_CHUNK = 1 << 20


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters.upper():
        number = number * 26 + byte - 64
    return number


def _read_small(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    try:
        with archive.open(name) as member:
            data = member.read(_SMALL_PART + 1)
    except KeyError:
        return b""
    if len(data) > _SMALL_PART:
        raise InputError(f"the workbook's {name} is implausibly large", file=str(path))
    return data


def _sheet_part(archive: zipfile.ZipFile, sheet: str | None, path: Path) -> str:
    """The zip member holding ``sheet`` (or the first sheet)."""
    workbook = _read_small(archive, "xl/workbook.xml", path)
    rels = _read_small(archive, "xl/_rels/workbook.xml.rels", path)
    sheets = [(n, r) for n, r in _SHEET.findall(workbook)] or [(n, r) for r, n in _SHEET_RID_FIRST.findall(workbook)]
    targets = dict(_RELATIONSHIP.findall(rels)) | {i: t for t, i in _RELATIONSHIP_TARGET_FIRST.findall(rels)}
    chosen = next((rid for name, rid in sheets if sheet is None or name.decode("utf-8", "replace") == sheet), None)
    target = targets.get(chosen, b"") if chosen else b""
    if not target:
        worksheets = sorted(n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml"))
        return worksheets[0] if worksheets else ""
    target = target.decode("utf-8", "replace").lstrip("/")
    return target if target.startswith("xl/") else f"xl/{target}"


def _stream(archive: zipfile.ZipFile, name: str, cap_bytes: int, limit: str, limits: ReadLimits, path: Path):
    """The decompressed bytes of ``name`` in chunks, refused past ``cap_bytes``."""
    info = archive.getinfo(name)
    if info.file_size > cap_bytes:
        raise limits.refuse(f"the workbook's {name} decompresses to {info.file_size / 2**20:,.0f} MB", limit, path)
    done = 0
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            done += len(chunk)
            if done > cap_bytes:
                raise limits.refuse(f"the workbook's {name} decompresses to more than it says", limit, path)
            yield chunk


def inspect_workbook(path: Path, sheet: str | None, limits: ReadLimits) -> dict:
    """Check a workbook against ``limits`` without opening it in the spreadsheet reader.

    The sheet's XML is decompressed once, in chunks, and its rows and cells counted; references to
    rows past the limit or to columns past the limit are looked for (they are rare in real lists,
    so the search costs little); the shared strings are only measured. What these cheap checks
    cannot see (a few cells spread far apart) is caught by reading the workbook in a process whose
    memory is bounded (:mod:`dadkhah.ingest.readers`). Returns the counts found.
    """
    clock = Clock(limits, path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"cannot read the workbook: it is not a valid XLSX file ({exc})", file=str(path)) from None
    with archive:
        try:
            part = _sheet_part(archive, sheet, path)
            if not part or part not in archive.namelist():
                return {"rows": 0, "cells": 0}  # the reader will say what is wrong
            if "xl/sharedStrings.xml" in archive.namelist():
                for _ in _stream(archive, "xl/sharedStrings.xml", limits.max_shared_strings_mb * 2**20,
                                 "max_shared_strings_mb", limits, path):
                    clock.check()
            return _scan_sheet(_stream(archive, part, limits.max_uncompressed_mb * 2**20, "max_uncompressed_mb",
                                       limits, path), limits, path, clock)
        except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
            raise InputError(f"cannot read the workbook: it is damaged or encrypted ({exc})", file=str(path)) from None


# Opening tags, with or without a namespace prefix: <row ...>, <row>, <x:row ...>; <c ...>, <c>, <c/>.
_ROW_TAGS = (b"<row ", b"<row>", b"<row/", b":row ", b":row>", b":row/")
_CELL_TAGS = (b"<c ", b"<c>", b"<c/", b":c ", b":c>", b":c/")


def _far_refs(limits: ReadLimits) -> re.Pattern:
    """References that may lie past the limits: three-letter columns, and rows of as many digits as
    the row limit or more (a real list's references almost never match, so the search is cheap)."""
    digits = len(str(limits.max_rows + 1))
    return re.compile(rb'\br="([A-Za-z]{3,})?([0-9]{%d,})"|\br="([A-Za-z]{3,})' % digits)


def _scan_sheet(chunks, limits: ReadLimits, path: Path, clock: Clock) -> dict:
    rows = cells = 0
    far = _far_refs(limits)
    carry = tail = b""
    for chunk in chunks:
        buffer = carry + chunk
        rows += sum(buffer.count(tag) for tag in _ROW_TAGS)
        cells += sum(buffer.count(tag) for tag in _CELL_TAGS)
        # The references are searched with the previous chunk's last bytes too: one cut in two is found.
        for match in far.finditer(tail + chunk):
            letters = match.group(1) or match.group(3)
            if letters and _column_number(letters) > limits.max_columns:
                raise limits.refuse(f"a cell of the sheet is in column {_column_number(letters):,}", "max_columns", path)
            if match.group(2) and int(match.group(2)) > limits.max_rows + 1:
                raise limits.refuse(f"a cell of the sheet is on row {int(match.group(2)):,}", "max_rows", path)
        if rows > limits.max_rows + 1:
            raise limits.refuse(f"the sheet has more than {limits.max_rows + 1:,} rows", "max_rows", path)
        if cells > limits.max_cells:
            raise limits.refuse(f"the sheet holds more than {limits.max_cells:,} cells", "max_cells", path)
        # Keep a tag cut in two by the chunk's end for the next round (it is counted there, not here).
        cut = buffer.rfind(b"<", max(0, len(buffer) - 64))
        carry = buffer[cut:] if cut >= 0 and b">" not in buffer[cut:] else b""
        tail = chunk[-64:]
        if carry:
            rows -= sum(carry.count(tag) for tag in _ROW_TAGS)
            cells -= sum(carry.count(tag) for tag in _CELL_TAGS)
        clock.check()
    return {"rows": rows, "cells": cells}
