"""The audit log: every read of a testimony, witness data or evidence file, and every change.

An event is written in the same database transaction as the action it records, so an action
without its event cannot be committed. Events form a hash chain (each holds the SHA-256 of the one
before it, starting from a value unique to the workspace), so editing, removing or inserting one
breaks the chain, and :func:`verify_audit` says where.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.model import AuditEvent
from dadkhah.store import Store
from dadkhah.workspace import current_user

_FIELDS = ("seq", "actor", "action", "object_kind", "object_id", "address", "occurred_at", "details", "prev_sha256")


def workspace_ident(workspace) -> str:
    """What makes this workspace's chain its own: the vault's id, else the creation moment."""
    return (workspace.config.get("vault") or {}).get("workspace_id") or str(workspace.config.get("created_at", ""))


def audit_genesis(workspace_id: str) -> str:
    return hashlib.sha256(f"dadkhah-audit-genesis:{workspace_id}".encode()).hexdigest()


def _canonical(event: dict) -> bytes:
    return json.dumps({k: event[k] for k in _FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def record_audit(session: Session, workspace_id: str, *, action: str, object_kind: str, object_id: str | None = None,
                 details: dict | None = None, actor: str | None = None, address: str | None = None) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the action)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": 1988_0728})
    last = session.execute(sa.select(AuditEvent.seq, AuditEvent.event_sha256)
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, audit_genesis(workspace_id))
    event = {"seq": seq, "actor": actor or current_user(), "action": action, "object_kind": object_kind,
             "object_id": object_id, "address": address,
             "occurred_at": datetime.now(UTC).isoformat(timespec="microseconds"),
             "details": json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
             "prev_sha256": prev}
    row = AuditEvent(**event, event_sha256=hashlib.sha256(_canonical(event)).hexdigest())
    session.add(row)
    session.flush()
    return row


def audit_to_dict(row: AuditEvent) -> dict:
    return {"seq": row.seq, "actor": row.actor, "action": row.action, "object_kind": row.object_kind,
            "object_id": row.object_id, "address": row.address, "occurred_at": row.occurred_at,
            "details": json.loads(row.details), "prev_sha256": row.prev_sha256, "event_sha256": row.event_sha256}


def list_audit(session: Session, *, actor: str | None = None, object_id: str | None = None, limit: int | None = 100,
               offset: int = 0, newest_first: bool = True) -> list[dict]:
    query = sa.select(AuditEvent)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if object_id:
        query = query.where(AuditEvent.object_id == object_id)
    query = query.order_by(AuditEvent.seq.desc() if newest_first else AuditEvent.seq).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [audit_to_dict(row) for row in session.scalars(query)]


def verify_audit(session: Session, workspace_id: str) -> dict:
    """Check every event's hash and link; report each problem with its position in the chain."""
    problems: list[dict] = []
    expected_prev, expected_seq, count = audit_genesis(workspace_id), 1, 0
    query = sa.select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=2000)
    for position, row in enumerate(session.scalars(query), start=1):
        count = position
        event = {k: getattr(row, k) for k in _FIELDS}
        where = {"position": position, "seq": row.seq, "action": row.action}
        if hashlib.sha256(_canonical(event)).hexdigest() != row.event_sha256:
            problems.append(where | {"problem": "its content does not match its hash: the event was edited"})
        if row.seq != expected_seq:
            problems.append(where | {"problem": f"event {expected_seq} is missing before it: removed"})
        elif row.prev_sha256 != expected_prev:
            problems.append(where | {"problem": "it does not follow the event before it: inserted or replaced"})
        expected_prev, expected_seq = row.event_sha256, row.seq + 1
    return {"events": count, "intact": not problems, "problems": problems}


@dataclass
class AuditedStore:
    """A store whose next successful transaction also writes the given audit event.

    Hand it to any API function that takes a store: the event is written inside that function's
    own transaction, just before it commits, so the action and its record stand or fall together.

    When the event must name what the action made (an import, an estimate), give ``watch`` (a
    table class) and ``describe(session, added)``: the event is then written in the transaction
    that adds rows of that class, with the ``(object_id, details)`` that ``describe`` returns for
    them (``describe`` may return None to write nothing in that transaction).
    """

    store: Store
    action: str
    object_kind: str
    object_id: str | None = None
    details: dict = field(default_factory=dict)
    actor: str | None = None
    address: str | None = None
    watch: type | None = None
    describe: Callable[[Session, list], tuple[str | None, dict] | None] | None = None
    written: bool = False

    @property
    def workspace(self):
        return self.store.workspace

    @property
    def engine(self):
        return self.store.engine

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        added: list = []

        def collect(session, _context):
            added.extend(o for o in session.new if isinstance(o, self.watch))

        with self.store.session() as session:
            if self.watch is not None:
                sa.event.listen(session, "after_flush", collect)
            try:
                yield session
            finally:
                if self.watch is not None:
                    sa.event.remove(session, "after_flush", collect)
            if self.written:
                return
            object_id, details = self.object_id, dict(self.details)
            if self.watch is not None:
                described = self.describe(session, added) if self.describe else (None, {}) if added else None
                if described is None:
                    return
                object_id, extra = described
                details |= extra
            record_audit(session, workspace_ident(self.store.workspace), action=self.action,
                         object_kind=self.object_kind, object_id=object_id, details=details,
                         actor=self.actor, address=self.address)
            self.written = True


@dataclass
class SharedTransaction:
    """A store whose every session is one already open: API calls made with it, and the audit events
    that name what they made, commit or roll back together.

    Use it when the event needs something only the call returns (the id of a new testimony)::

        with store.session() as session:
            added = add_testimony(SharedTransaction(store, session), keys, ...)
            record_audit(session, workspace_ident(store.workspace), action="testimony added",
                         object_kind="testimony", object_id=added["id"])
    """

    store: Store
    open_session: Session

    @property
    def workspace(self):
        return self.store.workspace

    @property
    def engine(self):
        return self.store.engine

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        yield self.open_session
