"""Signing from the public page: confirmed by email, once per person, named only by consent, withdrawable."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dadkhah.appeal import (
    SigningLimits,
    Throttled,
    confirm,
    decide,
    moderation_queue,
    public_page,
    revise_appeal,
    send_queued_mail,
    show_appeal,
    sign,
    withdraw,
)
from dadkhah.errors import InputError, NotFound
from dadkhah.model import AppealMail, Signature
from tests.appeal.conftest import BASE_URL
from tests.conftest import TESTER


def _sign(store, keys, email, name="Sara Example", **extra):
    return sign(store, keys, "inquiry", name=name, email=email, base_url=BASE_URL, **extra)


def _confirm_all(store, keys, mailbox) -> list[dict]:
    send_queued_mail(store, keys, mailbox.settings)
    done = []
    for link in mailbox.links("confirm"):
        try:
            done.append(confirm(store, keys, "inquiry", link.rsplit("/", 1)[1]))
        except NotFound:
            pass  # used already
    return done


NAMES = ["Ava Rahimi", "Babak Tehrani", "Cyrus Navabi", "Dina Kamali", "Elham Sadeghi", "Farid Moradi",
         "Golnar Bahrami", "Hamid Zand", "Iran Dokht", "Jaleh Farahani"]


def _counts(store):
    return show_appeal(store, "inquiry")["counts"]


def test_a_signature_counts_once_confirmed_and_its_link_works_once(store, keys, appeal, mailbox):
    assert _sign(store, keys, "sara@example.org", public_name=True)["queued"]
    assert _counts(store)["pending"] == 1 and _counts(store)["verified"] == 0
    assert public_page(store, "inquiry")["signatories"] == []
    sent = send_queued_mail(store, keys, mailbox.settings)
    assert sent == {"sent": 1, "failed": 0, "skipped": 0}
    message = mailbox.messages[0]
    assert message["To"] == "sara@example.org" and message["Subject"] == "Confirm your signature: For an inquiry"
    token = mailbox.links("confirm")[0].rsplit("/", 1)[1]
    assert mailbox.links("confirm")[0].startswith(f"{BASE_URL}/appeals/inquiry/confirm/")
    assert confirm(store, keys, "inquiry", token) == {"status": "verified", "public": True, "version": 1}
    with pytest.raises(NotFound):
        confirm(store, keys, "inquiry", token)
    assert _counts(store) == {"verified": 1, "pending": 0, "rejected": 0, "withdrawn": 0, "public_names": 1,
                                   "awaiting_moderation": 0}
    assert [p["name"] for p in public_page(store, "inquiry")["signatories"]] == ["Sara Example"]
    with store.session() as session:  # the sent mail left nothing behind
        assert session.scalar(sa.select(sa.func.count()).select_from(AppealMail)) == 0


def test_one_person_signs_once_however_their_provider_lets_them_write_the_address(store, keys, appeal, mailbox):
    _sign(store, keys, "firstlast@gmail.com", public_name=True)
    _confirm_all(store, keys, mailbox)
    for spelling in ("First.Last+x@gmail.com", "FIRSTLAST@GoogleMail.com", "f.i.r.s.t.last+appeal@gmail.com"):
        assert _sign(store, keys, spelling, public_name=True) == {"status": "check-your-email", "queued": False}
    _confirm_all(store, keys, mailbox)
    assert _counts(store)["verified"] == 1 and len(mailbox.messages) == 1
    # Where the provider keeps dots meaningful, two dotted spellings are two people.
    _sign(store, keys, "first.last@example.org", name="Someone Else")
    _sign(store, keys, "firstlast@example.org", name="Another Person")
    assert _counts(store)["pending"] == 2


def test_a_count_only_signer_is_counted_and_never_named(store, keys, appeal, mailbox):
    _sign(store, keys, "quiet@example.org", name="Quiet Signer", public_name=False, country="Iran")
    assert _confirm_all(store, keys, mailbox) == [{"status": "verified", "public": False, "version": 1}]
    page = public_page(store, "inquiry")
    assert page["counts"]["verified"] == 1 and page["counts"]["public_names"] == 0
    assert page["named_by_country"] == {} and page["signatories"] == []
    with store.session() as session:
        assert session.scalar(sa.select(Signature.public_name)) is None


def test_the_public_counts_by_country_do_not_tell_that_someone_of_a_country_signed_unnamed(store, keys, appeal,
                                                                                          mailbox):
    """Counts by country of every signer, beside the named signers' countries, told that one more
    person of Norway signed than Norway's names: the public see only the named signers' countries;
    the total stays whole, and the campaign's team still see every country."""
    _sign(store, keys, "named.one@example.org", name="Synthetic Named One", public_name=True, country="Norway")
    _sign(store, keys, "quiet.one@example.org", name="Synthetic Quiet One", public_name=False, country="Norway")
    _sign(store, keys, "quiet.two@example.org", name="Synthetic Quiet Two", public_name=False, country="Chile")
    _confirm_all(store, keys, mailbox)
    page = public_page(store, "inquiry")
    assert page["counts"]["verified"] == 3 and page["counts"]["public_names"] == 1
    assert page["named_by_country"] == {"Norway": 1} and "by_country" not in page
    assert "Chile" not in repr(page)
    assert [p["country"] for p in page["signatories"]] == ["Norway"]
    assert show_appeal(store, "inquiry")["by_country"] == {"Norway": 2, "Chile": 1}


def test_withdrawal_stops_the_count_and_erases_the_signer(store, keys, appeal, mailbox):
    _sign(store, keys, "changed.mind@example.org", name="Changed Mind", public_name=True)
    _confirm_all(store, keys, mailbox)
    token = mailbox.links("withdraw")[0].rsplit("/", 1)[1]
    assert withdraw(store, "inquiry", token) == {"status": "withdrawn"}
    assert _counts(store)["verified"] == 0 and _counts(store)["withdrawn"] == 1
    assert public_page(store, "inquiry")["signatories"] == []
    with store.session() as session:
        row = session.scalar(sa.select(Signature))
        assert row.identity_sealed is None and row.public_name is None and row.withdrawn_at is not None
    with pytest.raises(NotFound):
        withdraw(store, "inquiry", token)
    # They may sign again later; it is the same signature, pending once more.
    assert _sign(store, keys, "changed.mind@example.org", name="Changed Mind")["queued"]
    assert _counts(store)["pending"] == 1 and _counts(store)["withdrawn"] == 0


def test_the_same_name_in_another_script_from_another_address_waits_for_a_moderator(store, keys, appeal, mailbox):
    _sign(store, keys, "sara@example.org", name="Sara Ahmadi", public_name=True)
    _sign(store, keys, "s.ahmadi@example.net", name="سارا احمدی", public_name=True)
    statuses = sorted(c["status"] for c in _confirm_all(store, keys, mailbox))
    assert statuses == ["held", "verified"]
    assert _counts(store)["verified"] == 1 and _counts(store)["awaiting_moderation"] == 1
    queue = moderation_queue(store, keys, "inquiry", actor=TESTER)
    held = queue["signatures"][0]
    assert held["flag"] == "duplicate" and held["name"] == "سارا احمدی" and held["email_domain"] == "example.net"
    assert held["duplicate_of"]["name"] == "Sara Ahmadi"
    decide(store, keys, "inquiry", [held["id"]], actor=TESTER, decision="reject", reason="the same person")
    assert _counts(store)["verified"] == 1 and _counts(store)["rejected"] == 1


def test_an_organisation_counts_once_a_reviewer_vouches_for_it(store, keys, appeal, mailbox):
    _sign(store, keys, "office@ngo.example", name="Justice Watch", kind="organisation", public_name=True)
    assert _confirm_all(store, keys, mailbox)[0]["status"] == "held"
    assert public_page(store, "inquiry")["signatories"] == []
    number = moderation_queue(store, keys, "inquiry", actor=TESTER)["signatures"][0]["id"]
    decide(store, keys, "inquiry", [number], actor=TESTER, decision="approve")
    page = public_page(store, "inquiry")
    assert page["by_kind"] == {"person": 0, "organisation": 1}
    assert [(p["name"], p["kind"]) for p in page["signatories"]] == [("Justice Watch", "organisation")]


def test_a_pending_signature_cannot_be_approved_past_its_email(store, keys, appeal):
    _sign(store, keys, "unconfirmed@example.org")
    with pytest.raises(InputError, match="only a confirmed signature"):
        decide(store, keys, "inquiry", [1], actor=TESTER, decision="approve")


def test_a_bot_filling_the_hidden_field_gets_the_same_answer_and_stores_nothing(store, keys, appeal):
    assert _sign(store, keys, "bot@example.org", honeypot="http://spam.example") == {"status": "check-your-email",
                                                                                  "queued": False}
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Signature)) == 0


def test_one_address_is_throttled_and_its_burst_goes_to_a_moderator(store, keys, appeal):
    limits = SigningLimits(requests=6, pending=10, suspicious=2)
    for i in range(6):
        _sign(store, keys, f"person{i}@example.org", name=NAMES[i], address="203.0.113.9", limits=limits)
    with pytest.raises(Throttled) as refused:
        _sign(store, keys, "one.more@example.org", address="203.0.113.9", limits=limits)
    assert refused.value.retry_after == 3600
    _sign(store, keys, "elsewhere@example.org", name="Other Network", address="198.51.100.7", limits=limits)
    with store.session() as session:
        flags = dict(session.execute(sa.select(Signature.id, Signature.flag).order_by(Signature.id)).all())
    assert [flags[i] for i in range(1, 8)] == [None, None, "suspicious", "suspicious", "suspicious", "suspicious", None]


def test_unconfirmed_signatures_from_one_address_are_bounded(store, keys, appeal):
    limits = SigningLimits(requests=100, pending=3)
    for i in range(3):
        _sign(store, keys, f"p{i}@example.org", name=NAMES[i], address="203.0.113.10", limits=limits)
    with pytest.raises(Throttled, match="unconfirmed"):
        _sign(store, keys, "p9@example.org", name=NAMES[9], address="203.0.113.10", limits=limits)


def test_confirmation_mail_to_one_address_is_bounded(store, keys, appeal, mailbox):
    limits = SigningLimits(mails=2)
    for _ in range(5):
        _sign(store, keys, "again@example.org", limits=limits)
        send_queued_mail(store, keys, mailbox.settings)
    assert len(mailbox.messages) == 2


def test_each_signature_keeps_the_version_it_was_given_on(store, keys, appeal, mailbox, tmp_path):
    _sign(store, keys, "early@example.org", name="Early Signer", public_name=True)
    _confirm_all(store, keys, mailbox)
    text = tmp_path / "v2.txt"
    text.write_text("A corrected letter.\n\nWith a second paragraph.", encoding="utf-8")
    revised = revise_appeal(store, "inquiry", actor=TESTER, text=text)
    assert revised["version"] == 2
    _sign(store, keys, "late@example.org", name="Late Signer", public_name=True)
    _confirm_all(store, keys, mailbox)
    page = public_page(store, "inquiry")
    assert page["version"] == 2 and page["text"].startswith("A corrected letter.")
    assert {p["name"]: p["version"] for p in page["signatories"]} == {"Early Signer": 1, "Late Signer": 2}
    shown = show_appeal(store, "inquiry")
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][0]["sha256"] != shown["versions"][1]["sha256"]
    assert [c["action"] for c in page["corrections"]] == ["appeal revised"]


def test_a_closed_appeal_takes_no_signatures_and_a_draft_has_no_page(store, keys, appeal, tmp_path):
    from dadkhah.appeal import close_appeal, create_appeal

    close_appeal(store, "inquiry", actor=TESTER)
    with pytest.raises(InputError, match="not taking signatures"):
        _sign(store, keys, "late@example.org")
    create_appeal(store, actor=TESTER, slug="draft-one", title="Draft", text="Not yet.", addressee="Nobody yet")
    with pytest.raises(NotFound):
        public_page(store, "draft-one")


def test_a_bad_address_or_name_is_refused_with_its_field(store, keys, appeal):
    for email in ("", "no-at-sign", "two@@example.org", "a@b", "x@exa mple.org", "a" * 250 + "@example.org"):
        with pytest.raises(InputError) as refused:
            _sign(store, keys, email)
        assert refused.value.field == "email"
    with pytest.raises(InputError) as refused:
        _sign(store, keys, "ok@example.org", name="   ")
    assert refused.value.field == "name"
    with pytest.raises(InputError) as refused:
        _sign(store, keys, "ok@example.org", kind="robot")
    assert refused.value.field == "kind"
    # a name that would show reversed (a right-to-left override) or hold a terminal's escape
    for name in ("Jane\u202eeoR", "Jane \u2067Roe\u2069", "Jane\x1b[31mRoe"):
        with pytest.raises(InputError, match="text-direction") as refused:
            _sign(store, keys, "ok@example.org", name=name)
        assert refused.value.field == "name"


def test_signing_needs_the_keys(store, appeal):
    with pytest.raises(InputError, match="keys"):
        sign(store, None, "inquiry", name="No Keys", email="x@example.org", base_url=BASE_URL)


def test_mail_that_fails_is_retried_later_with_its_error_kept(store, keys, appeal, mailbox):
    from dataclasses import replace

    from dadkhah.model.base import utcnow

    _sign(store, keys, "retry@example.org")
    down = replace(mailbox.settings, port=1, timeout=2)  # nothing listens there
    assert send_queued_mail(store, keys, down) == {"sent": 0, "failed": 1, "skipped": 0}
    with store.session() as session:
        mail = session.scalar(sa.select(AppealMail))
        assert mail.attempts == 1 and "Error" in mail.last_error and mail.next_try_at > utcnow()
        mail.next_try_at = utcnow()
    assert show_appeal(store, "inquiry")["mail"] == {"queued": 1, "failed": 0}
    assert send_queued_mail(store, keys, mailbox.settings)["sent"] == 1


def test_client_addresses_are_forgotten_once_throttling_no_longer_needs_them(store, keys, appeal):
    from datetime import timedelta

    from dadkhah.appeal import forget_addresses
    from dadkhah.model import AppealRequest
    from dadkhah.model.base import utcnow

    _sign(store, keys, "old@example.org", name=NAMES[0], address="203.0.113.50")
    _sign(store, keys, "new@example.org", name=NAMES[1], address="203.0.113.51")
    with store.session() as session:
        session.get(Signature, 1).created_at = utcnow() - timedelta(hours=2)
        session.execute(sa.update(AppealRequest).where(AppealRequest.id == 1).values(at=utcnow() - timedelta(hours=2)))
    with store.session() as session:
        assert forget_addresses(session) == 2
    with store.session() as session:
        kept = dict(session.execute(sa.select(Signature.id, Signature.address_index)).all())
        assert kept[1] is None and kept[2] is not None
        assert session.scalar(sa.select(sa.func.count()).select_from(AppealRequest)) == 1
