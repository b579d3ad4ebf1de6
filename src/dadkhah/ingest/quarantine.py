"""The quarantine report: rows an import refused, with line, reason and every original cell.

Written as UTF-8 with a byte-order mark so spreadsheet programs show Persian correctly. The columns
are ``line, reason, field`` followed by the file's own header, so a documenter can correct the rows
in place and import the corrected file as a new list.
"""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path

_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)
# Cells that a spreadsheet would run as a formula are prefixed with a quote (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


class Quarantine:
    """Opened lazily on the first refused row; removed again if the import is rolled back."""

    def __init__(self, folder: Path, *, source: str, import_id: int, header: list[str]):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        name = _UNSAFE.sub("_", source).strip("_")[:60] or "source"
        self.path = folder / f"{name}-import{import_id}-{stamp}.csv"
        self.header = header
        self.count = 0
        self._handle = None
        self._writer = None

    def add(self, line: int, reason: str, cells: list[str], field: str = "") -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._handle, lineterminator="\n")
            self._writer.writerow(["line", "reason", "field", *self.header])
        self._writer.writerow([line, reason, field, *(_safe_cell(c) for c in cells)])
        self.count += 1

    def set_header(self, header: list[str]) -> None:
        """JSON lists discover their columns as they go; the report uses the widest header seen."""
        if self._writer is None:
            self.header = header

    def close(self) -> str | None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        return str(self.path) if self.count else None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
