"""Testimonies: pseudonymous witnesses, sealed transcripts, consent and every reading recorded."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from dadkhah import model
from dadkhah.errors import InputError
from dadkhah.vault.custody import events_for
from dadkhah.vault.testimony import add_testimony, list_testimonies, show_testimony
from tests.conftest import TESTER, write
from tests.vault.conftest import make_persons

TRANSCRIPT = "He was taken from ward 3 in the summer of 1367 (synthetic transcript for tests).\n"


def test_a_witness_keeps_one_pseudonym_and_the_name_is_never_stored_in_clear(store, keys, tmp_path):
    persons = make_persons(store, tmp_path, count=2)
    text = write(tmp_path / "t.txt", TRANSCRIPT)
    first = add_testimony(store, keys, witness_name="Synthetic Witness Alpha", witness_contact="+00 0000 0000",
                          transcript=text, language="en", consent="investigators,courts", about=persons[:1],
                          place="Rasht", interviewer="Synthetic Interviewer", actor=TESTER)
    assert (first["id"], first["witness"], first["new_witness"]) == ("T-0001", "W-0001", True)
    assert first["consent"] == ["investigators", "courts"] and first["about"] == persons[:1] and first["place_id"]
    again = add_testimony(store, keys, witness_name="  synthetic   WITNESS alpha ", transcript=text, language="en",
                          consent=["public", "courts"], actor=TESTER)
    assert (again["id"], again["witness"], again["new_witness"]) == ("T-0002", "W-0001", False)
    assert again["consent"] == ["courts", "public"]
    other = add_testimony(store, keys, witness_name="شاهد آزمایشی", transcript=text, language="fa", consent="courts", actor=TESTER)
    assert other["witness"] == "W-0002"
    with store.session() as session:
        for row in session.scalars(sa.select(model.Witness)):
            assert b"Synthetic" not in row.name_sealed and b"+00" not in (row.contact_sealed or b"")
        for row in session.scalars(sa.select(model.Testimony)):
            assert b"ward 3" not in row.transcript_sealed
        listed = list_testimonies(session)
    assert "Synthetic Witness Alpha" not in repr(listed) and [t["witness"] for t in listed] == ["W-0001", "W-0001", "W-0002"]


def test_reading_and_revealing_are_recorded(store, keys, tmp_path):
    text = write(tmp_path / "t.txt", TRANSCRIPT)
    add_testimony(store, keys, witness_name="Synthetic Witness Beta", witness_contact="synthetic@example.org",
                  transcript=text, language="en", consent="investigators", interviewer="Synthetic Interviewer", actor=TESTER)
    shown = show_testimony(store, keys, "T-0001", actor=TESTER)
    assert shown["transcript"] == TRANSCRIPT and shown["interviewer"] == "Synthetic Interviewer"
    assert "witness_name" not in shown
    revealed = show_testimony(store, keys, "t-0001", reveal_witness=True, actor=TESTER)
    assert (revealed["witness_name"], revealed["witness_contact"]) == ("Synthetic Witness Beta", "synthetic@example.org")
    with store.session() as session:
        assert [e["action"] for e in events_for(session, "T-0001")] == ["recorded", "viewed", "viewed"]
        witness_events = events_for(session, "W-0001")
    assert [e["action"] for e in witness_events] == ["recorded", "identity revealed"]
    assert "Beta" not in repr(witness_events)


def test_transcripts_in_other_encodings_and_bad_inputs(store, keys, tmp_path):
    persian = "شاهد گفت که او را در تابستان بردند.\n"
    path = tmp_path / "fa.txt"
    path.write_bytes(persian.encode("cp1256"))
    add_testimony(store, keys, witness_name="Synthetic Witness Gamma", transcript=path, language="fa", consent="courts", actor=TESTER)
    assert show_testimony(store, keys, "T-0001", actor=TESTER)["transcript"] == persian
    binary = tmp_path / "audio.bin"
    binary.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(InputError, match="audio.bin"):
        add_testimony(store, keys, witness_name="W", transcript=binary, language="fa", consent="courts", actor=TESTER)
    for kwargs, field in [({"language": "Persian"}, "language"), ({"consent": "everyone"}, "consent"),
                          ({"witness_name": "   "}, "witness_name"), ({"about": ["P-999999"]}, "about"),
                          ({"transcript": b""}, "transcript"), ({"transcript": b"x" * (20 * 1024 * 1024 + 1)}, "transcript")]:
        with pytest.raises(InputError) as refused:
            add_testimony(store, keys, actor=TESTER,
                          **({"witness_name": "W", "transcript": path, "language": "fa", "consent": "courts"} | kwargs))
        assert refused.value.field == field
    uploaded = add_testimony(store, keys, actor=TESTER, witness_name="Synthetic Witness Gamma", language="fa",
                             consent="courts", transcript=persian.encode("utf-16"))
    assert show_testimony(store, keys, uploaded["id"], actor=TESTER)["transcript"] == persian
    with store.session() as session:
        assert len(list_testimonies(session)) == 2


def test_a_witness_found_by_name_is_reported_and_no_contact_is_ever_replaced(store, keys, tmp_path):
    """Two people may share a name: the second testimony joins the first one's witness (the merge by
    name is documented) but says so, and the first contact, maybe the only way to reach the first
    witness, is kept; each testimony reveals the contact it was given with, beside the others."""
    text = write(tmp_path / "t.txt", TRANSCRIPT)
    first = add_testimony(store, keys, witness_name="Synthetic Parvaneh Example", witness_contact="+00 111 0000",
                          transcript=text, language="en", consent="investigators", actor=TESTER)
    assert (first["name_matched"], first["contact"]) == (None, "first")
    second = add_testimony(store, keys, witness_name="Synthetic  Parvaneh  EXAMPLE", witness_contact="+00 222 0000",
                           transcript=text, language="en", consent="investigators", actor=TESTER)
    assert second["witness"] == first["witness"] == "W-0001" and not second["new_witness"]
    assert (second["name_matched"], second["earlier_testimonies"], second["contact"]) == ("W-0001", ["T-0001"], "added")
    again = add_testimony(store, keys, witness_name="synthetic parvaneh example", witness_contact="+00 111 0000",
                          transcript=text, language="en", consent="investigators", actor=TESTER)
    assert (again["earlier_testimonies"], again["contact"]) == (["T-0001", "T-0002"], "known")

    of_first = show_testimony(store, keys, "T-0001", reveal_witness=True, actor=TESTER)
    assert of_first["witness_contact"] == "+00 111 0000"
    assert of_first["witness_contacts"] == [{"contact": "+00 111 0000", "testimony": "T-0001"},
                                            {"contact": "+00 222 0000", "testimony": "T-0002"}]
    assert show_testimony(store, keys, "T-0002", reveal_witness=True, actor=TESTER)["witness_contact"] == "+00 222 0000"
    assert show_testimony(store, keys, "T-0003", reveal_witness=True, actor=TESTER)["witness_contact"] == "+00 111 0000"
    with store.session() as session:
        assert [e["action"] for e in events_for(session, "W-0001")][:2] == ["recorded", "contact added"]
        added = session.scalars(sa.select(model.AuditEvent).where(model.AuditEvent.action == "testimony added")
                                .order_by(model.AuditEvent.id)).all()
        for row in session.scalars(sa.select(model.Testimony)):
            assert b"+00" not in (row.witness_contact_sealed or b"")
    assert [(json.loads(a.details)["name_matched"], json.loads(a.details)["contact"]) for a in added] == [
        (None, "first"), ("W-0001", "added"), ("W-0001", "known")]
