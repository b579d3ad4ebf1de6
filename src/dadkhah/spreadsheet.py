"""Writing cells that spreadsheets will open: every CSV or XLSX Dadkhah writes goes through here.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets when the file is opened: ``=HYPERLINK("http://…")`` in a
victim's name would send whoever opens an export to an attacker's address (CSV injection). Such a
cell is written with a leading apostrophe, which spreadsheets show as text and hide; the value is
otherwise untouched. Headers are cells too.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

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


