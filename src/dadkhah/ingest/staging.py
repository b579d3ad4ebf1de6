"""Where an import's rows wait, out of the tables everyone reads, until one short transaction moves
them in.

Reading and normalising a large list takes a while (half a minute for 800,000 rows). Written straight
into the workspace's tables, the import would hold SQLite's single write lock all that time, and
every login, decision or upload meanwhile would wait and then fail. So the rows go first to a
staging area of the import's own: a scratch database in the workspace's private space, attached to
the import's connection (SQLite), or temporary tables of that connection (PostgreSQL, written with
``COPY``: see :func:`dadkhah.store.append_rows`). Nothing in the workspace is locked while they are
read. Then one transaction moves them into ``records`` and ``import_warnings``, with the import's
own row and its audit event: the import is still all or nothing, and the write lock is held for
seconds, not minutes. If the process dies, the scratch
database is swept with the rest of the private space.
"""

from __future__ import annotations

import shutil

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.errors import Busy
from dadkhah.model import FieldWarning, Record
from dadkhah.store import Store, is_busy
from dadkhah.workspace import new_private_folder

_SCHEMA = "import_stage"


def _staged_copy(table: sa.Table, metadata: sa.MetaData, name: str, *, schema: str | None, prefixes: list[str],
                 keep_id: bool = False) -> sa.Table:
    """``table``'s columns, every one nullable, without keys: rows as they wait. Without its id, or
    (``keep_id``) with it as a plain number the importer gives: the order the rows came in."""
    columns = [sa.Column(c.name, c.type, nullable=True) for c in table.columns if keep_id or c.name != "id"]
    return sa.Table(name, metadata, *columns, schema=schema, prefixes=prefixes)


class StagedPart:
    """A second staging database of the import (SQLite): the rows of a file's second part, which another
    process reads, normalises and writes at the same time as this one does the first part
    (:mod:`dadkhah.ingest.parallel`). Its own file, written by that process alone with a plain
    connection; attached to the staging connection only once it is done (:meth:`Staging.attach`).
    ``refused``: the rows that process refused, for the quarantine report, in the order found."""

    def __init__(self, path, schema: str, records: sa.Table, warnings: sa.Table, refused: sa.Table):
        self.path, self.schema = path, schema
        self.records, self.warnings, self.refused = records, warnings, refused
        self.line_offset = 0  # the first part's rows: what this part's line numbers are counted after


class Staging:
    """One import's staging area on one connection (see the module's docstring).

    Use :meth:`session` for every step of the import: it runs on the staging connection, so the
    staged tables are visible to it. Close it when done (a ``with`` block does).
    """

    def __init__(self, store: Store):
        self.store = store
        self.folder = None
        self.parts: list[StagedPart] = []
        self.attached: list[StagedPart] = []
        self.connection = store.engine.connect()
        try:
            metadata = sa.MetaData()
            if self.connection.dialect.name == "sqlite":
                self.folder = new_private_folder(store.workspace, "import")
                self.connection.exec_driver_sql(f"ATTACH DATABASE ? AS {_SCHEMA}", (str(self.folder / "staged.db"),))
                self.connection.exec_driver_sql(f"PRAGMA {_SCHEMA}.journal_mode=OFF")  # scratch: nothing to recover
                self.connection.exec_driver_sql(f"PRAGMA {_SCHEMA}.synchronous=OFF")
                # Larger pages for rows that are only appended and read through once: measured, a
                # sixth less of the time spent writing them.
                self.connection.exec_driver_sql(f"PRAGMA {_SCHEMA}.page_size=16384")
                schema, prefixes = _SCHEMA, []
            else:
                schema, prefixes = None, ["TEMPORARY"]
            self.records = _staged_copy(Record.__table__, metadata, "staged_records", schema=schema, prefixes=prefixes)
            self.warnings = _staged_copy(FieldWarning.__table__, metadata, "staged_warnings", schema=schema,
                                         prefixes=prefixes, keep_id=True)
            # record_ids that may repeat (the importer's first sieve: every repeated one, and a few others).
            self.candidates = sa.Table("staged_candidates", metadata,
                                       sa.Column("record_id", sa.String(200), primary_key=True),
                                       schema=schema, prefixes=prefixes)
            # The record_ids more than one staged row gives, with the first line giving each.
            self.repeats = sa.Table("staged_repeats", metadata, sa.Column("record_id", sa.String(200), primary_key=True),
                                    sa.Column("first_line", sa.Integer), schema=schema, prefixes=prefixes)
            metadata.create_all(self.connection)
            self.connection.commit()
        except BaseException:
            self.close()
            raise

    def new_part(self) -> StagedPart:
        """A second staging database with the staged tables, empty, not attached (see :class:`StagedPart`)."""
        number = len(self.parts) + 2
        schema, path = f"{_SCHEMA}_{number}", self.folder / f"staged-{number}.db"
        metadata = sa.MetaData()
        part = StagedPart(
            path, schema,
            _staged_copy(Record.__table__, metadata, "staged_records", schema=schema, prefixes=[]),
            _staged_copy(FieldWarning.__table__, metadata, "staged_warnings", schema=schema, prefixes=[], keep_id=True),
            sa.Table("staged_refused", metadata, sa.Column("line", sa.Integer), sa.Column("reason", sa.Text),
                     sa.Column("field", sa.Text), sa.Column("cells", sa.Text), schema=schema))
        self.connection.exec_driver_sql(f"ATTACH DATABASE ? AS {schema}", (str(path),))
        self.connection.exec_driver_sql(f"PRAGMA {schema}.page_size=16384")
        metadata.create_all(self.connection)
        self.connection.commit()
        self.connection.exec_driver_sql(f"DETACH DATABASE {schema}")
        self.connection.commit()  # else the next session joins a transaction it cannot commit
        self.parts.append(part)
        return part

    def attach(self, part: StagedPart) -> None:
        """Make a finished part's rows visible to :meth:`session`."""
        self.connection.exec_driver_sql(f"ATTACH DATABASE ? AS {part.schema}", (str(part.path),))
        self.connection.commit()  # else the next session joins a transaction it cannot commit
        self.attached.append(part)

    def sections(self) -> list[tuple[sa.Table, sa.Table, int]]:
        """The staged rows in the order of the file: (records, warnings, what their lines are counted
        after), the import's own staging tables first, then each attached part."""
        return [(self.records, self.warnings, 0)] + [(p.records, p.warnings, p.line_offset) for p in self.attached]

    def session(self) -> Session:
        """A session on the staging connection; its commit ends the connection's transaction."""
        return Session(bind=self.connection, expire_on_commit=False)

    def close(self) -> None:
        try:
            if not self.connection.closed:
                self.connection.rollback()
                if self.folder is not None:
                    for part in self.attached:
                        self.connection.exec_driver_sql(f"DETACH DATABASE {part.schema}")
                    self.connection.exec_driver_sql(f"DETACH DATABASE {_SCHEMA}")
                elif hasattr(self, "records"):
                    for table in (self.records, self.warnings, self.candidates, self.repeats):
                        table.drop(self.connection, checkfirst=True)
                self.connection.commit()
        except sa.exc.SQLAlchemyError:
            self.connection.invalidate()  # a connection in doubt is not given back to the pool
        finally:
            self.connection.close()
            if self.folder is not None:
                shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def take_write_lock(session: Session) -> None:
    """Begin the transaction by writing (nothing), so that SQLite grants the write lock first (waiting
    for it if another writer holds it) rather than failing later on a stale read."""
    try:
        session.execute(sa.text("DELETE FROM settings WHERE 1 = 0"))
    except sa.exc.OperationalError as exc:
        if is_busy(exc):
            raise Busy("the case's database stayed busy with another's work (a large import or a linkage run): "
                       "this import was read but not saved; run it again") from exc
        raise
