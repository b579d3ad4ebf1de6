"""A large upload from a field tool is taken in by a background job, not while the request waits: the
web answers at once with the job (202 and its address; the form goes to its page), the files wait in
the workspace's uploads, a worker takes them in for the user who uploaded them with the same result
as in the request, and the files are removed when the job ends or is cancelled. What the job holds
(testimonies, what refused submissions said) is for those who may add testimonies only."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup

from dadkhah.audit import list_audit
from dadkhah.jobs import run_worker
from dadkhah.vault.keys import load_keys
from dadkhah.web import WebSettings, create_app
from dadkhah.workspace import load_workspace
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
from tests.web.test_interchange_web import _odk, _private_left, _zip, post


def _app_with(web_store_path, setting: str):
    """The served case's application with one more line in its workspace's ``[import]`` settings."""
    config = web_store_path / "dadkhah.toml"
    text = config.read_text(encoding="utf-8")
    assert "max_file_mb = 4096" in text
    config.write_text(text.replace("max_file_mb = 4096", f"max_file_mb = 4096\n{setting}"), encoding="utf-8")
    workspace = load_workspace(web_store_path)
    return create_app(WebSettings(workspace=web_store_path, keys=load_keys(workspace)))


@pytest.fixture
def background(web_store_path):
    """The served case with every intake upload sent to a background job (``web_intake_in_request_mb = 0``)."""
    app = _app_with(web_store_path, "web_intake_in_request_mb = 0")
    yield app
    app.state.store.close()


def _waiting(app) -> list[str]:
    uploads = app.state.store.workspace.uploads_dir
    return sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []


def _queued(answer) -> dict:
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["location"] == job["links"]["api"] == f"/api/v1/jobs/{job['id']}"
    assert (job["kind"], job["status"]) == ("intake", "queued")
    return job


def _run(app, client, job: dict) -> dict:
    """The worker (with the server's keys, as the one `serve` starts) runs the job; the job as the API shows it."""
    assert run_worker(app.state.store, once=True) == 1
    done = client.get(job["links"]["api"]).json()
    assert done["status"] == "done", done.get("error")
    return done


def test_a_large_odk_upload_is_a_job_that_takes_it_in_as_the_request_would_and_leaves_nothing(background, tmp_path):
    app = background
    investigator = login(app, "investigator")
    job = _queued(post(investigator, "/api/v1/intake/odk", data={"source": "field-web", "incident": "1988 executions"},
                       files={"file": ("witness_statement.zip", _odk(tmp_path), "application/zip"),
                              "mapping": ("odk.toml", ODK_MAPPING.encode(), "application/toml")}))
    assert len(_waiting(app)) == 1 and _private_left(app) == [], "the files wait in the uploads, nowhere else"
    assert job["parameters"]["shown"] == {"export/witness_statement.zip": "witness_statement.zip",
                                          "mapping/odk.toml": "odk.toml"}
    assert investigator.get("/api/v1/intake").json()["intakes"] == [], "nothing is taken in before the worker runs"

    done = _run(app, investigator, job)
    result = done["result"]
    assert (result["tool"], result["file"], result["source"]) == ("odk", "witness_statement.zip", "field-web")
    assert (result["rows"], result["imported"], result["rejected"], result["records"]) == (1, 1, 0, 1)
    assert result["testimonies"] and result["testimonies_count"] == len(result["testimonies"])
    assert result["evidence_count"] >= 1
    assert done["links"]["result_page"] == "/intake"
    listed_jobs = investigator.get("/jobs")  # the list of jobs failed on a done intake
    assert listed_jobs.status_code == 200 and '<a href="/intake">' in listed_jobs.text
    assert _waiting(app) == [], "the uploaded files are removed once taken in"
    assert not any(w in json.dumps(done) for w in WITNESSES) and "uploads" not in json.dumps(result)
    listed = investigator.get("/api/v1/intake").json()["intakes"]
    assert [(i["tool"], i["file"], i["taken_by"]) for i in listed] == [("odk", "witness_statement.zip", "investigator")]

    # The trail is the uploader's: the job's submission, then the intake's own events.
    with app.state.store.session() as session:
        events = list_audit(session, limit=None, newest_first=False)
    submitted = [e for e in events if e["action"] == "job submitted"]
    assert [(e["actor"], e["channel"]) for e in submitted] == [("investigator", "web")]
    after = events[events.index(submitted[0]) + 1:]
    assert after and {e["actor"] for e in after} == {"investigator"} and {e["channel"] for e in after} == {"web"}

    # The job's page shows what the intake page shows, testimonies linked.
    page = BeautifulSoup(investigator.get(done["links"]["page"]).text, "html.parser")
    summary = page.select_one("#intake-summary")
    assert "witness_statement.zip" in summary.get_text() and summary.select("a[href^='/testimonies/T-']")
    assert page.select_one("#job-result a")["href"] == "/intake"

    # Sent again (in the background too), nothing is new.
    again = _run(app, investigator, _queued(post(investigator, "/api/v1/intake/odk", files={
        "file": ("witness_statement.zip", _odk(tmp_path)), "mapping": ("odk.toml", ODK_MAPPING.encode())})))
    assert again["result"]["nothing_new"] is True


def test_an_intake_job_is_seen_only_by_whoever_may_add_testimonies(background, tmp_path):
    app = background
    investigator, analyst = login(app, "investigator"), login(app, "analyst")
    job = _queued(post(investigator, "/api/v1/intake/odk", files={
        "file": ("w.zip", _odk(tmp_path, 2, language="??")), "mapping": ("odk.toml", ODK_MAPPING.encode())}))
    done = _run(app, investigator, job)
    assert done["result"]["rejected"] == 1 and done["result"]["rejections"][0]["field"]
    assert done["result"]["quarantine"].startswith("quarantine/")
    assert analyst.get(job["links"]["api"]).status_code == 403
    assert analyst.get(job["links"]["page"]).status_code == 403
    assert job["id"] not in [j["id"] for j in analyst.get("/api/v1/jobs").json()["jobs"]]
    assert job["id"] in [j["id"] for j in investigator.get("/api/v1/jobs").json()["jobs"]]
    assert post(analyst, f"/api/v1/jobs/{job['id']}/cancel").status_code == 403


def test_kobo_and_tella_uploads_go_to_the_background_with_their_attachments(background, tmp_path):
    app = background
    investigator = login(app, "investigator")
    two = kobo_submission(2)
    path = two["_attachments"][0]["filename"]
    kobo = _run(app, investigator, _queued(post(investigator, "/api/v1/intake/kobo", files=[
        ("file", ("data.json", json.dumps({"count": 1, "next": None, "previous": None, "results": [two]}).encode())),
        ("mapping", ("kobo.toml", KOBO_MAPPING.encode())),
        ("attachments_zip", ("media.zip", _zip({path: jpeg((2, 2, 2))}), "application/zip"))])))
    assert (kobo["result"]["imported"], kobo["result"]["source"]) == (1, "field-team-kobo")

    shared = tmp_path / "tella-shared"
    tella_file(shared, "IMG_1.jpg", jpeg((5, 6, 7)))
    tella_file(shared, "IMG_2.jpg", jpeg((8, 9, 10)))
    job = _queued(post(investigator, "/api/v1/intake/tella",
                       data={"source": "tella-team", "description": "north wall", "release": ["investigators"]},
                       files={"files_zip": ("tella-shared.zip", _zip({f"tella-shared/{p.name}": p.read_bytes()
                                                                      for p in shared.iterdir()}))}))
    assert job["parameters"]["release"] == ["investigators"] and job["parameters"]["description"] == "north wall"
    tella = _run(app, investigator, job)
    assert (tella["result"]["file"], tella["result"]["rows"], tella["result"]["imported"]) == ("tella-shared", 2, 2)
    assert _waiting(app) == []


def test_what_the_worker_refuses_names_the_files_as_uploaded_and_a_cancelled_job_leaves_nothing(background,
                                                                                                 tmp_path):
    app = background
    investigator = login(app, "investigator")
    mapping = ODK_MAPPING.replace('"statement"', '"statementt"').encode()  # an answer the export does not have
    job = _queued(post(investigator, "/api/v1/intake/odk", files={
        "file": ("witness_statement.zip", _odk(tmp_path)), "mapping": ("my-mapping.toml", mapping)}))
    assert run_worker(app.state.store, once=True) == 1
    failed = investigator.get(job["links"]["api"]).json()
    assert failed["status"] == "failed" and "statementt" in failed["error"] and "my-mapping.toml" in failed["error"]
    assert str(app.state.store.workspace.path) not in failed["error"] and "uploads" not in failed["error"]
    assert _waiting(app) == [] and investigator.get("/api/v1/intake").json()["intakes"] == []

    queued = _queued(post(investigator, "/api/v1/intake/odk", files={
        "file": ("witness_statement.zip", _odk(tmp_path)), "mapping": ("odk.toml", ODK_MAPPING.encode())}))
    assert len(_waiting(app)) == 1
    assert post(investigator, f"/api/v1/jobs/{queued['id']}/cancel").json()["status"] == "cancelled"
    assert _waiting(app) == [], "a cancelled intake's files are removed at once"
    assert run_worker(app.state.store, once=True) == 0


def test_the_intake_form_goes_to_the_jobs_page(background, tmp_path):
    """(Below the setting, 64 MB unless set, an upload is taken in while the request waits: every test of
    tests/web/test_interchange_web.py is answered with its summary.)"""
    investigator = login(background, "investigator")
    answer = investigator.post("/intake/odk", data={"csrf_token": investigator.csrf, "source": "from-the-page"},
                               files={"file": ("witness_statement.zip", _odk(tmp_path)),
                                      "mapping": ("odk.toml", ODK_MAPPING.encode())})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/jobs/")
    page = BeautifulSoup(investigator.get(answer.headers["location"]).text, "html.parser")
    assert page.select_one("#job-status span")["data-status"] == "queued"
    assert "Intake" in page.select_one("h1").get_text() and "witness_statement.zip" in page.select_one(
        "#job-parameters").get_text()
    assert run_worker(background.state.store, once=True) == 1
    done = BeautifulSoup(investigator.get(answer.headers["location"]).text, "html.parser")
    assert "witness_statement.zip" in done.select_one("#intake-summary").get_text()


def test_an_upload_of_many_small_submissions_goes_to_the_background_too(web_store_path, tmp_path):
    """Taking a submission in costs about the same whatever its files' size: a small download of many
    submissions would keep the request waiting as long as a large one. Counted, it goes to a job."""
    app = _app_with(web_store_path, "web_intake_in_request_submissions = 2")
    try:
        investigator = login(app, "investigator")

        def download(count: int, first: int) -> bytes:
            submissions = [odk_submission(n) for n in range(first, first + count)]
            return odk_zip(tmp_path / f"w-{first}.zip", submissions).read_bytes()

        two = post(investigator, "/api/v1/intake/odk", files={
            "file": ("w.zip", download(2, 1)), "mapping": ("odk.toml", ODK_MAPPING.encode())})
        assert two.status_code == 200 and two.json()["imported"] == 2, two.text
        three = _queued(post(investigator, "/api/v1/intake/odk", files={
            "file": ("w.zip", download(3, 3)), "mapping": ("odk.toml", ODK_MAPPING.encode())}))
        assert _run(app, investigator, three)["result"]["imported"] == 3
    finally:
        app.state.store.close()
