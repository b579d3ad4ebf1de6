"""The hash chain both logs share (dadkhah.chain), on SQLite and PostgreSQL: signatures when the keys
are at hand, the head kept beside the key file and only ever moved forward, unsigned stretches said
plainly, and chains written by older versions still verifying."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from dadkhah.audit import (
    AUDIT_CHAIN,
    Actor,
    list_audit,
    record_audit,
    verify_audit,
    workspace_ident,
)
from dadkhah.chain import read_head
from dadkhah.errors import DadkhahError
from dadkhah.model import AuditEvent, CustodyEvent
from dadkhah.vault.custody import append_event, verify_chain
from dadkhah.vault.keys import load_public_keys
from tests.conftest import TESTER

READER = Actor("investigator", "web", "10.0.0.5")


def read(store, n: int, actor: Actor = READER) -> None:
    with store.session() as session:
        for i in range(n):
            record_audit(session, store, actor, action="testimony read", object_kind="testimony", object_id=f"T-{i:04d}")


def test_with_the_keys_every_event_is_signed_and_the_head_follows_it(store, keys):
    store.use_keys(keys)
    read(store, 3)
    report = verify_audit(store)
    assert report["intact"] and report["unsigned"] == [] and report["signatures_checked"] and report["head_checked"]
    assert read_head(keys.head_path("audit"))["seq"] == 3
    with store.session() as session:
        assert all(e["signed"] for e in list_audit(session))


def test_a_forged_or_edited_event_fails_its_signature(store, keys):
    store.use_keys(keys)
    read(store, 3)
    with store.session() as session:
        row = session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == 3))
        row.actor = "someone else"  # and make the hash fit again: only the signature can tell
        event = {k: getattr(row, k) for k in (*AUDIT_CHAIN.fields, *AUDIT_CHAIN.later_fields)}
        row.event_sha256 = hashlib.sha256(AUDIT_CHAIN.canonical(event)).hexdigest()
    problems = verify_audit(store)["problems"]
    assert [(p["seq"], "signature" in p["problem"]) for p in problems if p["seq"] == 3 and p["position"]] == [(3, True)]


def test_a_verification_that_remembers_signatures_still_catches_what_is_changed_after_it(store, keys):
    """The signatures a verification found valid are not checked again (the audit page verifies at
    every load); an event edited afterwards, its hash made to fit, or given another event's
    signature, is caught all the same."""
    store.use_keys(keys)
    read(store, 4)
    assert verify_audit(store)["intact"]  # every signature checked, and remembered
    assert verify_audit(store)["intact"]  # again, from memory
    with store.session() as session:
        row = session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == 2))
        row.actor = "someone else"
        event = {k: getattr(row, k) for k in (*AUDIT_CHAIN.fields, *AUDIT_CHAIN.later_fields)}
        row.event_sha256 = hashlib.sha256(AUDIT_CHAIN.canonical(event)).hexdigest()
        fourth = session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == 4))
        fourth.signature = session.scalar(sa.select(AuditEvent.signature).where(AuditEvent.seq == 1))
    problems = [(p["seq"], p["problem"]) for p in verify_audit(store)["problems"] if p["position"]]
    assert (2, "its signature is not this instance's: the event was forged or edited") in problems
    assert (4, "its signature is not this instance's: the event was forged or edited") in problems


@pytest.mark.parametrize("later", [0, 2])
def test_removing_the_newest_events_stays_reported_after_later_actions(store, keys, later):
    store.use_keys(keys)
    read(store, 4)
    with store.session() as session:
        session.execute(sa.delete(AuditEvent).where(AuditEvent.seq >= 3))
    read(store, later)  # new events take the removed numbers: the head must not follow them
    report = verify_audit(store)
    assert not report["intact"]
    assert any("removed" in p["problem"] for p in report["problems"]), report["problems"]
    assert read_head(keys.head_path("audit"))["seq"] == 4


def test_custody_keeps_its_head_the_same_way(store, keys):
    with store.session() as session:
        for i in range(3):
            append_event(session, keys, TESTER, item_kind="evidence", item_id=f"E-{i:06d}", action="added")
    with store.session() as session:
        session.execute(sa.delete(CustodyEvent).where(CustodyEvent.seq == 3))
    with store.session() as session:
        append_event(session, keys, TESTER, item_kind="evidence", item_id="E-000009", action="added")
    with store.session() as session:
        report = verify_chain(session, keys)
    assert not report["valid"] and any("remembered outside" in p["problem"] for p in report["problems"])


def test_custody_refuses_to_record_without_the_signing_key(store, keys):
    public_only = load_public_keys(store.workspace)
    with store.session() as session, pytest.raises(DadkhahError, match="unlocked keys"):
        append_event(session, public_only, TESTER, item_kind="evidence", item_id="E-000001", action="added")


def test_events_written_without_the_keys_are_listed_as_unsigned_stretches(store, keys):
    read(store, 2)  # a command run without the keys
    store.use_keys(keys)
    read(store, 1)
    store.use_keys(load_public_keys(store.workspace))  # a passphrase-protected key file: the public key only
    read(store, 2)
    store.use_keys(keys)
    read(store, 1)
    report = verify_audit(store)
    assert report["intact"] and report["signatures_checked"]
    assert report["unsigned"] == [{"from": 1, "to": 2, "events": 2}, {"from": 4, "to": 5, "events": 2}]
    assert read_head(keys.head_path("audit"))["seq"] == 6, "the public key is enough to keep the head"


def test_chains_begun_by_older_versions_still_verify(store, keys):
    """Before the channel existed events had none (the hash did not cover it), and a workspace with keys
    began its chain from the vault's id."""
    vault_id = keys.workspace_id
    with store.session() as session:
        prev = AUDIT_CHAIN.genesis(vault_id)
        for seq in (1, 2):
            event = {"seq": seq, "actor": "admin", "action": "login", "object_kind": "user", "object_id": "admin",
                     "address": "127.0.0.1", "occurred_at": f"2026-11-28T10:00:0{seq}.000000+00:00",
                     "details": "{}", "prev_sha256": prev}
            digest = hashlib.sha256(json.dumps(event, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
            session.add(AuditEvent(**event, event_sha256=digest))
            prev = digest
    read(store, 1)
    report = verify_audit(store)
    assert report["intact"], report["problems"]
    assert report["unsigned"] == [{"from": 1, "to": 3, "events": 3}]
    assert workspace_ident(store.workspace) != vault_id, "new chains begin from what never changes"


def test_rewriting_the_newest_event_without_its_signature_is_caught_by_the_head(store, keys):
    """A forger without the key may strip the signature and fix the hash; the head beside the key still differs."""
    store.use_keys(keys)
    read(store, 2)
    with store.session() as session:
        row = session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == 2))
        row.object_id, row.signature = "T-9999", None
        event = {k: getattr(row, k) for k in (*AUDIT_CHAIN.fields, *AUDIT_CHAIN.later_fields)}
        row.event_sha256 = hashlib.sha256(AUDIT_CHAIN.canonical(event)).hexdigest()
    report = verify_audit(store)
    assert not report["intact"] and report["unsigned"] == [{"from": 2, "to": 2, "events": 1}]
    assert any("remembered outside the workspace" in p["problem"] for p in report["problems"])


def test_a_missing_head_where_signed_events_exist_is_reported(store, keys):
    """Deleting the head file (to hide a truncation) is itself reported, for custody and the audit log."""
    store.use_keys(keys)
    read(store, 2)
    with store.session() as session:
        append_event(session, keys, TESTER, item_kind="evidence", item_id="E-000001", action="added")
    for chain in ("audit", "custody"):
        keys.head_path(chain).unlink()
    report = verify_audit(store)
    assert not report["intact"] and any("no newest event is remembered" in p["problem"] for p in report["problems"])
    with store.session() as session:
        custody = verify_chain(session, keys)
    assert not custody["valid"] and any("no newest event is remembered" in p["problem"] for p in custody["problems"])


def test_a_log_written_without_any_keys_needs_no_head(store):
    read(store, 3)
    assert verify_audit(store)["intact"], "no keys were ever at hand: nothing could have been remembered"


def test_the_chain_is_locked_and_its_key_checked_once_per_transaction_not_per_event(store, keys):
    """An intake appends thousands of events in one transaction: the lock (held to its end) and the
    check of the key in force are taken once, not again after each flush; a new transaction takes them anew."""
    store.use_keys(keys)
    statements = []

    def seen(_connection, _cursor, statement, _parameters, _context, _executemany):
        flat = " ".join(statement.split())
        if "pg_advisory_xact_lock" in flat or flat.startswith("UPDATE audit_events SET seq=audit_events.seq"):
            statements.append("lock")
        elif flat.startswith("SELECT audit_events.details FROM audit_events"):
            statements.append("key in force")

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        read(store, 40)
        once = len(statements)
        read(store, 1)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)
    assert statements[:once] == ["lock", "key in force"], statements  # for forty events
    assert statements[once:] == ["lock", "key in force"], "a new transaction locks and checks again"
    assert verify_audit(store)["intact"]
