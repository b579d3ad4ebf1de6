"""A large CSV list read by two processes at once: the first part here, the second in a child.

Reading, normalising and staging a row costs about the same wherever it is in the file, and a
machine has more than one core. So a large CSV file is cut in two near its middle
(:func:`dadkhah.ingest.readers.split_point`); a child process reads, normalises and stages the second
part into a staging database of its own (:class:`dadkhah.ingest.staging.StagedPart`) while the
import does the first, and the import then moves both into the workspace in one transaction, as it
moves one. What the import gives is exactly what reading the file whole gives (tested): the same
records with the same ids, lines, warnings, quarantine report and counts.

* The child numbers its rows from 1; the import adds the first part's rows when it moves them
  (:class:`~dadkhah.ingest.readers.CsvPart` says how many, and whether the cut fell between rows:
  when it fell inside a quoted cell, both parts are thrown away and the file is read whole).
* A record_id repeated across the two parts is found as one repeated within a part is: the ids of
  the second part that the first part's sieve may have seen are checked in SQL with the others.
* An error in the second part (an undecodable byte, a line too long) is raised here naming the line
  as reading whole would; a fault in the child is raised as one. Either way nothing is imported.
* The child ends with the import: it is killed if the importing process dies, and its staging
  database lies in the import's private folder, which is swept.

SQLite only: on PostgreSQL the staged rows are temporary tables of the import's own connection,
which another process cannot write, and the time goes to the server, not to reading. From a
program's main thread (the command line) the child is a plain fork. A web server imports in a
thread while its other threads use SQLite, and a fork taken while one of them holds SQLite's own
locks would leave the child waiting on them for ever: there the child is a fresh interpreter
(started as ``python -c``, which runs no Python code of the parent's between fork and exec), given
its work as a file in the import's private folder, and answering through another.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import mmap
import multiprocessing
import os
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import traceback
from pathlib import Path

from dadkhah.errors import DadkhahError, InputError
from dadkhah.ingest.readers import CsvPart, open_csv_rest, split_point
from dadkhah.ingest.staging import StagedPart

DEFAULT_FROM_MB = 8  # smaller files are read whole: a second process would not pay for itself


class CutInsideRow(Exception):
    """The cut fell inside a quoted cell that holds a newline: read the file whole instead."""


def splitter(store, path: Path, format: str | None):
    """What :func:`dadkhah.ingest.readers.open_rows` asks for a CSV file's cut, when this import is to be
    read by two processes (SQLite, two cores or more, the main thread, a file of at least
    ``import.parallel_from_mb`` megabytes: 0 splits every CSV file); None otherwise. Its ``part`` is
    the cut, once the file is open."""
    from_mb = (store.workspace.config.get("import") or {}).get("parallel_from_mb", DEFAULT_FROM_MB)
    if not isinstance(from_mb, (int, float)) or isinstance(from_mb, bool) or from_mb < 0:
        raise InputError(f"import.parallel_from_mb must be a number of megabytes (0 or more), not {from_mb!r}",
                         file="dadkhah.toml", field="parallel_from_mb")
    possible = store.engine.dialect.name == "sqlite" and (os.cpu_count() or 1) >= 2 and hasattr(os, "fork")
    if (not possible or not path.is_file() or path.stat().st_size < from_mb * (1 << 20)
            or (format or path.suffix.lower().lstrip(".")) not in ("csv", "tsv", "txt")):
        return None
    return _Splitter(path, fresh=threading.current_thread() is not threading.main_thread())


class _Splitter:
    """``fresh``: the second part is to be read by a fresh interpreter, not a fork (see above)."""

    def __init__(self, path: Path, *, fresh: bool):
        self.path, self.fresh = path, fresh
        self.part: CsvPart | None = None

    def __call__(self, encoding: str) -> CsvPart | None:
        end = split_point(self.path, encoding)
        self.part = CsvPart(end, ",") if end is not None else None
        return self.part


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (prctl PR_SET_PDEATHSIG); end at once if the
    parent died before it could ask."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


class SecondPart:
    """The child process staging the file's second part, and what it sends back.

    From the main thread, a plain ``fork`` (no multiprocessing bootstrap): the child runs the row loop
    on what it inherited (the gazetteer, the column plan), writes only its own database and pipe, and
    ends with ``os._exit``, flushing no stream another thread of the parent may have held at the fork.
    With ``fresh`` (a program's other thread), a fresh interpreter: see :class:`_FreshChild`.
    """

    def __init__(self, stage_rows, *, part: CsvPart, staged: StagedPart, path: Path, encoding: str, header: list[str],
                 limits, options: dict, fresh: bool = False):
        self.part, self.staged, self.path = part, staged, path
        self.exit_code = None
        if fresh:
            self._fresh = _FreshChild(stage_rows, part=part, staged=staged, path=path, encoding=encoding,
                                      header=header, limits=limits, options=options)
            self.pid, self._progress = self._fresh.process.pid, self._fresh.progress
            return
        self._fresh = None
        self._progress = mmap.mmap(-1, 8)  # shared with the child: the bytes it has read
        receiving, sending = multiprocessing.Pipe(duplex=False)
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                receiving.close()
                _child(sending, parent, stage_rows, part, staged, path, encoding, header, limits, options,
                       self._progress)
                code = 0
            finally:
                os._exit(code)
        self.pid = pid
        self._receiving = receiving
        sending.close()

    @property
    def bytes_read(self) -> int:
        return struct.unpack("q", self._progress[:8])[0]

    def _ended(self, block: bool = False) -> bool:
        if self.exit_code is None:
            if self._fresh is not None:
                self.exit_code = self._fresh.process.wait() if block else self._fresh.process.poll()
            else:
                pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
                if pid:
                    self.exit_code = os.waitstatus_to_exitcode(status)
        return self.exit_code is not None

    def _said(self) -> bool:
        """Whether the child has answered (waiting a tenth of a second for it)."""
        if self._fresh is not None:
            threading.Event().wait(0.1)
            return self._fresh.answered()
        return self._receiving.poll(0.1)

    def _answer(self) -> tuple | None:
        """What the child said (None: it ended without a word, killed)."""
        if self._fresh is not None:
            self._ended(block=True)
            return self._fresh.answer()
        try:
            return self._receiving.recv()
        except EOFError:
            return None

    def wait(self, report=None) -> tuple[dict, list[str]]:
        """The child's counts and repeated record_ids, once it is done; its error raised here (with the
        line as the whole file numbers it), nothing imported."""
        while not self._said() and not self._ended():
            if report is not None:
                report()
        message = self._answer()
        self._ended(block=True)
        if message is None:
            message = ("fault", f"it stopped (exit code {self.exit_code}) before it said why"
                       + (self._fresh.said_on_stderr() if self._fresh is not None else ""))
        kind, *rest = message
        if kind == "error":
            error = rest[0]
            if isinstance(error, InputError) and error.line is not None:
                error = dataclasses.replace(error, line=error.line + self.part.rows_read)
            raise error
        if kind == "fault":
            raise RuntimeError(f"the process reading the second part of {self.path} failed; nothing was imported:\n"
                               f"{rest[0]}")
        self.staged.line_offset = self.part.rows_read
        return rest[0], rest[1]

    def stop(self) -> None:
        """End the child (if it still runs) and reap it."""
        if not self._ended():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self._ended(block=True)
        if self._fresh is not None:
            self._fresh.close()
        else:
            self._receiving.close()


class _FreshChild:
    """The second part read by a fresh interpreter: its work pickled into a file beside the part's
    staging database (the import's private folder, mode 0700, swept with it), its progress in an
    8-byte file both map, its answer pickled into a third file once done, what it printed in a
    fourth. The converters are made again there (a SQLite column's bind processor does not pickle)."""

    def __init__(self, stage_rows, *, part, staged, path, encoding, header, limits, options):
        base = staged.path.with_suffix("")
        self.job, self.result = base.with_suffix(".job"), base.with_suffix(".answer")
        self.progress_file, self.stderr_file = base.with_suffix(".progress"), base.with_suffix(".stderr")
        stage = dict(options["stage"], converters=None)
        work = {"stage_rows": stage_rows, "part": part, "staged": staged, "path": path, "encoding": encoding,
                "header": header, "limits": limits, "options": dict(options, stage=stage), "parent": os.getpid(),
                "progress": str(self.progress_file), "result": str(self.result)}
        with os.fdopen(os.open(self.job, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            pickle.dump(work, out, protocol=pickle.HIGHEST_PROTOCOL)
        with os.fdopen(os.open(self.progress_file, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), "r+b") as shared:
            shared.write(bytes(8))
            shared.flush()
            self.progress = mmap.mmap(shared.fileno(), 8)
        self._stderr = os.fdopen(os.open(self.stderr_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from dadkhah.ingest.parallel import fresh_child; fresh_child(sys.argv[1])",
             str(self.job)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr, close_fds=True)

    def answered(self) -> bool:
        return self.result.exists()

    def answer(self) -> tuple | None:
        try:
            with open(self.result, "rb") as said:
                return pickle.load(said)
        except FileNotFoundError:
            return None

    def said_on_stderr(self) -> str:
        with contextlib.suppress(OSError):
            said = self.stderr_file.read_text(encoding="utf-8", errors="replace").strip()
            if said:
                return ":\n" + said[-4000:]
        return ""

    def close(self) -> None:
        self._stderr.close()
        self.progress.close()
        for leftover in (self.job, self.result, self.progress_file, self.stderr_file):
            leftover.unlink(missing_ok=True)


class _AnswerFile:
    """What a fresh child sends: one message, pickled to a file under a temporary name, then renamed."""

    def __init__(self, path: str):
        self.path = Path(path)

    def send(self, message) -> None:
        writing = self.path.with_suffix(".writing")
        with os.fdopen(os.open(writing, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(writing, self.path)

    def close(self) -> None:
        pass


def fresh_child(job: str) -> None:
    """The fresh interpreter's work (see :class:`_FreshChild`): stage the second part, answer, end."""
    from dadkhah.ingest.importer import sqlite_values

    with open(job, "rb") as given:
        work = pickle.load(given)  # (written by the parent into its private folder, readable by this user alone)
    work["options"]["stage"]["converters"] = sqlite_values()
    with open(work["progress"], "r+b") as shared:
        progress = mmap.mmap(shared.fileno(), 8)
    code = 1
    try:
        _child(_AnswerFile(work["result"]), work["parent"], work["stage_rows"], work["part"], work["staged"],
               work["path"], work["encoding"], work["header"], work["limits"], work["options"], progress)
        code = 0
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class _PartSink:
    """Where the child writes: the part's own staging database, through a plain connection of its own
    (attached under the part's name, so that the part's tables are written as the import reads them)."""

    def __init__(self, staged: StagedPart, record_columns, warning_columns):
        self.db = sqlite3.connect(":memory:")
        self.db.execute(f"ATTACH DATABASE ? AS {staged.schema}", (str(staged.path),))
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-65536"):
            self.db.execute(f"PRAGMA {staged.schema}.{pragma}")
        self._records = _insert(staged.records, record_columns)
        self._warnings = _insert(staged.warnings, warning_columns)
        self._refused = _insert(staged.refused, ("line", "reason", "field", "cells"))
        self.refused: list[tuple] = []

    def write(self, batch) -> None:
        self.db.executemany(self._records, batch.records)
        batch.records.clear()
        self.db.executemany(self._warnings, batch.warnings)
        batch.warnings.clear()
        self.db.executemany(self._refused, self.refused)
        self.refused.clear()

    def commit(self) -> None:
        self.db.commit()

    # what the row loop calls the quarantine
    def add(self, line: int, reason: str, cells: list[str], field: str = "") -> None:
        self.refused.append((line, reason, field, json.dumps(cells, ensure_ascii=False)))

    def set_header(self, header) -> None:  # pragma: no cover - JSON lists only, never split
        raise AssertionError("only CSV files are read in two parts")


def _insert(table, columns) -> str:
    """``table``'s INSERT with ``columns``' values given in that order, as SQLite takes it."""
    from sqlalchemy.dialects import sqlite

    compiled = table.insert().compile(dialect=sqlite.dialect(), column_keys=list(columns))
    if list(compiled.positiontup) != list(columns):  # pragma: no cover - a programming error
        raise ValueError(f"give {table.name}'s columns in the table's order, {compiled.positiontup}")
    return compiled.string


def _child(sending, parent: int, stage_rows, part: CsvPart, staged: StagedPart, path: Path, encoding: str,
           header: list[str], limits, options: dict, bytes_read) -> None:
    """In the child: stage the second part, then send ("done", counts, repeated ids), ("error", error) or
    ("fault", traceback)."""
    _die_with_parent(parent)
    gc.disable()  # as the importing process does while rows stream through (store.collector_paused)
    with contextlib.suppress(OSError):
        # Extra speed for the import, never at the expense of others' work: where the cores are busy
        # (a web server on the same machine answering people), this process gives way.
        os.nice(10)
    try:
        stream = open_csv_rest(path, encoding, part, limits, header)
        stream.header = header
        sink = _PartSink(staged, options["record_columns"], options["warning_columns"])

        def report() -> None:
            bytes_read[:8] = struct.pack("q", stream.bytes_read)

        with stream:
            counts, seen = stage_rows(stream, sink=sink, quarantine=sink, report=report, **options["stage"])
        sink.commit()
        sink.db.close()
        sending.send(("done", counts, sorted(seen.again)))
    except DadkhahError as exc:
        sending.send(("error", exc))
    except BaseException:  # noqa: BLE001 - sent to the parent, which raises it
        sending.send(("fault", traceback.format_exc()))
    finally:
        sending.close()
