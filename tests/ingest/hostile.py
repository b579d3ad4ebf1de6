"""Hostile list files, made small on disk by the tests that need them (never stored in the repository).

Each is a few kilobytes or megabytes that a careless reader turns into gigabytes or hours: a
workbook whose one cell sits at the sheet's far corner, workbooks with tens of millions of rows or
cells that compress to almost nothing, shared strings that expand a thousandfold, and JSON nested
hundreds of thousands of levels deep.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>")
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>")
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>")
_SHEET_OPEN = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
_SHEET_CLOSE = "</sheetData></worksheet>"
_HEADER_ROW = ('<row r="1"><c r="A1" t="inlineStr"><is><t>given_name</t></is></c>'
               '<c r="B1" t="inlineStr"><is><t>family_name</t></is></c></row>')


def _workbook(path: Path, sheet_parts, shared_strings: str | None = None) -> Path:
    """Write a workbook whose sheet XML is the concatenation of ``sheet_parts`` (streamed, compressed
    fast: the 1.5 GB sheet of a hundred million cells takes 2.7 s and 11 MB, against 8.5 s and 4 MB
    compressed hard; either is small on disk and huge once read)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/sharedStrings.xml", shared_strings or
                         '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="0" uniqueCount="0"/>')
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for part in sheet_parts:
                sheet.write(part.encode("utf-8"))
    return path


def xlsx_far_cell(path: Path) -> Path:
    """A header, one row, and one cell at XFD1048576: the used range is the whole sheet."""
    row = '<row r="2"><c r="A2" t="inlineStr"><is><t>Reza</t></is></c></row>'
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    return _workbook(path, [_SHEET_OPEN, _HEADER_ROW, row, far, _SHEET_CLOSE])


def xlsx_many_rows(path: Path, rows: int, *, numbered: bool = True) -> Path:
    """``rows`` rows of one short cell each; with ``numbered`` False the rows carry no ``r`` attribute."""
    def parts():
        yield _SHEET_OPEN
        yield _HEADER_ROW
        chunk = []
        for n in range(2, rows + 2):
            chunk.append(f'<row r="{n}"><c r="A{n}"><v>1</v></c></row>' if numbered else "<row><c><v>1</v></c></row>")
            if len(chunk) == 50_000:
                yield "".join(chunk)
                chunk.clear()
        yield "".join(chunk)
        yield _SHEET_CLOSE
    return _workbook(path, parts())


def xlsx_many_cells(path: Path, rows: int, columns: int) -> Path:
    """``rows`` rows of ``columns`` cells each, without cell references (as some writers do)."""
    row = "<row>" + "<c><v>1</v></c>" * columns + "</row>"

    def parts():
        yield _SHEET_OPEN
        yield _HEADER_ROW
        block = row * 1000
        for _ in range(rows // 1000):
            yield block
        yield _SHEET_CLOSE
    return _workbook(path, parts())


def xlsx_shared_string_bomb(path: Path, megabytes: int) -> Path:
    """A normal sheet whose shared strings hold one string of ``megabytes`` MB (it compresses to kilobytes)."""
    text = "x" * (megabytes * 1024 * 1024)
    sst = ('<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
           f"<si><t>{text}</t></si></sst>")
    row = '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'
    return _workbook(path, [_SHEET_OPEN, _HEADER_ROW, row, _SHEET_CLOSE], shared_strings=sst)


def json_deep(path: Path, depth: int) -> Path:
    """An array whose one item is nested ``depth`` levels deep."""
    path.write_text('[{"given_name": "Reza", "notes": ' + "[" * depth + "]" * depth + "}]", encoding="utf-8")
    return path


def jsonl_deep(path: Path, depth: int) -> Path:
    """JSON Lines: a good row, then a row nested ``depth`` levels deep."""
    path.write_text('{"given_name": "Reza"}\n{"given_name": ' + "[" * depth + "]" * depth + "}\n", encoding="utf-8")
    return path


def xlsx_far_apart(path: Path) -> Path:
    """A header and one cell far below and to the right, within the row and column limits: together
    they span a billion cells, which a spreadsheet reader would allocate at once."""
    row = '<row r="2"><c r="A2" t="inlineStr"><is><t>Reza</t></is></c></row>'
    far = '<row r="1048576"><c r="ZZ1048576"><v>1</v></c></row>'
    return _workbook(path, [_SHEET_OPEN, _HEADER_ROW, row, far, _SHEET_CLOSE])
