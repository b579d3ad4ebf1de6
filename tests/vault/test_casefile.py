"""Case files: a valid signed BagIt bag, consent respected, and every kind of tampering caught."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import bagit
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dadkhah.errors import InputError
from dadkhah.registry.persons import withhold_person
from dadkhah.vault.casefile import export_casefile
from dadkhah.vault.custody import events_for
from dadkhah.vault.evidence import add_evidence
from dadkhah.vault.keys import fingerprint, public_key_bytes
from dadkhah.vault.testimony import add_testimony
from dadkhah.vault.verify import verify_casefile
from tests.conftest import TESTER, write
from tests.vault.conftest import make_persons
from tests.vault.test_evidence import jpeg_with_gps

WITNESS = "Synthetic Witness Delta"


def _case(store, keys, tmp_path) -> list[str]:
    persons = make_persons(store, tmp_path, count=2)
    (tmp_path / "photo.jpg").write_bytes(jpeg_with_gps())
    add_evidence(store, keys, [tmp_path / "photo.jpg"], about=persons[:1], description="courtyard", actor=TESTER)
    (tmp_path / "public.bin").write_bytes(b"public synthetic poster " * 100)
    add_evidence(store, keys, [tmp_path / "public.bin"], about=persons[:1], release=["public", "investigators"], actor=TESTER)
    text = write(tmp_path / "t1.txt", "Synthetic transcript one, for investigators only.\n")
    add_testimony(store, keys, witness_name=WITNESS, witness_contact="synthetic contact", transcript=text, language="en",
                  consent="investigators", about=persons[:1], interviewer="Synthetic Interviewer", actor=TESTER)
    text2 = write(tmp_path / "t2.txt", "Synthetic transcript two, public.\n")
    add_testimony(store, keys, witness_name="Synthetic Witness Echo", transcript=text2, language="en",
                  consent="investigators,courts,public", about=persons[1:], actor=TESTER)
    return persons


@pytest.fixture
def casefile(store, keys, tmp_path):
    persons = _case(store, keys, tmp_path)
    out = tmp_path / "handover" / "un"
    result = export_casefile(store, keys, out, recipient="Synthetic Tribunal", scope="investigators", persons=persons[:1], actor=TESTER)
    return out, result


def all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_the_bag_validates_and_carries_what_consent_allows(store, keys, casefile):
    out, result = casefile
    assert (result["casefile"], result["persons"], result["testimonies"], result["evidence"]) == ("C-0001", 1, 1, 2)
    bagit.Bag(str(out)).validate()  # the bagit library's own check
    report = verify_casefile(out, expect_key=keys.fingerprint)
    assert report["valid"], report["problems"]
    info = (out / "bag-info.txt").read_text()
    assert "Recipient: Synthetic Tribunal" in info and "Scope: investigators" in info and keys.fingerprint in info
    document = json.loads((out / "data" / "casefile.json").read_text())
    assert [p["person_id"] for p in document["persons"]] == ["P-000001"] and document["persons"][0]["records"]
    [testimony] = document["testimonies"]
    assert testimony["witness"] == "W-0001" and testimony["interviewer"] == "Synthetic Interviewer"
    assert (out / testimony["transcript"]["path"]).read_text() == "Synthetic transcript one, for investigators only.\n"
    photo = next(e for e in document["evidence"] if e["media_type"] == "image/jpeg")
    assert (out / photo["path"]).read_bytes() == jpeg_with_gps() and photo["metadata"]["exif"]["gps"]
    events = [json.loads(line) for line in (out / "data" / "custody.jsonl").read_text().splitlines()]
    assert {e["item_id"] for e in events} == {"E-000001", "E-000002", "T-0001", "C-0001"}
    assert WITNESS.encode() not in all_bytes(out) and b"synthetic contact" not in all_bytes(out)
    with store.session() as session:
        assert events_for(session, "T-0001")[-1]["action"] == "exported"
        assert events_for(session, "C-0001")[0]["details"]["recipient"] == "Synthetic Tribunal"


def test_scope_follows_consent_and_public_files_carry_no_private_metadata(store, keys, tmp_path):
    _case(store, keys, tmp_path)
    courts = export_casefile(store, keys, tmp_path / "courts", recipient="Court", scope="courts", everything=True, actor=TESTER)
    assert (courts["testimonies"], courts["evidence"]) == (1, 1)  # T-0001 consented to investigators only
    public = export_casefile(store, keys, tmp_path / "public", recipient="Press", scope="public", everything=True, actor=TESTER)
    document = json.loads((tmp_path / "public" / "data" / "casefile.json").read_text())
    assert [t["id"] for t in document["testimonies"]] == ["T-0002"] and "interviewer" not in document["testimonies"][0]
    assert [e["id"] for e in document["evidence"]] == ["E-000002"] and "metadata" not in document["evidence"][0]
    assert public["persons"] == 2 and verify_casefile(tmp_path / "public")["valid"]


def test_a_public_case_file_holds_no_withheld_person(store, keys, tmp_path):
    """Withheld at the family's request, a person is kept out of everything published: a case file for
    the public refuses them by name and leaves them out of "everything", saying how many; a case
    file for investigators still holds them."""
    persons = _case(store, keys, tmp_path)
    withhold_person(store, persons[0], actor=TESTER, reason="WITHHELD-REASON-MARKER")
    with pytest.raises(InputError, match=f"{persons[0]} withheld") as refused:
        export_casefile(store, keys, tmp_path / "named", recipient="Press", scope="public", persons=persons, actor=TESTER)
    assert refused.value.field == "persons" and not (tmp_path / "named").exists()
    public = export_casefile(store, keys, tmp_path / "public", recipient="Press", scope="public", everything=True,
                             actor=TESTER)
    assert (public["persons"], public["withheld_left_out"]) == (1, 1)
    document = json.loads((tmp_path / "public" / "data" / "casefile.json").read_text())
    assert [p["person_id"] for p in document["persons"]] == [persons[1]]
    assert b"WITHHELD-REASON-MARKER" not in all_bytes(tmp_path / "public")
    # nor what is about them: the poster released to the public, being about the withheld person, stays out
    assert document["evidence"] == [] and [t["id"] for t in document["testimonies"]] == ["T-0002"]
    # nor an official's victims naming them (their names came along in the dossier)
    from dadkhah.vault.casefile import _without

    dossier = {"acts": [{"claims": [{"victims": [{"person": persons[0], "name": "Withheld Name"},
                                                 {"person": persons[1], "name": "Shown Name"}]}]}],
               "victims_as_persons": [persons[0], persons[1]], "burial": {"victim": {"person": persons[0]}}}
    assert _without(dossier, {persons[0]}) == {
        "acts": [{"claims": [{"victims": [{"person": persons[1], "name": "Shown Name"}]}]}],
        "victims_as_persons": [persons[1]], "burial": {"victim": None}}
    investigators = export_casefile(store, keys, tmp_path / "inv", recipient="UN", scope="investigators",
                                    persons=persons, actor=TESTER)
    assert investigators["persons"] == 2 and investigators["withheld_left_out"] == 0


def test_a_one_byte_change_is_caught_and_the_file_named(casefile):
    out, _ = casefile
    photo = next((out / "data" / "evidence").glob("*.jpg"))
    raw = bytearray(photo.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    photo.write_bytes(bytes(raw))
    report = verify_casefile(out)
    assert not report["valid"]
    named = {p["file"] for p in report["problems"]}
    assert f"data/evidence/{photo.name}" in named


def test_a_re_manifested_forgery_is_caught_by_the_signature(casefile):
    out, _ = casefile
    transcript = next((out / "data" / "testimonies").glob("*.txt"))
    transcript.write_text("A forged statement.\n")
    bag = bagit.Bag(str(out))
    bag.save(manifests=True)  # the forger rewrites manifest and tag manifest
    bag.validate()  # the bag alone now looks fine ...
    report = verify_casefile(out)
    assert not report["valid"]  # ... but not to us
    problems = " ".join(f"{p['file']}: {p['problem']}" for p in report["problems"])
    assert "tagmanifest-sha256.txt: the signature does not match" in problems
    assert f"data/testimonies/{transcript.name}" in problems  # casefile.json still records the true SHA-256


def test_a_forger_who_re_signs_with_their_own_key_fails_the_expected_fingerprint(casefile, keys):
    out, _ = casefile
    photo = next((out / "data" / "evidence").glob("*.jpg"))
    photo.write_bytes(b"not the photo")
    document = json.loads((out / "data" / "casefile.json").read_text())
    for entry in document["evidence"]:
        if entry["path"].endswith(photo.name):
            import hashlib

            entry["sha256"] = hashlib.sha256(b"not the photo").hexdigest()
    forger = Ed25519PrivateKey.generate()
    public = public_key_bytes(forger)
    document["instance_key"] = {"algorithm": "Ed25519", "public_key": base64.b64encode(public).decode(),
                                "fingerprint": fingerprint(public)}
    (out / "data" / "casefile.json").write_text(json.dumps(document))
    (out / "data" / "custody.jsonl").write_text("")
    bagit.Bag(str(out)).save(manifests=True)
    signature = json.loads((out / "signature.json").read_text())
    signature |= {"public_key": base64.b64encode(public).decode(), "fingerprint": fingerprint(public),
                  "signature": base64.b64encode(forger.sign((out / "tagmanifest-sha256.txt").read_bytes())).decode()}
    (out / "signature.json").write_text(json.dumps(signature))
    assert verify_casefile(out)["fingerprint"] == fingerprint(public)  # only the fingerprint gives it away
    report = verify_casefile(out, expect_key=keys.fingerprint)
    assert not report["valid"] and any("not the expected" in p["problem"] for p in report["problems"])


def test_added_files_are_caught(casefile):
    out, _ = casefile
    (out / "data" / "extra.txt").write_text("slipped in")
    (out / "notes.txt").write_text("slipped in too")
    named = {p["file"] for p in verify_casefile(out)["problems"]}
    assert {"data/extra.txt", "notes.txt"} <= named


def test_exports_refuse_unsafe_destinations_and_empty_selections(store, keys, tmp_path):
    _case(store, keys, tmp_path)
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    with pytest.raises(InputError, match="not an empty folder"):
        export_casefile(store, keys, full, recipient="R", scope="courts", everything=True, actor=TESTER)
    with pytest.raises(InputError, match="inside the workspace"):
        export_casefile(store, keys, store.workspace.path / "out", recipient="R", scope="courts", everything=True, actor=TESTER)
    for request, field in [({"scope": "courts"}, "persons"), ({"scope": "friends", "everything": True}, "scope"),
                           ({"scope": "courts", "persons": ["P-999999"]}, "persons"),
                           ({"scope": "courts", "everything": True, "recipient": " "}, "recipient")]:
        with pytest.raises(InputError) as refused:
            export_casefile(store, keys, tmp_path / "none", actor=TESTER, **({"recipient": "R"} | request))
        assert refused.value.field == field
    assert not (tmp_path / "none").exists() and not list(tmp_path.glob(".none*"))
    assert os.listdir(full) == ["x"]
    taken = tmp_path / "taken.zip"
    taken.write_text("x")
    with pytest.raises(InputError) as refused:  # a case file is always a new file: nothing offers to replace one
        export_casefile(store, keys, taken, recipient="R", scope="courts", everything=True, actor=TESTER, as_zip=True)
    assert refused.value.field == "out" and "replace" not in refused.value.message and taken.read_text() == "x"
