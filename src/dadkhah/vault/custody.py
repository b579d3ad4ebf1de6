"""The chain of custody: every addition, decryption, export and verification, signed and chained.

Each event holds the SHA-256 of the event before it and its own, and an Ed25519 signature by the
instance's key; it is written in the same database transaction as the action it records, so an
action without its event cannot be committed. Editing a row breaks its hash; removing or inserting
one breaks the chain; forging a replacement needs the signing key, which is not in the workspace.
Removing the *last* events leaves an intact, shorter chain: to catch that, the newest event's
number and hash are also kept beside the key file, outside the workspace, after every commit. The
chain itself (hashing, signing, linking, the remembered head, verification) is :mod:`dadkhah.chain`,
shared with the audit log.

Neither chain can show *when* its events happened to someone who does not trust this instance:
:func:`timestamp_chains` has independent time-stamping authorities sign the two chains' newest
events (:mod:`dadkhah.vault.timestamps`), and verification checks every token so recorded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.chain import HEAD_BESIDE_KEY_FILE, HashChain
from dadkhah.model import CustodyEvent
from dadkhah.store import Store
from dadkhah.vault.keys import VaultKeys
from dadkhah.vault.timestamps import (
    chain_heads,
    check_timestamp_events,
    checked_authorities,
    heads_statement,
    obtain_timestamps,
)
from dadkhah.vault.tsa import load_roots

CUSTODY_CHAIN = HashChain(
    name="custody",
    table=CustodyEvent,
    fields=("seq", "item_kind", "item_id", "action", "actor", "occurred_at", "details", "prev_sha256"),
    signatures_required=True,
    lock_key=1988_0727,
    where=("item_id", "action"),
    key_change=("item_id", "signing-key", "signing key rotated"),  # see dadkhah.vault.keycare
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


def verify_chain(session: Session, keys: VaultKeys, *, tsa_roots=None, head=HEAD_BESIDE_KEY_FILE) -> dict:
    """Check every event's hash, signature and link; report each problem with its position.

    Positions count from 1 in the order of ``seq``. Also compares the newest event with the one
    remembered outside the workspace, which catches the removal of the last events, and checks
    every recorded timestamp (``timestamps``: who, when, what it covers; each one's chain to
    ``tsa_roots`` too, certificates loaded with :func:`dadkhah.vault.tsa.load_roots`, when given).
    A timestamp that does not match is a problem like an edited event. ``head``: the newest event
    remembered, when it was read beforehand (:meth:`dadkhah.chain.HashChain.verify`).
    """
    report = CUSTODY_CHAIN.verify(session, keys.workspace_id, keys, head=head)
    timestamps, problems = check_timestamp_events(session, tsa_roots)
    report["problems"].extend(problems)
    return report | {"valid": not report["problems"], "fingerprint": keys.fingerprint, "timestamps": timestamps,
                     "tsa_root_given": bool(tsa_roots)}


def verify_custody(store: Store, keys: VaultKeys, *, actor: Actor, tsa_root: str | Path | None = None) -> dict:
    """Verify the whole chain and its timestamps (against the trusted roots in the file ``tsa_root``,
    when given), then record the check and what it found: in the chain of custody itself and in the
    audit log, in one transaction."""
    roots = load_roots(tsa_root) if tsa_root else None
    with store.session() as session:
        report = verify_chain(session, keys, tsa_roots=roots)
        found = {"events": report["events"], "valid": report["valid"], "problems": len(report["problems"]),
                 "timestamps": len(report["timestamps"])}
        append_event(session, keys, actor, item_kind="custody", item_id="chain", action="verified", details=found)
        record_audit(session, store, actor, action="custody verified", object_kind="custody", object_id="chain",
                     details=found)
    return report


def timestamp_chains(store: Store, keys: VaultKeys, *, actor: Actor, authorities) -> dict:
    """Have each time-stamping authority in ``authorities`` (http or https addresses) timestamp the
    newest events of the chain of custody and of the audit log, and record the tokens in custody
    (``TS-0001``, ``timestamped``) and the act in the audit log, in one transaction.

    The authorities are asked before the transaction begins, so no lock is held while waiting on
    the network; each reply is checked before it is kept (:func:`dadkhah.vault.tsa.request_timestamp`).
    If any authority fails, nothing is recorded and the error names it.
    """
    urls = checked_authorities(authorities)
    with store.session() as session:
        heads = chain_heads(session)
    statement = heads_statement(heads)
    entries = obtain_timestamps(urls, statement)
    digest = hashlib.sha256(statement).hexdigest()
    with store.session() as session:
        made = session.scalar(sa.select(sa.func.count()).select_from(CustodyEvent)
                              .where(CustodyEvent.item_kind == "timestamp", CustodyEvent.action == "timestamped")) or 0
        timestamp_id = f"TS-{made + 1:04d}"
        event = append_event(session, keys, actor, item_kind="timestamp", item_id=timestamp_id, action="timestamped",
                             details={"statement": json.loads(statement), "sha256": digest, "timestamps": entries})
        said = [{"authority": e["authority"], "name": e["name"], "time": e["time"]} for e in entries]
        record_audit(session, store, actor, action="chains timestamped", object_kind="timestamp",
                     object_id=timestamp_id, details={"sha256": digest, "custody_seq": heads["custody"]["seq"],
                                                      "audit_seq": heads["audit"]["seq"], "timestamps": said})
        seq = event.seq
    return {"timestamp": timestamp_id, "seq": seq, "sha256": digest, "statement": json.loads(statement),
            "timestamps": said, "recorded_by": actor.name}


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
