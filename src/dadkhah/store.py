"""The database: engine, sessions, and migrations, on SQLite (WAL) or PostgreSQL.

The same tables and the same Alembic migrations run on both. Opening a workspace brings its
database up to this version's schema; a database written by a newer version is refused rather
than guessed at.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from dadkhah.errors import WorkspaceError
from dadkhah.model import Place, PlaceName, Setting
from dadkhah.normalize.places import load_builtin_gazetteer, place_lookup_key, place_names
from dadkhah.workspace import Workspace

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def normalise_database_url(url: str) -> str:
    """Accept the plain ``postgresql://`` form users copy from elsewhere; we drive it with psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MB of page cache: bounded, and imports need it
    cursor.close()


# Persian stays readable (and half the size) in raw rows: no \u escapes. One encoder, built once:
# json.dumps with non-default options builds a new one per call, a tenth of an import's time.
_json_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def create_engine(url: str) -> sa.Engine:
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, json_serializer=_json_dumps)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps)


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the database to ``revision``; returns (before, after). Refuses a newer database."""
    before = current_revision(engine)
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

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._chain_keys = _UNLOADED

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
        """A session in one transaction: committed if the block succeeds, rolled back if not."""
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(workspace: Workspace, *, upgrade: bool = True, keys=None) -> Store:
    """Open the workspace's database, migrating it to this version's schema when it is older.

    ``keys`` sign the audit log: the keys themselves, or a function that finds them when needed.
    """
    engine = create_engine(workspace.database_url)
    try:
        if upgrade:
            before, after = migrate(engine)
            if before != after:
                log.info("migrated the database from %s to %s", before or "empty", after)
        elif current_revision(engine) != head_revision():
            raise WorkspaceError("the database schema is not current; run `dadkhah init` to migrate it")
        if upgrade:
            sync_gazetteer(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise WorkspaceError(f"cannot open the database {engine.url!r}: {exc.orig}") from exc
    except Exception:
        engine.dispose()
        raise
    return Store(workspace=workspace, engine=engine, keys=keys)


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
    processed = [(i, _memoised(p) if isinstance(table.c[names[i]].type, sa.Date) else p)
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


def _memoised(processor):
    """Dates repeat across rows (a list's deaths fall on a few hundred days): convert each once."""
    seen: dict = {}

    def process(value):
        try:
            return seen[value]
        except KeyError:
            seen[value] = converted = processor(value)
            return converted

    return process


GAZETTEER_SETTING = "gazetteer_sha256"


def sync_gazetteer(engine: sa.Engine) -> bool:
    """Copy the shipped gazetteer into the database when it changed; users' own aliases stay.

    Returns True when anything was written. Built-in places are upserted by id, their built-in
    names replaced; places and names a user added (origin "user") are never touched.
    """
    data = load_builtin_gazetteer()
    with Session(engine) as session, session.begin():
        current = session.get(Setting, GAZETTEER_SETTING)
        if current is not None and current.value == data.digest:
            return False
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
    return True
