"""The chain of custody: every addition, decryption, export and verification, signed and chained.

Each event holds the SHA-256 of the event before it and its own, and an Ed25519 signature by the
instance's key; it is written in the same database transaction as the action it records, so an
action without its event cannot be committed. Editing a row breaks its hash; removing or inserting
one breaks the chain; forging a replacement needs the signing key, which is not in the workspace.
Removing the *last* events leaves an intact, shorter chain: to catch that, the newest event's
number and hash are also kept beside the key file, outside the workspace, after every commit.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from dadkhah.errors import DadkhahError
from dadkhah.model import CustodyEvent
from dadkhah.store import Store
from dadkhah.vault.keys import VaultKeys
from dadkhah.workspace import current_user

_FIELDS = ("seq", "item_kind", "item_id", "action", "actor", "occurred_at", "details", "prev_sha256")


def genesis(workspace_id: str) -> str:
    """What the first event points back to: unique to the workspace."""
    return hashlib.sha256(f"dadkhah-custody-genesis:{workspace_id}".encode()).hexdigest()


def canonical_details(details: dict | None) -> str:
    return json.dumps(details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_event(event: dict) -> bytes:
    """The exact bytes that are hashed and signed: the event's fields as sorted, compact JSON."""
    return json.dumps({k: event[k] for k in _FIELDS}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def event_to_dict(row: CustodyEvent) -> dict:
    return {"seq": row.seq, "item_kind": row.item_kind, "item_id": row.item_id, "action": row.action,
            "actor": row.actor, "occurred_at": row.occurred_at, "details": row.details,
            "prev_sha256": row.prev_sha256, "event_sha256": row.event_sha256, "signature": row.signature}


def append_event(session: Session, keys: VaultKeys, *, item_kind: str, item_id: str, action: str,
                 details: dict | None = None) -> CustodyEvent:
    """Append one signed event in the caller's transaction (it commits or rolls back with the action)."""
    if keys.signing_key is None:
        raise DadkhahError("recording custody needs the unlocked keys")
    if session.get_bind().dialect.name == "postgresql":
        # One writer at a time extends the chain; the unique seq and prev_sha256 also refuse a fork.
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": 1988_0727})
    last = session.execute(sa.select(CustodyEvent.seq, CustodyEvent.event_sha256)
                           .order_by(CustodyEvent.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, genesis(keys.workspace_id))
    event = {"seq": seq, "item_kind": item_kind, "item_id": item_id, "action": action, "actor": current_user(),
             "occurred_at": datetime.now(UTC).isoformat(timespec="microseconds"),
             "details": canonical_details(details), "prev_sha256": prev}
    body = canonical_event(event)
    row = CustodyEvent(**event, event_sha256=hashlib.sha256(body).hexdigest(),
                       signature=base64.b64encode(keys.signing_key.sign(body)).decode("ascii"))
    session.add(row)
    session.flush()
    if keys.head_path is not None:
        head = {"seq": seq, "event_sha256": row.event_sha256}
        sa.event.listen(session, "after_commit", lambda _s: write_head(keys.head_path, head), once=True)
    return row


def write_head(path: Path, head: dict) -> None:
    """Remember the newest event outside the workspace (best effort: a failure here loses nothing)."""
    try:
        previous = read_head(path)
        if previous and previous["seq"] > head["seq"]:
            return
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(head), encoding="utf-8")
        temporary.replace(path)
    except OSError:
        pass


def read_head(path: Path | None) -> dict | None:
    if path is None or not path.is_file():
        return None
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
        return head if isinstance(head, dict) and "seq" in head else None
    except (OSError, json.JSONDecodeError):
        return None


def check_event(event: dict, public_key: Ed25519PublicKey) -> list[str]:
    """What is wrong with one event on its own: its hash, its signature."""
    problems = []
    body = canonical_event(event)
    if hashlib.sha256(body).hexdigest() != event["event_sha256"]:
        problems.append("its content does not match its hash: the event was edited")
    try:
        public_key.verify(base64.b64decode(event["signature"]), body)
    except (InvalidSignature, ValueError, TypeError):
        problems.append("its signature is not this instance's: the event was forged or edited")
    return problems


def verify_chain(session: Session, keys: VaultKeys) -> dict:
    """Check every event's hash, signature and link; report each problem with its position.

    Positions count from 1 in the order of ``seq``. Also compares the newest event with the one
    remembered outside the workspace, which catches the removal of the last events.
    """
    public_key = keys.verifier()
    problems: list[dict] = []
    expected_prev = genesis(keys.workspace_id)
    expected_seq = 1
    count = 0
    last = None
    query = sa.select(CustodyEvent).order_by(CustodyEvent.seq, CustodyEvent.id).execution_options(yield_per=2000)
    for position, row in enumerate(session.scalars(query), start=1):
        event = event_to_dict(row)
        count = position
        where = {"position": position, "seq": row.seq, "id": row.id, "item_id": row.item_id, "action": row.action}
        for problem in check_event(event, public_key):
            problems.append(where | {"problem": problem})
        if row.seq > expected_seq:
            missing = f"event {expected_seq}" if row.seq == expected_seq + 1 else f"events {expected_seq} to {row.seq - 1}"
            problems.append(where | {"problem": f"{missing} before it {'is' if row.seq == expected_seq + 1 else 'are'} missing: removed"})
        elif row.prev_sha256 != expected_prev:
            problems.append(where | {"problem": "it does not follow the event before it: inserted, reordered or the one before was replaced"})
        expected_prev = row.event_sha256
        expected_seq = row.seq + 1
        last = row
    head = read_head(keys.head_path)
    if head:
        if last is None or last.seq < head["seq"]:
            have = last.seq if last else 0
            problems.append({"position": count + 1, "seq": have + 1, "id": None, "item_id": None, "action": None,
                             "problem": f"the chain ends at event {have} but event {head['seq']} was recorded: "
                                        "the last events were removed"})
        else:
            at_head = session.scalar(sa.select(CustodyEvent.event_sha256).where(CustodyEvent.seq == head["seq"]))
            if at_head != head["event_sha256"]:
                problems.append({"position": None, "seq": head["seq"], "id": None, "item_id": None, "action": None,
                                 "problem": "this event differs from the one remembered outside the workspace"})
    return {"valid": not problems, "events": count, "problems": problems, "fingerprint": keys.fingerprint,
            "head_checked": head is not None}


def verify_custody(store: Store, keys: VaultKeys) -> dict:
    """Verify the whole chain, then record that it was verified, and what was found, as a new event."""
    with store.session() as session:
        report = verify_chain(session, keys)
    with store.session() as session:
        append_event(session, keys, item_kind="custody", item_id="chain", action="verified",
                     details={"events": report["events"], "valid": report["valid"], "problems": len(report["problems"])})
    return report


def events_for(session: Session, item_id: str) -> list[dict]:
    """The custody events of one item (evidence, testimony, witness or case file), oldest first."""
    rows = session.scalars(sa.select(CustodyEvent).where(CustodyEvent.item_id == item_id).order_by(CustodyEvent.seq))
    found = []
    for row in rows:
        event = event_to_dict(row)
        event["details"] = json.loads(row.details)
        found.append(event)
    return found


def list_custody(session: Session, *, item_id: str | None = None, limit: int | None = 100, offset: int = 0,
                 newest_first: bool = True) -> list[dict]:
    """Custody events, newest first by default; only one item's with ``item_id`` (E-000001, T-0001, ...)."""
    query = sa.select(CustodyEvent)
    if item_id:
        query = query.where(CustodyEvent.item_id == item_id.strip().upper())
    query = query.order_by(CustodyEvent.seq.desc() if newest_first else CustodyEvent.seq).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    found = []
    for row in session.scalars(query):
        event = event_to_dict(row)
        event["details"] = json.loads(row.details)
        found.append(event)
    return found
