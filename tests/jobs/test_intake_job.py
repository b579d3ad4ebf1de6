"""A field tool's export taken in by a background job (a large web upload), on SQLite and PostgreSQL:
queued with its files in the workspace's uploads, taken in by a worker holding the keys for the user
who uploaded it, its files never left behind; its parameters name files inside its upload only; and
its progress, reported while its own transaction holds the database, never waits for itself."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
import sqlalchemy as sa

from dadkhah.audit import Actor
from dadkhah.errors import InputError
from dadkhah.jobs import queue_intake, run_worker, show_job, submit_job
from dadkhah.jobs.queue import claim_next, report_progress
from dadkhah.model import Intake, Job
from dadkhah.store import sweep_leftovers
from tests.conftest import write
from tests.vault.intake_files import ODK_MAPPING, odk_submission, odk_zip

UPLOADER = Actor("investigator", "web", "192.0.2.9")


def _saved(tmp_path, number: int = 1):
    """The files as the web saves an ODK upload before queueing it: a folder of its own."""
    folder = tmp_path / f"intake-upload-{time.monotonic_ns()}"
    (folder / "export").mkdir(parents=True)
    (folder / "mapping").mkdir()
    odk_zip(folder / "export" / "witness_statement.zip", [odk_submission(number)])
    write(folder / "mapping" / "odk.toml", ODK_MAPPING)
    return folder


ODK = {"tool": "odk", "export": "export/witness_statement.zip", "mapping": "mapping/odk.toml",
       "shown": {"export/witness_statement.zip": "witness_statement.zip", "mapping/odk.toml": "odk.toml"}}


def _waiting(store) -> list[str]:
    uploads = store.workspace.uploads_dir
    return sorted(p.name for p in uploads.iterdir()) if uploads.is_dir() else []


def test_a_queued_intake_is_taken_in_by_the_worker_with_its_keys_and_its_files_removed(keyed_store, tmp_path):
    store = keyed_store
    folder = _saved(tmp_path)
    job_id = queue_intake(store, actor=UPLOADER, folder=folder, parameters=ODK | {"source": "field-web"})
    assert not folder.exists() and len(_waiting(store)) == 1
    assert run_worker(store, once=True) == 1
    with store.session() as session:
        job = show_job(session, job_id)
        intake = session.get(Intake, job["result"]["intake_id"])
    assert job["status"] == "done", job["error"]
    assert (job["result"]["file"], job["result"]["imported"], job["result"]["records"]) == ("witness_statement.zip", 1, 1)
    assert (intake.file_name, intake.taken_by) == ("witness_statement.zip", "investigator")
    assert job["progress"]["done"] == job["progress"]["total"] > 0
    assert _waiting(store) == []


def test_a_worker_without_the_keys_fails_the_intake_saying_why_and_removes_its_files(store, tmp_path):
    job_id = queue_intake(store, actor=UPLOADER, folder=_saved(tmp_path), parameters=ODK)
    store.use_keys(None)
    run_worker(store, once=True)
    with store.session() as session:
        job = show_job(session, job_id)
    assert job["status"] == "failed" and "no unlocked keys" in job["error"]
    assert _waiting(store) == []


@pytest.mark.parametrize(("change", "field"), [
    ({"export": "../../etc/passwd"}, "export"),
    ({"export": "/etc/passwd"}, "export"),
    ({"export": "export/../../x.zip"}, "export"),
    ({"mapping": "mapping/odk.toml\n"}, "mapping"),
    ({"mapping": None}, "mapping"),
    ({"attachments": "media"}, "attachments"),  # ODK takes none
    ({"tool": "telegram"}, "tool"),
    ({"upload": "../" + "0" * 30}, "upload"),
    ({"source": "a:b"}, "source"),
    ({"release": ["investigators"]}, "release"),  # Tella's alone
    ({"shown": {"../x": "x"}}, "shown"),
    ({"anything": 1}, "anything"),
])
def test_an_intake_names_files_inside_its_upload_and_nothing_else(store, change, field):
    parameters = ODK | {"upload": "0" * 32} | change
    with pytest.raises(InputError) as refused:
        submit_job(store, actor=UPLOADER, kind="intake", parameters=parameters)
    assert refused.value.field == field, refused.value
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_the_sweep_removes_an_intakes_orphan_folder_and_keeps_one_that_waits(keyed_store, tmp_path):
    store = keyed_store
    waiting = queue_intake(store, actor=UPLOADER, folder=_saved(tmp_path), parameters=ODK)
    [kept] = _waiting(store)
    orphan = store.workspace.uploads_dir / ("d" * 32)  # moved in by a process that died before submitting
    orphan.mkdir()
    an_hour_ago = time.time() - 3700
    for path in (orphan, store.workspace.uploads_dir / kept):
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert sweep_leftovers(store)["files"] == 1 and _waiting(store) == [kept]
    assert run_worker(store, once=True) == 1
    with store.session() as session:
        assert show_job(session, waiting)["status"] == "done"


@pytest.mark.parametrize("database", ["sqlite"])  # PostgreSQL locks rows: the job's row is free meanwhile
def test_progress_reported_while_another_writer_holds_sqlite_is_left_out_not_waited_for(store, tmp_path):
    """An intake reports progress while its own transaction is open: on SQLite that writer holds the
    database, and a progress write that waited for it would wait for ever (until Busy). Left out, the
    report answers at once, and a cancellation is still seen."""
    job_id = queue_intake(store, actor=UPLOADER, folder=_saved(tmp_path), parameters=ODK)
    claimed = claim_next(store, "test:1")
    assert claimed["id"] == job_id
    holding, release = threading.Event(), threading.Event()

    def writer():
        with store.engine.connect() as connection:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            holding.set()
            release.wait(30)
            connection.rollback()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        assert report_progress(store, job_id, "test:1", 3, 10, wait=False) is False
        assert time.monotonic() - started < 2, "the report waited for the other writer"
    finally:
        release.set()
        thread.join()
    with store.session() as session:
        assert session.get(Job, job_id).progress_done == 0, "left out while the other writer held the database"
        session.execute(sa.update(Job).where(Job.id == job_id).values(cancel_requested=True))
    assert report_progress(store, job_id, "test:1", 4, 10, wait=False) is True
    with store.session() as session:
        assert session.get(Job, job_id).progress_done == 4


def test_submissions_are_counted_without_taking_the_export_in(tmp_path):
    from dadkhah.vault.intake import count_submissions
    from tests.vault.intake_files import jpeg, kobo_submission, tella_file

    download = odk_zip(tmp_path / "w.zip", [odk_submission(n) for n in range(1, 6)])
    assert count_submissions("odk", download, up_to=100) == 5
    assert count_submissions("odk", download, up_to=2) == 3, "counted no further than needed"
    assert count_submissions("odk", write(tmp_path / "not.zip", "text"), up_to=100) is None
    kobo = tmp_path / "data.json"
    kobo.write_text(json.dumps({"count": 2, "next": None, "results": [kobo_submission(1), kobo_submission(2)]}))
    assert count_submissions("kobo", kobo, up_to=100) == 2
    kobo.write_text(json.dumps([kobo_submission(1)]))
    assert count_submissions("kobo", kobo, up_to=100) == 1
    assert count_submissions("kobo", write(tmp_path / "bad.json", "{"), up_to=100) is None
    shared = tmp_path / "shared"
    for n in range(3):
        tella_file(shared, f"IMG_{n}.jpg", jpeg((n, 2, 3)))
    assert count_submissions("tella", shared, up_to=100) == 3


def test_an_intake_cancelled_while_it_writes_keeps_nothing(keyed_store, tmp_path, monkeypatch):
    """Cancelled halfway through writing (testimonies sealed, files placed), the intake's one transaction
    is rolled back: no intake, testimony or evidence row, no sealed file, no upload left. (On SQLite the
    intake's transaction holds the database while it writes, so a cancellation, itself a write, waits
    for it: there it is asked for while the submissions are read.)"""
    import dadkhah.jobs.worker as worker
    from dadkhah.model import EvidenceItem, Testimony

    store = keyed_store
    folder = tmp_path / "upload"
    (folder / "export").mkdir(parents=True)
    (folder / "mapping").mkdir()
    odk_zip(folder / "export" / "witness_statement.zip", [odk_submission(n) for n in range(1, 7)])
    write(folder / "mapping" / "odk.toml", ODK_MAPPING)
    job_id = queue_intake(store, actor=UPLOADER, folder=folder, parameters=ODK)
    told = []
    writing = store.engine.dialect.name == "postgresql"

    def cancelled_halfway(store_, job, name, done=None, total=None, **options):
        told.append(done)
        if done is not None and done > (total * 3 // 4 if writing else 2):  # past the first submissions written
            with store_.session() as session:
                session.execute(sa.update(Job).where(Job.id == job).values(cancel_requested=True))
        return report_progress(store_, job, name, done, total, **options)

    monkeypatch.setattr(worker, "report_progress", cancelled_halfway)
    assert run_worker(store, once=True, progress_every=0) == 1
    with store.session() as session:
        assert show_job(session, job_id)["status"] == "cancelled"
        assert [session.scalar(sa.select(sa.func.count()).select_from(t)) for t in (Intake, Testimony, EvidenceItem)] \
            == [0, 0, 0]
    assert max(d for d in told if d is not None) > (6 if writing else 2), "cancelled too early to tell"
    blobs = store.workspace.path / "blobs"
    assert not blobs.exists() or not [p for p in blobs.rglob("*") if p.is_file()]
    assert _waiting(store) == []
