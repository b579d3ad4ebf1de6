"""A list imported by a background job (a large web upload): queued with its file in the workspace's
uploads, imported by a worker for the user who uploaded it, and its file never left behind."""

from __future__ import annotations

import os
import time

import pytest
import sqlalchemy as sa

from dadkhah.audit import Actor, list_audit
from dadkhah.errors import InputError
from dadkhah.ingest.importer import import_file
from dadkhah.jobs import cancel_job, queue_list_import, run_worker, show_job, submit_job
from dadkhah.jobs.kinds import upload_path
from dadkhah.model import Import, Record
from dadkhah.store import sweep_leftovers
from tests.conftest import write

UPLOADER = Actor("analyst", "web", "192.0.2.7")
# A synthetic list: 3 rows, one refused (no name).
LIST = "record_id,given_name,family_name,city\nQ-1,Roya,Sample,Tehran\nQ-2,,,Tehran\nQ-3,Kaveh,Example,Tabriz\n"


def _uploaded(tmp_path, name: str = "victims.csv", text: str = LIST):
    """A file as the web saves an upload before queueing it (its own folder, its own name)."""
    folder = tmp_path / f"upload-{time.monotonic_ns()}"
    folder.mkdir()
    return write(folder / name, text)


def _waiting(store) -> list[str]:
    uploads = store.workspace.uploads_dir
    return sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []


def _events(store, action: str) -> list[dict]:
    with store.session() as session:
        return [e for e in list_audit(session, limit=None, newest_first=False) if e["action"] == action]


def _imports(store) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Import))


def test_a_queued_list_is_imported_by_the_worker_for_the_uploader_and_its_file_removed(store, tmp_path):
    path = _uploaded(tmp_path)
    job_id = queue_list_import(store, actor=UPLOADER, path=path, source="web-list", incident="Synthetic")
    assert not path.exists() and len(_waiting(store)) == 1, "the file waits in the workspace's uploads"
    with store.session() as session:
        job = show_job(session, job_id)
    assert (job["kind"], job["status"], job["requested_by"], job["channel"]) == ("list import", "queued", "analyst", "web")
    assert job["parameters"]["source"] == "web-list" and job["parameters"]["upload"].endswith("/victims.csv")
    assert _imports(store) == 0

    assert run_worker(store, once=True) == 1
    with store.session() as session:
        job = show_job(session, job_id)
        imported = session.get(Import, job["result"]["import_id"])
        records = session.scalar(sa.select(sa.func.count()).select_from(Record).where(Record.import_id == imported.id))
    assert job["status"] == "done", job["error"]
    assert {k: job["result"][k] for k in ("rows", "imported", "rejected", "file", "source")} == {
        "rows": 3, "imported": 2, "rejected": 1, "file": "victims.csv", "source": "web-list"}
    assert (imported.file_name, records) == ("victims.csv", 2)
    assert job["progress"]["done"] == job["progress"]["total"] == 100
    assert _waiting(store) == [], "the uploaded list is removed once imported"

    # The trail: the submission, then the import itself, both the uploader's, as a direct import's would be.
    [submitted] = _events(store, "job submitted")
    [queued_import] = _events(store, "list imported")
    for event in (submitted, queued_import):
        assert (event["actor"], event["channel"], event["address"]) == ("analyst", "web", "192.0.2.7")
    direct = import_file(store, _uploaded(tmp_path, "other.csv", LIST.replace("Q-", "R-")), actor=UPLOADER,
                         source="web-list", incident="Synthetic")
    [_, direct_event] = _events(store, "list imported")
    assert direct_event["actor"] == queued_import["actor"] and direct.imported == 2
    assert set(direct_event["details"]) == set(queued_import["details"])


def test_a_cancelled_queued_import_removes_its_list_and_imports_nothing(store, tmp_path):
    job_id = queue_list_import(store, actor=UPLOADER, path=_uploaded(tmp_path), source="web-list")
    assert cancel_job(store, actor=UPLOADER, job_id=job_id)["status"] == "cancelled"
    assert _waiting(store) == []
    assert run_worker(store, once=True) == 0 and _imports(store) == 0


def test_a_list_the_import_refuses_fails_its_job_naming_the_file_as_uploaded(store, tmp_path):
    unreadable = "colour,shape\nred,round\n"  # names no person: refused whole
    job_id = queue_list_import(store, actor=UPLOADER, path=_uploaded(tmp_path, "shapes.csv", unreadable), source="x")
    run_worker(store, once=True)
    with store.session() as session:
        job = show_job(session, job_id)
    assert job["status"] == "failed" and "shapes.csv" in job["error"]
    assert "uploads" not in job["error"] and str(store.workspace.path) not in job["error"]
    assert _waiting(store) == [] and _imports(store) == 0


def test_an_upload_names_a_file_in_the_uploads_folder_and_nowhere_else(store):
    for upload in ("../../etc/passwd", "0" * 32 + "/../x.csv", "0" * 32 + "/..", "0" * 32 + "/a/b.csv",
                   "0" * 32 + "/x.csv\n", "short/x.csv", None):
        with pytest.raises(InputError) as refused:
            submit_job(store, actor=UPLOADER, kind="list import", parameters={"upload": upload, "source": "s"})
        assert refused.value.field == "upload", upload
    with pytest.raises(InputError) as refused:
        submit_job(store, actor=UPLOADER, kind="list import", parameters={"upload": "0" * 32 + "/x.csv", "source": "a:b"})
    assert refused.value.field == "source"
    assert upload_path(store.workspace, "0" * 32 + "/x.csv").parent.parent == store.workspace.uploads_dir


def test_the_sweep_removes_a_list_no_waiting_job_names_and_keeps_one_that_waits(store, tmp_path):
    waiting_job = queue_list_import(store, actor=UPLOADER, path=_uploaded(tmp_path), source="web-list")
    [kept] = _waiting(store)
    orphan = store.workspace.uploads_dir / ("f" * 32)  # moved in by a process that died before submitting
    orphan.mkdir()
    write(orphan / "lost.csv", LIST)
    fresh = store.workspace.uploads_dir / ("e" * 32)  # being moved in right now: not yet named by its job
    fresh.mkdir()
    an_hour_ago = time.time() - 3700
    for folder in (orphan, store.workspace.uploads_dir / kept):
        os.utime(folder, (an_hour_ago, an_hour_ago))
    swept = sweep_leftovers(store)
    assert swept["files"] == 1 and _waiting(store) == sorted([kept, fresh.name])
    assert run_worker(store, once=True) == 1
    with store.session() as session:
        assert show_job(session, waiting_job)["status"] == "done"
