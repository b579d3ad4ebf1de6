"""The interchange actions in the web application: the standard exports as downloads, intake from
field tools, trusted timestamps of the chains; their pages and API twins, with the checks the web
adds (uploads, ZIPs, who may name a time-stamping authority)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup

from dadkhah.vault.keys import load_keys
from dadkhah.web import WebSettings, create_app
from dadkhah.workspace import load_workspace
from tests.vault.authority import closed_port_url
from tests.vault.intake_files import (
    KOBO_MAPPING,
    ODK_MAPPING,
    WITNESSES,
    jpeg,
    kobo_submission,
    odk_submission,
    odk_zip,
    tella_file,
)
from tests.web.conftest import login


def post(client, path, **request):
    return client.post(path, headers={"X-CSRF-Token": client.csrf}, **request)


def _private_left(app) -> list[str]:
    """What requests left in the workspace's private space (nothing, once each has answered)."""
    private = app.state.store.workspace.private_dir
    return sorted(p.name for p in private.iterdir()) if private.exists() else []


# ----- standard exports ----------------------------------------------------------------------------


@pytest.fixture
def publishing(app, as_role):
    """An investigator, with one source made public: something to export."""
    investigator = as_role("investigator")
    assert post(investigator, "/api/v1/sources/list-1/release", json={"release": "public"}).status_code == 200
    return investigator


def test_each_export_is_a_download_with_its_type_a_safe_name_and_its_sha256(app, publishing):
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    cases = [("persons", None, "text/csv; charset=utf-8", f"dadkhah-persons-{today}.csv"),
             ("records", {"format": "xlsx"},
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", f"dadkhah-records-{today}.xlsx"),
             ("acts", {"format": "csv"}, "text/csv; charset=utf-8", f"dadkhah-acts-{today}.csv"),
             ("popolo", None, "application/json", f"dadkhah-popolo-{today}.json"),
             ("uwazi", {"template": "officials"}, "application/zip", f"dadkhah-uwazi-officials-{today}.zip")]
    for kind, body, media_type, name in cases:
        answer = post(publishing, f"/api/v1/exports/{kind}", json=body)
        assert answer.status_code == 200, (kind, answer.text[:300])
        assert answer.headers["content-type"] == media_type, kind
        assert answer.headers["content-disposition"] == f'attachment; filename="{name}"', kind
        assert answer.headers["x-dadkhah-sha256"] == hashlib.sha256(answer.content).hexdigest(), kind
        assert answer.headers["x-dadkhah-audience"] == "public"
        assert int(answer.headers["content-length"]) == len(answer.content)
    persons = post(publishing, "/api/v1/exports/persons").content.decode("utf-8")
    assert persons.startswith("\ufeffperson_id,name_fa,") and "P-0000" in persons
    assert post(publishing, "/api/v1/exports/records", json={"format": "xlsx"}).content.startswith(b"PK")
    assert "persons" in json.loads(post(publishing, "/api/v1/exports/popolo").content)
    bundle = zipfile.ZipFile(io.BytesIO(post(publishing, "/api/v1/exports/uwazi", json={"template": "acts"}).content))
    assert {"import.csv", "template.json"} <= set(bundle.namelist())
    assert _private_left(app) == []  # each file was removed before its download was sent


def test_an_export_asked_wrongly_is_refused_naming_the_field(app, publishing):
    cases = [("uwazi", None, 400, "template"), ("persons", {"template": "acts"}, 400, "template"),
             ("popolo", {"format": "csv"}, 400, "format"), ("persons", {"format": "pdf"}, 422, "format"),
             ("everything", None, 422, "kind"), ("uwazi", {"template": "graves"}, 422, "template")]
    for kind, body, status, field in cases:
        answer = post(publishing, f"/api/v1/exports/{kind}", json=body)
        assert answer.status_code == status, (kind, body, answer.text)
        error = answer.json()["error"]
        assert error.get("field") == field or [p["field"] for p in error.get("problems", [])] == [field], error
    assert _private_left(app) == []


def test_exports_are_for_whoever_decides_publication(as_role):
    assert post(as_role("analyst"), "/api/v1/exports/persons").json()["error"]["permission"] == "publication"
    assert post(as_role("investigator"), "/api/v1/exports/persons").status_code == 200


def test_the_sources_page_offers_the_downloads_to_whoever_may_publish(publishing, as_role):
    page = BeautifulSoup(publishing.get("/sources").text, "html.parser")
    forms = page.select("#exports form")
    assert [f["action"] for f in forms] == ["/exports/persons", "/exports/records", "/exports/acts",
                                            "/exports/popolo", "/exports/uwazi"]
    assert all(f.find("input", attrs={"name": "csrf_token"})["value"] == publishing.csrf for f in forms)
    assert not BeautifulSoup(as_role("analyst").get("/sources").text, "html.parser").select("#exports")

    answer = publishing.post("/exports/records", data={"csrf_token": publishing.csrf, "format": "xlsx"})
    assert answer.status_code == 200 and answer.content.startswith(b"PK")
    assert answer.headers["content-disposition"].endswith('.xlsx"')
    refused = publishing.post("/exports/uwazi", data={"csrf_token": publishing.csrf, "template": "graves"})
    assert refused.status_code == 400
    note = BeautifulSoup(refused.text, "html.parser").select_one("#export-error")
    assert note["data-field"] == "template" and "graves" in note.get_text()
    assert publishing.post("/exports/persons", data={"format": "csv"}).status_code == 403  # no CSRF token


# ----- intake from field tools ---------------------------------------------------------------------


def _odk(tmp_path, number: int = 1, **changes):
    submission = odk_submission(number, **changes)
    path = odk_zip(tmp_path / f"witness_statement-{number}.zip", [submission],
                   media={submission["photo"]: jpeg((number * 30 % 255, 7, 9))})
    return path.read_bytes()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_an_odk_download_is_taken_in_and_its_summary_names_the_files_as_uploaded(app, as_role, tmp_path):
    investigator = as_role("investigator")
    answer = post(investigator, "/api/v1/intake/odk", data={"source": "field-web", "incident": "1988 executions"},
                  files={"file": ("witness_statement.zip", _odk(tmp_path), "application/zip"),
                         "mapping": ("odk.toml", ODK_MAPPING.encode(), "application/toml")})
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["tool"], summary["file"], summary["source"]) == ("odk", "witness_statement.zip", "field-web")
    assert (summary["rows"], summary["imported"], summary["rejected"]) == (1, 1, 0)
    assert summary["testimonies"] and summary["evidence"] and summary["records"] == 1
    assert not any(w in answer.text for w in WITNESSES) and "private" not in answer.text
    assert _private_left(app) == []

    again = post(investigator, "/api/v1/intake/odk", files={"file": ("witness_statement.zip", _odk(tmp_path)),
                                                            "mapping": ("odk.toml", ODK_MAPPING.encode())})
    assert again.json()["nothing_new"] is True
    listed = investigator.get("/api/v1/intake").json()["intakes"]
    assert [i["tool"] for i in listed] == ["odk"] and listed[0]["file"] == "witness_statement.zip"


def test_refused_submissions_are_reported_with_the_quarantine_report_inside_the_workspace(as_role, tmp_path):
    answer = post(as_role("investigator"), "/api/v1/intake/odk",
                  files={"file": ("w.zip", _odk(tmp_path, 2, language="??")), "mapping": ("odk.toml", ODK_MAPPING.encode())})
    summary = answer.json()
    assert answer.status_code == 200 and (summary["imported"], summary["rejected"]) == (0, 1)
    assert summary["rejections"][0]["field"] and summary["quarantine"].startswith("quarantine/")


@pytest.mark.parametrize(("files", "status", "field", "said"), [
    ({"file": ("w.csv", b"SubmissionDate,KEY\n"), "mapping": ("odk.toml", ODK_MAPPING.encode())}, 422, "file", ".zip"),
    ({"file": ("w.zip", b"not a zip"), "mapping": ("odk.toml", ODK_MAPPING.encode())}, 422, None, "not a ZIP"),
    ({"file": ("w.zip", b""), "mapping": ("odk.toml", ODK_MAPPING.encode())}, 422, "file", "empty"),
    ({"file": ("../../w.zip", b"PK"), "mapping": ("odk.toml", ODK_MAPPING.encode())}, 422, "file", "path"),
    ({"file": ("w.zip", "ZIP"), "mapping": ("odk.json", b"{}")}, 422, "mapping", ".toml"),
    ({"file": ("w.zip", "ZIP"), "mapping": ("odk.toml", b"source = [unclosed")}, 422, "mapping", "TOML"),
    ({"file": ("w.zip", "ZIP"), "mapping": ("odk.toml", ODK_MAPPING.replace('"statement"', '"statementt"').encode())},
     422, "testimony.transcript", "statementt"),
])
def test_an_upload_that_cannot_be_taken_in_is_refused_naming_the_file_and_field(app, as_role, tmp_path, files, status,
                                                                                  field, said):
    files = {k: (name, _odk(tmp_path) if data == "ZIP" else data) for k, (name, data) in files.items()}
    answer = post(as_role("investigator"), "/api/v1/intake/odk", files=files)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and said in error["message"], error
    assert "private" not in answer.text and str(app.state.store.workspace.path) not in answer.text
    assert as_role("investigator").get("/api/v1/intake").json()["intakes"] == []
    assert _private_left(app) == []


def test_a_file_beyond_the_workspace_limit_is_refused_with_413(web_store_path, tmp_path):
    config = web_store_path / "dadkhah.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("max_file_mb = 4096", "max_file_mb = 1"),
                      encoding="utf-8")
    workspace = load_workspace(web_store_path)
    app = create_app(WebSettings(workspace=web_store_path, keys=load_keys(workspace)))
    try:
        client = login(app, "investigator")
        answer = post(client, "/api/v1/intake/kobo", files={"file": ("data.json", b" " * (2**20 + 1)),
                                                             "mapping": ("kobo.toml", KOBO_MAPPING.encode())})
        assert answer.status_code == 413 and answer.json()["error"]["field"] == "file"
        assert "1 MB" in answer.json()["error"]["message"]
    finally:
        app.state.store.close()


def _kobo_json(*items) -> bytes:
    return json.dumps({"count": len(items), "next": None, "previous": None, "results": list(items)}).encode()


def test_kobo_takes_its_attachments_as_files_or_as_a_zip_keeping_kobos_paths(as_role):
    investigator = as_role("investigator")
    one, two = kobo_submission(1), kobo_submission(2)
    loose = post(investigator, "/api/v1/intake/kobo", data={"source": "kobo-team"}, files=[
        ("file", ("data.json", _kobo_json(one))), ("mapping", ("kobo.toml", KOBO_MAPPING.encode())),
        ("attachments", ("photo-10_21_33.jpg", jpeg((1, 1, 1)), "image/jpeg"))])
    assert loose.status_code == 200 and loose.json()["imported"] == 1, loose.text
    path = two["_attachments"][0]["filename"]  # synthetic_team/attachments/…/UUID/photo-10_22_33.jpg
    zipped = post(investigator, "/api/v1/intake/kobo", files=[
        ("file", ("data.json", _kobo_json(two))), ("mapping", ("kobo.toml", KOBO_MAPPING.encode())),
        ("attachments_zip", ("media.zip", _zip({path: jpeg((2, 2, 2))}), "application/zip"))])
    assert zipped.status_code == 200 and zipped.json()["imported"] == 1, zipped.text
    assert zipped.json()["source"] == "field-team-kobo"  # the mapping's

    missing = post(investigator, "/api/v1/intake/kobo", files=[
        ("file", ("data.json", _kobo_json(kobo_submission(3)))), ("mapping", ("kobo.toml", KOBO_MAPPING.encode()))])
    reason = missing.json()["rejections"][0]["reason"]
    assert "not among the attachment files" in reason and "looked under the attachments" in reason
    assert "private" not in missing.text

    both = post(investigator, "/api/v1/intake/kobo", files=[
        ("file", ("data.json", _kobo_json(kobo_submission(3)))), ("mapping", ("kobo.toml", KOBO_MAPPING.encode())),
        ("attachments", ("a.jpg", b"x")), ("attachments_zip", ("m.zip", _zip({"a.jpg": b"x"})))])
    assert both.status_code == 400 and both.json()["error"]["field"] == "attachments_zip"


@pytest.mark.parametrize("name", ["../escaped.jpg", "/tmp/escaped.jpg", "a/../../escaped.jpg"])
def test_a_zip_whose_members_would_leave_their_folder_is_refused_whole(app, as_role, tmp_path, name):
    investigator = as_role("investigator")
    answer = post(investigator, "/api/v1/intake/kobo", files=[
        ("file", ("data.json", _kobo_json(kobo_submission(1)))), ("mapping", ("kobo.toml", KOBO_MAPPING.encode())),
        ("attachments_zip", ("media.zip", _zip({"photo-10_21_33.jpg": jpeg((1, 1, 1)), name: b"evil"})))])
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert (error["field"], error["file"]) == ("attachments_zip", "media.zip") and name in error["message"]
    assert investigator.get("/api/v1/intake").json()["intakes"] == []
    assert _private_left(app) == []
    assert not list(app.state.store.workspace.path.rglob("escaped.jpg"))


def test_tella_takes_the_shared_files_or_a_zip_of_their_folder(tmp_path, as_role):
    investigator = as_role("investigator")
    shared = tmp_path / "tella-shared"
    tella_file(shared, "IMG_1.jpg", jpeg((5, 6, 7)))
    tella_file(shared, "IMG_2.jpg", jpeg((8, 9, 10)))
    loose = post(investigator, "/api/v1/intake/tella", data={"description": "north wall", "release": ["investigators"]},
                 files=[("files", (p.name, p.read_bytes())) for p in sorted(shared.glob("IMG_1.*"))])
    assert loose.status_code == 200, loose.text
    assert (loose.json()["file"], loose.json()["source"], loose.json()["imported"]) == ("shared-files",
                                                                                         "tella-shared-files", 1)
    folder = _zip({f"tella-shared/{p.name}": p.read_bytes() for p in shared.iterdir()})
    zipped = post(investigator, "/api/v1/intake/tella", data={"source": "tella-team"},
                  files={"files_zip": ("tella-shared.zip", folder, "application/zip")})
    summary = zipped.json()
    assert zipped.status_code == 200, zipped.text
    assert (summary["file"], summary["rows"], summary["imported"], summary["already_held"]) == ("tella-shared", 2, 1, 1)

    tampered = tmp_path / "tampered"
    tella_file(tampered, "IMG_3.jpg", jpeg((1, 2, 3)), declared="AB" * 32)
    refused = post(investigator, "/api/v1/intake/tella",
                   files=[("files", (p.name, p.read_bytes())) for p in sorted(tampered.iterdir())])
    assert refused.json()["rejected"] == 1 and refused.json()["rejections"][0]["field"] == "File hash"
    nothing = post(investigator, "/api/v1/intake/tella", data={"source": "x"})
    assert nothing.status_code == 400 and nothing.json()["error"]["field"] == "files"
    bad_release = post(investigator, "/api/v1/intake/tella", data={"release": ["everyone"]},
                       files=[("files", (p.name, p.read_bytes())) for p in sorted(shared.iterdir())])
    assert bad_release.status_code == 400 and bad_release.json()["error"]["field"] == "release"


def test_intake_is_for_whoever_adds_testimonies_and_evidence(as_role, tmp_path):
    files = {"file": ("w.zip", _odk(tmp_path)), "mapping": ("odk.toml", ODK_MAPPING.encode())}
    assert post(as_role("analyst"), "/api/v1/intake/odk", files=files).json()["error"]["permission"] == "vault"
    assert as_role("analyst").get("/api/v1/intake").status_code == 403


def test_the_intake_page_takes_each_tool_and_shows_the_summary(as_role, tmp_path):
    investigator = as_role("investigator")
    page = BeautifulSoup(investigator.get("/intake").text, "html.parser")
    assert [f["action"] for f in page.select("form[enctype='multipart/form-data']")] == [
        "/intake/odk", "/intake/kobo", "/intake/tella"]
    assert page.select_one("a[href='/intake']") is not None  # in the menu
    assert "/intake" in investigator.get("/evidence").text

    answer = investigator.post("/intake/odk", data={"csrf_token": investigator.csrf, "source": "from-the-page"},
                               files={"file": ("witness_statement.zip", _odk(tmp_path)),
                                      "mapping": ("odk.toml", ODK_MAPPING.encode())})
    assert answer.status_code == 200, answer.text
    shown = BeautifulSoup(answer.text, "html.parser")
    summary = shown.select_one("#intake-summary")
    assert "witness_statement.zip" in summary.get_text() and summary.select("a[href^='/testimonies/T-']")
    assert shown.select("#intakes tr[data-intake]")

    refused = investigator.post("/intake/kobo", data={"csrf_token": investigator.csrf},
                                files={"file": ("data.txt", b"[]"), "mapping": ("kobo.toml", KOBO_MAPPING.encode())})
    assert refused.status_code == 422
    note = BeautifulSoup(refused.text, "html.parser").select_one("#intake-kobo #intake-error")
    assert note["data-field"] == "file" and "data.txt" in note.get_text()
    empty = investigator.post("/intake/tella", data={"csrf_token": investigator.csrf, "release": "investigators"})
    assert empty.status_code == 400
    assert BeautifulSoup(empty.text, "html.parser").select_one("#intake-tella #intake-error")["data-field"] == "files"


# ----- trusted timestamps --------------------------------------------------------------------------


@pytest.fixture
def tsa_app(web_store_path, authority):
    """The served case with one time-stamping authority configured (as DADKHAH_TSA_URLS would)."""
    workspace = load_workspace(web_store_path)
    application = create_app(WebSettings(workspace=web_store_path, keys=load_keys(workspace),
                                         tsa_urls=(authority.url("good"),)))
    yield application
    application.state.store.close()


def test_an_investigator_timestamps_with_the_servers_authorities_and_only_an_admin_names_others(tsa_app, authority):
    investigator, admin = login(tsa_app, "investigator"), login(tsa_app, "admin")
    made = post(investigator, "/api/v1/custody/timestamp")
    assert made.status_code == 200, made.text
    assert made.json()["timestamp"] == "TS-0001" and made.json()["recorded_by"] == "investigator"
    assert [t["authority"] for t in made.json()["timestamps"]] == [authority.url("good")]

    named = post(investigator, "/api/v1/custody/timestamp", json={"authorities": [authority.url("leaf")]})
    assert named.status_code == 403 and named.json()["error"]["permission"] == "keys"
    by_admin = post(admin, "/api/v1/custody/timestamp", json={"authorities": [authority.url("leaf")]})
    assert by_admin.status_code == 200 and by_admin.json()["timestamp"] == "TS-0002"

    down = post(admin, "/api/v1/custody/timestamp", json={"authorities": [closed_port_url()]})
    assert down.status_code == 400 and down.json()["error"]["field"] == "authorities"
    assert "Nothing was recorded" in down.json()["error"]["message"]
    garbage = post(admin, "/api/v1/custody/timestamp", json={"authorities": ["ftp://tsa.example.org"]})
    assert garbage.status_code == 400 and garbage.json()["error"]["field"] == "authorities"
    assert post(login(tsa_app, "analyst"), "/api/v1/custody/timestamp").status_code == 403

    report = post(investigator, "/api/v1/custody/verify").json()
    assert report["valid"] and [t["item_id"] for t in report["timestamps"]] == ["TS-0001", "TS-0002"]


def test_without_configured_authorities_the_api_says_so(as_role):
    answer = post(as_role("investigator"), "/api/v1/custody/timestamp")
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "authorities"
    assert "DADKHAH_TSA_URLS" in answer.json()["error"]["message"]


def test_the_custody_page_timestamps_and_shows_each_timestamp(tsa_app, authority):
    investigator, admin = login(tsa_app, "investigator"), login(tsa_app, "admin")
    before = BeautifulSoup(investigator.get("/custody").text, "html.parser")
    form = before.select_one("#timestamp-form")
    assert form["action"] == "/custody/timestamp" and not form.select("input[name=authorities]")
    assert not before.select("ul.timestamps li")

    answer = investigator.post("/custody/timestamp", data={"csrf_token": investigator.csrf})
    assert answer.status_code == 303 and answer.headers["location"] == "/custody?timestamped=TS-0001"
    page = BeautifulSoup(investigator.get(answer.headers["location"]).text, "html.parser")
    assert "TS-0001" in page.select_one("#timestamped").get_text()
    [line] = page.select("ul.timestamps li")
    assert line["data-valid"] == "true" and re.search(r"Timestamped at\s.*\sby\s+Synthetic TSA", line.get_text(" "))
    assert "TS-0001" in line.get_text() and "custody events 1–" in line.get_text()
    row = page.select_one("#custody tr td.details")
    assert "MII" not in page.select_one("#custody").get_text()  # the tokens themselves are not dumped
    assert row is not None

    assert admin.get("/custody").text.count('name="authorities"') == 1
    refused = admin.post("/custody/timestamp", data={"csrf_token": admin.csrf, "authorities": closed_port_url()})
    assert refused.status_code == 400
    note = BeautifulSoup(refused.text, "html.parser").select_one("#timestamp-error")
    assert note["data-field"] == "authorities" and "Nothing was recorded" in note.get_text()
    assert admin.post("/custody/timestamp", data={"authorities": "x"}).status_code == 403  # no CSRF token


def test_the_custody_page_without_authorities_says_how_to_set_them(as_role):
    page = BeautifulSoup(as_role("investigator").get("/custody").text, "html.parser")
    assert page.select_one("#timestamp-form") is None and "DADKHAH_TSA_URLS" in page.select_one("#timestamps").get_text()
    assert as_role("admin").get("/custody").text.count('id="timestamp-form"') == 1  # an admin may name one
