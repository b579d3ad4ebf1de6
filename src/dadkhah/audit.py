"""The audit log: who read or changed what, when, and through which shell (command line, web, or a
program using one of the user's API tokens).

Every user-visible action is one core function that writes its audit event in the same database
transaction as the action, for an explicit :class:`Actor`, so an action without its event cannot
be committed, and the command line and the web leave the same trail. Reads of sealed material (a
transcript, a witness's identity, evidence metadata or bytes) are actions too.

The events form a hash chain (:mod:`dadkhah.chain`): editing, removing or inserting one breaks it,
and :func:`verify_audit` says where. When the command had the workspace's keys, each event is also
signed, and the newest one is remembered beside the key file, so removing the newest events is
caught as well; events written without the keys are listed as unsigned, plainly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dadkhah.chain import HEAD_BESIDE_KEY_FILE, HashChain
from dadkhah.model import AuditEvent
from dadkhah.store import Store

CHANNELS = ("cli", "web", "api-token", "schedule")

AUDIT_CHAIN = HashChain(
    name="audit",
    table=AuditEvent,
    fields=("seq", "actor", "action", "object_kind", "object_id", "address", "occurred_at", "details", "prev_sha256"),
    later_fields=("channel",),
    lock_key=1988_0728,
    where=("action",),
    key_change=("object_id", "signing-key", "keys rotated"),  # see dadkhah.vault.keycare
)


@dataclass(frozen=True)
class Actor:
    """Who acts, and through which shell: ``cli`` (the user is ``DADKHAH_USER`` or the operating
    system's user), ``web`` (the logged-in user, with the client's address) or ``api-token`` (a
    program holding one of the user's API tokens, with the client's address and the token's public
    id, which every event it causes carries in its details as ``token``) or ``schedule`` (what the
    software does by itself when it is due, such as the appeals' promised erasure: the actor is the
    worker process that did it, ``host:pid``)."""

    name: str
    channel: str
    address: str | None = None
    token: str | None = None

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"an actor's channel is one of {', '.join(CHANNELS)}, not {self.channel!r}")
        if not (self.name or "").strip():
            raise ValueError("an actor needs a name")
        if (self.channel == "api-token") != bool(self.token):
            raise ValueError("an actor acts through an API token (the channel api-token) exactly when a token is named")


def workspace_ident(workspace) -> str:
    """What makes this workspace's audit chain its own: the moment it was created, which never changes
    (its keys may be made later)."""
    return str(workspace.config.get("created_at", ""))


def _earlier_idents(workspace) -> tuple[str, ...]:
    """What older versions began the chain with when the workspace had keys: the vault's id."""
    return tuple(i for i in [(workspace.config.get("vault") or {}).get("workspace_id")] if i)


def record_audit(session: Session, store: Store, actor: Actor, *, action: str, object_kind: str,
                 object_id: str | None = None, details: dict | None = None) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the action).

    An action through an API token names the token (its public id, never the secret) in ``details``.
    """
    if actor.token:
        details = {**(details or {}), "token": actor.token}
    return AUDIT_CHAIN.append(session, workspace_ident(store.workspace), store.chain_keys, actor=actor.name,
                              channel=actor.channel, address=actor.address, action=action, object_kind=object_kind,
                              object_id=object_id, details=details)


def refuse_outdated_keys(session: Session, store: Store) -> None:
    """Raise :class:`~dadkhah.errors.KeysOutdated` when this process holds keys that a key rotation
    has replaced since it loaded them (nothing to refuse without keys)."""
    if store.chain_keys is not None:
        AUDIT_CHAIN.refuse_outdated_keys(session, store.chain_keys)


def audit_to_dict(row: AuditEvent) -> dict:
    return {"seq": row.seq, "actor": row.actor, "channel": row.channel, "action": row.action,
            "object_kind": row.object_kind, "object_id": row.object_id, "address": row.address,
            "occurred_at": row.occurred_at, "details": json.loads(row.details), "prev_sha256": row.prev_sha256,
            "event_sha256": row.event_sha256, "signed": row.signature is not None}


def list_audit(session: Session, *, actor: str | None = None, object_id: str | None = None, limit: int | None = 100,
               offset: int = 0, newest_first: bool = True) -> list[dict]:
    """Audit events, newest first by default; only one actor's, or only those about one object."""
    conditions = []
    if actor:
        conditions.append(AuditEvent.actor == actor)
    if object_id:
        conditions.append(AuditEvent.object_id == object_id)
    rows = AUDIT_CHAIN.events(session, *conditions, limit=limit, offset=offset, newest_first=newest_first)
    return [audit_to_dict(row) for row in rows]


def verify_audit(store: Store) -> dict:
    """Check every event's hash, link and signature, and the newest event remembered beside the key file.

    ``intact`` is False when anything was edited, removed, inserted or forged. ``unsigned`` lists
    the stretches of events written without the keys (``{"from", "to", "events"}``): not a fault
    in itself, but those events rest on the hash chain alone.
    """
    with store.session() as session:
        return check_audit_chain(session, store.workspace, store.chain_keys)


def check_audit_chain(session: Session, workspace, keys, *, head=HEAD_BESIDE_KEY_FILE) -> dict:
    """:func:`verify_audit` on what ``session`` sees (a backup's snapshot, say), with ``keys``, against
    ``head`` when it was read beforehand (:meth:`dadkhah.chain.HashChain.verify`)."""
    return AUDIT_CHAIN.verify(session, workspace_ident(workspace), keys, earlier_ids=_earlier_idents(workspace),
                              head=head)
