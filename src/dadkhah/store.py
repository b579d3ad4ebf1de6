"""The database: engine, sessions, and migrations, on SQLite (WAL) or PostgreSQL.

The same tables and the same Alembic migrations run on both. Opening a workspace brings its
database up to this version's schema; a database written by a newer version is refused rather
than guessed at.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: SQLite's own lock alone
    fcntl = None

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dadkhah.errors import Busy, InputError, WorkspaceError
from dadkhah.model import (
    PLACE_FIELD_TYPES,
    PLACES_REVISION_SETTING,
    AuditEvent,
    ClaimImport,
    EvidenceItem,
    Import,
    Intake,
    Job,
    LinkageRun,
    Place,
    PlaceName,
    Record,
    Setting,
)
from dadkhah.model.base import utcnow
from dadkhah.model.search import SEARCH_INDEX_SETTING
from dadkhah.normalize.places import (
    Gazetteer,
    load_builtin_gazetteer,
    place_lookup_key,
    place_names,
)
from dadkhah.workspace import (
    Workspace,
    database_url_for,
    make_private,
    outside_partial,
    process_alive,
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def normalise_database_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form users copy from elsewhere; we drive it with psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(busy_ms: int):
    def connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")  # how long a writer waits for another
        cursor.execute("PRAGMA cache_size=-65536")  # 64 MB of page cache: bounded, and imports need it
        cursor.close()

    return connect


def is_busy(error: BaseException) -> bool:
    """Whether a database error says another writer holds the lock (not that something is wrong)."""
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "database table is locked" in text or "lock timeout" in text


# Persian stays readable (and half the size) in raw rows: no \u escapes. One encoder, built once:
# json.dumps with non-default options builds a new one per call, a tenth of an import's time.
_json_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


NUL_REFUSED = "a text given holds a NUL character (code 0), which no text may hold; nothing was changed"


def _refuse_nul(_connection, _cursor, _statement, parameters, _context, _executemany) -> None:
    """SQLite would store a text holding a NUL character, which PostgreSQL refuses (see
    :meth:`Store.session`): refused here as well, so that both databases answer alike (a text field
    of a multipart form, an evidence file's description say, is not read by the web's own check),
    for one row or many. An import sets such rows aside before it writes; the rows it then writes
    are looked at again here, but for the second part of a large CSV file, which its own process
    writes through the driver (measured: no change in import speed)."""
    if not parameters:
        return
    # Many rows come as a list of rows; one row as a tuple or a dictionary (also when SQLAlchemy sends
    # the rows of a bulk insert that returns ids one at a time, with ``executemany`` still true).
    many = isinstance(parameters, list) and isinstance(parameters[0], (tuple, list, dict))
    for row in parameters if many else (parameters,):
        for value in row.values() if isinstance(row, dict) else row:
            if value.__class__ is str and "\x00" in value:
                raise InputError(NUL_REFUSED)


def holds_nul(error: BaseException) -> bool:
    """Whether the database refused a text for holding a NUL character (PostgreSQL does)."""
    return "NUL (0x00)" in str(getattr(error, "orig", error))


def checked_database_url(url: str) -> str:
    """``url`` normalised (:func:`normalise_database_url`), if it names a database Dadkhah can use: a
    SQLite file or a PostgreSQL database; else a :class:`WorkspaceError` saying what is wrong with
    it (never the password it may hold)."""
    url = normalise_database_url(url.strip())
    try:
        parsed = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise WorkspaceError("DADKHAH_DATABASE_URL is not a database address: give postgresql://USER@HOST:PORT/DATABASE "
                             "(or leave it unset for the workspace's own SQLite file)") from None
    if parsed.drivername not in ("sqlite", "postgresql+psycopg"):
        raise WorkspaceError(f"DADKHAH_DATABASE_URL names a {parsed.get_backend_name()} database: Dadkhah works with "
                             "PostgreSQL (postgresql://…) or its own SQLite file (leave it unset)")
    return url


def create_engine(url: str, *, busy_seconds: float = 30) -> sa.Engine:
    """An engine for ``url``; on SQLite a writer waits up to ``busy_seconds`` for another to finish.
    A database error's message never carries the values of its statement (a victim's record, a
    witness's name) into a server log or onto a terminal (``hide_parameters``)."""
    url = checked_database_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, json_serializer=_json_dumps, hide_parameters=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas(busy_seconds * 1000))
        sa.event.listen(engine, "before_cursor_execute", _refuse_nul)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps, hide_parameters=True)


# Alembic (and its reading of every migration script) is loaded only when a database is to be
# migrated: opening a current one, as nearly every command does, reads its revision with one query.


def _alembic_config(connection: sa.Connection | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this version knows. The migrations are one numbered line, each
    file named for its revision (``0017_….py`` holds revision ``0017``), so the newest is the
    highest number (tests/test_store.py checks this against Alembic's own reading of the scripts)."""
    return max((path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py")), key=int)


def current_revision(engine: sa.Engine) -> str | None:
    """The database's schema revision, None for a database no migration has touched."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to ``revision``; returns (before, after). Refuses a newer database."""
    before = current_revision(engine)
    if revision == "head" and before == head_revision():
        return before, before
    from alembic import command
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config())
    if before is not None and before not in {script.revision for script in scripts.walk_revisions()}:
        raise WorkspaceError(
            f"the database is at schema revision {before}, which this version of Dadkhah does not "
            "know: it was written by a newer version; upgrade Dadkhah to open it"
        )
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), revision)
    return before, current_revision(engine)


_UNLOADED = object()


@dataclass
class Store:
    """A workspace with its open database and, when they are at hand, the keys that sign its logs.

    ``keys`` (or a function that finds them, called once when first needed) signs the audit log
    and says where its newest event is remembered (:class:`dadkhah.chain.ChainKeys`); without
    keys the audit log is still written, unsigned.
    """

    workspace: Workspace
    engine: sa.Engine
    keys: object = None
    swept: dict = field(default_factory=dict)  # what opening it cleaned up after interrupted runs
    # When opening it brought in a newer shipped gazetteer: per record field, how many current records
    # it resolved that named no known place before (see sync_gazetteer); empty otherwise.
    places_resolved: dict = field(default_factory=dict)
    waiting: dict = field(default_factory=dict)  # writes queued for the next writer's turn, by kind (see one_writer)

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._chain_keys = _UNLOADED
        self._writer = threading.Lock()
        self._writer_file = None

    @property
    def chain_keys(self):
        """The keys for the audit log (None when there are none), found on first use."""
        if self._chain_keys is _UNLOADED:
            self._chain_keys = self.keys() if callable(self.keys) else self.keys
        return self._chain_keys

    def use_keys(self, keys) -> None:
        """Sign from now on with ``keys`` (the command unlocked them for its own work)."""
        self._chain_keys = keys

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed if the block succeeds, rolled back if not.

        When another writer holds the database longer than this one waits, :class:`Busy` says so.
        """
        try:
            with self._sessions() as session, session.begin():
                yield session
        except sa.exc.OperationalError as exc:
            if is_busy(exc):
                raise Busy("the case's database is busy saving another's work (a large import or a linkage "
                           "run); nothing was changed: try again in a few seconds") from exc
            raise
        except sa.exc.DataError as exc:
            if holds_nul(exc):  # PostgreSQL's text cannot hold one; what gives text should have refused it
                raise InputError(NUL_REFUSED) from exc
            raise

    @contextlib.contextmanager
    def one_writer(self) -> Iterator[None]:
        """Around a short write that many requests make at once from several processes (signing a
        public appeal): on SQLite, one such writer at a time, handed over the moment it is free.

        SQLite's own lock makes a waiting writer sleep and poll in growing steps (1, 2, 5, 10 … ms),
        so under a steady stream of small writes most of the time goes to sleeping; a lock file's
        waiters are woken by the kernel at once. Threads of one process queue on a thread lock
        first. PostgreSQL needs neither (its row locks wake waiters themselves).
        """
        if self.engine.dialect.name != "sqlite" or fcntl is None:
            yield
            return
        with self._writer:
            if self._writer_file is None:
                database = Path(self.engine.url.database or "")
                descriptor = os.open(database.with_name(database.name + "-writer"), os.O_RDWR | os.O_CREAT, 0o600)
                self._writer_file = os.fdopen(descriptor, "r+b")
            fcntl.flock(self._writer_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._writer_file.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        if self._writer_file is not None:
            self._writer_file.close()
            self._writer_file = None
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(workspace: Workspace, *, upgrade: bool = True, keys=None, busy_seconds: float = 30,
               claim: bool = False, create: bool = True) -> Store:
    """Open the workspace's database, migrating it to this version's schema when it is older.

    ``keys`` sign the audit log: the keys themselves, or a function that finds them when needed.
    ``busy_seconds``: how long a write waits for another (SQLite) before :class:`Busy`.
    ``claim`` (as the command line and the web open a workspace): the database must be this
    workspace's (:func:`claim_database`). Without ``create``, a missing SQLite file is an error, not a
    new empty database: the workspace's database may be on a server the environment no longer names.
    """
    if not create and workspace.is_sqlite:
        database = sa.make_url(checked_database_url(workspace.database_url)).database
        if not database or database == ":memory:":
            raise WorkspaceError("DADKHAH_DATABASE_URL names a database in memory, which keeps nothing once the "
                                 "command ends: name the case's database, or unset it for the workspace's own file")
        if not Path(database).exists():
            raise WorkspaceError(
                f"{workspace.path} has no database: {database} is missing. If the case's database is on a PostgreSQL "
                "server, set DADKHAH_DATABASE_URL to it; if the file was moved or deleted, restore it from a backup "
                f"(`dadkhah restore`); `dadkhah init {workspace.path}` makes a new, empty one")
    engine = create_engine(workspace.database_url, busy_seconds=busy_seconds)
    try:
        if upgrade:
            before, after = migrate(engine)
            if before != after:
                log.info("migrated the database from %s to %s", before or "empty", after)
        elif current_revision(engine) != head_revision():
            raise WorkspaceError("the database schema is not current; run `dadkhah init` to migrate it")
        synced = sync_gazetteer(engine) if upgrade else None
        if workspace.is_sqlite:
            _keep_private(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise WorkspaceError(f"cannot open the database {engine.url!r}: {exc.orig}") from exc
    except sa.exc.DatabaseError as exc:  # SQLite: "file is not a database", "database disk image is malformed"
        engine.dispose()
        if not workspace.is_sqlite:
            raise
        raise WorkspaceError(f"the database {engine.url.database} cannot be read ({exc.orig}): it was damaged, or "
                             "replaced by another file. Restore it from a backup (`dadkhah restore`) or from a copy "
                             "of the workspace") from exc
    except Exception:
        engine.dispose()
        raise
    if claim:
        try:
            claim_database(engine, workspace)
        except BaseException:
            engine.dispose()
            raise
    store = Store(workspace=workspace, engine=engine, keys=keys)
    if synced:
        store.places_resolved = synced["records_resolved"]
    if upgrade:
        make_private(workspace.path)
        store.swept = sweep_leftovers(store)
    return store


WORKSPACE_SETTING = "workspace"  # the workspace whose database this is (Workspace.uid)


def claim_database(engine: sa.Engine, workspace: Workspace) -> None:
    """Check that the database is ``workspace``'s, naming the workspace in it when it names none yet
    (a new database, or one from before databases named their workspace). A database that names
    another workspace is refused: commands would read and write another case, and its audit log
    would look tampered with from here."""
    table = Setting.__table__
    with engine.connect() as connection:
        held = connection.scalar(sa.select(table.c.value).where(table.c.key == WORKSPACE_SETTING))
        if held is None:  # named by no workspace yet: this one's only if its audit log began here (or is empty)
            events = AuditEvent.__table__
            first = connection.scalar(sa.select(events.c.prev_sha256).order_by(events.c.seq).limit(1))
            idents = [workspace.config.get("created_at"), (workspace.config.get("vault") or {}).get("workspace_id")]
            began_here = {hashlib.sha256(f"dadkhah-audit-genesis:{ident}".encode()).hexdigest()
                          for ident in idents if ident}  # (dadkhah.chain.HashChain.genesis of the audit chain)
            if first is not None and first not in began_here:
                held = "another workspace"
    if held is None:
        try:
            with engine.begin() as connection:
                connection.execute(table.insert().values(key=WORKSPACE_SETTING, value=workspace.uid))
            return
        except sa.exc.IntegrityError:  # another process claimed it first: read what it wrote
            with engine.connect() as connection:
                held = connection.scalar(sa.select(table.c.value).where(table.c.key == WORKSPACE_SETTING))
    if held != workspace.uid:
        named = engine.url.render_as_string(hide_password=True)
        raise WorkspaceError(
            f"the database {named} belongs to another workspace, not to {workspace.path}: "
            + ("DADKHAH_DATABASE_URL names another case's database; set it to this workspace's, or unset it for a "
               "workspace whose database is its own SQLite file"
               if workspace.database_url != database_url_for(workspace.path) else
               "the database file was replaced by another workspace's; restore this workspace's from a backup"))


def _keep_private(engine: sa.Engine) -> None:
    """The database file (and its write-ahead log) for the owner alone, whatever the umask."""
    database = engine.url.database
    if not database or database == ":memory:":
        return
    for suffix in ("", "-wal", "-shm"):
        path = Path(database + suffix)
        if path.exists() and path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


# What a run in progress writes, named for the process doing it: "<pid>-<hex>.part" (sealed evidence
# on its way into the blob store), "<report>.csv.<pid>.part" (a quarantine report being written),
# "<purpose>-<pid>-<random>" (a folder in private/).
_PART_OWNER = re.compile(r"^(\d+)-[0-9a-f]+\.part$|\.(\d+)\.part$")
_FOLDER_OWNER = re.compile(r"^[a-z]+-(\d+)-")
# A sealed file moved into the blob store by a transaction not yet ended: "<pid>-<hex>.placing" in
# blobs/incoming names it (dadkhah.vault.evidence); and the names a sealed file may have there.
_PLACING_OWNER = re.compile(r"^(\d+)-[0-9a-f]+\.placing$")
_SEALED_NAME = re.compile(r"^blobs/[0-9a-f]{2}/[0-9a-f]{64}(\.[0-9a-f]{16})?\.sealed$")
STALE_SECONDS = 3600  # a leftover that names no process counts as abandoned after an hour
PRINTED_KEEP_DAYS = 7  # a report printed by a job is kept this long after it was printed


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return path.stat().st_size


def _owner(match: re.Match | None) -> int | None:
    return next((int(g) for g in match.groups() if g), None) if match else None


def _abandoned(path: Path, match: re.Match | None) -> bool:
    pid = _owner(match)
    if pid is not None:
        return not process_alive(pid)
    return time.time() - path.stat().st_mtime > STALE_SECONDS


def sweep_leftovers(store: Store) -> dict:
    """Remove what interrupted runs left in the workspace, and say how much.

    A linkage run's kept pairs (``linkage/.run-*.part``) whose process no longer runs are put in
    place when their run committed, and removed when it did not.
    Partial sealed files in ``blobs/incoming``, half-written quarantine reports and the folders of
    ``private/`` go when the process
    that made them no longer runs (with the partial copy outside the
    workspace such a folder names: a case file being copied to another drive); so does a sealed file that such a
    process had moved into the blob store (noted in ``blobs/incoming/<pid>-….placing``) when no
    evidence row names it, its transaction having died with it; a quarantine report no import (nor
    intake) names goes when it is over an hour old (an import names its report only as it commits);
    so does a list uploaded for a background import that no waiting or running job names, and a
    report printed by a job that no job names (its worker was killed); a printed report whose job
    ended more than :data:`PRINTED_KEEP_DAYS` days ago goes too.
    Returns ``{"files", "bytes", "quarantine_reports", "linkage_put_in_place"}``.
    """
    workspace = store.workspace
    swept = {"files": 0, "bytes": 0, "quarantine_reports": 0, "linkage_put_in_place": 0}

    def remove(path: Path, key: str = "files") -> None:
        try:
            size = _size(path)
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError:
            return
        swept[key] += 1
        swept["bytes"] += size

    candidates = []
    if workspace.private_dir.is_dir():
        candidates += [(p, _FOLDER_OWNER.match(p.name) or _PART_OWNER.search(p.name)) for p in workspace.private_dir.iterdir()]
    incoming = workspace.blobs_dir / "incoming"
    if incoming.is_dir():
        candidates += [(p, _PART_OWNER.search(p.name)) for p in incoming.glob("*.part")]
    if workspace.quarantine_dir.is_dir():
        candidates += [(p, _PART_OWNER.search(p.name)) for p in workspace.quarantine_dir.glob("*.part")]
    linkage = workspace.path / "linkage"
    if linkage.is_dir():  # a linkage run's kept pairs, put in place after its commit (dadkhah.link.run)
        finished = None
        for path in linkage.glob(".run-*.part"):
            with contextlib.suppress(OSError, ValueError):
                match = _PART_OWNER.search(path.name)
                if not _abandoned(path, match):
                    continue
                if finished is None:
                    with store.session() as session:
                        finished = set(session.scalars(sa.select(LinkageRun.id).where(LinkageRun.finished_at.is_not(None))))
                final = linkage / path.name[1:].rsplit(".", 2)[0]  # .run-7.<pid>.part -> run-7
                number = final.name.removeprefix("run-")
                if number.isdigit() and int(number) in finished and not final.exists():
                    os.replace(path, final)  # its run committed: the pairs are its own, put in place
                    swept["linkage_put_in_place"] += 1
                else:
                    remove(path)
    for path, match in candidates:
        with contextlib.suppress(OSError):
            if _abandoned(path, match):
                if path.is_dir() and match and (partial := outside_partial(path, _owner(match))) and partial.exists():
                    remove(partial)  # what it was copying outside the workspace (a case file to another drive)
                remove(path)
    if incoming.is_dir():
        _sweep_placed(store, incoming, remove)
    if workspace.uploads_dir.is_dir():
        _sweep_uploads(store, remove)
    if workspace.printed_dir.is_dir():
        _sweep_printed(store, remove)
    if workspace.quarantine_dir.is_dir():
        with store.session() as session:
            named = {Path(p).name for table in (Import, Intake)
                     for p in session.scalars(sa.select(table.quarantine_path).where(table.quarantine_path.is_not(None)))}
            # an accountability import keeps one report per file it refused rows of, named in its files
            named |= {Path(counts["quarantine"]).name for files in session.scalars(sa.select(ClaimImport.files))
                      for counts in (files or {}).values() if isinstance(counts, dict) and counts.get("quarantine")}
        for note in workspace.quarantine_dir.glob("*.naming"):  # a report about to be named (dadkhah.ingest.quarantine)
            with contextlib.suppress(OSError, ValueError):
                report_name, pid = note.name.rsplit(".", 2)[0], int(note.name.rsplit(".", 2)[1])
                if not process_alive(pid):
                    report = workspace.quarantine_dir / report_name
                    if report.is_file() and report.name not in named:
                        remove(report, "quarantine_reports")  # its import died before committing
                    note.unlink()
        for report in workspace.quarantine_dir.glob("*.csv"):
            with contextlib.suppress(OSError):
                if report.name not in named and time.time() - report.stat().st_mtime > STALE_SECONDS:
                    remove(report, "quarantine_reports")
    return swept


def _sweep_printed(store: Store, remove) -> None:
    """Reports printed and memorial sites zipped by background jobs (``printed/<folder>/``): those whose job ended more than
    :data:`PRINTED_KEEP_DAYS` days ago, and, over an hour old, those no waiting, running or finished
    job names (a job that failed, or was cancelled, removes its folder itself; these are left by a
    worker that was killed)."""
    folders = [path for path in store.workspace.printed_dir.iterdir()
               if time.time() - path.stat().st_mtime > STALE_SECONDS]
    if not folders:
        return
    kept_from = utcnow() - timedelta(days=PRINTED_KEEP_DAYS)
    with store.session() as session:
        rows = session.execute(sa.select(Job.parameters, Job.status, Job.finished_at).where(
            Job.kind.in_(("report print", "memorial build")), Job.status.in_(("queued", "running", "done")))).all()
    kept = {str((parameters or {}).get("folder", "")) for parameters, status, finished in rows
            if status != "done" or finished is None or finished > kept_from}
    for folder in folders:
        if folder.name not in kept:
            remove(folder)


def _sweep_uploads(store: Store, remove) -> None:
    """Lists (and field tools' files) uploaded for a background import or intake
    (``uploads/<folder>/``) that no waiting or running job names, over an hour old: their job ended
    without removing them (its worker was killed), or was never submitted (the process that moved
    them in died first)."""
    folders = [path for path in store.workspace.uploads_dir.iterdir() if path.is_dir()
               and time.time() - path.stat().st_mtime > STALE_SECONDS]
    if not folders:
        return
    with store.session() as session:
        waiting = {str((parameters or {}).get("upload", "")).split("/")[0] for parameters in session.scalars(
            sa.select(Job.parameters).where(Job.kind.in_(("list import", "intake")),
                                            Job.status.in_(("queued", "running"))))}
    for folder in folders:
        if folder.name not in waiting:
            remove(folder)


def _sweep_placed(store: Store, incoming: Path, remove) -> None:
    """Sealed files placed by a transaction whose process died: kept when a row names them (it had
    committed), removed when none does (it had not); then their notes."""
    notes = [(p, int(m.group(1))) for p in incoming.glob("*.placing") if (m := _PLACING_OWNER.match(p.name))]
    notes = [p for p, pid in notes if not process_alive(pid)]
    if not notes:
        return
    root = store.workspace.path
    with store.session() as session:
        for note in notes:
            with contextlib.suppress(OSError, UnicodeDecodeError):
                relative = note.read_text(encoding="utf-8").strip()
                if _SEALED_NAME.match(relative) and (root / relative).is_file() and session.scalar(
                        sa.select(sa.func.count()).select_from(EvidenceItem).where(EvidenceItem.blob_path == relative)) == 0:
                    remove(root / relative)
            with contextlib.suppress(OSError):
                note.unlink()


def insert_rows(session: Session, table: sa.Table, rows: list[dict]) -> None:
    """Insert many rows with the same keys, fast.

    On SQLite the DB-API's ``executemany`` is given tuples prepared by the columns' own bind
    processors, so values are stored exactly as SQLAlchemy would store them, without its per-row
    overhead (measured: a fifth of an import's time). Other databases use SQLAlchemy's batched
    insert, which already sends many rows per statement.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        connection.execute(table.insert(), rows)
        return
    # SQLAlchemy writes the statement; its positional order is the order of the parameters.
    compiled = table.insert().compile(dialect=dialect, column_keys=list(rows[0]))
    names = list(compiled.positiontup)
    missing = set(names) - set(rows[0])
    if missing:
        raise ValueError(f"insert_rows into {table.name}: rows must give {sorted(missing)} (columns with Python-side defaults)")
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    processed = [(i, _memoised(p) if _repeats(table.c[names[i]].type) else p)
                 for i, p in enumerate(processors) if p is not None]
    params = []
    for row in rows:
        values = [row[name] for name in names]
        for i, processor in processed:
            value = values[i]
            if value is not None:
                values[i] = processor(value)
        params.append(tuple(values))
    connection.exec_driver_sql(compiled.string, params)


# The workspace's JSON writer (see ``create_engine``), for code that writes a JSON column's text itself.
json_text = _json_dumps


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector while bulk rows stream through.

    Loops that build rows (an import's, linkage's features) make no reference cycles, but every
    collection still walks the millions of live objects they hold (caches, batches): measured, 8% of a
    100,000-row import, and 42% of the features of a million records (41.5 s against 23.9 s).
    Reference counting still frees everything; the collector runs again when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def append_rows(session: Session, table: sa.Table, columns: tuple[str, ...] | list[str], rows: list[tuple]) -> None:
    """Append many rows given as tuples of ``columns``' values, as the database is to store them.

    The bulk path of an import's staging: no dictionary per row and no SQLAlchemy type processing
    (the caller gives each value as the column's bind processor would make it: a JSON column's
    text, on SQLite a date's text). On PostgreSQL the rows go through ``COPY ... FROM STDIN``
    (psycopg 3), on the session's connection and in its transaction, so they commit or roll back
    with everything else it does; elsewhere through the DB-API's ``executemany``.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        from psycopg import sql

        name = sql.Identifier(table.schema, table.name) if table.schema else sql.Identifier(table.name)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(name, sql.SQL(", ").join(map(sql.Identifier, columns)))
        with connection.connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            write = copy.write_row
            for row in rows:
                write(row)
        return
    compiled = table.insert().compile(dialect=connection.dialect, column_keys=list(columns))
    if list(compiled.positiontup) != list(columns):
        raise ValueError(f"append_rows into {table.name}: give the columns in the table's order, {compiled.positiontup}")
    connection.exec_driver_sql(compiled.string, rows)


def _repeats(column_type) -> bool:
    """Dates and timestamps repeat across rows (a list's deaths fall on a few hundred days; a batch
    shares one timestamp): worth converting each value once."""
    if isinstance(column_type, sa.TypeDecorator):
        column_type = column_type.impl
    return isinstance(column_type, (sa.Date, sa.DateTime))


def _memoised(processor):
    """Convert each distinct value once (see :func:`_repeats`)."""
    seen: dict = {}

    def process(value):
        try:
            return seen[value]
        except KeyError:
            seen[value] = converted = processor(value)
            return converted

    return process


GAZETTEER_SETTING = "gazetteer_sha256"
_UPDATE_AT_ONCE = 500  # spellings per UPDATE statement (bound parameters stay far below any limit)


def load_gazetteer(session: Session) -> Gazetteer:
    """A look-up index over every place name in the database, built-in and user-added."""
    rows = session.execute(sa.select(PlaceName.name, PlaceName.place_id, Place.type).join(Place))
    display = dict(session.execute(sa.select(Place.id, Place.name_en)).all())
    return Gazetteer(((name, place_id, place_type) for name, place_id, place_type in rows), display)


def unresolved_spellings(field: str) -> sa.Select:
    """The spellings of a record field (``city``, ``prison``) that name no known place, one row
    each (every version of a record).

    Written so that the partial index on them (ix_records_unresolved_city, _prison) is the one a
    database takes: callers count current records in the select (:func:`current_records`) rather
    than filter on ``superseded_by``, which, while that column had a full index (before 0020), made
    SQLite read every record (0.23 s against 0.01 s at 215,172 records)."""
    text, place_column = getattr(Record, field), getattr(Record, f"{field}_place_id")
    return sa.select(text).where(text.is_not(None), place_column.is_(None)).group_by(text)


def current_records():
    """How many of a group's records are current (not an earlier version of a corrected record)."""
    return sa.func.sum(sa.case((Record.superseded_by.is_(None), 1), else_=0))


def resolve_places_anew(session: Session, gazetteer: Gazetteer, *,
                        place: Place | None = None) -> dict[str, dict[str, tuple[str, int]]]:
    """Resolve every record whose city or prison named no known place and that ``gazetteer`` now
    resolves (to ``place`` only, when given), as a new import of the same row would; in the
    caller's transaction.

    The records' text is untouched, and a place already resolved is never changed. Every version of
    a record is resolved alike. When any record changes, the linkage's next run works its features
    out again and the next search rebuilds its index. Answers, per field, each spelling resolved
    with its place and how many current records gave it, the most first (spellings found only in
    earlier versions of corrected records left out)."""
    resolved: dict[str, dict[str, tuple[str, int]]] = {}
    changed = False
    for record_field, types in PLACE_FIELD_TYPES.items():
        if place is not None and place.type not in types:
            continue
        text, place_column = getattr(Record, record_field), getattr(Record, f"{record_field}_place_id")
        found: dict[str, tuple[str, int]] = {}
        for spelling, n in session.execute(unresolved_spellings(record_field).add_columns(current_records())):
            match = gazetteer.resolve(spelling, types)
            if match is not None and (place is None or match.place_id == place.id):
                found[spelling] = (match.place_id, int(n or 0))
        by_place: dict[str, list[str]] = {}
        for spelling in sorted(found):
            by_place.setdefault(found[spelling][0], []).append(spelling)
        for place_id, spellings in by_place.items():
            for start in range(0, len(spellings), _UPDATE_AT_ONCE):
                session.execute(
                    sa.update(Record).where(text.in_(spellings[start:start + _UPDATE_AT_ONCE]), place_column.is_(None))
                    .values({place_column: place_id}).execution_options(synchronize_session=False))
        changed = changed or bool(found)
        counted = sorted(((s, v) for s, v in found.items() if v[1]), key=lambda item: (-item[1][1], item[0]))
        if counted:
            resolved[record_field] = dict(counted)
    if changed:
        revision = session.get(Setting, PLACES_REVISION_SETTING)
        if revision is None:
            session.add(Setting(key=PLACES_REVISION_SETTING, value="1"))
        else:
            revision.value = str(int(revision.value) + 1)
        session.execute(sa.delete(Setting).where(Setting.key == SEARCH_INDEX_SETTING))
        session.flush()
    return resolved


def sync_gazetteer(engine: sa.Engine) -> dict | None:
    """Copy the shipped gazetteer into the database when it changed; users' own aliases stay; and
    resolve the records that named no known place and that the newer gazetteer knows.

    None when the shipped gazetteer is the one the database holds (nothing written). Else built-in
    places are upserted by id, their built-in names replaced; places and names a user added (origin
    "user") are never touched; then :func:`resolve_places_anew` runs over every record, so that
    records imported earlier read as a new import would read them. Answers ``records_resolved``:
    per field, how many current records were resolved (fields with none left out).
    """
    data = load_builtin_gazetteer()
    with Session(engine) as session, session.begin():
        current = session.get(Setting, GAZETTEER_SETTING)
        if current is not None and current.value == data.digest:
            return None
        existing = {p.id: p for p in session.scalars(sa.select(Place))}
        # Parents first, so foreign keys hold on PostgreSQL at every statement.
        order = {"country": 0, "province": 1, "city": 2}
        for entry in sorted(data.places, key=lambda p: order.get(p["type"], 3)):
            values = {
                "type": entry["type"],
                "name_en": entry["name_en"],
                "name_fa": entry.get("name_fa"),
                "parent_id": entry.get("parent"),
                "province_now": entry.get("province_now"),
                "province_1988": entry.get("province_1988"),
                "lat": entry.get("lat"),
                "lon": entry.get("lon"),
                "coord_source": entry.get("coord_source"),
                "notes": entry.get("notes"),
                "origin": "builtin",
            }
            place = existing.get(entry["id"])
            if place is None:
                session.add(Place(id=entry["id"], **values))
            else:
                for attr, value in values.items():
                    setattr(place, attr, value)
            session.flush()
        session.execute(sa.delete(PlaceName).where(PlaceName.origin == "builtin"))
        user_names = {(n.place_id, n.normalized) for n in session.scalars(sa.select(PlaceName))}
        rows = []
        for entry in data.places:
            seen = set()
            for name in place_names(entry):
                normalized = place_lookup_key(name)
                if normalized and normalized not in seen and (entry["id"], normalized) not in user_names:
                    seen.add(normalized)
                    rows.append({"place_id": entry["id"], "name": name, "normalized": normalized, "origin": "builtin"})
        if rows:
            session.execute(sa.insert(PlaceName), rows)
        if current is None:
            session.add(Setting(key=GAZETTEER_SETTING, value=data.digest))
        else:
            current.value = data.digest
        session.flush()
        resolved = resolve_places_anew(session, load_gazetteer(session))
    return {"records_resolved": {name: sum(n for _, n in spellings.values()) for name, spellings in resolved.items()}}
