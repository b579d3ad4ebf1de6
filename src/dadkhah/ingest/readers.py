"""Reading lists as rows of text cells: CSV (any common encoding), XLSX, JSON and JSON Lines.

Every reader yields the header and then ``(line, cells)`` pairs, where ``line`` is the number a
spreadsheet would show for that row (the header is line 1 when it is the first row). CSV and JSON
Lines are streamed, so memory does not grow with the file. Every reader is bounded by the
workspace's :class:`~dadkhah.ingest.limits.ReadLimits` (rows, columns, line length, nesting, time)
before it allocates: a hostile file is refused, never allowed to exhaust the machine. An XLSX
sheet is checked first (:func:`~dadkhah.ingest.limits.inspect_workbook`), then read by calamine in
a child process whose memory is capped, so that even a reader fault cannot take the caller down.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import itertools
import json
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import charset_normalizer

from dadkhah.errors import InputError
from dadkhah.ingest.limits import Clock, ReadLimits, inspect_workbook

FORMATS = ("csv", "xlsx", "json", "jsonl")
ENCODINGS = ("auto", "utf-8", "utf-16", "cp1256")
_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
               ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_SAMPLE = 1 << 20
csv.field_size_limit(16 * 1024 * 1024)


def detect_format(path: Path, requested: str | None = None) -> str:
    """The format the user asked for, else the one the extension names."""
    if requested:
        if requested not in FORMATS:
            raise InputError(f"must be one of {', '.join(FORMATS)}, not {requested!r}", file=str(path), field="format")
        return requested
    fmt = _EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"cannot tell the format from the extension {path.suffix!r}; say which it is: csv, xlsx or json",
            file=str(path),
            field="format",
        )
    return fmt


def detect_encoding(path: Path, requested: str = "auto") -> str:
    """A Python codec for a text file: a BOM, else UTF-8, else UTF-16 by its NULs, else Windows-1256.

    Windows-1256 is what many Persian spreadsheets were saved in; when a file is neither UTF-8 nor
    UTF-16, charset-normalizer decides between it and Windows-1252 (Western lists).
    """
    if requested not in ENCODINGS:
        raise InputError(f"must be one of {', '.join(ENCODINGS)}, not {requested!r}", file=str(path), field="encoding")
    if requested == "utf-8":
        return "utf-8-sig"  # also accepts (and drops) a BOM
    if requested == "cp1256":
        return requested
    with open(path, "rb") as handle:
        head = handle.read(_SAMPLE)
    if requested == "utf-16":
        # Python's codec needs a BOM to tell the byte order; without one, it is found from the text.
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        return _utf16_without_bom(head) or "utf-16-le"
    found = text_encoding(head, complete=len(head) < _SAMPLE)
    if found is None:
        raise InputError("cannot tell the text encoding; give it as utf-8, utf-16 or cp1256", file=str(path),
                         field="encoding")
    return found


@contextlib.contextmanager
def small_table(path: Path) -> Iterator[Iterator[tuple[int, list[str]]]]:
    """The rows of a small CSV table that is not a list (a capture table, a truth file), each with
    the line it starts on, read as a list is: its encoding found alike (a BOM, UTF-8, UTF-16, else
    Windows-1256 or 1252), and its cells separated by commas, or by the semicolons or tabs a
    spreadsheet may save instead. Text that breaks its encoding further on is refused, naming the line."""
    encoding = detect_encoding(path)
    with open(path, encoding=encoding, newline="") as handle:
        first = handle.readline()
        handle.seek(0)
        delimiter = max((",", ";", "\t"), key=first.count) if any(d in first for d in ",;\t") else ","
        def rows() -> Iterator[tuple[int, list[str]]]:
            rows = NumberedRows(handle, path, delimiter=delimiter)
            try:
                yield from rows
            except UnicodeDecodeError:
                raise InputError(f"the file is not text in one encoding (read as {encoding.removesuffix('-sig')}, "
                                 "it breaks here): save it again as UTF-8", file=str(path), line=rows.line) from None

        yield rows()


class NumberedRows:
    """The CSV rows of the text ``lines`` (as :func:`csv.reader` reads them), each with the line it
    starts on; a quote opened and never closed is refused (:func:`_to_the_end`), naming ``path`` and
    the line. ``line`` is the line of the row being read (to name it when decoding fails)."""

    def __init__(self, lines, path: Path | str, *, delimiter: str = ","):
        self.line, self._reader, self._path = 1, csv.reader(itertools.chain(lines, [_FILE_END + "\n"]),
                                                            delimiter=delimiter), Path(path)

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        for cells in _to_the_end(self._reader, self._path, lambda: self.line):
            yield self.line, cells
            self.line = self._reader.line_num + 1


def text_encoding(head: bytes, *, complete: bool = True) -> str | None:
    """The codec of text starting with ``head`` (the whole text when ``complete``), as
    :func:`detect_encoding` chooses it; None when it cannot be told."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(head)
    if utf16:
        return utf16
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(head, cp_isolation=["cp1256", "cp1252"]).best()
    if best is not None:
        return best.encoding
    # Too little text for charset-normalizer to judge: Windows-1256 if it yields Arabic letters.
    letters = [ch for ch in head.decode("cp1256", errors="replace") if ch.isalpha()]
    if letters and sum(1 for ch in letters if "\u0600" <= ch <= "\u06ff") >= len(letters) / 3:
        return "cp1256"
    return None


def _expected_share(text: str) -> float:
    """Share of characters a list plausibly holds: ASCII, Latin with accents, Arabic script, marks."""
    if not text:
        return 0.0
    good = sum(
        1 for ch in text
        if ch < "\u0250" or "\u0600" <= ch <= "\u06ff" or "\u2000" <= ch <= "\u206f" or "\ufb50" <= ch <= "\ufeff"
    )
    return good / len(text)


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 written without a byte-order mark: many control bytes, and one byte order reads well.

    Persian in UTF-16 has few NUL bytes (U+06xx is ``xx 06``), so byte values alone do not tell;
    decoding both ways and scoring what comes out does.
    """
    sample = head[: len(head) - len(head) % 2][:65536]
    if len(sample) < 4:
        return None
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    if controls < len(sample) // 8:
        return None
    scores = {}
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            scores[codec] = _expected_share(sample.decode(codec))
        except UnicodeDecodeError:
            continue
    best = max(scores, key=scores.get, default=None)
    return best if best and scores[best] >= 0.95 else None


class _CountingReader(io.RawIOBase):
    """Counts the bytes read so a progress bar can follow a streamed file; with ``limit``, reads no
    more than that many bytes (a part of the file)."""

    def __init__(self, raw, limit: int | None = None):
        self._raw = raw
        self._left = limit
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._left is not None:
            if self._left <= 0:
                return 0
            buffer = memoryview(buffer)[:self._left]
        n = self._raw.readinto(buffer)
        self.bytes_read += n or 0
        if self._left is not None:
            self._left -= n or 0
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def cell_text(value) -> str:
    """A spreadsheet or JSON value as the text a person would read in the cell."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@dataclass
class RowStream:
    """An open list: its header, its rows, and how far reading has got."""

    path: Path
    format: str
    encoding: str | None
    header: list[str]
    header_line: int
    rows: Iterator[tuple[int, list[str], str | None]]
    total_bytes: int
    _counter: _CountingReader | None = None
    _closers: list = field(default_factory=list)

    @property
    def bytes_read(self) -> int:
        return self._counter.bytes_read if self._counter else 0

    def close(self) -> None:
        for closer in self._closers:
            closer()

    def __enter__(self) -> RowStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _bounded(rows: Iterator[tuple[int, list[str], str | None]], limits: ReadLimits, path: Path,
             clock: Clock) -> Iterator[tuple[int, list[str], str | None]]:
    """Rows as read, refused past the row or column limit or the time limit."""
    for count, row in enumerate(rows, start=1):
        if count > limits.max_rows + HEADER_SEARCH_ROWS:
            raise limits.refuse(f"the file has more than {limits.max_rows:,} rows", "max_rows", path, line=row[0])
        if len(row[1]) > limits.max_columns:
            raise limits.refuse(f"line {row[0]:,} has {len(row[1]):,} cells", "max_columns", path, line=row[0])
        if count % 1000 == 0:
            clock.check(row[0])
        yield row


def _lines(text: io.TextIOWrapper, limits: ReadLimits, path: Path, where) -> Iterator[str]:
    """The physical lines of a text file, each at most ``max_line_kb`` (a longer one is refused)."""
    most = limits.max_line_kb * 1024
    while line := text.readline(most + 1):
        if len(line) > most:
            raise limits.refuse(f"a line is longer than {limits.max_line_kb:,} KB", "max_line_kb", path, line=where())
        yield line


def _blank(cells: list[str]) -> bool:
    return all(not c.strip() for c in cells)


HEADER_SEARCH_ROWS = 20


def _find_header(rows: Iterator[tuple[int, list[str], str | None]], is_header) -> tuple[int, list[str], list]:
    """The header row: the first of the leading non-blank rows that ``is_header`` accepts.

    Spreadsheets often carry a title or notes above the header; those rows are passed over. When
    no leading row qualifies, the first non-blank one is the header (and column planning will
    say what is missing). Returns (line, header, rows read past the header, to replay).
    """
    leading: list[tuple[int, list[str], str | None]] = []
    for row in rows:
        if _blank(row[1]):
            leading.append(row)
            continue
        leading.append(row)
        if is_header is None or is_header([c.strip() for c in row[1]]):
            return row[0], [c.strip() for c in row[1]], []
        if sum(1 for r in leading if not _blank(r[1])) >= HEADER_SEARCH_ROWS:
            break
    for index, (line, cells, _) in enumerate(leading):
        if not _blank(cells):
            return line, [c.strip() for c in cells], leading[index + 1:]
    return 0, [], []


def _text_stream(path: Path, encoding: str, start: int = 0, end: int | None = None
                 ) -> tuple[io.TextIOWrapper, _CountingReader]:
    raw = open(path, "rb")  # noqa: SIM115 - closed by RowStream
    if start:
        raw.seek(start)
    counter = _CountingReader(raw, None if end is None else end - start)
    return io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding=encoding, newline=""), counter


def _decode_guard(rows: Iterator, path: Path, encoding: str, where, locate=None) -> Iterator:
    """Turn a decoding failure deep in a file into an error that names the line: the one ``locate()``
    finds when given (text is decoded a block ahead of the rows read, so ``where()``, the row being read,
    may be some way before it)."""
    try:
        yield from rows
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the file is not valid {encoding.removesuffix('-sig')} here ({exc.reason}); say which encoding it uses",
            file=str(path),
            line=(locate() if locate else None) or where(),
            field="encoding",
        ) from None
    except csv.Error as exc:
        raise InputError(f"unreadable CSV: {exc}", file=str(path), line=where()) from None


_UNDECODED = re.compile("[\udc80-\udcff]")  # a byte the codec could not read, kept by surrogateescape


def _undecodable_row(path: Path, encoding: str, delimiter: str, start: int = 0) -> int | None:
    """The number of the first CSV row (counted from ``start``) holding a byte ``encoding`` cannot read."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the wrapper
    raw.seek(start)
    with io.TextIOWrapper(raw, encoding=encoding, errors="surrogateescape", newline="") as text:
        for number, cells in enumerate(csv.reader(text, delimiter=delimiter), start=1):
            if any(_UNDECODED.search(cell) for cell in cells):
                return number
    return None


SNIFFED_LINES = 20
SNIFFED_CHARS = 1 << 20


def _sniff_delimiter(path: Path, encoding: str, limits: ReadLimits) -> str:
    """The delimiter among , ; tab and | that the most of the first lines use the same number of
    times (the more times, the better, on a tie): a title line above the header ("Victims of 1988;
    compiled 2019") does not decide it, the header and the rows under it do."""
    lines, read = [], 0
    with open(path, encoding=encoding, newline="", errors="replace") as handle:
        for line in iter(lambda: handle.readline(limits.max_line_kb * 1024), ""):
            if line.strip():
                lines.append(line)
                read += len(line)
                if len(lines) == SNIFFED_LINES or read > SNIFFED_CHARS:  # (long lines: the first few decide)
                    break
    best, best_score = ",", (0, 0)
    for delimiter in ",;\t|":
        counts = Counter(n for n in (line.count(delimiter) for line in lines) if n)
        if counts:
            times, agreeing = max(counts.items(), key=lambda item: (item[1], item[0]))
            if (agreeing, times) > best_score:
                best, best_score = delimiter, (agreeing, times)
    return best


# A row no list holds: what the first part of a file split in two ends with (see CsvPart).
_PART_END = "\ufdd0dadkhah: end of the first part\ufdd0"
# And what a file read to its end ends with: read into a cell, a quote opened in that cell was never
# closed, and every row after it would be read as that one cell (see _to_the_end).
_FILE_END = "\ufdd0dadkhah: end of the file\ufdd0"


def _to_the_end(rows: Iterator[list[str]], path: Path, row_number, header: list | None = None) -> Iterator[list[str]]:
    """The rows of a CSV reader whose lines end with :data:`_FILE_END`, without it; a row whose last
    cell swallowed it (a quote opened and never closed) is refused, naming the row it began on and,
    once the header is known, its column. Python's reader would otherwise give the rest of the file
    as that one cell, and the rows in it would be lost without a word."""
    for cells in rows:
        if cells and _FILE_END in cells[-1]:
            if cells == [_FILE_END]:
                return
            column = len(cells) - 1
            field = header[column] if header and column < len(header) else None
            raise InputError("a quote (\") opens a cell here and is never closed, so every row after it would be "
                             "read into that one cell: close the quote, or remove it", file=str(path),
                             line=row_number(), field=field)
        yield cells


@dataclass
class CsvPart:
    """Where a CSV file is cut in two so that two processes read it at once
    (:mod:`dadkhah.ingest.parallel`): the first part is bytes ``[0, end)``, the second ``[end, size)``.

    ``end`` follows a newline, but a newline may lie inside a quoted cell, and counting quotes
    cannot tell (a quote inside an unquoted cell is a plain character). So the first part's reader
    reads one more row after its last byte, :data:`_PART_END`, which holds no quote: read as a row
    of its own, the cut fell between rows (``clean``); read into a cell, the cut fell inside one,
    and what both parts read is thrown away. ``rows_read`` is the number of the first part's last
    row: the second part numbers its rows from there.
    """

    end: int
    delimiter: str
    clean: bool | None = None
    rows_read: int = 0


def split_point(path: Path, encoding: str, *, quote: bytes = b'"') -> int | None:
    """Where to cut a CSV file in two: the byte after a newline near its middle at which an even number
    of quotes has been read (most likely between rows; :class:`CsvPart` makes sure). None when there
    is no such place within 16 MB of the middle, or when the encoding may hold a newline byte inside a
    character (UTF-16, UTF-32)."""
    if codecs.lookup(encoding).name not in _NEWLINE_SAFE:
        return None
    size = path.stat().st_size
    with open(path, "rb") as handle:
        quotes = handle.read(size // 2).count(quote)
        offset = size // 2
        while offset - size // 2 < 16 << 20 and (chunk := handle.read(1 << 20)):
            at = chunk.find(b"\n")
            while at >= 0:
                if (quotes + chunk.count(quote, 0, at)) % 2 == 0:
                    return offset + at + 1 if offset + at + 1 < size else None
                at = chunk.find(b"\n", at + 1)
            quotes += chunk.count(quote)
            offset += len(chunk)
    return None


# Encodings in which the byte 0x0A is always a newline (never part of another character).
_NEWLINE_SAFE = {"utf-8", "utf-8-sig", "ascii", "cp1256", "cp1252", "cp1250", "cp1251", "cp1253", "cp1254",
                 "cp1255", "cp1257", "cp1258", "latin-1", "iso8859-1", "iso8859-2", "iso8859-6", "iso8859-15"}


def open_csv(path: Path, encoding: str, is_header=None, limits: ReadLimits | None = None,
             part: CsvPart | None = None) -> RowStream:
    """Rows of a CSV file, after its header; with ``part``, those of its first part only (and
    ``part`` says whether the cut fell between rows once they are read)."""
    limits = limits or ReadLimits()
    delimiter = _sniff_delimiter(path, encoding, limits)
    text, counter = _text_stream(path, encoding, end=part.end if part else None)
    state = {"index": 0}
    lines = _lines(text, limits, path, lambda: state["index"] + 1)
    if part is not None:
        part.delimiter = delimiter
    lines = itertools.chain(lines, [(_PART_END if part is not None else _FILE_END) + "\n"])
    known: list[str] = []  # the header, once read
    reader = csv.reader(lines, delimiter=delimiter)
    if part is None:
        reader = _to_the_end(reader, path, lambda: state["index"] + 1, known)

    def records() -> Iterator[tuple[int, list[str], str | None]]:
        for cells in reader:
            if part is not None and cells and _PART_END in cells[-1]:
                part.clean = cells == [_PART_END]
                part.rows_read = state["index"]
                return
            state["index"] += 1
            yield state["index"], cells, None

    guarded = _bounded(_decode_guard(records(), path, encoding, lambda: state["index"] + 1,
                                     lambda: _undecodable_row(path, encoding, delimiter)), limits, path,
                       Clock(limits, path))
    try:
        header_line, header, replay = _find_header(guarded, is_header)
    except BaseException:
        text.close()
        raise
    if not header:
        text.close()
        raise InputError("the file has no header row (it is empty)", file=str(path), line=1)
    known.extend(header)
    size = path.stat().st_size
    return RowStream(path, "csv", encoding, header, header_line, itertools.chain(replay, guarded), size, counter, [text.close])


def open_csv_rest(path: Path, encoding: str, part: CsvPart, limits: ReadLimits | None = None,
                  header: list[str] | None = None) -> RowStream:
    """The rows of a CSV file's second part (from ``part.end``; see :class:`CsvPart`), numbered from 1:
    the caller adds the first part's ``rows_read``. ``header`` is the file's, read by the first part."""
    limits = limits or ReadLimits()
    text, counter = _text_stream(path, encoding, start=part.end)
    state = {"index": 0}
    lines = itertools.chain(_lines(text, limits, path, lambda: state["index"] + 1), [_FILE_END + "\n"])
    reader = _to_the_end(csv.reader(lines, delimiter=part.delimiter), path, lambda: state["index"] + 1,
                         header)

    def records() -> Iterator[tuple[int, list[str], str | None]]:
        for cells in reader:
            state["index"] += 1
            yield state["index"], cells, None

    guarded = _bounded(_decode_guard(records(), path, encoding, lambda: state["index"] + 1,
                                     lambda: _undecodable_row(path, encoding, part.delimiter, part.end)), limits, path,
                       Clock(limits, path))
    return _refusing_nul(RowStream(path, "csv", encoding, [], 0, guarded, path.stat().st_size - part.end, counter,
                                   [text.close]))


def _workbook_rows(connection, path: str, sheet: str | None, memory_bytes: int, cell_chars: int = 2**62) -> None:
    """In a child process: read the workbook with calamine and send its rows, a batch at a time.

    The process's address space is capped first, so a workbook that asks for more memory makes
    this process fail (and the parent say so), never the one that started it.
    """
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):  # not on Linux: the checks before this still hold
        pass
    # What the native reader prints as it fails (an allocation error, a backtrace) is not for the
    # user's terminal: the parent says what happened in words.
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 2)
    os.close(quiet)
    try:
        import python_calamine

        workbook = python_calamine.CalamineWorkbook.from_path(path)
        names = workbook.sheet_names
        if sheet is not None and sheet not in names:
            connection.send(("error", f"no sheet named {sheet!r}; sheets: {', '.join(names)}"))
            return
        if sheet is None:
            # The first sheet a person sees: a hidden one (a look-up table, say) was read as the list.
            shown = [m.name for m in workbook.sheets_metadata
                     if m.visible == python_calamine.SheetVisibleEnum.Visible
                     and m.typ == python_calamine.SheetTypeEnum.WorkSheet]
            sheet = shown[0] if shown else None
        data = workbook.get_sheet_by_name(sheet) if sheet else workbook.get_sheet_by_index(0)
        batch = []
        # iter_rows() gives the sheet from its first row, the empty ones above the data included
        # (data.start names the first row holding a cell): its count is the spreadsheet's row number.
        for offset, row in enumerate(data.iter_rows()):
            cells = [cell_text(v) for v in row]
            if cells and max(map(len, cells)) > cell_chars:  # as a CSV line is held to max_line_kb
                column = next(i for i, cell in enumerate(cells) if len(cell) > cell_chars)
                connection.send(("cell", (offset + 1, column + 1)))
                return
            batch.append((offset + 1, cells))
            if len(batch) == 2000:
                connection.send(("rows", batch))
                batch = []
        connection.send(("rows", batch))
        connection.send(("done", None))
    except MemoryError:
        connection.send(("memory", None))
    except Exception as exc:  # calamine raises its own types for corrupt or encrypted files
        connection.send(("error", f"cannot read the workbook: {exc}"))
    finally:
        connection.close()


def _workbook_reader(path: Path, sheet: str | None, limits: ReadLimits, clock: Clock):
    """Start the child process reading the workbook; returns its rows and a function that stops it."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # nothing of this process (threads, locks) is copied
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_workbook_rows, args=(sending, str(path), sheet, limits.max_memory_mb * 2**20,
                                                          limits.max_line_kb * 1024),
                              daemon=True, name="dadkhah-workbook-reader")
    process.start()
    sending.close()

    def stop() -> None:
        if process.is_alive():
            process.kill()
        process.join(5)
        receiving.close()

    def rows() -> Iterator[tuple[int, list[str], str | None]]:
        while True:
            remaining = clock.deadline - time.monotonic()
            if remaining <= 0 or not receiving.poll(remaining):
                stop()
                raise limits.refuse("reading the workbook took too long", "max_seconds", path)
            try:
                kind, payload = receiving.recv()
            except EOFError:
                stop()
                raise limits.refuse(f"reading the workbook needed more memory than allowed, or failed (the reader "
                                    f"stopped with status {process.exitcode})", "max_memory_mb", path) from None
            if kind == "rows":
                for line, cells in payload:
                    yield line, cells, None
            elif kind == "done":
                stop()
                return
            elif kind == "memory":
                stop()
                raise limits.refuse("reading the workbook needs more memory than allowed", "max_memory_mb", path)
            elif kind == "cell":
                stop()
                line, column = payload
                raise limits.refuse(f"the cell in column {column} holds more text, in KB, than a line may",
                                    "max_line_kb", path, line=line)
            else:
                stop()
                raise InputError(payload, file=str(path))

    return rows(), stop


def open_xlsx(path: Path, sheet: str | None, is_header=None, limits: ReadLimits | None = None) -> RowStream:
    limits = limits or ReadLimits()
    inspect_workbook(path, sheet, limits)
    clock = Clock(limits, path)
    source, stop = _workbook_reader(path, sheet, limits, clock)
    try:
        bounded = _bounded(source, limits, path, clock)
        header_line, header, replay = _find_header(bounded, is_header)
    except BaseException:
        stop()
        raise
    stream = itertools.chain(replay, bounded)
    if not header:
        stop()
        raise InputError("the sheet has no header row (it is empty)", file=str(path), line=1)
    while header and not header[-1]:
        header.pop()
    width = len(header)

    def trimmed() -> Iterator[tuple[int, list[str], str | None]]:
        # calamine pads every row to the sheet's used width; cells beyond the header are kept only
        # when they hold something, so that a shifted row is still caught.
        for line, cells, note in stream:
            extra = cells[width:]
            yield line, cells[:width] + ([c for c in extra] if any(c.strip() for c in extra) else []), note

    return RowStream(path, "xlsx", None, header, header_line, trimmed(), path.stat().st_size, None, [stop])


def open_json(path: Path, encoding: str, *, lines: bool, limits: ReadLimits | None = None) -> RowStream:
    """JSON Lines (one object per line) or a JSON array of objects (also under a "records" key).

    Keys become columns as they are met; ``line`` is the physical line for JSON Lines and, for an
    array, the item's position plus one (so the first item is "line 2", as under a header row).
    Nesting deeper than ``max_depth`` refuses the file (an array) or the row (JSON Lines).
    """
    limits = limits or ReadLimits()
    text, counter = _text_stream(path, encoding)
    header: list[str] = []
    index: dict[str, int] = {}
    state = {"line": 0}  # the last line read (the one being read is the next)

    def to_cells(item) -> tuple[list[str], str | None]:
        if not isinstance(item, dict):
            return [cell_text(item)], "the item is not an object with named fields"
        cells = [""] * len(header)
        for key, value in item.items():
            key = str(key)
            if key not in index:
                if len(header) >= limits.max_columns:
                    raise limits.refuse(f"the items name more than {limits.max_columns:,} different fields",
                                        "max_columns", path, line=state["line"])
                index[key] = len(header)
                header.append(key)
                cells.append("")
            cells[index[key]] = cell_text(value)
        return cells, None

    def json_lines() -> Iterator[tuple[int, list[str], str | None]]:
        for number, raw_line in enumerate(_lines(text, limits, path, lambda: state["line"] + 1), start=1):
            state["line"] = number
            if not raw_line.strip():
                continue
            try:
                item = json.loads(raw_line)
            except json.JSONDecodeError as exc:
                yield number, [raw_line.rstrip("\n")[:1000]], f"not valid JSON: {exc.msg}"
                continue
            except RecursionError:
                yield number, [raw_line.rstrip("\n")[:1000]], "nested too deeply to be a list's row"
                continue
            if _depth(item) > limits.max_depth:
                yield number, [raw_line.rstrip("\n")[:1000]], f"nested more than {limits.max_depth} levels deep"
                continue
            cells, problem = to_cells(item)
            yield number, cells, problem

    def json_array() -> Iterator[tuple[int, list[str], str | None]]:
        import ijson

        with open(path, encoding=encoding, errors="replace") as head:
            first = head.read(4096).lstrip()
        under_records = not first.startswith("[")
        if encoding.startswith("utf-8"):
            # ijson parses UTF-8 bytes itself; hand it the byte stream past any BOM.
            stream = io.BufferedReader(counter, 1 << 16)
            if stream.peek(3)[:3] == codecs.BOM_UTF8:
                stream.read(3)
        else:
            stream = text
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # a text stream, for UTF-16 JSON
                events = ijson.basic_parse(stream, use_float=True)
                for number, item in enumerate(_array_items(events, under_records, limits, path), start=2):
                    state["line"] = number
                    cells, problem = to_cells(item)
                    yield number, cells, problem
        except ijson.JSONError as exc:
            raise InputError(f"not valid JSON: {exc}", file=str(path)) from None

    source = json_lines() if lines else json_array()
    guarded = _bounded(_decode_guard(source, path, encoding, lambda: state["line"]), limits, path, Clock(limits, path))
    stream = RowStream(path, "jsonl" if lines else "json", encoding, header, 1, guarded, path.stat().st_size, counter, [text.close])
    return stream


def _depth(value) -> int:
    """How deeply a parsed JSON value nests (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _array_items(events, under_records: bool, limits: ReadLimits, path: Path):
    """The items of the top-level array (or of the array under a top-level "records" key), built from
    the parser's events with the nesting counted as it goes, so a deep file is refused early."""
    from ijson.common import ObjectBuilder

    depth = 0  # containers open
    array_depth = 2 if under_records else 1
    in_array, builder, key = False, None, None

    def opened() -> int:
        if depth + 1 > limits.max_depth:
            raise limits.refuse(f"the JSON is nested more than {limits.max_depth} levels deep", "max_depth", path)
        return depth + 1

    for event, value in events:
        opening, closing = event in ("start_map", "start_array"), event in ("end_map", "end_array")
        if builder is not None:  # inside an item
            depth = opened() if opening else depth - 1 if closing else depth
            builder.event(event, value)
            if closing and depth == array_depth:
                yield builder.value
                builder = None
        elif in_array:
            if event == "end_array":
                in_array, depth = False, depth - 1
            elif opening:
                depth = opened()
                builder = ObjectBuilder()
                builder.event(event, value)
            else:
                yield value
        elif opening:
            depth = opened()
            if event == "start_array" and depth == array_depth and (not under_records or key == "records"):
                in_array = True
        elif closing:
            depth -= 1
        elif event == "map_key" and depth == 1:
            key = value


NUL_IN_ROW = "the row holds a NUL character (code 0), which no text may hold: the file is damaged here"


def _may_hold_nul(path: Path, encoding: str | None) -> bool:
    """Whether the file may give a cell a NUL character: its bytes hold one (or, in JSON, its escape),
    or it is UTF-16 (whose bytes hold many). A scan of the bytes (about 30 ms per 100 MB) spares the
    rows of every other file a check."""
    import mmap

    if encoding and encoding.startswith("utf-16"):
        return True
    if path.stat().st_size == 0:
        return False
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b"\x00") >= 0 or data.find(b"\\u0000") >= 0


def _refusing_nul(stream: RowStream) -> RowStream:
    """The stream, its rows holding a NUL character refused into the quarantine (a text column of
    PostgreSQL cannot hold one, and no name or date does); a header holding one refuses the file."""
    if stream.format == "xlsx" or not _may_hold_nul(stream.path, stream.encoding):
        return stream
    if any("\x00" in cell for cell in stream.header):
        raise InputError("the header holds a NUL character (code 0): the file is damaged here", file=str(stream.path),
                         line=stream.header_line or 1)

    read = stream.rows

    def rows() -> Iterator[tuple[int, list[str], str | None]]:
        for line, cells, problem in read:
            if problem is None and "\x00" in "".join(cells):
                yield line, [cell.replace("\x00", "") for cell in cells], NUL_IN_ROW
            else:
                yield line, cells, problem

    stream.rows = rows()
    return stream


def open_rows(
    path: str | Path, *, format: str | None = None, encoding: str = "auto", sheet: str | None = None, is_header=None,
    limits: ReadLimits | None = None, split=None,
) -> RowStream:
    """Open a list for reading, refusing what is not a readable regular file.

    ``is_header(cells) -> bool`` picks the header among the leading rows of a CSV or XLSX file
    (titles and notes above it are passed over); without it the first non-blank row is the header.
    ``limits`` bound what the file may ask of the reader (the defaults when not given). ``split(encoding)``
    may give a CSV file's :class:`CsvPart`: then the stream holds the first part's rows only.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=str(path))
    if path.is_dir():
        raise InputError("is a folder, not a file", file=str(path))
    if not path.is_file():
        raise InputError("is not a regular file", file=str(path))
    fmt = detect_format(path, format)
    limits = limits or ReadLimits()
    if fmt == "xlsx":
        return open_xlsx(path, sheet, is_header, limits)
    codec = detect_encoding(path, encoding)
    if fmt == "csv":
        return _refusing_nul(open_csv(path, codec, is_header, limits, part=split(codec) if split else None))
    return _refusing_nul(open_json(path, codec, lines=fmt == "jsonl", limits=limits))
