"""The vault in the browser: testimonies, evidence, the custody log and case files, through the real
app, SQLite and the served case's keys. Every decryption must leave a custody event AND an audit
event, written together or not at all; nothing sealed may reach an audit event."""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from dadkhah.audit import list_audit
from dadkhah.model import CustodyEvent
from dadkhah.model import Testimony as SealedTestimony
from dadkhah.vault.custody import events_for
from dadkhah.vault.verify import verify_casefile
from dadkhah.web import WebSettings, create_app
from tests.web.conftest import log_in, login

TRANSCRIPT = "Synthetic testimony: a guard read names aloud in the corridor.\n"
WITNESS = "Synthetic Witness"
LEDGER = b"page,line\n1,synthetic\n"


class _Leftovers:
    """What plaintext may pass through: the workspace's private space, and the system's temporary
    folder (which nothing should use); ``iterdir()`` lists what is left in either."""

    def __init__(self, *folders: Path):
        self.folders = folders

    def iterdir(self):
        return [entry for folder in self.folders if folder.is_dir() for entry in folder.iterdir()]


@pytest.fixture(autouse=True)
def private_tmp(tmp_path, monkeypatch, web_store_path):
    """Where the app may stage plaintext, watched so that a test can see it is removed (and that
    nothing goes to the system's temporary folder at all)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return _Leftovers(folder, web_store_path / "private")


def _page(answer) -> BeautifulSoup:
    return BeautifulSoup(answer.text, "html.parser")


SESSION_ACTIONS = {"login", "logout", "language set"}


def _audit(app, **filters) -> list[dict]:
    """The audit events about the vault taken through the web, oldest first (logging in and out is
    recorded too: left out; so is what the served case was built with, at the command line)."""
    with app.state.store.session() as session:
        events = list_audit(session, limit=None, newest_first=False, **filters)
    return [e for e in events if e["action"] not in SESSION_ACTIONS and e["channel"] == "web"]


def _says(error, said: str) -> bool:
    """Whether a page's error names ``said``, in its message or as the field it is about."""
    return said in error.text or said in (error.get("data-field") or "")


def _custody(app, item_id: str) -> list[dict]:
    with app.state.store.session() as session:
        return events_for(session, item_id)


def _all_audit_text(app) -> str:
    return json.dumps(_audit(app), ensure_ascii=False)


# ----- testimonies -------------------------------------------------------------------------------


def test_the_testimony_list_and_its_json_twin_agree_and_show_nothing_sealed(app, as_role):
    client = as_role("investigator")
    data = client.get("/api/v1/testimonies").json()
    assert data["page"] == 1 and data["has_next"] is False
    [item] = data["testimonies"]
    assert item["id"] == "T-0001" and item["witness"] == "W-0001" and item["about"] == ["P-000001"]
    assert item["consent"] == ["investigators", "courts"] and item["language"] == "en"
    answer = client.get("/testimonies")
    rows = _page(answer).select("#testimonies tbody tr")
    assert [r["data-id"] for r in rows] == ["T-0001"]
    assert rows[0].select_one(".witness").text == "W-0001"
    assert rows[0].select_one(".about").text == "P-000001"
    for text in (answer.text, json.dumps(data)):
        assert WITNESS not in text and "guard read names" not in text
    assert _custody(app, "T-0001")[-1]["action"] == "recorded", "listing decrypts nothing and records nothing"


def test_reading_a_testimony_shows_its_transcript_with_custody_and_audit_events(app, as_role):
    client = as_role("investigator")
    answer = client.get("/testimonies/T-0001")
    assert answer.status_code == 200
    page = _page(answer)
    assert page.select_one("#transcript").text == TRANSCRIPT
    assert page.select_one("#witness").text == "W-0001" and WITNESS not in answer.text
    assert "no-store" in answer.headers["cache-control"]
    viewed = [e for e in _custody(app, "T-0001") if e["action"] == "viewed"]
    read = [e for e in _audit(app, object_id="T-0001") if e["action"] == "testimony read"]
    assert len(viewed) == 1 and viewed[0]["actor"] == "investigator"
    assert len(read) == 1 and read[0]["actor"] == "investigator" and read[0]["object_kind"] == "testimony"
    data = client.get("/api/v1/testimonies/t-0001").json()
    assert data["transcript"] == TRANSCRIPT and data["id"] == "T-0001" and "witness_name" not in data
    assert len([e for e in _custody(app, "T-0001") if e["action"] == "viewed"]) == 2
    assert len([e for e in _audit(app, object_id="T-0001") if e["action"] == "testimony read"]) == 2


def test_a_transcript_that_does_not_decrypt_writes_neither_custody_nor_audit(app, as_role):
    with app.state.store.session() as session:
        row = session.scalar(sa.select(SealedTestimony).where(SealedTestimony.testimony_id == "T-0001"))
        damaged = bytearray(row.transcript_sealed)
        damaged[-1] ^= 0xFF
        row.transcript_sealed = bytes(damaged)
    before_custody, before_audit = len(_custody(app, "T-0001")), len(_audit(app))
    client = as_role("investigator")
    answer = client.get("/api/v1/testimonies/T-0001")
    assert answer.status_code == 400 and "does not open" in answer.json()["error"]["message"]
    assert client.get("/testimonies/T-0001").status_code == 400
    assert len(_custody(app, "T-0001")) == before_custody, "no custody event for a reading that failed"
    assert len(_audit(app)) == before_audit, "no audit event for a reading that failed"


def test_revealing_the_witness_takes_a_post_with_the_csrf_token(app, as_role):
    client = as_role("investigator")
    page = _page(client.get("/testimonies/T-0001"))
    form = page.find("form", attrs={"action": "/testimonies/T-0001/reveal-witness"})
    assert form["method"] == "post" and form.find("input", attrs={"name": "csrf_token"})["value"] == client.csrf
    assert client.get("/testimonies/T-0001/reveal-witness").status_code == 405
    assert client.post("/testimonies/T-0001/reveal-witness", data={}).status_code == 403
    assert client.post("/api/v1/testimonies/T-0001/reveal-witness").status_code == 403
    assert not [e for e in _audit(app) if e["action"] == "witness identity revealed"]
    assert not [e for e in _custody(app, "W-0001") if e["action"] == "identity revealed"]

    answer = client.post("/testimonies/T-0001/reveal-witness", data={"csrf_token": client.csrf})
    assert answer.status_code == 200 and "no-store" in answer.headers["cache-control"]
    shown = _page(answer)
    assert shown.select_one("#witness-name").text == WITNESS
    assert shown.select_one("#transcript").text == TRANSCRIPT
    revealed = [e for e in _audit(app) if e["action"] == "witness identity revealed"]
    assert len(revealed) == 1 and revealed[0]["object_id"] == "W-0001"
    assert revealed[0]["details"] == {"testimony": "T-0001"} and revealed[0]["actor"] == "investigator"
    assert [e["action"] for e in _custody(app, "W-0001")][-1] == "identity revealed"
    again = client.get("/testimonies/T-0001")
    assert WITNESS not in again.text, "a later view does not show the identity again"

    data = client.post("/api/v1/testimonies/T-0001/reveal-witness", headers={"X-CSRF-Token": client.csrf}).json()
    assert data["witness_name"] == WITNESS and data["witness_contact"] is None and data["revealed"] is True
    assert len([e for e in _audit(app) if e["action"] == "witness identity revealed"]) == 2
    assert WITNESS not in _all_audit_text(app)


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_viewers_and_analysts_are_refused_the_vault(app, as_role, role):
    client = as_role(role)
    for path in ("/testimonies", "/testimonies/T-0001", "/testimonies/new", "/api/v1/testimonies/T-0001",
                 "/evidence", "/evidence/E-000001", "/evidence/E-000001/file", "/api/v1/evidence", "/custody",
                 "/api/v1/custody", "/casefile"):
        assert client.get(path).status_code == 403, path
    assert client.post("/testimonies/T-0001/reveal-witness", data={"csrf_token": client.csrf}).status_code == 403
    assert client.post("/api/v1/testimonies", json={}, headers={"X-CSRF-Token": client.csrf}).status_code == 403
    assert not _custody(app, "T-0001")[1:], "nothing was decrypted for them"
    assert not [e for e in _audit(app) if e["actor"] == role]


def _new_testimony_form(client) -> dict:
    page = _page(client.get("/testimonies/new"))
    form = page.find("form", attrs={"action": "/testimonies"})
    assert form["method"] == "post" and form["enctype"] == "multipart/form-data"
    names = {i.get("name") for i in form.find_all(["input", "textarea", "select"])}
    assert {"witness_name", "witness_contact", "transcript", "transcript_file", "language", "consent", "about",
            "place", "csrf_token"} <= names
    return {"csrf_token": form.find("input", attrs={"name": "csrf_token"})["value"]}


def test_adding_a_testimony_through_the_form(app, as_role, private_tmp):
    client = as_role("investigator")
    fields = _new_testimony_form(client) | {
        "witness_name": "Another Synthetic Witness", "witness_contact": "synthetic contact 0000",
        "transcript": "Synthetic: the second account.\r\nA second line.", "language": "en",
        "consent": ["investigators", "public"], "about": "P-000001, P-000002", "place": "Tehran"}
    answer = client.post("/testimonies", data=fields, files={"transcript_file": ("", b"", "application/octet-stream")})
    assert answer.status_code == 303 and answer.headers["location"] == "/testimonies?added=T-0002"
    listed = _page(client.get(answer.headers["location"]))
    assert listed.select_one("#added a").text == "T-0002"
    data = {t["id"]: t for t in client.get("/api/v1/testimonies").json()["testimonies"]}
    assert data["T-0002"]["witness"] == "W-0002" and data["T-0002"]["consent"] == ["investigators", "public"]
    assert data["T-0002"]["about"] == ["P-000001", "P-000002"] and data["T-0002"]["place"] == "Tehran"
    [added] = _audit(app, object_id="T-0002")
    assert added["action"] == "testimony added" and added["actor"] == "investigator"
    assert added["details"]["witness"] == "W-0002" and added["details"]["new_witness"] is True
    assert "Another Synthetic Witness" not in _all_audit_text(app) and "second account" not in _all_audit_text(app)
    assert client.get("/api/v1/testimonies/T-0002").json()["transcript"] == "Synthetic: the second account.\nA second line."
    assert not list(private_tmp.iterdir()), "the transcript's temporary file is removed"


def test_a_transcript_can_be_a_text_file_and_a_witness_named_again_keeps_their_pseudonym(app, as_role):
    client = as_role("investigator")
    text = "شهادت ساختگی: نگهبان نام‌ها را در راهرو خواند.\n"
    fields = _new_testimony_form(client) | {"witness_name": "  synthetic   WITNESS ", "language": "fa",
                                            "consent": ["courts"]}
    answer = client.post("/testimonies", data=fields,
                         files={"transcript_file": ("account.txt", text.encode("utf-16"), "text/plain")})
    assert answer.status_code == 303, answer.text
    added = client.get("/api/v1/testimonies").json()["testimonies"][-1]
    assert added["witness"] == "W-0001", "the same witness (folded spelling) keeps the same pseudonym"
    assert client.get(f"/api/v1/testimonies/{added['id']}").json()["transcript"] == text


def test_a_witness_found_by_name_is_said_and_their_earlier_contact_is_kept(app, as_role):
    """The form's answer says which witness the name matched, so the user can check it is the same
    person; a second contact is kept beside the first, and revealing shows both."""
    client = as_role("investigator")
    for contact in ("synthetic contact 1111", "synthetic contact 2222"):
        fields = _new_testimony_form(client) | {"witness_name": "SYNTHETIC   witness", "witness_contact": contact,
                                                "transcript": "Synthetic account.", "language": "en",
                                                "consent": ["courts"]}
        answer = client.post("/testimonies", data=fields,
                             files={"transcript_file": ("", b"", "application/octet-stream")})
        assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/testimonies?added=T-0003&matched=W-0001&contact=added"
    said = _page(client.get(answer.headers["location"])).select_one("#witness-matched").text
    assert "matched witness W-0001" in said and "nothing was replaced" in said
    shown = _page(client.post("/testimonies/T-0002/reveal-witness", data={"csrf_token": client.csrf}))
    assert shown.select_one("#witness-contact").text == "synthetic contact 1111"
    assert "synthetic contact 2222" in shown.select_one("#witness-other-contacts").text
    data = client.post("/api/v1/testimonies/T-0003/reveal-witness", headers={"X-CSRF-Token": client.csrf}).json()
    assert data["witness_contact"] == "synthetic contact 2222"
    assert [c["contact"] for c in data["witness_contacts"]] == ["synthetic contact 1111", "synthetic contact 2222"]
    api = client.post("/api/v1/testimonies", headers={"X-CSRF-Token": client.csrf},
                      json={"witness_name": "synthetic witness", "witness_contact": "synthetic contact 1111",
                            "transcript": "Synthetic.", "language": "en", "consent": ["courts"]}).json()
    assert (api["name_matched"], api["earlier_testimonies"], api["contact"]) == (
        "W-0001", ["T-0001", "T-0002", "T-0003"], "known")


def test_a_bad_testimony_form_is_shown_again_with_the_error_and_nothing_is_added(app, as_role):
    client = as_role("investigator")
    base = _new_testimony_form(client) | {"witness_name": "Synthetic Person", "transcript": "Synthetic words.",
                                          "language": "en"}
    cases = [({}, "consent"), ({"consent": ["courts"], "about": "P-999999"}, "P-999999"),
             ({"consent": ["courts"], "transcript": "   "}, "transcript is empty"),
             ({"consent": ["courts"], "witness_name": ""}, "witness"),
             ({"consent": ["courts"], "language": "English!"}, "language")]
    for extra, said in cases:
        answer = client.post("/testimonies", data=base | extra,
                             files={"transcript_file": ("", b"", "application/octet-stream")})
        assert answer.status_code == 400, extra
        page = _page(answer)
        assert _says(page.select_one("#error"), said), (extra, page.select_one("#error").text)
        assert page.find("textarea", attrs={"name": "transcript"}).text == (base | extra)["transcript"]
    both = client.post("/testimonies", data=base | {"consent": ["courts"]},
                       files={"transcript_file": ("t.txt", b"Synthetic file.", "text/plain")})
    assert both.status_code == 400 and "not both" in _page(both).select_one("#error").text
    binary = client.post("/testimonies", data=base | {"consent": ["courts"], "transcript": ""},
                         files={"transcript_file": ("t.txt", bytes(range(256)) * 20, "text/plain")})
    error = _page(binary).select_one("#error")
    assert binary.status_code == 400 and "looks like a binary file" in error.text and error["data-field"] == "transcript"
    assert error.select_one(".field").text == "Transcript", "the page names the field as its form does"
    assert [t["id"] for t in client.get("/api/v1/testimonies").json()["testimonies"]] == ["T-0001"]
    assert not [e for e in _audit(app) if e["action"] == "testimony added"]


def test_adding_a_testimony_through_the_api(app, as_role):
    client = as_role("investigator")
    body = {"witness_name": "Third Synthetic Witness", "transcript": "Synthetic API account.", "language": "ku",
            "consent": ["investigators"], "about": ["P-000003"], "interviewer": "Synthetic Interviewer"}
    assert client.post("/api/v1/testimonies", json=body).status_code == 403, "the API needs the CSRF header too"
    answer = client.post("/api/v1/testimonies", json=body, headers={"X-CSRF-Token": client.csrf})
    assert answer.status_code == 201
    added = answer.json()
    assert added["id"] == "T-0002" and added["about"] == ["P-000003"] and added["has_interviewer"] is True
    assert "witness_name" not in added
    assert _audit(app, object_id="T-0002")[0]["action"] == "testimony added"
    bad = client.post("/api/v1/testimonies", json=body | {"consent": ["everyone"]}, headers={"X-CSRF-Token": client.csrf})
    assert bad.status_code == 400 and "everyone" in bad.json()["error"]["message"]
    missing = client.post("/api/v1/testimonies", json={"language": "en"}, headers={"X-CSRF-Token": client.csrf})
    assert missing.status_code == 422
    shown = client.get("/api/v1/testimonies/T-0002").json()
    assert shown["interviewer"] == "Synthetic Interviewer" and shown["transcript"] == "Synthetic API account."


# ----- evidence ----------------------------------------------------------------------------------


def test_the_evidence_list_and_its_json_twin_agree(app, as_role):
    client = as_role("investigator")
    data = client.get("/api/v1/evidence").json()
    [item] = data["evidence"]
    assert item["id"] == "E-000001" and item["sha256"] == hashlib.sha256(LEDGER).hexdigest()
    assert item["size_bytes"] == len(LEDGER) and item["about"] == ["P-000001"] and item["source"] == "list-1"
    answer = client.get("/evidence")
    row = _page(answer).select_one("#evidence tbody tr")
    assert row["data-id"] == "E-000001" and row.select_one("code.sha")["title"] == item["sha256"]
    assert "ledger.csv" not in answer.text, "the original file name is sealed"


def test_opening_an_evidence_item_shows_its_metadata_with_custody_and_audit_events(app, as_role):
    client = as_role("investigator")
    page = _page(client.get("/evidence/E-000001"))
    data = client.get("/api/v1/evidence/E-000001").json()
    assert page.select_one("#original-name").text == data["original_name"] == "ledger.csv"
    assert page.select_one("#sha256").text == data["sha256"] and page.select_one("#media-type").text == data["media_type"]
    assert page.select_one("#release").text == "investigators, courts" and page.select_one("#about").text == "P-000001"
    assert page.select_one("#download")["href"] == "/evidence/E-000001/file"
    assert len([e for e in _custody(app, "E-000001") if e["action"] == "viewed"]) == 2
    read = [e for e in _audit(app, object_id="E-000001") if e["action"] == "evidence metadata read"]
    assert len(read) == 2 and "ledger" not in _all_audit_text(app)


def test_downloading_evidence_gives_the_original_bytes_verified_and_leaves_nothing_behind(app, as_role, private_tmp):
    client = as_role("investigator")
    answer = client.get("/evidence/E-000001/file")
    assert answer.status_code == 200 and answer.content == LEDGER
    sha256 = client.get("/api/v1/evidence").json()["evidence"][0]["sha256"]
    assert hashlib.sha256(answer.content).hexdigest() == sha256 == answer.headers["x-dadkhah-sha256"]
    assert answer.headers["content-disposition"] == 'attachment; filename="ledger.csv"'
    assert "no-store" in answer.headers["cache-control"]
    assert [e["action"] for e in _custody(app, "E-000001")][-1] == "retrieved"
    assert [e["action"] for e in _audit(app, object_id="E-000001")] == ["evidence file read"]
    assert client.get("/api/v1/evidence/E-000001/file").content == LEDGER
    assert not list(private_tmp.iterdir()), "the decrypted copy is removed"
    assert client.get("/evidence/E-999999/file").status_code == 404
    assert len(_audit(app)) == 2


def test_adding_evidence_through_the_multipart_form(app, as_role, private_tmp):
    client = as_role("investigator")
    page = _page(client.get("/evidence/new"))
    form = page.find("form", attrs={"action": "/evidence"})
    assert form["enctype"] == "multipart/form-data" and form.find("input", attrs={"name": "files"}).has_attr("multiple")
    photo, note = b"\x89PNG\r\n\x1a\n synthetic image bytes", "یادداشت ساختگی\n".encode()
    answer = client.post("/evidence", data={
        "csrf_token": client.csrf, "source": "family-archive", "description": "synthetic photo and note",
        "captured_at": "1988-08-10", "captured_where": "Tehran", "acquired_how": "handed over",
        "release": ["investigators", "courts", "public"], "about": "P-000002"},
        files=[("files", ("photo.png", photo, "image/png")), ("files", ("یادداشت.txt", note, "text/plain"))])
    assert answer.status_code == 303 and answer.headers["location"] == "/evidence?added=E-000002%2CE-000003"
    listed = _page(client.get(answer.headers["location"]))
    assert [a.text for a in listed.select("#added a")] == ["E-000002", "E-000003"]
    items = {e["id"]: e for e in client.get("/api/v1/evidence").json()["evidence"]}
    assert items["E-000002"]["sha256"] == hashlib.sha256(photo).hexdigest() and items["E-000002"]["source"] == "family-archive"
    assert items["E-000003"]["release"] == ["investigators", "courts", "public"] and items["E-000003"]["about"] == ["P-000002"]
    downloaded = client.get("/evidence/E-000003/file")
    assert downloaded.content == note
    assert "filename*=UTF-8''%DB%8C%D8%A7%D8%AF%D8%AF%D8%A7%D8%B4%D8%AA.txt" in downloaded.headers["content-disposition"]
    [added] = [e for e in _audit(app) if e["action"] == "evidence added"]
    assert added["object_id"] == "E-000002" and [i["id"] for i in added["details"]["items"]] == ["E-000002", "E-000003"]
    assert "photo.png" not in _all_audit_text(app) and "یادداشت" not in _all_audit_text(app)
    assert not list(private_tmp.iterdir())


def test_the_same_file_again_is_not_stored_twice(app, as_role):
    client = as_role("investigator")
    answer = client.post("/api/v1/evidence", data={"release": "investigators"},
                         files={"files": ("again.csv", LEDGER, "text/csv")}, headers={"X-CSRF-Token": client.csrf})
    assert answer.status_code == 201
    [item] = answer.json()["evidence"]
    assert item["id"] == "E-000001" and item["already_held"] is True
    assert [e["action"] for e in _custody(app, "E-000001")][-1] == "submitted again"


def test_empty_files_paths_and_bad_fields_are_refused_and_nothing_is_added(app, as_role, private_tmp):
    client = as_role("investigator")
    good = ("files", ("good.txt", b"synthetic", "text/plain"))
    cases = [([good, ("files", ("empty.txt", b"", "text/plain"))], {}, "empty"),
             ([("files", ("../escape.txt", b"synthetic", "text/plain"))], {}, "path"),
             ([("files", ("a\\b.txt", b"synthetic", "text/plain"))], {}, "path"),
             ([good], {"captured_at": "yesterday"}, "ISO 8601"),
             ([good], {"release": []}, "release"),
             ([good], {"about": "P-999999"}, "P-999999")]
    for files, extra, said in cases:
        fields = {"csrf_token": client.csrf, "release": ["courts"]} | extra
        answer = client.post("/evidence", data=fields, files=files)
        assert answer.status_code == 400, (files, extra)
        assert _says(_page(answer).select_one("#error"), said), (said, _page(answer).select_one("#error").text)
    assert client.post("/evidence", data={"csrf_token": client.csrf}).status_code == 400
    api = client.post("/api/v1/evidence", files={"files": ("../x.txt", b"x", "text/plain")},
                      headers={"X-CSRF-Token": client.csrf})
    assert api.status_code == 400 and api.json()["error"]["field"] == "files"
    assert [e["id"] for e in client.get("/api/v1/evidence").json()["evidence"]] == ["E-000001"]
    assert not _audit(app) and not list(private_tmp.iterdir())


def test_uploads_over_the_size_limit_are_refused(web_store_path):
    from dadkhah.vault.keys import load_keys
    from dadkhah.workspace import load_workspace

    keys = load_keys(load_workspace(web_store_path))
    small = create_app(WebSettings(workspace=web_store_path, keys=keys, max_upload_mb=1))
    try:
        client = login(small, "investigator")
        answer = client.post("/evidence", data={"csrf_token": client.csrf},
                             files={"files": ("big.bin", b"x" * (1024 * 1024 + 10), "application/octet-stream")})
        assert answer.status_code == 413
    finally:
        small.state.store.close()


# ----- custody -----------------------------------------------------------------------------------


def test_the_custody_page_shows_the_events_and_an_intact_chain(app, as_role):
    client = as_role("investigator")
    client.get("/testimonies/T-0001")
    data = client.get("/api/v1/custody").json()
    assert data["verification"]["valid"] is True and data["verification"]["problems"] == []
    page = _page(client.get("/custody"))
    banner = page.select_one("#chain-status")
    assert banner["data-intact"] == "true" and "intact" in banner.text and "NOT" not in banner.text
    assert [int(r["data-seq"]) for r in page.select("#custody tbody tr")] == [e["seq"] for e in data["events"]]
    assert data["events"][0]["action"] == "viewed" and data["events"][0]["item_id"] == "T-0001", "newest first"
    only = client.get("/api/v1/custody", params={"item_id": "e-000001"}).json()
    assert only["item_id"] == "E-000001" and {e["item_id"] for e in only["events"]} == {"E-000001"}
    first = client.get("/api/v1/custody", params={"per_page": 2}).json()
    second = client.get("/api/v1/custody", params={"per_page": 2, "page": 2}).json()
    assert first["has_next"] and len(first["events"]) == 2
    assert [e["seq"] for e in first["events"]] + [e["seq"] for e in second["events"]] == [e["seq"] for e in data["events"]][:4]
    assert client.get("/api/v1/custody", params={"per_page": 0}).status_code == 422
    assert client.get("/api/v1/custody", params={"page": "x"}).status_code == 422


def test_recording_a_custody_check(app, as_role):
    client = as_role("investigator")
    assert client.post("/custody/verify", data={}).status_code == 403
    answer = client.post("/custody/verify", data={"csrf_token": client.csrf})
    assert answer.status_code == 303
    assert _page(client.get(answer.headers["location"])).select_one("#checked") is not None
    assert _custody(app, "chain")[-1]["action"] == "verified"
    [event] = _audit(app, object_id="chain")
    assert event["action"] == "custody verified" and event["details"]["valid"] is True


def test_a_tampered_custody_chain_is_shown_as_not_intact(app, as_role):
    with app.state.store.session() as session:
        row = session.scalar(sa.select(CustodyEvent).order_by(CustodyEvent.seq).limit(1))
        row.details = row.details.replace("synthetic", "altered") if "synthetic" in row.details else row.details + " "
    client = as_role("investigator")
    data = client.get("/api/v1/custody").json()
    assert data["verification"]["valid"] is False
    banner = _page(client.get("/custody")).select_one("#chain-status")
    assert banner["data-intact"] == "false" and "NOT intact" in banner.text and "edited" in banner.text


# ----- case files --------------------------------------------------------------------------------


def _unzip_and_verify(content: bytes, into, fingerprint: str) -> dict:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        assert names == sorted(names), "a deterministic order"
        archive.extractall(into)
    [root] = {n.split("/")[0] for n in names}
    return verify_casefile(into / root, expect_key=fingerprint)


def test_an_admin_downloads_a_case_file_zip_that_verifies(app, as_role, tmp_path, private_tmp):
    client = as_role("admin")
    page = _page(client.get("/casefile"))
    fingerprint = page.select_one("#fingerprint").text
    assert fingerprint == app.state.settings.keys.fingerprint
    answer = client.post("/casefile", data={"csrf_token": client.csrf, "recipient": "Synthetic Tribunal",
                                            "scope": "courts", "persons": "P-000001"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == 'attachment; filename="C-0001.zip"'
    report = _unzip_and_verify(answer.content, tmp_path / "received", fingerprint)
    assert report["valid"], report["problems"]
    assert report["casefile"] == "C-0001" and report["recipient"] == "Synthetic Tribunal" and report["scope"] == "courts"
    document = json.loads((tmp_path / "received" / "C-0001" / "data" / "casefile.json").read_text(encoding="utf-8"))
    assert [t["id"] for t in document["testimonies"]] == ["T-0001"] and [e["id"] for e in document["evidence"]] == ["E-000001"]
    assert WITNESS not in json.dumps(document)
    [event] = _audit(app, object_id="C-0001")
    assert event["action"] == "case file exported" and event["actor"] == "admin"
    assert event["details"] | {"fingerprint": None} == {"recipient": "Synthetic Tribunal", "scope": "courts",
                                                       "everything": False, "persons": 1, "testimonies": 1,
                                                       "evidence": 1, "officials": [], "fingerprint": None}
    assert [e["action"] for e in _custody(app, "C-0001")] == ["created"]
    assert not list(private_tmp.iterdir()), "the case file and the zip are removed once sent"


def test_the_case_file_api_answers_with_a_zip(app, as_role, tmp_path):
    client = as_role("admin")
    answer = client.post("/api/v1/casefile", json={"recipient": "Synthetic Commission", "scope": "public",
                                                   "everything": True}, headers={"X-CSRF-Token": client.csrf})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    report = _unzip_and_verify(answer.content, tmp_path / "public", app.state.settings.keys.fingerprint)
    assert report["valid"] and report["scope"] == "public"
    document = json.loads((tmp_path / "public" / "C-0001" / "data" / "casefile.json").read_text(encoding="utf-8"))
    assert document["testimonies"] == [] and document["evidence"] == [], "nothing was consented or released to the public"
    assert len(document["persons"]) > 1


def test_a_case_file_carries_the_officials_named_in_the_form_or_the_api(app, as_role, tmp_path):
    """An official's dossier, the victims of the acts as persons and the sites, located as the scope may see them."""
    client = as_role("admin")
    answer = client.post("/casefile", data={"csrf_token": client.csrf, "recipient": "Synthetic Tribunal",
                                            "scope": "public", "officials": "O-000001"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip", answer.text[:500]
    report = _unzip_and_verify(answer.content, tmp_path / "form", app.state.settings.keys.fingerprint)
    assert report["valid"], report["problems"]
    text = (tmp_path / "form" / "C-0001" / "data" / "casefile.json").read_text(encoding="utf-8")
    document = json.loads(text)
    assert [o["dossier"]["official"]["id"] if "dossier" in o else o["official"]["id"]
            for o in document["officials"]] == ["O-000001"]
    assert "37.123456" not in text and "37.21" not in text, "a public case file carries no withheld coordinates"
    [event] = _audit(app, object_id="C-0001")
    assert event["details"]["officials"] == ["O-000001"]
    api = client.post("/api/v1/casefile", json={"recipient": "Synthetic Tribunal", "scope": "investigators",
                                                "officials": ["O-000003"]}, headers={"X-CSRF-Token": client.csrf})
    assert api.status_code == 200, api.text[:500]
    [event] = _audit(app, object_id="C-0002")
    assert event["details"]["officials"] == ["O-000003"]
    unknown = client.post("/casefile", data={"csrf_token": client.csrf, "recipient": "Synthetic Tribunal",
                                             "scope": "public", "officials": "O-000099"})
    assert unknown.status_code == 400 and "O-000099" in _page(unknown).select_one("#error").text


def test_case_files_are_for_admins_and_bad_requests_are_explained(app, as_role):
    investigator = as_role("investigator")
    assert investigator.get("/casefile").status_code == 403
    assert investigator.post("/casefile", data={"csrf_token": investigator.csrf, "recipient": "x", "scope": "courts",
                                                "everything": "true"}).status_code == 403
    admin = as_role("admin")
    assert admin.post("/casefile", data={"recipient": "x", "scope": "courts", "everything": "true"}).status_code == 403
    for fields, said in (({"recipient": "Synthetic", "scope": "courts"}, "persons"),
                         ({"recipient": "", "scope": "courts", "everything": "true"}, "recipient"),
                         ({"recipient": "Synthetic", "scope": "everyone", "everything": "true"}, "scope"),
                         ({"recipient": "Synthetic", "scope": "courts", "persons": "P-999999"}, "P-999999")):
        answer = admin.post("/casefile", data={"csrf_token": admin.csrf} | fields)
        assert answer.status_code == 400 and _says(_page(answer).select_one("#error"), said), fields
    assert not _audit(app) and not _custody(app, "C-0001")


# ----- a locked vault ----------------------------------------------------------------------------


def test_without_the_keys_the_vault_pages_say_it_is_locked(web_store_path):
    locked = create_app(WebSettings(workspace=web_store_path, keys=None))
    try:
        client = login(locked, "admin")
        for path in ("/testimonies", "/testimonies/T-0001", "/evidence", "/evidence/E-000001/file", "/custody",
                     "/casefile"):
            answer = client.get(path)
            assert answer.status_code == 503 and "vault is locked" in answer.text, path
        api = client.get("/api/v1/testimonies")
        assert api.status_code == 503 and "started without the keys" in api.json()["error"]["message"]
        assert client.get("/").status_code == 200, "the rest of the app works"
        assert not _audit(locked), "nothing was read"
    finally:
        locked.state.store.close()


def test_the_vault_pages_speak_persian(app, as_role):
    client = as_role("admin")
    for path, said in (("/testimonies", "شهادت‌ها"), ("/testimonies/T-0001", "متن شهادت"), ("/testimonies/new", "افزودن شهادت"),
                       ("/evidence", "مدارک"), ("/evidence/E-000001", "بارگیری پروندهٔ اصلی"), ("/evidence/new", "افزودن مدرک"),
                       ("/custody", "زنجیرهٔ نگهداری دست‌نخورده است"), ("/casefile", "ساختن پروندهٔ تحویلی")):
        answer = client.get(path, params={"lang": "fa"})
        assert answer.status_code == 200, path
        page = _page(answer)
        assert page.html["dir"] == "rtl" and said in page.text, path
    recorded = _page(client.get("/testimonies", params={"lang": "fa"})).select_one("#testimonies tbody tr").find_all("td")[6]
    assert "(" in recorded.text and "۱۴" in recorded.text, "the Jalali date beside the Gregorian one"


# ----- in a real browser -------------------------------------------------------------------------


def test_the_vault_in_chromium_reveal_asks_first_and_uploads_work(browser_page, tmp_path):
    page = browser_page
    log_in(page, "investigator")
    page.goto("/testimonies")
    page.click("a[href='/testimonies/T-0001']")
    assert page.locator("#transcript").inner_text().strip() == TRANSCRIPT.strip()
    questions = []
    page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    page.click("form.reveal button")
    page.wait_for_timeout(300)
    assert questions and "recorded" in questions[0]
    assert page.locator("#witness-identity").count() == 0, "dismissing the question sends nothing"
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form.reveal button")
    page.wait_for_selector("#witness-name")
    assert page.locator("#witness-name").inner_text() == WITNESS
    upload = tmp_path / "synthetic-scan.txt"
    upload.write_bytes(b"synthetic scanned page\n")
    page.goto("/evidence/new")
    page.set_input_files("input[name=files]", str(upload))
    page.fill("textarea[name=description]", "synthetic scan")
    page.click("form.vault-form button[type=submit]")
    page.wait_for_url("**/evidence?added=*")
    assert page.locator("#added a").inner_text() == "E-000002"
    page.goto("/custody")
    assert page.locator("#chain-status").get_attribute("data-intact") == "true"


def test_a_server_left_running_through_a_key_rotation_refuses_to_seal_or_sign_and_says_why(app, as_role, private_tmp):
    """``keys rotate`` while the server runs: the server still holds the old master and signing keys, which
    the key file no longer keeps. An upload sealed under them could never be opened again; it is refused
    with 503 and a plain instruction, and nothing of it is kept."""
    from dadkhah.model import EvidenceItem
    from dadkhah.store import open_store
    from dadkhah.vault.keycare import rotate_keys
    from dadkhah.workspace import load_workspace
    from tests.conftest import TESTER

    client = as_role("investigator")
    workspace = app.state.store.workspace
    with open_store(load_workspace(workspace.path)) as other:
        rotate_keys(other, actor=TESTER)
    blobs = sorted(p.name for p in (workspace.path / "blobs").rglob("*") if p.is_file())
    answer = client.post("/api/v1/evidence", data={"release": "investigators"},
                         files={"files": ("late.csv", b"page,line\n2,synthetic\n", "text/csv")},
                         headers={"X-CSRF-Token": client.csrf})
    assert answer.status_code == 503
    assert "keys were rotated after this process loaded them" in answer.json()["error"]["message"]
    page = _page(client.post("/evidence", data={"csrf_token": client.csrf, "release": ["investigators"]},
                             files=[("files", ("late.png", b"\x89PNG synthetic", "image/png"))]))
    assert "started again with the current key file" in page.text
    assert sorted(p.name for p in (workspace.path / "blobs").rglob("*") if p.is_file()) == blobs
    with app.state.store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(EvidenceItem)) == 1
    assert not list(private_tmp.iterdir())


def test_a_nul_character_in_a_multipart_forms_text_is_refused_and_nothing_is_added(app, as_role, private_tmp,
                                                                                   web_store_path):
    """The web's own check reads JSON and plain forms, not a multipart upload's fields: the store
    refuses the NUL there, as PostgreSQL does, on SQLite too (it stored it before)."""
    client = as_role("investigator")
    before = client.get("/api/v1/evidence").json()["evidence"]
    sealed = sorted((web_store_path / "blobs").rglob("*.sealed"))
    answer = client.post("/evidence", data={
        "csrf_token": client.csrf, "source": "family-archive", "description": "a damaged\x00 description",
        "acquired_how": "handed over", "release": ["investigators"]},
        files=[("files", ("photo.png", b"\x89PNG\r\n\x1a\n synthetic image bytes", "image/png"))])
    assert answer.status_code == 400 and "NUL character" in answer.text
    assert client.get("/api/v1/evidence").json()["evidence"] == before
    assert sorted((web_store_path / "blobs").rglob("*.sealed")) == sealed, "no sealed file is left behind"
    assert not list(private_tmp.iterdir()) and not [e for e in _audit(app) if e["action"] == "evidence added"]
