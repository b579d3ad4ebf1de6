"""Writing cells that spreadsheets will open: every CSV or XLSX Dadkhah writes goes through here.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets when the file is opened: ``=HYPERLINK("http://…")`` in a
victim's name would send whoever opens an export to an attacker's address (CSV injection). Such a
cell is written with a leading apostrophe, which spreadsheets show as text and hide; the value is
otherwise untouched. Headers are cells too.

An XLSX cell is typed, so text is never run as a formula when the file opens; but a spreadsheet
does run it once someone edits the cell, and a copy pasted or saved into CSV runs it at once. So
:class:`SafeXlsxWriter` writes every text through :func:`safe_cell` as well, as a text cell: the
two formats carry the same, inert, value. It is the one module that imports XlsxWriter.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable

from dadkhah.errors import InputError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """``value``, made inert for a spreadsheet when it is text that would start a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_row(values: Iterable) -> list:
    return [safe_cell(v) for v in values]


class SafeWriter:
    """A :func:`csv.writer` whose every row, header included, is made safe for spreadsheets.

    Rows end in CR LF (RFC 4180), which also makes the writer quote any cell holding a carriage
    return or a line feed: a bare carriage return inside a cell would otherwise start a new row in
    a spreadsheet, and that row's first cell could be a formula.
    """

    def __init__(self, handle, **options):
        self._writer = csv.writer(handle, **({"lineterminator": "\r\n"} | options))

    def writerow(self, values: Iterable) -> None:
        self._writer.writerow(safe_row(values))

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)




XLSX_MAX_ROWS = 1_048_576  # the rows of one sheet, its header included


class SafeXlsxWriter:
    """An XLSX workbook written row by row, in constant memory (XlsxWriter's ``constant_memory``).

    Every cell is made safe as a CSV cell is; text is written as text (never as a formula, a number
    or a link, whatever it looks like), numbers as numbers, ``None`` as an empty cell. Sheets are
    written one after the other (:meth:`sheet`); :meth:`close` writes the file.
    """

    def __init__(self, path: str | os.PathLike):
        import xlsxwriter

        self._book = xlsxwriter.Workbook(os.fspath(path), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_numbers": False,
            "strings_to_urls": False})
        self._sheet = None
        self._row = 0

    def sheet(self, name: str) -> SafeXlsxWriter:
        """Start a new sheet; the rows written next go to it."""
        self._sheet = self._book.add_worksheet(safe_cell(name)[:31])
        self._row = 0
        return self

    def writerow(self, values: Iterable) -> None:
        if self._sheet is None:
            self.sheet("Sheet1")
        if self._row >= XLSX_MAX_ROWS:
            raise InputError(f"holds more rows than a spreadsheet's sheet can ({XLSX_MAX_ROWS:,}): write CSV",
                             field="format")
        for column, value in enumerate(safe_row(values)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self._sheet.write_string(self._row, column, str(value))
            else:
                self._sheet.write_number(self._row, column, value)
        self._row += 1

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)

    def close(self) -> None:
        self._book.close()
