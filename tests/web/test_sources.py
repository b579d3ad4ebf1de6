"""Sources and imports: uploading a list through the form and the API, the summary, the quarantine report."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import sqlalchemy as sa
from bs4 import BeautifulSoup

from dadkhah.audit import list_audit
from dadkhah.ingest.readers import open_rows
from dadkhah.model import Import, Record
from dadkhah.store import open_store
from dadkhah.web import WebSettings, create_app
from dadkhah.web.routes.sources import upload_name as safe_file_name
from dadkhah.workspace import load_workspace
from tests.conftest import write
from tests.web.conftest import log_in, login

# A synthetic list: 5 data rows (2 refused: no name; too many cells), 1 blank row, 1 impossible date.
LIST = (
    "record_id,given_name,family_name,city,death_date\n"
    "W-1,Roya,Sample,Tehran,1988-08-01\n"
    "W-2,,,Tehran,1988-08-02\n"
    "W-3,Kaveh,Example,Tabriz,1988-13-45\n"
    ",,,,\n"
    "W-4,Nasrin,Testcase,Shiraz,1988-08-03,surplus\n"
    "W-5,Dariush,Placeholder,Mashhad,1988-08-04\n"
)


def _counts(app) -> tuple[int, int]:
    with app.state.store.session() as session:
        return (session.scalar(sa.select(sa.func.count()).select_from(Import)),
                session.scalar(sa.select(sa.func.count()).select_from(Record)))


def _upload_form(client, name: str, content: bytes, source: str = "web-list", incident: str = ""):
    return client.post("/sources/upload", data={"csrf_token": client.csrf, "source": source, "incident": incident},
                       files={"file": (name, content, "text/csv")})


def _upload_api(client, name: str, content: bytes, source: str = "web-list"):
    return client.post("/api/v1/sources/upload", data={"source": source}, files={"file": (name, content, "text/csv")},
                       headers={"X-CSRF-Token": client.csrf})


def test_sources_page_and_json_twin_list_the_same_sources_and_imports(app, as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/sources").json()
    page = BeautifulSoup(client.get("/sources").text, "html.parser")
    assert [s.text for s in page.select(".source-name")] == [s["name"] for s in data["sources"]]
    first = data["sources"][0]["import_list"][0]
    row = page.find("tr", attrs={"data-import": str(first["id"])})
    assert row.select_one(".rows").text == str(first["rows"])
    assert row.select_one(".imported").text == str(first["imported"])
    assert first["rows"] == first["imported"] + first["rejected"]
    assert page.find("form", attrs={"action": "/sources/upload"}) is None, "a viewer is not offered the upload form"


def test_uploading_a_list_through_the_form_imports_it_and_shows_its_summary(app, as_role):
    client = as_role("analyst")
    imports_before, records_before = _counts(app)
    answer = _upload_form(client, "victims.csv", LIST.encode(), incident="1988 prison executions")
    assert answer.status_code == 303, answer.text
    summary_url = answer.headers["location"]
    import_id = int(summary_url.rsplit("/", 1)[-1])
    data = client.get(f"/api/v1/sources/imports/{import_id}").json()
    assert (data["rows"], data["imported"], data["rejected"], data["blank"]) == (5, 3, 2, 1)
    assert data["rows"] == data["imported"] + data["rejected"]
    assert data["file"] == "victims.csv" and data["source"] == "web-list" and data["incident"] == "1988 prison executions"
    assert data["imported_by"] == "analyst"
    assert any(w["line"] == 4 and w["field"] == "death_date" for w in data["warnings"])
    assert _counts(app) == (imports_before + 1, records_before + 3)

    page = BeautifulSoup(client.get(summary_url).text, "html.parser")
    for key in ("rows", "imported", "rejected", "blank"):
        assert page.find(id=key).text == str(data[key])
    warning_lines = [int(tr.find("td").text) for tr in page.select("#warnings tbody tr")]
    assert warning_lines == [w["line"] for w in data["warnings"]]
    assert page.find(id="quarantine")["href"] == data["quarantine_url"]

    listed = client.get("/api/v1/sources").json()["sources"]
    assert any(i["id"] == import_id for s in listed if s["name"] == "web-list" for i in s["import_list"])


def test_the_quarantine_report_downloads_the_rejected_rows(app, as_role):
    client = as_role("analyst")
    import_id = int(_upload_form(client, "victims.csv", LIST.encode()).headers["location"].rsplit("/", 1)[-1])
    answer = client.get(f"/sources/imports/{import_id}/quarantine.csv")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert sorted(int(r["line"]) for r in rows) == [3, 6]
    assert {r["record_id"] for r in rows} == {"W-2", "W-4"}
    assert all(r["reason"] for r in rows)
    viewer = login(app, "viewer")
    assert viewer.get(f"/sources/imports/{import_id}/quarantine.csv").status_code == 200


def test_an_import_without_rejected_rows_has_no_report_to_download(app, as_role):
    client = as_role("analyst")
    clean = "record_id,given_name,family_name\nC-1,Mina,Sample\n"
    import_id = int(_upload_form(client, "clean.csv", clean.encode()).headers["location"].rsplit("/", 1)[-1])
    assert client.get(f"/api/v1/sources/imports/{import_id}").json()["quarantine_url"] is None
    answer = client.get(f"/sources/imports/{import_id}/quarantine.csv")
    assert answer.status_code == 303 and answer.headers["location"] == f"/sources/imports/{import_id}"


def test_a_quarantine_path_outside_the_workspace_is_not_served(app, as_role, tmp_path_factory):
    client = as_role("analyst")
    import_id = int(_upload_form(client, "victims.csv", LIST.encode()).headers["location"].rsplit("/", 1)[-1])
    # A folder of its own (pytest's, removed with its other temporary folders), outside the workspace.
    secret = tmp_path_factory.mktemp("outside") / "outside.csv"
    assert not secret.is_relative_to(app.state.store.workspace.path)
    secret.write_text("not for the web\n", encoding="utf-8")
    with app.state.store.session() as session:
        session.get(Import, import_id).quarantine_path = str(secret)
    answer = client.get(f"/sources/imports/{import_id}/quarantine.csv")
    assert answer.status_code in (400, 404)
    assert "not for the web" not in answer.text


def test_uploading_through_the_api_answers_the_same_summary(app, as_role):
    client = as_role("analyst")
    answer = _upload_api(client, "api-list.csv", LIST.encode(), source="api-list")
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["rows"], summary["imported"], summary["rejected"], summary["blank"]) == (5, 3, 2, 1)
    assert summary["already_imported"] is False
    assert "/" not in summary["file"] and summary["file"] == "api-list.csv"
    data = client.get(f"/api/v1/sources/imports/{summary['import_id']}").json()
    assert (data["rows"], data["imported"], data["rejected"]) == (summary["rows"], summary["imported"], summary["rejected"])
    assert [w["line"] for w in data["warnings"]] == [w["line"] for w in summary["warnings"]]

    again = _upload_api(client, "api-list.csv", LIST.encode(), source="api-list").json()
    assert again["already_imported"] is True and again["import_id"] == summary["import_id"]
    page = client.get(_upload_form(client, "api-list.csv", LIST.encode(), source="api-list").headers["location"])
    assert BeautifulSoup(page.text, "html.parser").find(id="already-imported") is not None


def test_an_upload_writes_a_list_imported_audit_event(app, as_role):
    client = as_role("analyst")
    summary = _upload_api(client, "audited.csv", LIST.encode(), source="audited").json()
    with app.state.store.session() as session:
        events = [e for e in list_audit(session, limit=20) if e["action"] == "list imported"]
    event = events[0]
    assert event["actor"] == "analyst" and event["object_id"] == str(summary["import_id"])
    assert event["details"]["imported"] == 3 and event["details"]["rejected"] == 2
    assert event["address"]


def test_wrong_types_empty_and_unreadable_files_are_refused_and_nothing_is_imported(app, as_role):
    client = as_role("analyst")
    before = _counts(app)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    refused = {
        "victims.exe": LIST.encode(),  # wrong extension
        "photo.csv": png,  # binary content under a text name
        "book.xlsx": LIST.encode(),  # a text file named as a workbook
        "zipped.csv": b"PK\x03\x04" + b"\x00" * 64,  # a workbook named as text
        "empty.csv": b"",
        "noname.csv": b"city,prison\nTehran,Evin\n",  # a mapping problem: no name column
        "broken.xlsx": b"PK\x03\x04not really a workbook",  # unreadable workbook
    }
    for name, content in refused.items():
        answer = _upload_form(client, name, content)
        assert answer.status_code == 422, f"{name}: {answer.status_code}"
        message = BeautifulSoup(answer.text, "html.parser").find(id="upload-error").text
        assert name in message, f"the message names the file: {message}"
        api = _upload_api(client, name, content)
        assert api.status_code == 422, f"{name}: {api.status_code} {api.text}"
        assert api.json()["error"]["file"] == name
    assert _counts(app) == before
    missing = client.post("/sources/upload", data={"csrf_token": client.csrf, "source": "x"})
    assert missing.status_code == 400
    bad_source = _upload_form(client, "victims.csv", LIST.encode(), source="bad:name")
    assert bad_source.status_code == 400 and "source" in bad_source.text
    assert _counts(app) == before


def test_an_oversized_upload_is_refused_before_anything_is_imported(web_store_path):
    application = create_app(WebSettings(workspace=web_store_path, max_upload_mb=1))
    try:
        client = login(application, "analyst")
        before = _counts(application)
        big = ("record_id,given_name,family_name\n" + "X-1,Sample,Name\n" * 80_000).encode()
        assert len(big) > 1024 * 1024
        answer = _upload_form(client, "big.csv", big)
        assert answer.status_code == 413
        assert _counts(application) == before
    finally:
        application.state.store.close()


def test_a_path_in_the_file_name_is_harmless(app, as_role, tmp_path):
    client = as_role("analyst")
    answer = _upload_api(client, "../../../../tmp/dadkhah-evil.csv", LIST.encode(), source="traversal")
    assert answer.status_code == 200, answer.text
    assert answer.json()["file"] == "dadkhah-evil.csv"
    assert not Path("/tmp/dadkhah-evil.csv").exists()
    assert safe_file_name("evil\x00na\nme.csv") == "evilname.csv", "control characters are stripped"
    assert safe_file_name("..\\..\\Windows\\lists\\a.csv") == "a.csv"
    assert safe_file_name("/etc/passwd") == "passwd"
    assert safe_file_name("..") == "upload" and safe_file_name("") == "upload"
    assert safe_file_name("\u202egpj.csv") == "gpj.csv", "bidi controls are stripped"
    long = safe_file_name("a" * 500 + ".csv")
    assert len(long) <= 120 and long.endswith(".csv")


def test_uploads_pass_only_through_the_workspaces_private_space_and_leave_nothing(app, as_role, monkeypatch,
                                                                                    tmp_path):
    outside = tmp_path / "system-tmp"
    outside.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(outside))
    seen = []
    real = open_rows

    def watching(path, **options):
        seen.append((Path(path).parent.parent, oct(Path(path).parent.stat().st_mode & 0o777),
                     oct(Path(path).stat().st_mode & 0o777)))
        return real(path, **options)

    monkeypatch.setattr("dadkhah.ingest.importer.open_rows", watching)
    client = as_role("analyst")
    assert _upload_form(client, "victims.csv", LIST.encode()).status_code == 303
    _upload_form(client, "empty.csv", b"")
    private = app.state.store.workspace.private_dir
    assert seen == [(private, "0o700", "0o600")], "staged in a private folder of the workspace, for its owner"
    assert not list(private.iterdir()) and not list(outside.iterdir())


def test_a_viewer_may_not_upload_and_a_post_needs_the_csrf_token(app, as_role):
    viewer = as_role("viewer")
    before = _counts(app)
    assert _upload_form(viewer, "victims.csv", LIST.encode()).status_code == 403
    assert _upload_api(viewer, "victims.csv", LIST.encode()).status_code == 403
    analyst = as_role("analyst")
    forged = analyst.post("/sources/upload", data={"csrf_token": "forged", "source": "x"},
                          files={"file": ("victims.csv", LIST.encode(), "text/csv")})
    assert forged.status_code == 403
    assert _counts(app) == before


def test_an_import_that_does_not_exist_is_404(app, as_role):
    client = as_role("viewer")
    assert client.get("/api/v1/sources/imports/999999").status_code == 404
    assert client.get("/sources/imports/999999").status_code == 404
    assert client.get("/sources/imports/999999/quarantine.csv").status_code == 404


def test_the_sources_page_in_persian(app, as_role):
    client = as_role("analyst")
    page = BeautifulSoup(client.get("/sources?lang=fa").text, "html.parser")
    assert page.html["dir"] == "rtl"
    assert page.find("h1").text == "منابع"


def test_a_served_workspace_keeps_its_reports_in_its_own_quarantine_folder(app, as_role, web_store_path):
    client = as_role("analyst")
    import_id = int(_upload_form(client, "victims.csv", LIST.encode()).headers["location"].rsplit("/", 1)[-1])
    with open_store(load_workspace(web_store_path)) as store, store.session() as session:
        stored = Path(session.get(Import, import_id).quarantine_path)
    assert stored.resolve().is_relative_to(load_workspace(web_store_path).quarantine_dir.resolve())


def test_the_upload_form_in_a_browser_shows_progress_and_lands_on_the_summary(browser_page, tmp_path):
    """upload.js sends the form with XMLHttpRequest and follows the redirect; an error stays on the page."""
    page = browser_page
    log_in(page, "analyst")
    page.goto("/sources")
    good = write(tmp_path / "browser-list.csv", LIST)
    page.set_input_files("input[name=file]", str(good))
    page.fill("input[name=source]", "browser-list")
    page.click("#upload-form button[type=submit]")
    page.wait_for_url("**/sources/imports/*")
    assert page.locator("#rows").inner_text() == "5" and page.locator("#rejected").inner_text() == "2"
    assert page.locator("#quarantine").is_visible()

    page.goto("/sources")
    bad = write(tmp_path / "notes.csv", "")
    page.set_input_files("input[name=file]", str(bad))
    page.fill("input[name=source]", "browser-list")
    page.click("#upload-form button[type=submit]")
    page.locator("#upload-error").wait_for()
    assert "notes.csv" in page.locator("#upload-error").inner_text()
    assert page.url.endswith("/sources") or page.url.endswith("/sources/upload")
    assert page.locator("progress#upload-progress").count() == 1
    # The refused upload's 422 is the answer we asked for, not a page error.
    page.console_errors[:] = [e for e in page.console_errors if "status of 422" not in e]


def test_describing_a_source_in_a_browser(browser_page):
    """The form folded under each source opens, saves, and the page then shows what was said."""
    page = browser_page
    log_in(page, "analyst")
    page.goto("/sources")
    first = page.locator("section.source").first
    name = first.locator(".source-name").inner_text()
    first.locator("details.describe summary").click()
    first.locator("input[name=producer]").fill("A synthetic NGO")
    first.locator("select[name=reliability]").select_option("C")
    first.locator("select[name=credibility]").select_option("3")
    first.locator("details.describe button[type=submit]").click()
    page.wait_for_url("**/sources")
    shown = page.locator("section.source", has=page.locator(".source-name", has_text=name)).first
    assert "A synthetic NGO" in shown.locator(".source-details").inner_text()
    assert "C3" in shown.locator(".source-details").inner_text()


def test_review_and_estimate_pages_in_a_browser(browser_page):
    page = browser_page
    log_in(page, "analyst")
    page.goto("/review")
    page.locator("#queue tbody tr a").first.click()
    page.wait_for_url("**/review/*")
    page.check("input[name=decision][value=different]")
    page.fill("textarea[name=reason]", "synthetic: different fathers")
    page.click("#decide-form button[type=submit]")
    page.locator("#decided").wait_for()
    page.goto("/estimates/1")
    assert page.locator("#warnings").is_visible()
    assert page.evaluate("document.querySelector('figure.chart svg').getBoundingClientRect().width") > 0, "the chart is drawn"


def test_a_hostile_workbook_is_refused_with_413_and_the_server_stays_up(app, as_role, tmp_path):
    """One cell at the far corner, or two cells a billion apart: the reader would allocate the whole
    span. The first is refused before reading, the second by the reader's memory cap in its own
    process; either way the server answers 413 with the limit named, and goes on serving."""
    from tests.ingest import hostile

    client = as_role("analyst")
    before = _counts(app)
    for made in (hostile.xlsx_far_cell(tmp_path / "far.xlsx"), hostile.xlsx_far_apart(tmp_path / "apart.xlsx")):
        api = _upload_api(client, made.name, made.read_bytes())
        assert api.status_code == 413, api.text
        error = api.json()["error"]
        assert error["file"] == made.name and "dadkhah.toml" in error["message"], error
        page = _upload_form(client, made.name, made.read_bytes())
        assert page.status_code == 413
        assert made.name in BeautifulSoup(page.text, "html.parser").find(id="upload-error").text
        assert client.get("/api/v1/sources").status_code == 200, "the server is still up"
    assert _counts(app) == before


def test_describing_a_source_through_the_form_and_the_api(app, as_role):
    analyst = as_role("analyst")
    name = analyst.get("/api/v1/sources").json()["sources"][0]["name"]
    page = BeautifulSoup(analyst.get("/sources").text, "html.parser")
    assert page.find("form", attrs={"action": f"/sources/{name}/describe"}) is not None
    answer = analyst.post(f"/sources/{name}/describe", data={
        "csrf_token": analyst.csrf, "producer": "A synthetic NGO", "obtained_on": "2019-03-01", "reliability": "B",
        "credibility": "2", "description": "", "restrictions": "Not to be shared outside the team"})
    assert answer.status_code == 303, answer.text
    shown = next(s for s in analyst.get("/api/v1/sources").json()["sources"] if s["name"] == name)
    assert (shown["producer"], shown["obtained_on"], shown["reliability"], shown["credibility"]) == (
        "A synthetic NGO", "2019-03-01", "B", 2)
    assert shown["restrictions"] == "Not to be shared outside the team" and shown["description"] is None
    details = BeautifulSoup(analyst.get("/sources").text, "html.parser").select_one(".source-details").text
    assert "A synthetic NGO" in details and "2019-03-01" in details and "B2" in details

    # The API: a detail left out is left as it is; a new source is created.
    regraded = analyst.post(f"/api/v1/sources/{name}/details", json={"credibility": 3},
                            headers={"X-CSRF-Token": analyst.csrf})
    assert regraded.status_code == 200 and regraded.json()["changed"] == ["credibility"]
    assert regraded.json()["producer"] == "A synthetic NGO"
    new = analyst.post("/api/v1/sources/web-described/details", json={"producer": "Families"},
                       headers={"X-CSRF-Token": analyst.csrf})
    assert new.status_code == 200 and new.json()["created"] is True
    with app.state.store.session() as session:
        actions = [e["action"] for e in list_audit(session, object_id=name) if e["object_kind"] == "source"]
        assert actions[:2] == ["source described", "source described"]
        assert [e["action"] for e in list_audit(session, object_id="web-described")] == ["source added"]


def test_a_source_whose_name_holds_a_slash_is_described_and_released_from_its_form_and_the_api(app, as_role):
    """"UN/OHCHR 2024" is a fine name for a source; its forms answered 404 (the slash split the address)."""
    analyst, investigator = as_role("analyst"), as_role("investigator")
    name = "UN/OHCHR 2024"
    assert _upload_api(analyst, "un.csv", LIST.encode(), source=name).status_code == 200
    page = BeautifulSoup(investigator.get("/sources").text, "html.parser")
    describe = page.find("form", attrs={"action": "/sources/UN/OHCHR%202024/describe"})
    release = page.find("form", attrs={"action": "/sources/UN/OHCHR%202024/release"})
    assert describe is not None and release is not None
    answer = investigator.post(describe["action"], data={"csrf_token": investigator.csrf, "producer": "A synthetic body"})
    assert answer.status_code == 303, answer.text[-300:]
    answer = investigator.post(release["action"], data={"csrf_token": investigator.csrf, "release": "public"})
    assert answer.status_code == 303, answer.text[-300:]
    shown = next(s for s in investigator.get("/api/v1/sources").json()["sources"] if s["name"] == name)
    assert (shown["producer"], shown["release"]) == ("A synthetic body", "public")
    answer = investigator.post("/api/v1/sources/UN%2FOHCHR%202024/release", json={"release": "restricted"},
                               headers={"X-CSRF-Token": investigator.csrf})
    assert answer.status_code == 200, answer.text
    answer = investigator.post("/api/v1/sources/UN/OHCHR%202024/details", json={"credibility": 3},
                               headers={"X-CSRF-Token": investigator.csrf})
    assert answer.status_code == 200 and answer.json()["changed"] == ["credibility"]
    shown = next(s for s in investigator.get("/api/v1/sources").json()["sources"] if s["name"] == name)
    assert (shown["release"], shown["credibility"]) == ("restricted", 3)


def test_a_source_description_that_cannot_be_read_names_its_field_and_changes_nothing(app, as_role):
    analyst = as_role("analyst")
    name = analyst.get("/api/v1/sources").json()["sources"][0]["name"]
    before = analyst.get("/api/v1/sources").json()
    for field, value, label in (("obtained_on", "1 March", "Obtained on"),
                                ("credibility", "seven", "Credibility of the information"),
                                ("reliability", "Z", "Reliability of the source")):
        answer = analyst.post(f"/sources/{name}/describe", data={"csrf_token": analyst.csrf, field: value,
                                                                 "producer": "Changed?"})
        assert answer.status_code == 400
        error = BeautifulSoup(answer.text, "html.parser").select_one("#describe-error")
        assert error is not None and value in error.text and label in error.text, error
    bad = analyst.post(f"/api/v1/sources/{name}/details", json={"credibility": 9}, headers={"X-CSRF-Token": analyst.csrf})
    assert bad.status_code == 400 and "1-6" in bad.json()["error"]["message"]
    bad = analyst.post("/api/v1/sources/a:b/details", json={"producer": "x"}, headers={"X-CSRF-Token": analyst.csrf})
    assert bad.status_code == 400, "a source name may not hold a colon"
    assert analyst.get("/api/v1/sources").json() == before


def test_a_viewer_may_not_describe_a_source(app, as_role):
    viewer = as_role("viewer")
    name = viewer.get("/api/v1/sources").json()["sources"][0]["name"]
    assert BeautifulSoup(viewer.get("/sources").text, "html.parser").find("details", class_="describe") is None
    assert viewer.post(f"/sources/{name}/describe", data={"csrf_token": viewer.csrf, "producer": "x"}).status_code == 403
    assert viewer.post(f"/api/v1/sources/{name}/details", json={"producer": "x"},
                       headers={"X-CSRF-Token": viewer.csrf}).status_code == 403
    assert viewer.get("/api/v1/sources").json()["sources"][0]["producer"] != "x"


def test_a_large_upload_is_read_in_two_parts_by_a_fresh_interpreter(web_store_path, second_parts):
    """The server imports an upload in a thread: a list large enough to be cut (here every list:
    import.parallel_from_mb = 0) has its second part read by a fresh interpreter, never a fork of the
    server, and the import counts and numbers every row as reading it whole would."""
    config = web_store_path / "dadkhah.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("parallel_from_mb = 8", "parallel_from_mb = 0"),
                      encoding="utf-8")
    body = "record_id,given_name,family_name,death_date,city\n" + "".join(
        f"L-{i},Given{i},Family{i},1367/05/{i % 28 + 1:02d},Rasht\n" for i in range(3000)) + "L-7,Again,Repeated,,\n"
    application = create_app(WebSettings(workspace=web_store_path))
    try:
        client = login(application, "analyst")
        answer = _upload_api(client, "large.csv", body.encode(), source="large")
        assert answer.status_code == 200, answer.text
        summary = answer.json()
        assert (summary["rows"], summary["imported"], summary["rejected"]) == (3001, 3000, 1)
        report = client.get(f"/sources/imports/{summary['import_id']}/quarantine.csv")
        assert list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))[1][0] == "3002"
    finally:
        application.state.store.close()
    [second] = second_parts
    assert second._fresh is not None and second.exit_code == 0 and second.part.clean


def test_a_large_list_is_imported_by_a_background_job_and_the_answer_comes_at_once(app, as_role, monkeypatch):
    """A list above the workspace's [import] web_in_request_mb is queued: the API answers 202 with the
    job, the form goes to the job's page; a worker imports it for the uploader, and the job's page
    then leads to the import. (Here every list is "large": the limit is set to 0.)"""
    from dadkhah.jobs import run_worker

    monkeypatch.setitem(app.state.store.workspace.config, "import", {"web_in_request_mb": 0})
    client = as_role("analyst")
    before = _counts(app)
    api = _upload_api(client, "queued-api.csv", LIST.encode(), source="queued")
    assert api.status_code == 202, api.text
    job = api.json()
    assert api.headers["location"] == job["links"]["api"] == f"/api/v1/jobs/{job['id']}"
    assert (job["kind"], job["status"], job["requested_by"]) == ("list import", "queued", "analyst")
    form = _upload_form(client, "queued-form.csv", LIST.replace("W-", "F-").encode(), source="queued")
    assert form.status_code == 303 and form.headers["location"].startswith("/jobs/")
    assert _counts(app) == before, "nothing is imported before a worker runs the jobs"
    page = BeautifulSoup(client.get(form.headers["location"]).text, "html.parser")
    assert page.find(id="cancel-form") is not None, "the uploader may cancel it"

    assert run_worker(app.state.store, once=True) == 2
    done = client.get(job["links"]["api"]).json()
    assert done["status"] == "done", done["error"]
    summary = client.get(done["links"]["result_api"]).json()
    assert (summary["file"], summary["rows"], summary["imported"], summary["rejected"]) == ("queued-api.csv", 5, 3, 2)
    assert summary["imported_by"] == "analyst"
    page = BeautifulSoup(client.get(form.headers["location"]).text, "html.parser")
    link = page.select_one("#job-result a")
    assert link["href"].startswith("/sources/imports/") and client.get(link["href"]).status_code == 200
    for language in ("en", "fa"):  # the list of jobs names each import it leads to (it failed on a done one)
        listed = client.get(f"/jobs?lang={language}")
        assert listed.status_code == 200, listed.text[-500:]
        results = [a["href"] for a in BeautifulSoup(listed.text, "html.parser").select("#jobs tbody td a[href^='/sources']")]
        imports = [j["links"]["result_page"] for j in client.get("/api/v1/jobs?status=done").json()["jobs"]]
        assert len(imports) == 2 and sorted(results) == sorted(imports) and link["href"] in results
    assert _counts(app) == (before[0] + 2, before[1] + 6)
    assert not any(app.state.store.workspace.uploads_dir.iterdir()), "no uploaded list is left behind"

    viewer = login(app, "viewer")  # may read jobs, not cancel an import
    queued = _upload_api(client, "queued-3.csv", LIST.replace("W-", "V-").encode(), source="queued").json()
    assert viewer.post(f"/api/v1/jobs/{queued['id']}/cancel", headers={"X-CSRF-Token": viewer.csrf}).status_code == 403
    assert client.post(f"/api/v1/jobs/{queued['id']}/cancel",
                       headers={"X-CSRF-Token": client.csrf}).json()["status"] == "cancelled"
    assert not any(app.state.store.workspace.uploads_dir.iterdir())

