"""The chain of custody: every addition, decryption, export and verification, signed and chained.

Each event holds the SHA-256 of the event before it and its own, and an Ed25519 signature by the
instance's key; it is written in the same database transaction as the action it records, so an
action without its event cannot be committed. Editing a row breaks its hash; removing or inserting
one breaks the chain; forging a replacement needs the signing key, which is not in the workspace.
Removing the *last* events leaves an intact, shorter chain: to catch that, the newest event's
number and hash are also kept beside the key file, outside the workspace, after every commit. The
chain itself (hashing, signing, linking, the remembered head, verification) is :mod:`dadkhah.chain`,
shared with the audit log.
"""

from __future__ import annotations

import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.chain import HashChain
from dadkhah.model import CustodyEvent
from dadkhah.store import Store
from dadkhah.vault.keys import VaultKeys

CUSTODY_CHAIN = HashChain(
    name="custody",
    table=CustodyEvent,
    fields=("seq", "item_kind", "item_id", "action", "actor", "occurred_at", "details", "prev_sha256"),
    signatures_required=True,
    lock_key=1988_0727,
    where=("item_id", "action"),
)


def event_to_dict(row: CustodyEvent) -> dict:
    return {"seq": row.seq, "item_kind": row.item_kind, "item_id": row.item_id, "action": row.action,
            "actor": row.actor, "occurred_at": row.occurred_at, "details": row.details,
            "prev_sha256": row.prev_sha256, "event_sha256": row.event_sha256, "signature": row.signature}


def append_event(session: Session, keys: VaultKeys, actor: Actor, *, item_kind: str, item_id: str, action: str,
                 details: dict | None = None) -> CustodyEvent:
    """Append one signed event in the caller's transaction (it commits or rolls back with the action)."""
    return CUSTODY_CHAIN.append(session, keys.workspace_id, keys, item_kind=item_kind, item_id=item_id, action=action,
                                actor=actor.name, details=details)


def check_event(event: dict, public_key: Ed25519PublicKey) -> list[str]:
    """What is wrong with one event on its own (as a case file carries it): its hash, its signature."""
    return CUSTODY_CHAIN.check(event, public_key)


def verify_chain(session: Session, keys: VaultKeys) -> dict:
    """Check every event's hash, signature and link; report each problem with its position.

    Positions count from 1 in the order of ``seq``. Also compares the newest event with the one
    remembered outside the workspace, which catches the removal of the last events.
    """
    report = CUSTODY_CHAIN.verify(session, keys.workspace_id, keys)
    return report | {"valid": report["intact"], "fingerprint": keys.fingerprint}


def verify_custody(store: Store, keys: VaultKeys, *, actor: Actor) -> dict:
    """Verify the whole chain, then record the check and what it found: in the chain of custody
    itself and in the audit log, in one transaction."""
    with store.session() as session:
        report = verify_chain(session, keys)
        found = {"events": report["events"], "valid": report["valid"], "problems": len(report["problems"])}
        append_event(session, keys, actor, item_kind="custody", item_id="chain", action="verified", details=found)
        record_audit(session, store, actor, action="custody verified", object_kind="custody", object_id="chain",
                     details=found)
    return report


def events_for(session: Session, item_id: str) -> list[dict]:
    """The custody events of one item (evidence, testimony, witness or case file), oldest first."""
    return [_readable(row) for row in CUSTODY_CHAIN.events(session, CustodyEvent.item_id == item_id, newest_first=False)]


def list_custody(session: Session, *, item_id: str | None = None, limit: int | None = 100, offset: int = 0,
                 newest_first: bool = True) -> list[dict]:
    """Custody events, newest first by default; only one item's with ``item_id`` (E-000001, T-0001, ...)."""
    conditions = [CustodyEvent.item_id == item_id.strip().upper()] if item_id else []
    return [_readable(row) for row in CUSTODY_CHAIN.events(session, *conditions, limit=limit, offset=offset,
                                                           newest_first=newest_first)]


def _readable(row: CustodyEvent) -> dict:
    return event_to_dict(row) | {"details": json.loads(row.details)}
