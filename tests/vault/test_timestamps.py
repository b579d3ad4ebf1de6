"""Trusted timestamps (RFC 3161) against a local authority: the chains' heads and case files
timestamped, every token checked on receipt and again on verification, and lax or broken
authorities refused with nothing recorded."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
import sqlalchemy as sa

from dadkhah.audit import list_audit
from dadkhah.errors import InputError
from dadkhah.model import AuditEvent, CustodyEvent
from dadkhah.vault.casefile import export_casefile
from dadkhah.vault.custody import (
    append_event,
    events_for,
    timestamp_chains,
    verify_chain,
    verify_custody,
)
from dadkhah.vault.evidence import add_evidence
from dadkhah.vault.timestamps import chain_heads, heads_statement
from dadkhah.vault.tsa import (
    AuthorityError,
    _certificate_bytes,
    _certificate_problems,
    _in_der_order,
    check_token,
    load_roots,
    request_timestamp,
)
from dadkhah.vault.verify import TIMESTAMPS_FILE, verify_casefile
from tests.conftest import TESTER, write
from tests.vault.authority import OTHER_DATA, closed_port_url, make_ca, make_tsa_certificate
from tests.vault.conftest import make_persons


def _evidence(store, keys, tmp_path, text="synthetic evidence for a timestamp\n"):
    add_evidence(store, keys, [write(tmp_path / "note.txt", text)], actor=TESTER)


def _counts(store) -> tuple[int, int]:
    with store.session() as session:
        return (session.scalar(sa.select(sa.func.count()).select_from(CustodyEvent)),
                session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)))


def test_the_chains_heads_are_timestamped_stored_with_their_chain_and_verified(store, keys, authority, tmp_path):
    _evidence(store, keys, tmp_path)
    with store.session() as session:
        heads = chain_heads(session)
    made = timestamp_chains(store, keys, actor=TESTER, authorities=[authority.url("good"), authority.url("leaf")])
    assert made["timestamp"] == "TS-0001" and made["statement"]["custody"] == heads["custody"]
    assert made["sha256"] == hashlib.sha256(heads_statement(heads)).hexdigest()
    assert [t["name"] for t in made["timestamps"]] == ["Synthetic TSA", "Synthetic TSA"]

    with store.session() as session:
        [event] = events_for(session, "TS-0001")
        [audited] = [e for e in list_audit(session, limit=None) if e["action"] == "chains timestamped"]
    assert event["action"] == "timestamped" and event["seq"] == heads["custody"]["seq"] + 1
    details = event["details"]
    # Anyone can recompute the digest from the statement, which names the heads as they were.
    assert hashlib.sha256(json.dumps(details["statement"], sort_keys=True, separators=(",", ":")).encode()).hexdigest() \
        == details["sha256"]
    good, leaf = details["timestamps"]
    assert len(good["certificates"]) == 2 and len(leaf["certificates"]) == 1  # the chain the authority sent
    assert good["authority"] == authority.url("good") and good["tsa"] == "CN=Synthetic TSA" and good["nonce"]
    assert audited["object_id"] == "TS-0001" and audited["details"]["sha256"] == details["sha256"]

    with store.session() as session:
        report = verify_chain(session, keys)
        rooted = verify_chain(session, keys, tsa_roots=load_roots(authority.root_pem))
        forged_root = verify_chain(session, keys, tsa_roots=load_roots(authority.other_root_pem))
    assert report["valid"] and [t["valid"] for t in report["timestamps"]] == [True, True]
    stamp = report["timestamps"][0]
    assert stamp["name"] == "Synthetic TSA" and stamp["time"] == good["time"] and not stamp["root_checked"]
    assert stamp["covers"] == f"custody events 1–{heads['custody']['seq']} and audit events 1–{heads['audit']['seq']}"
    assert rooted["valid"] and all(t["root_checked"] for t in rooted["timestamps"])
    assert not forged_root["valid"]
    assert {p["item_id"] for p in forged_root["problems"]} == {"TS-0001"}
    assert all("does not chain to the trusted root" in p["problem"] for p in forged_root["problems"])

    recorded = verify_custody(store, keys, actor=TESTER, tsa_root=authority.root_pem)
    assert recorded["valid"] and len(recorded["timestamps"]) == 2


def test_custody_verify_catches_a_tampered_token_and_a_token_for_other_data(store, keys, authority, tmp_path):
    _evidence(store, keys, tmp_path)
    timestamp_chains(store, keys, actor=TESTER, authorities=[authority.url("leaf")])
    with store.session() as session:
        [good] = events_for(session, "TS-0001")
    # Records a forger (or a bug) could make with the keys: the chain stays whole, the tokens do not hold.
    tampered = json.loads(json.dumps(good["details"]))
    token = bytearray(base64.b64decode(tampered["timestamps"][0]["token"]))
    token[-3] ^= 0x01  # in the signature
    tampered["timestamps"][0]["token"] = base64.b64encode(bytes(token)).decode()
    elsewhere = dict(good["details"], timestamps=[request_timestamp(authority.url("leaf"), OTHER_DATA)])
    with store.session() as session:
        append_event(session, keys, TESTER, item_kind="timestamp", item_id="TS-0002", action="timestamped",
                     details=tampered)
        append_event(session, keys, TESTER, item_kind="timestamp", item_id="TS-0003", action="timestamped",
                     details=elsewhere)
    with store.session() as session:
        report = verify_chain(session, keys)
    assert not report["valid"]
    found = {(p["item_id"], p["problem"].split(": ", 1)[1]) for p in report["problems"]}
    assert found == {
        ("TS-0002", "its signature does not verify with the authority's certificate: the token was altered or forged"),
        ("TS-0003", "it is a timestamp of other data: its imprint is not the SHA-256 of what it should cover"),
    }
    assert [t["valid"] for t in report["timestamps"]] == [True, False, False]


def test_a_timestamp_names_the_events_it_covers_and_catches_their_replacement(store, keys, authority, tmp_path):
    _evidence(store, keys, tmp_path)
    made = timestamp_chains(store, keys, actor=TESTER, authorities=[authority.url("leaf")])
    head = made["statement"]["custody"]["seq"]
    with store.session() as session:
        row = session.scalar(sa.select(CustodyEvent).where(CustodyEvent.seq == head))
        row.event_sha256 = "0" * 64
    with store.session() as session:
        report = verify_chain(session, keys)
    assert any(p["item_id"] == "TS-0001" and f"custody event {head} it timestamps is not the one now held" in p["problem"]
               for p in report["problems"])


def test_an_authority_that_is_down_records_nothing(store, keys, tmp_path, authority):
    _evidence(store, keys, tmp_path)
    before = _counts(store)
    down = closed_port_url()
    with pytest.raises(InputError) as caught:
        timestamp_chains(store, keys, actor=TESTER, authorities=[authority.url("good"), down])
    assert caught.value.field == "authorities" and down in caught.value.message
    assert "could not be reached" in caught.value.message and "Nothing was recorded" in caught.value.message
    assert _counts(store) == before
    with pytest.raises(InputError, match="no time-stamping authority"):
        timestamp_chains(store, keys, actor=TESTER, authorities=[])
    with pytest.raises(InputError, match="not an http:// or https:// address"):
        timestamp_chains(store, keys, actor=TESTER, authorities=["file:///etc/passwd"])
    assert _counts(store) == before


@pytest.mark.parametrize(("behaviour", "reason"), [
    ("other", "it is a timestamp of other data"),
    ("no-nonce", "it does not carry the nonce that was sent"),
    ("no-cert", "it carries no certificate of the authority that signed it"),
    ("sha1", "it is signed with SHA-1"),
    ("rejection", "did not grant the timestamp (status rejection"),
    ("error", "answered HTTP 500"),
    ("moved", "answered HTTP 302 (Found), to ftp://127.0.0.1/elsewhere: give that address instead"),
    ("garbage", "answered with something that is not an RFC 3161 reply"),
    ("huge", "more than the 262,144 bytes a timestamp reply may have"),
    ("huge-undeclared", "more than the 262,144 bytes a timestamp reply may have"),
])
def test_lax_and_broken_authorities_are_refused(authority, behaviour, reason):
    with pytest.raises(AuthorityError) as caught:
        request_timestamp(authority.url(behaviour), b"the bytes to timestamp")
    assert reason in str(caught.value) and authority.url(behaviour) in str(caught.value)


def test_a_token_other_than_what_was_asked_is_refused_and_nothing_recorded(store, keys, authority, tmp_path):
    _evidence(store, keys, tmp_path)
    before = _counts(store)
    with pytest.raises(InputError, match="timestamp of other data"):
        timestamp_chains(store, keys, actor=TESTER, authorities=[authority.url("other")])
    assert _counts(store) == before


def test_certificates_sent_in_chain_order_are_read_and_the_token_kept_as_sent(authority):
    entry = request_timestamp(authority.url("good"), b"data")
    token = base64.b64decode(entry["token"])
    leaf, root = _certificate_bytes(token)
    for order in ([leaf, root], [root, leaf]):
        # The same token with its certificates in either order: exactly one order is DER's.
        body = token.replace(leaf + root, b"".join(order)) if order != [leaf, root] else token
        assert check_token(body, hashlib.sha256(b"data").digest())["problems"] == []
    assert (_in_der_order(token) == token) == (leaf < root)
    assert entry["certificates"] == [base64.b64encode(c).decode() for c in (leaf, root)]


def test_a_certificate_without_the_time_stamping_usage_is_refused():
    root, root_key = make_ca("Synthetic Root")
    plain, _ = make_tsa_certificate("Not A TSA", root, root_key, usage=False)
    assert _certificate_problems(plain, plain.not_valid_before_utc) == [
        "the authority's certificate is not for time-stamping (no extended key usage)"]


def test_a_case_file_is_timestamped_and_verified_against_the_root(store, keys, authority, tmp_path):
    persons = make_persons(store, tmp_path, count=1)
    out = tmp_path / "handover" / "court"
    made = export_casefile(store, keys, out, recipient="Synthetic Court", scope="courts", persons=persons, actor=TESTER,
                           authorities=[authority.url("good")])
    assert [t["name"] for t in made["timestamps"]] == ["Synthetic TSA"]
    stamps = json.loads((out / TIMESTAMPS_FILE).read_text())
    assert stamps["covers"] == {"file": "signature.json",
                                "sha256": hashlib.sha256((out / "signature.json").read_bytes()).hexdigest()}
    with store.session() as session:
        assert [e["action"] for e in events_for(session, made["casefile"])] == ["created", "timestamped"]
        [audited] = [e for e in list_audit(session, limit=None) if e["action"] == "case file exported"]
        assert audited["details"]["timestamps"] == made["timestamps"]
        assert verify_chain(session, keys, tsa_roots=load_roots(authority.root_pem))["valid"]

    trusted = verify_casefile(out, expect_key=keys.fingerprint, tsa_root=authority.root_pem)
    assert trusted["valid"], trusted["problems"]
    [stamp] = trusted["timestamps"]
    assert stamp["root_checked"] and stamp["name"] == "Synthetic TSA" and stamp["time"] == made["timestamps"][0]["time"]
    unrooted = verify_casefile(out)
    assert unrooted["valid"] and not unrooted["timestamps"][0]["root_checked"] and unrooted["tsa_root"] is None
    forged = verify_casefile(out, tsa_root=authority.other_root_pem)
    assert not forged["valid"]
    assert [p["file"] for p in forged["problems"]] == [TIMESTAMPS_FILE]
    assert "does not chain to the trusted root given" in forged["problems"][0]["problem"]

    # A token over another signature (the case file re-signed after it was timestamped) fails.
    signature = json.loads((out / "signature.json").read_text())
    (out / "signature.json").write_text(json.dumps(signature | {"note": "re-signed"}, indent=1) + "\n")
    resigned = verify_casefile(out)
    assert not resigned["valid"]
    assert any(p["file"] == TIMESTAMPS_FILE and "the signature was replaced" in p["problem"] for p in resigned["problems"])
    assert any("timestamp of other data" in p["problem"] for p in resigned["problems"])


def test_a_case_file_without_a_timestamp_fails_when_a_root_is_expected(store, keys, authority, tmp_path):
    persons = make_persons(store, tmp_path, count=1)
    out = tmp_path / "plain"
    export_casefile(store, keys, out, recipient="Synthetic Court", scope="courts", persons=persons, actor=TESTER)
    assert verify_casefile(out)["valid"] and verify_casefile(out)["timestamps"] == []
    expected = verify_casefile(out, tsa_root=authority.root_pem)
    assert not expected["valid"] and expected["problems"][0]["file"] == TIMESTAMPS_FILE
    with pytest.raises(InputError) as caught:
        verify_casefile(out, tsa_root=tmp_path / "missing.pem")
    assert caught.value.field == "tsa_root"


def test_a_case_file_export_whose_authority_fails_leaves_nothing(store, keys, tmp_path):
    persons = make_persons(store, tmp_path, count=1)
    before = _counts(store)
    out = tmp_path / "never"
    with pytest.raises(InputError, match="could not be reached"):
        export_casefile(store, keys, out, recipient="Synthetic Court", scope="courts", persons=persons, actor=TESTER,
                        authorities=[closed_port_url()])
    assert _counts(store) == before and not out.exists()
