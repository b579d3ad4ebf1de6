"""Shared fixtures: workspaces on SQLite and on PostgreSQL, and small synthetic cases.

Storage tests take the ``store`` fixture and run twice, once per database. PostgreSQL is the
machine's server (``DADKHAH_TEST_POSTGRES_URL``, default postgresql://postgres@127.0.0.1:5432/test);
each test gets its own schema, dropped afterwards. Where the server is missing the PostgreSQL
variants are skipped, except in CI (``CI=true``), where a missing server fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from dadkhah.audit import Actor
from dadkhah.store import open_store
from dadkhah.synth import generate_case
from dadkhah.workspace import create_workspace, load_workspace

# Who the tests act as when they call the core directly (the command line's channel).
TESTER = Actor("tester", "cli")

POSTGRES_URL = os.environ.get("DADKHAH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
_postgres_state: dict[str, object] = {}


def _postgres_available() -> str | None:
    """None when the server answers, else why not."""
    if "error" not in _postgres_state:
        try:
            engine = sa.create_engine(POSTGRES_URL)
            with engine.connect() as connection:
                connection.execute(sa.text("select 1"))
            engine.dispose()
            _postgres_state["error"] = None
        except Exception as exc:  # any failure to reach the server counts as "missing"
            _postgres_state["error"] = f"{type(exc).__name__}: {exc}"
    return _postgres_state["error"]


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes():
    """Passwords hashed by argon2id at its lowest cost (8 KiB, one pass) inside the test process.

    At the product's cost (64 MiB, three passes: ``dadkhah.users``) each hash or check takes about
    0.2 s, and the suite makes some 600 of them (a user per role in most web tests, then their
    logins): a tenth of its time, spent on a cost no test is about. The hashes are still argon2id
    made and checked by the same code. Commands and servers the tests start as processes of their
    own keep the product's cost, and tests/test_users_audit.py checks, in such a process, that a
    stored hash carries it."""
    from argon2 import PasswordHasher

    import dadkhah.users as users

    kept = users._hasher, users._DUMMY_HASH
    users._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    users._DUMMY_HASH = users._hasher.hash("not a password of anyone")
    yield
    users._hasher, users._DUMMY_HASH = kept


@pytest.fixture
def keyed_store(store):
    """The store with its workspace's keys made and in use, as `dadkhah init` leaves a workspace (the
    key file keeps the login key that seals second-factor secrets), on SQLite and PostgreSQL."""
    from dadkhah.vault.keys import create_keys, load_keys

    create_keys(store.workspace)
    store.workspace = store.workspace.reloaded()  # the configuration now names the keys
    store.use_keys(load_keys(store.workspace))
    return store


@pytest.fixture(autouse=True)
def keys_outside_home(tmp_path_factory, monkeypatch):
    """Key files go to a temporary config folder, never to the real ~/.config."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.delenv("DADKHAH_KEY_FILE", raising=False)
    monkeypatch.delenv("DADKHAH_PASSPHRASE", raising=False)


@pytest.fixture
def postgres_url():
    """A URL whose connections see only a fresh schema of their own."""
    problem = _postgres_available()
    if problem:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {POSTGRES_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request) -> str:
    """Which database the workspace uses; tests taking it run once per database."""
    return request.param


@pytest.fixture
def database_url(database, request) -> str | None:
    """The URL to open workspaces with: a fresh PostgreSQL schema, or None for the workspace's SQLite file."""
    return request.getfixturevalue("postgres_url") if database == "postgres" else None


@pytest.fixture
def workspace(database_url, tmp_path):
    return create_workspace(tmp_path / "ws", database_url=database_url)


@pytest.fixture
def store(workspace, request):
    """The workspace's store, opened. Its empty database is first filled from a template that
    ``open_store`` built once per session (migrated to head, gazetteer copied: the same
    deterministic state a first opening writes), so each test does not re-run the migrations
    (about 0.3 s on SQLite, 0.7 s on PostgreSQL); ``open_store`` then finds it current.
    tests/test_store.py, which tests the migrations themselves, opens an empty database instead."""
    fill_from_template(workspace, request)
    with open_store(workspace) as opened:
        yield opened


def fill_from_template(workspace, request) -> None:
    """Give the workspace's database, if it is still empty, the state ``open_store`` would give it."""
    if workspace.is_sqlite:
        database = Path(sa.make_url(workspace.database_url).database)
        if not database.exists():
            shutil.copyfile(request.getfixturevalue("sqlite_template"), database)
        return
    import psycopg

    script = request.getfixturevalue("postgres_template")  # statements to play again
    with psycopg.connect(_libpq(workspace.database_url), autocommit=True) as connection:
        schema = connection.execute("SELECT current_schema()").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (schema,)).fetchone()[0]
        if schema and schema.startswith("t_") and tables == 0:
            with connection.transaction(), connection.cursor() as cursor:
                for statement, parameters, executemany in script:
                    if executemany:
                        cursor.executemany(statement, parameters)
                    else:
                        cursor.execute(statement, parameters or None)


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq reads it (no driver name)."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


_TEMPLATE_SCHEMA = "tpl_" + uuid.uuid4().hex[:12]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """The database file of a new SQLite workspace once ``open_store`` opened it (closed again)."""
    workspace = create_workspace(tmp_path_factory.mktemp("template") / "ws")
    with open_store(workspace):
        pass
    database = Path(sa.make_url(workspace.database_url).database)
    assert not database.with_name(database.name + "-wal").exists(), "the template is whole in one file"
    return database


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory) -> list[tuple[str, object, bool]]:
    """What ``open_store`` writes into a new, empty PostgreSQL schema (migrations to head, the gazetteer's
    rows): every statement but the reads, in order, with its parameters, recorded once per session
    on a schema of its own (then dropped). Played again into another empty schema, the same
    statements make the same tables, constraints and rows, without alembic's work in Python."""
    from dadkhah.store import create_engine, migrate, sync_gazetteer

    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{_TEMPLATE_SCHEMA}"'))
    statements: list[tuple[str, object, bool]] = []

    def record(connection, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SELECT", "SHOW", "WITH")):
            statements.append((statement, parameters, executemany))

    separator = "&" if "?" in POSTGRES_URL else "?"
    engine = create_engine(f"{POSTGRES_URL}{separator}options=-csearch_path%3D{_TEMPLATE_SCHEMA}", busy_seconds=30)
    try:
        sa.event.listen(engine, "before_cursor_execute", record)
        migrate(engine)  # what open_store does to the database (dadkhah/store.py)
        sync_gazetteer(engine)
        assert all(_TEMPLATE_SCHEMA not in statement for statement, _, _ in statements), "no statement names its schema"
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{_TEMPLATE_SCHEMA}" CASCADE'))
        admin.dispose()
    return statements


@pytest.fixture(scope="session")
def small_case(tmp_path_factory) -> Path:
    """A realistic synthetic case: 600 victims, 4 lists. Generated once per test session."""
    out = tmp_path_factory.mktemp("small_case")
    generate_case(out, victims=600, lists=4, seed=42, difficulty="realistic")
    return out


@pytest.fixture(scope="session")
def hard_case(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("hard_case")
    generate_case(out, victims=800, lists=6, seed=7, difficulty="hard")
    return out


@pytest.fixture(scope="session")
def linked(small_case, tmp_path_factory):
    """The small realistic case, imported and linked once (SQLite); tests copy it before changing it."""
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.run import run_linkage

    folder = tmp_path_factory.mktemp("linked") / "ws"
    with open_store(create_workspace(folder)) as store:
        for path in sorted(small_case.glob("list-*.csv")):
            import_file(store, path, source=path.stem, actor=TESTER)
        # The small case has a handful of doubtful pairs: a wide review band keeps them queued for the tests.
        summary = run_linkage(store, actor=TESTER, review_band=(0.2, 0.9))
    return folder, summary


@pytest.fixture
def copy_of_linked(linked, tmp_path):
    """A private copy of the linked small case, open."""
    target = tmp_path / "ws"
    shutil.copytree(linked[0], target)
    with open_store(load_workspace(target)) as store:
        yield store


@pytest.fixture(scope="session")
def authority(tmp_path_factory):
    """A local RFC 3161 time-stamping authority (``openssl ts -reply`` over HTTP, tests/vault/authority.py),
    with its own throwaway root; made once per session (the vault's tests and the web's share it),
    stopped at its end."""
    from tests.vault.authority import start_authority

    running, stop = start_authority(tmp_path_factory.mktemp("tsa"))
    yield running
    stop()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def link_by_hand(store, mapping: dict[tuple[str, str], int]) -> None:
    """A linkage run by hand: (source name, record id) -> cluster label; the persons it gives are assigned."""
    from datetime import UTC, datetime

    from dadkhah.model import LinkageRun, Source
    from dadkhah.registry.persons import assign_persons

    with store.session() as session:
        ids = dict(session.execute(sa.select(Source.name, Source.id)).all())
        run = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={}, run_by="t",
                         software_version="0", finished_at=datetime.now(UTC))
        session.add(run)
        session.flush()
        assign_persons(session, run.id, {(ids[source], record): label for (source, record), label in mapping.items()})


def decide_alternately(store, pairs, count: int) -> int:
    """Decide ``count`` of the queued ``pairs`` in turn "same", "different", "same", … whatever the
    model said (as a calibration test needs), skipping a pair whose decision the core refuses as
    contradicting earlier ones through a chain of "same". Returns how many were decided."""
    from dadkhah.errors import InputError
    from dadkhah.link.review import decide

    made = 0
    for pair in pairs:
        try:
            decide(store, "same" if made % 2 == 0 else "different", actor=TESTER, reason="calibration test",
                   records=(pair["record_a"]["ref"], pair["record_b"]["ref"]))
        except InputError as refused:
            assert "contradicts earlier decisions" in str(refused)
            continue
        made += 1
        if made == count:
            break
    return made


def index_rows(session) -> dict[str, list[tuple]]:
    """Every row of the person search index's tables, sorted: to compare two ways of making it."""
    from dadkhah.model import PersonSearch, PersonSearchKey, PersonSearchTerm

    return {table.__tablename__: sorted(tuple(row) for row in session.execute(sa.select(*table.__table__.columns)))
            for table in (PersonSearch, PersonSearchKey, PersonSearchTerm)}


@pytest.fixture
def second_parts(monkeypatch) -> list:
    """The second parts the imports started (each the real child process), to see that they did."""
    from dadkhah.ingest import parallel

    started = []

    class Watched(parallel.SecondPart):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(parallel, "SecondPart", Watched)
    return started
