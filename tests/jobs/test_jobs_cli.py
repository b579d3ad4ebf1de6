"""Jobs at the command line: `estimate run --background`, `dadkhah worker`, `dadkhah jobs list|show|cancel`,
each with one JSON document on stdout; and a worker process that stops when asked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dadkhah.audit import list_audit
from dadkhah.jobs import show_job
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace
from tests.cli.test_cli import run

USER = {"DADKHAH_USER": "maryam"}


@pytest.fixture
def ws(linked, tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    target = tmp_path / "ws"
    shutil.copytree(linked[0], target)
    return target


def _json(*args, workspace, code: int = 0):
    result = run(*args, "--json", workspace=workspace, env=USER)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_a_background_estimate_is_queued_run_by_the_worker_and_shown(ws):
    job = _json("estimate", "run", "--method", "chao", "--by", "gender", "--linkage-thresholds", "0.9", "--background",
                workspace=ws)
    assert (job["status"], job["kind"], job["requested_by"], job["channel"]) == ("queued", "estimate run", "maryam", "cli")
    assert job["parameters"]["method"] == "chao" and job["parameters"]["by"] == "gender"
    assert job["parameters"]["linkage_thresholds"] == [0.9] and "iterations" not in job["parameters"], "not chao's"
    assert _json("jobs", "list", workspace=ws) == [job]
    assert _json("jobs", "list", "--status", "done", workspace=ws) == []
    assert _json("estimate", "list", workspace=ws) == [], "nothing ran yet"

    worked = _json("worker", "--once", workspace=ws)
    assert worked["ran"] == 1 and worked["jobs"] == [{"id": job["id"], "kind": "estimate run", "status": "done"}]
    done = _json("jobs", "show", str(job["id"]), workspace=ws)
    assert done["status"] == "done" and done["progress"]["done"] == done["progress"]["total"]
    estimate_id = done["result"]["estimate_id"]
    listed = _json("estimate", "list", workspace=ws)
    assert listed[0]["id"] == estimate_id and listed[0]["by"] == "gender" and listed[0]["created_by"] == "maryam"
    shown = run("jobs", "show", str(job["id"]), workspace=ws)
    assert f"result: estimate {estimate_id} (chao)" in shown.stdout and "done" in shown.stdout
    assert "parameters: method=chao, by=gender, linkage_thresholds=[0.9], level=0.95" in shown.stdout  # no LCMCR's
    assert f"`dadkhah estimate show {estimate_id}`" in shown.stdout  # where the whole of it is
    whole = run("estimate", "show", str(estimate_id), workspace=ws)
    assert whole.exit_code == 0 and "named on the lists" in whole.stdout and "Sum over strata" in whole.stdout
    table = run("jobs", "list", workspace=ws).stdout
    assert "done" in table and "maryam" in table
    assert "Ran 0 jobs." in run("worker", "--once", workspace=ws).stdout
    with open_store(load_workspace(ws)) as store, store.session() as session:
        actions = [(e["action"], e["actor"], e["channel"]) for e in list_audit(session, limit=2, newest_first=False,
                                                                                offset=_count(session) - 2)]
    assert actions == [("job submitted", "maryam", "cli"), ("estimate run", "maryam", "cli")]


def _count(session) -> int:
    import sqlalchemy as sa

    from dadkhah.model import AuditEvent

    return session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def test_a_bad_background_request_is_refused_at_once_naming_the_option(ws):
    bad = _json("estimate", "run", "--method", "guess", "--background", workspace=ws, code=1)
    assert bad["error"]["field"] == "method" and bad["error"]["option"] == "--method"
    plot = _json("estimate", "run", "--background", "--plot", str(ws / "x.svg"), workspace=ws, code=1)
    assert plot["error"]["option"] == "--plot" and "chart" in plot["error"]["message"]
    assert _json("jobs", "list", workspace=ws) == []
    missing = _json("jobs", "show", "99", workspace=ws, code=1)
    assert missing["error"]["message"] == "no job 99"
    status = _json("jobs", "list", "--status", "sleeping", workspace=ws, code=1)
    assert "status" in status["error"]["message"]


def test_cancelling_a_queued_job_at_the_command_line(ws):
    job = _json("estimate", "run", "--method", "chao", "--background", workspace=ws)
    queued = run("estimate", "run", "--method", "chao", "--background", workspace=ws, env=USER)
    assert f"Queued as job {job['id'] + 1}" in queued.stderr
    cancelled = _json("jobs", "cancel", str(job["id"]), workspace=ws)
    assert cancelled["status"] == "cancelled" and cancelled["cancel_requested"] is True
    again = _json("jobs", "cancel", str(job["id"]), workspace=ws, code=1)
    assert "already cancelled" in again["error"]["message"]
    assert f"Job {job['id'] + 1} cancelled." in run("jobs", "cancel", str(job["id"] + 1), workspace=ws, env=USER).stdout
    assert _json("worker", "--once", workspace=ws)["ran"] == 0
    assert [j["status"] for j in _json("jobs", "list", workspace=ws)] == ["cancelled", "cancelled"]


def test_the_worker_process_runs_jobs_as_they_come_and_stops_when_asked(ws):
    """`dadkhah worker` as its own process: it picks up a job submitted after it started, and SIGTERM
    stops it (failing nothing, as it is idle), with one JSON document on its stdout."""
    worker = subprocess.Popen([sys.executable, "-m", "dadkhah", "--workspace", str(ws), "worker", "--poll", "0.2",
                               "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=os.environ | USER)
    try:
        job = _json("estimate", "run", "--method", "chao", "--background", workspace=ws)
        with open_store(load_workspace(ws)) as store:
            deadline = time.monotonic() + 60
            while True:
                with store.session() as session:
                    status = show_job(session, job["id"])["status"]
                if status == "done":
                    break
                assert worker.poll() is None, worker.stderr.read()
                assert time.monotonic() < deadline, f"the worker did not run the job: {status}"
                time.sleep(0.2)
        worker.send_signal(signal.SIGTERM)
        out, errors = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, errors
    document = json.loads(out)
    assert document["ran"] == 1 and document["jobs"][0]["status"] == "done"
    assert document["worker"].endswith(f":{worker.pid}")


def test_a_list_uploaded_on_the_web_and_queued_is_imported_by_the_worker_and_shown(ws, tmp_path):
    from dadkhah.audit import Actor
    from dadkhah.jobs import queue_list_import

    upload = tmp_path / "upload-1" / "late-list.csv"
    upload.parent.mkdir()
    upload.write_text("record_id,given_name,family_name\nL-1,Roya,Sample\nL-2,,\n", encoding="utf-8")
    with open_store(load_workspace(ws)) as store:
        job_id = queue_list_import(store, actor=Actor("analyst", "web", "192.0.2.7"), path=upload, source="late")
    assert _json("worker", "--once", workspace=ws)["ran"] == 1
    shown = run("jobs", "show", str(job_id), workspace=ws, env=USER)
    assert shown.exit_code == 0, shown.output
    assert f"Job {job_id} (list import), asked for by analyst (web)" in shown.stdout
    assert "of late-list.csv into late: 2 rows: 1 imported, 1 rejected" in shown.stdout
    assert not any((ws / "uploads").iterdir())


def test_a_report_asked_for_on_the_web_is_printed_by_the_worker_and_shown_with_where_it_is_kept(ws):
    from dadkhah.audit import Actor
    from dadkhah.jobs import queue_report_print

    assert run("sources", "set", "list-1", "--release", "public", workspace=ws, env=USER).exit_code == 0
    with open_store(load_workspace(ws)) as store:
        job_id = queue_report_print(store, actor=Actor("investigator", "web", "192.0.2.7"), language="en")
    assert _json("worker", "--once", workspace=ws)["ran"] == 1
    job = _json("jobs", "show", str(job_id), workspace=ws)
    assert job["status"] == "done" and job["printed_file"].startswith(str(ws / "printed"))
    assert Path(job["printed_file"]).read_bytes().startswith(b"%PDF")
    shown = run("jobs", "show", str(job_id), workspace=ws, env=USER)
    assert shown.exit_code == 0, shown.output
    assert f"result: the printed report, {job['result']['pages']} pages in en, " in shown.stdout
    assert job["printed_file"] in shown.stdout.replace("\n", "")


def test_an_intake_uploaded_on_the_web_and_queued_is_taken_in_by_the_worker_and_shown(tmp_path):
    """The worker a command starts opens the key file itself (an intake seals what it takes in)."""
    from dadkhah.audit import Actor
    from dadkhah.jobs import queue_intake
    from dadkhah.vault.keys import load_keys
    from tests.vault.intake_files import ODK_MAPPING, odk_submission, odk_zip

    ws = tmp_path / "ws"
    assert run("init", str(ws), env=USER).exit_code == 0
    folder = tmp_path / "upload"
    (folder / "export").mkdir(parents=True)
    (folder / "mapping").mkdir()
    odk_zip(folder / "export" / "statements.zip", [odk_submission(1), odk_submission(2, language="??")])
    (folder / "mapping" / "odk.toml").write_text(ODK_MAPPING, encoding="utf-8")
    workspace = load_workspace(ws)
    with open_store(workspace, keys=load_keys(workspace)) as store:
        job_id = queue_intake(store, actor=Actor("investigator", "web", "192.0.2.7"), folder=folder,
                              parameters={"tool": "odk", "export": "export/statements.zip",
                                          "mapping": "mapping/odk.toml",
                                          "shown": {"export/statements.zip": "statements.zip"}})
    assert _json("worker", "--once", workspace=ws)["ran"] == 1
    shown = run("jobs", "show", str(job_id), workspace=ws, env=USER)
    assert shown.exit_code == 0, shown.output
    assert f"Job {job_id} (intake), asked for by investigator (web)" in shown.stdout
    job = _json("jobs", "show", str(job_id), workspace=ws)
    assert (job["status"], job["result"]["rejections_count"]) == ("done", 1)
    assert (f"result: intake {job['result']['intake_id']} of statements.zip: 2 submissions: 1 taken in, 0 taken in "
            "before, 1 refused; 1 testimonies, 1 evidence items, 1 victim records") in " ".join(shown.stdout.split())
    listed = run("jobs", "list", workspace=ws, env=USER)
    assert listed.exit_code == 0 and f"intake {job['result']['intake_id']}" in listed.stdout
