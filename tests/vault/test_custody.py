"""The chain of custody catches an edited, removed, inserted or forged event (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import hashlib

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dadkhah.model import CustodyEvent
from dadkhah.vault.custody import (
    CUSTODY_CHAIN,
    append_event,
    event_to_dict,
    events_for,
    verify_chain,
    verify_custody,
)
from tests.conftest import TESTER


def record(store, keys, count=5):
    with store.session() as session:
        for i in range(1, count + 1):
            append_event(session, keys, TESTER, item_kind="evidence", item_id=f"E-{i:06d}", action="added", details={"n": i})


def problems(store, keys):
    with store.session() as session:
        return verify_chain(session, keys)["problems"]


def test_an_intact_chain_verifies_and_the_verification_is_recorded(store, keys):
    record(store, keys)
    report = verify_custody(store, keys, actor=TESTER)
    assert report["valid"] and report["events"] == 5 and report["fingerprint"] == keys.fingerprint
    with store.session() as session:
        assert [e["action"] for e in events_for(session, "chain")] == ["verified"]
        assert events_for(session, "E-000002")[0]["details"] == {"n": 2}
        assert verify_chain(session, keys)["events"] == 6


def test_an_edited_row_is_reported_with_its_position(store, keys):
    record(store, keys)
    with store.session() as session:
        session.execute(sa.update(CustodyEvent).where(CustodyEvent.seq == 3).values(details='{"n":30}'))
    found = problems(store, keys)
    assert {p["position"] for p in found} == {3}
    assert any("edited" in p["problem"] for p in found)


def test_a_removed_row_is_reported(store, keys):
    record(store, keys)
    with store.session() as session:
        session.execute(sa.delete(CustodyEvent).where(CustodyEvent.seq == 2))
    found = problems(store, keys)
    assert len(found) == 1 and found[0]["seq"] == 3 and "event 2 before it is missing" in found[0]["problem"]


def test_the_removal_of_the_last_rows_is_caught_from_outside_the_workspace(store, keys):
    record(store, keys)
    with store.session() as session:
        session.execute(sa.delete(CustodyEvent).where(CustodyEvent.seq >= 4))
    found = problems(store, keys)
    assert len(found) == 1 and "the last events were removed" in found[0]["problem"]


def test_an_inserted_or_forged_row_is_reported(store, keys):
    record(store, keys, count=3)
    forger = Ed25519PrivateKey.generate()
    with store.session() as session:
        # Make room, then slip a well-formed event signed by another key in between events 1 and 2.
        session.execute(sa.update(CustodyEvent).values(seq=CustodyEvent.seq + 10).where(CustodyEvent.seq >= 2))
        session.execute(sa.update(CustodyEvent).values(seq=CustodyEvent.seq - 9).where(CustodyEvent.seq >= 12))
        first = session.scalar(sa.select(CustodyEvent).where(CustodyEvent.seq == 1))
        forged = {"seq": 2, "item_kind": "evidence", "item_id": "E-000099", "action": "added", "actor": "someone",
                  "occurred_at": first.occurred_at, "details": "{}", "prev_sha256": hashlib.sha256(b"x").hexdigest()}
        body = CUSTODY_CHAIN.canonical(forged)
        session.add(CustodyEvent(**forged, event_sha256=hashlib.sha256(body).hexdigest(),
                                 signature=base64.b64encode(forger.sign(body)).decode()))
    found = problems(store, keys)
    at = {}
    for p in found:
        at.setdefault(p["position"], []).append(p["problem"])
    assert any("signature is not this instance's" in p for p in at[2])
    assert any("does not follow" in p for p in at[3])  # the next genuine event no longer follows it
    # Renumbering the genuine events to make room changed what was signed: each is reported too, and
    # the newest no longer matches the one remembered outside the workspace.
    assert all("edited" in " ".join(at[position]) for position in (3, 4))
    assert 1 not in at and any("remembered outside" in p for p in at[None])


def test_events_serialise_to_what_was_signed(store, keys):
    record(store, keys, count=1)
    with store.session() as session:
        row = session.scalar(sa.select(CustodyEvent))
        event = event_to_dict(row)
    keys.verifier().verify(base64.b64decode(event["signature"]), CUSTODY_CHAIN.canonical(event))
