"""What staff do with signatures: paper signatures, decisions, invalidation in bulk, purge, deliveries,
and what a database dump can tell about signers (nothing)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from dadkhah.appeal import (
    add_paper_signature,
    close_appeal,
    deliver_appeal,
    invalidate,
    latest_day,
    public_page,
    purge,
    revise_appeal,
    send_queued_mail,
    show_appeal,
    sign,
)
from dadkhah.audit import list_audit, verify_audit
from dadkhah.errors import InputError
from dadkhah.model import Appeal, AppealVersion, Base, Signature
from dadkhah.model.base import utcnow
from dadkhah.vault.custody import events_for
from tests.appeal.conftest import BASE_URL
from tests.appeal.test_signing import _confirm_all
from tests.conftest import TESTER


def _web(store, keys, email, name, **extra):
    return sign(store, keys, "inquiry", name=name, email=email, base_url=BASE_URL, **extra)


def test_a_paper_signature_counts_at_once_and_is_audited(store, keys, appeal):
    added = add_paper_signature(store, keys, "A-0001", actor=TESTER, name="Jane Roe", role="Jurist", country="UK",
                                verified_by="maryam")
    assert added == {"appeal": "A-0001", "signature": 1, "status": "verified", "flag": None, "public": True}
    [shown] = public_page(store, "inquiry")["signatories"]
    # what the public sees of a signatory; no row id, whose gaps would tell of signers only counted or refused
    assert shown == {"kind": "person", "name": "Jane Roe", "role": "Jurist", "affiliation": None, "country": "UK",
                     "version": 1, "signed_on": shown["signed_on"]}
    with store.session() as session:
        event = list_audit(session, object_id="A-0001")[0]
    assert event["action"] == "signature added" and event["details"]["verified_by"] == "maryam"
    assert "Jane" not in str(event), "the audit log names no signer"
    add_paper_signature(store, keys, "A-0001", actor=TESTER, name="Someone", email="x@example.org", verified_by="m")
    with pytest.raises(InputError) as twice:
        add_paper_signature(store, keys, "A-0001", actor=TESTER, name="Someone", email="X@Example.org", verified_by="m")
    assert twice.value.field == "email"


def test_invalidating_a_domain_in_bulk_is_a_correction_the_public_page_shows(store, keys, appeal, mailbox):
    for i, name in enumerate(["Ava Rahimi", "Babak Tehrani", "Cyrus Navabi"]):
        _web(store, keys, f"p{i}@forged.example", name, public_name=True)
    _web(store, keys, "real@example.org", "Dina Kamali", public_name=True)
    _confirm_all(store, keys, mailbox)
    _web(store, keys, "late@forged.example", "Elham Sadeghi")  # pending: also invalidated, and its mail dropped
    assert show_appeal(store, "inquiry")["counts"]["verified"] == 4
    done = invalidate(store, keys, "inquiry", actor=TESTER, domain="@Forged.Example", reason="a forged batch")
    assert (done["removed"], done["was_counted"], done["before"], done["after"]) == (4, 3, 4, 1)
    page = public_page(store, "inquiry")
    assert [p["name"] for p in page["signatories"]] == ["Dina Kamali"]
    assert page["corrections"][-1]["details"] == {"removed": 4, "reason": "a forged batch", "before": 4, "after": 1}
    assert send_queued_mail(store, keys, mailbox.settings)["sent"] == 0


def test_the_history_shown_is_the_newest_and_corrections_older_than_it_are_still_found(store, keys, appeal,
                                                                                       monkeypatch):
    """`appeal show` and the team's page list the newest events of the appeal (each paper signature
    is one: a large appeal has tens of thousands) and say how many there are; the public page's
    corrections come from every event, however old."""
    import dadkhah.appeal.appeals as appeals

    monkeypatch.setattr(appeals, "HISTORY_SHOWN", 3)
    add_paper_signature(store, keys, "A-0001", actor=TESTER, name="Forged One", email="f@forged.example", verified_by="m")
    invalidate(store, keys, "inquiry", actor=TESTER, domain="@forged.example", reason="a forged one")
    for i in range(4):
        add_paper_signature(store, keys, "A-0001", actor=TESTER, name=f"Signer {i}", verified_by="maryam")
    shown = show_appeal(store, "inquiry")
    assert shown["history_total"] == 8  # created, published, 5 signatures added, 1 invalidation
    assert [e["action"] for e in shown["history"]] == ["signature added"] * 3
    assert [e["seq"] for e in shown["history"]] == sorted(e["seq"] for e in shown["history"]), "oldest first"
    for document in (shown, public_page(store, "inquiry")):
        assert [(c["action"], c["details"]["reason"]) for c in document["corrections"]] == [
            ("signatures invalidated", "a forged one")]


def test_invalidating_a_time_window(store, keys, appeal):
    for i, name in enumerate(["Ava Rahimi", "Babak Tehrani", "Cyrus Navabi"]):
        _web(store, keys, f"w{i}@example.org", name)
    with store.session() as session:
        first = session.get(Signature, 1)
        first.created_at = utcnow() - timedelta(hours=3)
    done = invalidate(store, keys, "inquiry", actor=TESTER, since=(utcnow() - timedelta(hours=1)).isoformat(),
                      reason="a flood from a script")
    assert done["removed"] == 2
    with pytest.raises(InputError) as nothing:
        invalidate(store, keys, "inquiry", actor=TESTER, reason="no criteria")
    assert nothing.value.field == "domain"
    with pytest.raises(InputError) as backwards:
        invalidate(store, keys, "inquiry", actor=TESTER, reason="x", since="2026-12-05", until="2026-12-04")
    assert backwards.value.field == "until"


def test_purge_keeps_the_counts_and_public_names_and_erases_the_rest(store, keys, appeal, mailbox):
    _web(store, keys, "named@example.org", "Ava Rahimi", public_name=True)
    _web(store, keys, "quiet@example.org", "Babak Tehrani", public_name=False)
    _confirm_all(store, keys, mailbox)
    _web(store, keys, "never@example.org", "Cyrus Navabi")  # never confirmed
    with pytest.raises(InputError, match="close it first"):
        purge(store, "inquiry", actor=TESTER, older_than_days=0)
    close_appeal(store, "inquiry", actor=TESTER)
    with pytest.raises(InputError) as early:
        purge(store, "inquiry", actor=TESTER, older_than_days=30)
    assert early.value.field == "older_than"
    before = show_appeal(store, "inquiry")["counts"]
    assert not show_appeal(store, "inquiry")["purge_due"], "90 days have not passed"
    with store.session() as session:
        session.execute(sa.update(Appeal).values(closed_at=utcnow() - timedelta(days=91)))
    assert show_appeal(store, "inquiry")["purge_due"]
    done = purge(store, "inquiry", actor=TESTER, older_than_days=0)
    assert not show_appeal(store, "inquiry")["purge_due"]
    assert done["erased"] == 3 and done["unconfirmed_refused"] == 1
    after = show_appeal(store, "inquiry")["counts"]
    assert (after["verified"], after["public_names"]) == (before["verified"], before["public_names"]) == (2, 1)
    assert after["pending"] == 0 and after["rejected"] == 1
    with store.session() as session:
        rows = session.scalars(sa.select(Signature)).all()
    assert all(r.identity_sealed is None and r.email_index is None and r.name_index is None for r in rows)
    assert [p["name"] for p in public_page(store, "inquiry")["signatories"]] == ["Ava Rahimi"]


def test_the_promised_erasure_happens_when_due_once_and_only_for_due_appeals(store, keys, appeal, mailbox):
    from dadkhah.appeal import create_appeal, publish_appeal, purge_due_appeals
    from dadkhah.audit import Actor

    scheduler = Actor("host:4242", "schedule")
    _web(store, keys, "named@example.org", "Ava Rahimi", public_name=True)
    _confirm_all(store, keys, mailbox)
    other = create_appeal(store, actor=TESTER, slug="other", title="Other", text="A second synthetic letter.",
                          addressee="Nobody real")
    publish_appeal(store, other["id"], actor=TESTER)
    add_paper_signature(store, keys, "other", actor=TESTER, name="Babak Tehrani", verified_by="m")
    assert purge_due_appeals(store, actor=scheduler) == [], "open appeals keep their signers' details"
    close_appeal(store, "inquiry", actor=TESTER)
    close_appeal(store, "other", actor=TESTER)
    assert purge_due_appeals(store, actor=scheduler) == [], "closed, but not for keep_days yet"
    with store.session() as session:
        session.execute(sa.update(Appeal).where(Appeal.slug == "inquiry")
                        .values(closed_at=utcnow() - timedelta(days=90)))
    done = purge_due_appeals(store, actor=scheduler)
    assert [(d["id"], d["erased"], d["verified"], d["public_names"]) for d in done] == [("A-0001", 1, 1, 1)]
    assert purge_due_appeals(store, actor=scheduler) == [], "purged once; nothing left to erase"
    assert not show_appeal(store, "inquiry")["purge_due"]
    with store.session() as session:
        erased = {r.appeal_pk: r.identity_sealed is None for r in session.scalars(sa.select(Signature))}
        events = [e for e in list_audit(session, limit=None) if e["action"] == "appeal purged"]
    assert sorted(erased.values()) == [False, True], "the other appeal, closed too recently, keeps its signer"
    assert [(e["object_id"], e["actor"], e["channel"]) for e in events] == [("A-0001", "host:4242", "schedule")]
    assert verify_audit(store)["intact"]


def test_a_delivery_is_recorded_with_its_proof_in_the_vault(store, keys, appeal, tmp_path):
    add_paper_signature(store, keys, "inquiry", actor=TESTER, name="Jane Roe", verified_by="m")
    proof = tmp_path / "receipt.txt"
    proof.write_text("Received by the registry office.", encoding="utf-8")
    today = utcnow().date().isoformat()
    done = deliver_appeal(store, "inquiry", actor=TESTER, to="Office of the High Commissioner", on=today,
                          evidence=proof, keys=keys)
    assert done["verified"] == 1 and done["evidence"] == "E-000001"
    with store.session() as session:
        assert [e["action"] for e in events_for(session, "E-000001")] == ["added"]
    shown = show_appeal(store, "inquiry")
    assert shown["deliveries"][0]["on"] == today and shown["deliveries"][0]["evidence"] == "E-000001"
    assert public_page(store, "inquiry")["deliveries"] == [
        {"to": "Office of the High Commissioner", "on": today, "version": 1, "verified": 1}]
    with pytest.raises(InputError) as future:
        deliver_appeal(store, "inquiry", actor=TESTER, to="Someone", on="2999-01-01")
    assert future.value.field == "on"
    # after 10:00 UTC, tomorrow's UTC date has begun east of it: a campaigner there records their own date
    assert latest_day(datetime(2026, 12, 8, 9, 59, tzinfo=UTC)) == date(2026, 12, 8)
    assert latest_day(datetime(2026, 12, 8, 10, 0, tzinfo=UTC)) == date(2026, 12, 9)
    assert latest_day(datetime(2026, 12, 8, 13, 0, tzinfo=timezone(timedelta(hours=3, minutes=30)))) == date(2026, 12, 8)
    assert deliver_appeal(store, "inquiry", actor=TESTER, to="East", on=latest_day().isoformat())["verified"] == 1
    with pytest.raises(InputError, match="in the future"):
        deliver_appeal(store, "inquiry", actor=TESTER, to="Someone", on=(latest_day() + timedelta(days=1)).isoformat())
    assert verify_audit(store)["intact"]



def _backdate(store, **moments) -> None:
    """Move the appeal's publication, its versions and its signatures back in time, as if the letter
    had run for weeks: ``published``, ``version_2`` (when version 2 was made), ``signature_<id>``
    (when it was confirmed) and ``withdrawn_<id>`` (when its signer withdrew it)."""
    with store.session() as session:
        appeal = session.scalars(sa.select(Appeal).where(Appeal.slug == "inquiry")).one()
        for key, moment in moments.items():
            kind, _, number = key.partition("_")
            if kind == "published":
                appeal.published_at = moment
            elif kind == "version":
                session.execute(sa.update(AppealVersion).where(AppealVersion.appeal_pk == appeal.id,
                                                               AppealVersion.version == int(number))
                                .values(created_at=moment))
            elif kind == "signature":
                session.get(Signature, int(number)).confirmed_at = moment
            else:
                signature = session.get(Signature, int(number))
                signature.status, signature.withdrawn_at = "withdrawn", moment


def test_a_delivery_keeps_the_count_and_the_version_of_its_day_not_todays(store, keys, appeal, tmp_path):
    """Recorded later, a delivery states what was handed over that day: the verified signatures at the
    end of that day (one withdrawn since still counts; one confirmed since does not) and the text's
    version then; a day before publication or after today is refused, naming the field."""
    now = utcnow()
    published = now - timedelta(days=30)

    def day(offset: int) -> str:
        return (published + timedelta(days=offset)).date().isoformat()

    for name in ("Ava Rahimi", "Babak Tehrani", "Cyrus Navabi", "Dina Kamali"):
        add_paper_signature(store, keys, "inquiry", actor=TESTER, name=name, verified_by="m")
    revised = tmp_path / "revised.txt"
    revised.write_text("A second version of the letter.", encoding="utf-8")
    revise_appeal(store, "inquiry", actor=TESTER, text=revised)
    # Ava and Babak signed in the first week; version 2 came on day 8; Cyrus signed on day 10 and
    # withdrew on day 12; Dina signed today.
    _backdate(store, published=published, signature_1=published + timedelta(days=1),
              signature_2=published + timedelta(days=5), version_2=published + timedelta(days=8),
              signature_3=published + timedelta(days=10), withdrawn_3=published + timedelta(days=12))
    assert show_appeal(store, "inquiry")["counts"]["verified"] == 3 and show_appeal(store, "inquiry")["version"] == 2

    first = deliver_appeal(store, "inquiry", actor=TESTER, to="The Office", on=day(6))
    assert (first["on"], first["verified"], first["version"]) == (day(6), 2, 1)
    second = deliver_appeal(store, "inquiry", actor=TESTER, to="The Rapporteur", on=day(11))
    assert (second["verified"], second["version"]) == (3, 2), "Cyrus withdrew only the next day"
    third = deliver_appeal(store, "inquiry", actor=TESTER, to="The Council", on=now.date().isoformat())
    assert (third["verified"], third["version"]) == (3, 2), "today: Cyrus withdrawn, Dina counted"
    opening = deliver_appeal(store, "inquiry", actor=TESTER, to="The Press", on=day(0))
    assert (opening["verified"], opening["version"]) == (0, 1), "nobody had signed on the day it was published"
    assert [(d["to"], d["verified"], d["version"]) for d in public_page(store, "inquiry")["deliveries"]] == [
        ("The Press", 0, 1), ("The Office", 2, 1), ("The Rapporteur", 3, 2), ("The Council", 3, 2)]
    with store.session() as session:
        [event] = [e for e in list_audit(session, object_id="A-0001")
                   if e["action"] == "appeal delivered" and e["details"]["to"] == "The Office"]
    assert (event["details"]["verified"], event["details"]["version"]) == (2, 1)

    for refused in (day(-1), "2020-01-01", (now + timedelta(days=2)).date().isoformat()):
        with pytest.raises(InputError) as wrong:
            deliver_appeal(store, "inquiry", actor=TESTER, to="Someone", on=refused)
        assert wrong.value.field == "on"
    with pytest.raises(InputError) as early:
        deliver_appeal(store, "inquiry", actor=TESTER, to="Someone", on=day(-1))
    assert f"before A-0001 was published, on {day(0)}" in early.value.message
    assert len(public_page(store, "inquiry")["deliveries"]) == 4, "a refused delivery records nothing"


MARKERS = ("planted.signer.marker@example.org", "Hiddenname Markerson", "Quietrole Marker", "Sealedaffil Marker")


def test_no_signer_email_or_count_only_name_is_readable_in_the_database(store, keys, appeal, mailbox):
    _web(store, keys, MARKERS[0], MARKERS[1], role=MARKERS[2], affiliation=MARKERS[3], public_name=False)
    _web(store, keys, "pending.marker@example.org", "Pendingname Markerson", public_name=True)
    _confirm_all(store, keys, mailbox)
    _web(store, keys, "waiting.marker@example.org", "Waitingname Markerson", public_name=True)  # mail still queued
    with store.session() as session:
        dump = []
        for table in Base.metadata.sorted_tables:
            for row in session.execute(sa.select(table)):
                dump.append(repr(tuple(row)))
    text = "\n".join(dump).lower()
    for marker in (*MARKERS, "waiting.marker@example.org", "Waitingname Markerson"):
        assert marker.lower() not in text
    if store.workspace.is_sqlite:  # the files themselves, write-ahead log included
        for path in store.workspace.path.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for marker in (*MARKERS, "waiting.marker@example.org"):
                    assert marker.encode() not in data, path
