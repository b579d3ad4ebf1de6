"""Background jobs on the web: the estimate form answers at once with the job's page; the list, the
page and their JSON twins; cancelling (analysts and up, with the CSRF token); the worker (a real one,
in this process) runs what was asked for as the user who asked."""

from __future__ import annotations

import re

import sqlalchemy as sa
from bs4 import BeautifulSoup

from dadkhah.audit import list_audit
from dadkhah.jobs import run_worker
from dadkhah.model import Estimate, Job


def _count(app, table) -> int:
    with app.state.store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(table))


def _submit(client, **form) -> str:
    answer = client.post("/estimates/run", data={"csrf_token": client.csrf, "method": "chao", **form})
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def test_the_form_answers_with_the_jobs_page_and_the_worker_makes_the_estimate(app, as_role):
    client = as_role("analyst")
    estimates = _count(app, Estimate)
    address = _submit(client, by="gender", seed="5")
    assert address.startswith("/jobs/") and _count(app, Estimate) == estimates, "nothing runs in the request"
    page = BeautifulSoup(client.get(address).text, "html.parser")
    box = page.find(id="job")
    assert box["data-status"] == "queued" and box["data-api"] == "/api/v1" + address
    assert page.find(id="cancel-form") is not None and page.find("progress", id="job-progress") is not None
    assert page.find("script", src="/static/jobs.js") is not None
    assert page.select_one("noscript meta[http-equiv=refresh]") is not None, "without JavaScript it refreshes itself"
    assert page.find(id="job-refresh")["href"] == address

    assert run_worker(app.state.store, once=True) == 1
    job = client.get("/api/v1" + address).json()
    assert job["status"] == "done" and job["requested_by"] == "analyst" and job["channel"] == "web"
    assert job["parameters"]["by"] == "gender" and job["parameters"]["seed"] == 5
    estimate = client.get(job["links"]["result_api"]).json()
    assert estimate["created_by"] == "analyst" and estimate["by"] == "gender" and estimate["method"] == "chao"
    page = BeautifulSoup(client.get(address).text, "html.parser")
    link = page.select_one("#job-result a")
    assert link["href"] == f"/estimates/{estimate['id']}" == job["links"]["result_page"]
    assert page.find(id="cancel-form") is None and page.select_one("noscript meta") is None
    with app.state.store.session() as session:
        run, submitted = list_audit(session, limit=2)
    assert (submitted["action"], submitted["actor"], submitted["object_id"]) == ("job submitted", "analyst",
                                                                                 address.rsplit("/", 1)[1])
    assert (run["action"], run["actor"], run["channel"], run["object_id"]) == ("estimate run", "analyst", "web",
                                                                               str(estimate["id"]))
    assert run["address"] == submitted["address"] == "testclient"


def test_the_list_of_jobs_and_its_json_twin(app, as_role):
    analyst, viewer = as_role("analyst"), as_role("viewer")
    first, second = _submit(analyst), _submit(analyst, by="city")
    listed = viewer.get("/api/v1/jobs").json()
    assert [j["links"]["page"] for j in listed["jobs"]] == [second, first] and listed["has_next"] is False
    assert viewer.get("/api/v1/jobs?status=done").json()["jobs"] == []
    assert len(viewer.get("/api/v1/jobs?status=active").json()["jobs"]) == 2
    assert viewer.get("/api/v1/jobs?status=sleeping").status_code == 422
    page = BeautifulSoup(viewer.get("/jobs").text, "html.parser")
    rows = page.select("#jobs tbody tr")
    assert [r["data-job"] for r in rows] == [second.rsplit("/", 1)[1], first.rsplit("/", 1)[1]]
    assert {r.select_one(".job-status")["data-status"] for r in rows} == {"queued"}
    one = BeautifulSoup(viewer.get(first).text, "html.parser")
    assert one.find(id="cancel-form") is None, "a viewer sees jobs but is not offered to cancel them"
    assert viewer.get("/jobs/999").status_code == 404 and viewer.get("/api/v1/jobs/999").status_code == 404
    fa = BeautifulSoup(viewer.get(first + "?lang=fa").text, "html.parser")
    assert fa.html["dir"] == "rtl" and "در انتظار کارگزار" in fa.find(id="job-status").text


def test_cancelling_a_job_from_its_page_and_through_the_api(app, as_role):
    analyst, viewer = as_role("analyst"), as_role("viewer")
    address = _submit(analyst)
    job_id = address.rsplit("/", 1)[1]
    assert viewer.post(f"/jobs/{job_id}/cancel", data={"csrf_token": viewer.csrf}).status_code == 403
    assert analyst.post(f"/jobs/{job_id}/cancel", data={}).status_code == 403, "the CSRF token is needed"
    answer = analyst.post(f"/jobs/{job_id}/cancel", data={"csrf_token": analyst.csrf})
    assert answer.status_code == 303 and answer.headers["location"] == address
    page = BeautifulSoup(analyst.get(address).text, "html.parser")
    assert page.find(id="job")["data-status"] == "cancelled" and page.find(id="job-cancelled") is not None
    again = analyst.post(f"/jobs/{job_id}/cancel", data={"csrf_token": analyst.csrf})
    assert again.status_code == 400 and "already cancelled" in BeautifulSoup(again.text, "html.parser").find(
        id="cancel-error").text
    other = _submit(analyst)
    through_api = analyst.post(f"/api/v1{other}/cancel", headers={"X-CSRF-Token": analyst.csrf})
    assert through_api.status_code == 200 and through_api.json()["status"] == "cancelled"
    assert analyst.post("/api/v1/jobs/999/cancel", headers={"X-CSRF-Token": analyst.csrf}).status_code == 404
    assert run_worker(app.state.store, once=True) == 0, "a cancelled job is never run"
    with app.state.store.session() as session:
        cancels = [e for e in list_audit(session, limit=10) if e["action"] == "job cancelled"]
    assert [(e["actor"], e["details"]["was"]) for e in cancels] == [("analyst", "queued")] * 2


def test_a_bad_request_makes_no_job(app, as_role):
    client = as_role("analyst")
    jobs = _count(app, Job)
    answer = client.post("/estimates/run", data={"csrf_token": client.csrf, "method": "guess"})
    assert answer.status_code == 400
    refused = client.post("/api/v1/estimates/run", json={"method": "chao", "linkage_thresholds": [1.5]},
                          headers={"X-CSRF-Token": client.csrf})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "linkage_thresholds"
    assert _count(app, Job) == jobs


def _publish(app) -> None:
    from dadkhah.sources import set_release
    from tests.conftest import TESTER

    set_release(app.state.store, "list-1", "public", actor=TESTER)


def test_the_printed_report_is_asked_for_on_the_sources_page_and_downloaded_from_its_jobs_page(app, as_role):
    import hashlib

    _publish(app)
    investigator, analyst, viewer = as_role("investigator"), as_role("analyst"), as_role("viewer")
    page = BeautifulSoup(investigator.get("/sources").text, "html.parser")
    assert page.select_one("#print-form select[name=language]") is not None
    assert BeautifulSoup(analyst.get("/sources").text, "html.parser").find(id="print-form") is None
    assert analyst.post("/reports/print", data={"csrf_token": analyst.csrf}).status_code == 403
    jobs = _count(app, Job)
    answer = investigator.post("/reports/print", data={"csrf_token": investigator.csrf, "language": "en"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/jobs/"), answer.text[:300]
    address = answer.headers["location"]
    job_id = int(address.rsplit("/", 1)[1])
    assert _count(app, Job) == jobs + 1
    assert investigator.get(f"{address}/file").status_code == 400, "not printed yet: nothing to download"

    assert run_worker(app.state.store, once=True) == 1
    page = BeautifulSoup(investigator.get(address).text, "html.parser")
    link = page.select_one("#job-result a")
    assert link["href"] == f"{address}/file" and "pages" in page.find(id="job-result").text
    assert "folder" not in page.find(id="job-parameters").text, "the job's folder is not the user's business"
    download = investigator.get(link["href"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert download.content.startswith(b"%PDF")
    assert download.headers["x-dadkhah-sha256"] == hashlib.sha256(download.content).hexdigest()
    assert re.search(r'attachment; filename="dadkhah-report-en-\d{4}-\d\d-\d\d\.pdf"',
                     download.headers["content-disposition"])
    job = investigator.get(f"/api/v1/jobs/{job_id}").json()
    assert job["links"]["file_api"] == f"/api/v1/jobs/{job_id}/file" and job["file_kept"] is True
    assert investigator.get(job["links"]["file_api"]).content == download.content
    with app.state.store.session() as session:
        printed = next(e for e in list_audit(session, limit=5) if e["action"] == "report printed")
    assert (printed["actor"], printed["channel"], printed["object_id"]) == ("investigator", "web",
                                                                           download.headers["x-dadkhah-sha256"])
    listed = BeautifulSoup(investigator.get("/jobs").text, "html.parser")
    assert listed.select_one(f"tr[data-job='{job_id}'] a[download]")["href"] == f"{address}/file"
    # Whoever may not ask for a printed report may not take one either, and is not offered it.
    assert viewer.get(address).status_code == 200 and viewer.get(f"{address}/file").status_code == 403
    for page in (viewer.get(address), viewer.get("/jobs")):
        assert page.status_code == 200 and f"{address}/file" not in page.text
    assert "Only users who may publish" in BeautifulSoup(viewer.get(address).text, "html.parser").find(id="job-result").text
    assert "file" not in viewer.get(f"/api/v1/jobs/{job_id}").json()["links"]
    assert analyst.get(f"/api/v1/jobs/{job_id}/file").status_code == 403


def test_a_printed_report_asked_for_badly_makes_no_job_and_says_why(app, as_role):
    _publish(app)
    investigator = as_role("investigator")
    jobs = _count(app, Job)
    answer = investigator.post("/reports/print", data={"csrf_token": investigator.csrf, "city": "Atlantis"})
    assert answer.status_code == 400
    page = BeautifulSoup(answer.text, "html.parser")
    assert "Atlantis" in page.find(id="print-error").text
    assert page.select_one("#print-form input[name=city]")["value"] == "Atlantis", "what was typed is kept"
    headers = {"X-CSRF-Token": investigator.csrf}
    refused = investigator.post("/api/v1/reports/print", json={"official": "O-999999"}, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "official"
    refused = investigator.post("/api/v1/reports/print", json={"official": "O-000001", "incident": "x"}, headers=headers)
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "official"
    assert investigator.post("/api/v1/reports/print", json={"language": "de"}, headers=headers).status_code in (400, 422)
    assert _count(app, Job) == jobs
    accepted = investigator.post("/api/v1/reports/print", json={"language": "fa"}, headers=headers)
    assert accepted.status_code == 202 and accepted.headers["location"] == accepted.json()["links"]["api"]
    # Only a report-printing job has a file; an estimate's job has none.
    estimate = _submit(as_role("analyst"))
    assert investigator.get(f"{estimate}/file").status_code == 404


def test_the_memorial_site_is_asked_for_on_the_sources_page_and_its_signed_zip_downloaded(app, as_role, tmp_path):
    import io
    import zipfile

    from dadkhah.publish import verify_site

    _publish(app)
    investigator, analyst = as_role("investigator"), as_role("analyst")
    assert BeautifulSoup(analyst.get("/sources").text, "html.parser").find(id="memorial-form") is None
    assert analyst.post("/memorial/build", data={"csrf_token": analyst.csrf}).status_code == 403
    jobs = _count(app, Job)
    refused = investigator.post("/memorial/build", data={"csrf_token": investigator.csrf, "languages": ["fa"],
                                                         "contact": "call the office"})
    assert refused.status_code == 400 and _count(app, Job) == jobs
    page = BeautifulSoup(refused.text, "html.parser")
    assert page.find(id="memorial-error")["data-field"] == "contact"
    assert page.select_one("#memorial-form input[name=contact]")["value"] == "call the office"
    none = investigator.post("/memorial/build", data={"csrf_token": investigator.csrf, "title": "x"})
    assert none.status_code == 400 and _count(app, Job) == jobs, "no language chosen: nothing to build"

    answer = investigator.post("/memorial/build", data={"csrf_token": investigator.csrf, "languages": ["fa", "en"],
                                                        "contact": "https://example.org/corrections"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/jobs/"), answer.text[:300]
    address = answer.headers["location"]
    assert run_worker(app.state.store, once=True) == 1  # the app's store holds the unlocked keys, as the server's
    page = BeautifulSoup(investigator.get(address).text, "html.parser")
    assert "Memorial site" in page.find("h1").text
    link = page.select_one("#job-result a")
    assert link["href"] == f"{address}/file"
    download = investigator.get(link["href"])
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    assert re.search(r'filename="dadkhah-memorial-\d{4}-\d\d-\d\d\.zip"', download.headers["content-disposition"])
    with zipfile.ZipFile(io.BytesIO(download.content)) as zipped:
        zipped.extractall(tmp_path)
    fingerprint = page.select_one("#job-result code").text
    assert verify_site(tmp_path / "memorial", expect_key=fingerprint)["intact"]
    assert (tmp_path / "memorial" / "fa" / "index.html").is_file() and (tmp_path / "memorial" / "en").is_dir()
    api = investigator.post("/api/v1/memorial/build", json={"languages": ["en"]},
                            headers={"X-CSRF-Token": investigator.csrf})
    assert api.status_code == 202 and api.json()["kind"] == "memorial build"
    assert analyst.get(f"/api/v1/jobs/{api.json()['id']}/file").status_code == 403
