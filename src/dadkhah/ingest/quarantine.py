"""The quarantine report: rows an import refused, with line, reason and every original cell.

Written as UTF-8 with a byte-order mark so spreadsheet programs show Persian correctly. The columns
are ``line, reason, field`` followed by the file's own header, so a documenter can correct the rows
in place and import the corrected file as a new list.
"""

from __future__ import annotations

import csv
import os
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

from dadkhah.spreadsheet import SafeWriter

_UNSAFE = re.compile(r"[^\w.-]+", re.UNICODE)


class Quarantine:
    """Opened lazily on the first refused row; removed again if the import is rolled back.

    It is written under a name that says which process writes it (``<report>.<pid>.part``, for
    the owner alone) and takes its own name only when the import closes it, so a report left by an
    interrupted import is recognised and swept. Between taking its name and the import's commit, a
    note ``<report>.<pid>.naming`` says which process is about to name it: a process killed in
    between leaves a report no import names, which the next opening of the workspace removes at once
    (:func:`dadkhah.store.sweep_leftovers`) rather than after an hour.
    """

    def __init__(self, folder: Path, *, source: str, header: list[str]):
        self.folder = folder
        self.stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.name = _UNSAFE.sub("_", source).strip("_")[:60] or "source"
        self.path: Path | None = None  # the report's own name, once the import has its number
        self._writing = folder / f"{self.name}-{self.stamp}-{uuid.uuid4().hex[:8]}.{os.getpid()}.part"
        self.header = header
        self.count = 0
        self._handle = None
        self._writer = None
        self._naming: Path | None = None
        self._last_line = 0
        self._in_order = True

    def add(self, line: int, reason: str, cells: list[str], field: str = "") -> None:
        if self._writer is None:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self._writing, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self._handle = open(descriptor, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
            self._writer = SafeWriter(self._handle)
            self._writer.writerow(["line", "reason", "field", *self.header])
        self._writer.writerow([line, reason, field, *cells])
        self.count += 1
        self._in_order = self._in_order and line >= self._last_line
        self._last_line = max(self._last_line, line)

    def set_header(self, header: list[str]) -> None:
        """JSON lists discover their columns as they go; the report uses the widest header seen."""
        if self._writer is None:
            self.header = header

    def close(self, import_id: int, *, kind: str = "import") -> str | None:
        """Finish the report under its own name (which carries the import's number, or the ``kind``
        of run and its number); its path, or None."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            if not self._in_order:
                self._put_in_line_order()
            self.path = self.folder / f"{self.name}-{kind}{import_id}-{self.stamp}.csv"
            self._naming = self.path.with_name(f"{self.path.name}.{os.getpid()}.naming")
            os.close(os.open(self._naming, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
            os.replace(self._writing, self.path)
        return str(self.path) if self.count else None

    def _put_in_line_order(self) -> None:
        """Rows refused late (a record id repeated, rows of a list's second part) are moved to their
        place in the file's order, so a documenter correcting the report reads it top to bottom
        beside the list."""
        with open(self._writing, encoding="utf-8-sig", newline="") as handle:
            rows = csv.reader(handle)
            header = next(rows)
            body = sorted(rows, key=lambda row: int(row[0]))  # stable: a line's reasons keep their order
        with open(self._writing, "w", encoding="utf-8-sig", newline="") as handle:
            writer = SafeWriter(handle)  # (made safe already: a cell made safe starts with ', which stays)
            writer.writerow(header)
            writer.writerows(body)

    def committed(self) -> None:
        """The import that names the report has committed: the note is no longer needed."""
        if self._naming is not None:
            self._naming.unlink(missing_ok=True)
            self._naming = None

    def discard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._writing.unlink(missing_ok=True)
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        self.committed()
