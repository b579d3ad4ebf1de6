"""The printed report made by a background job (asked for on the web): checked when asked for, printed
by the worker for the user who asked into the workspace's printed/ folder, the same report the
command line prints, never a half-written or orphaned file, and removed some days later."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dadkhah.audit import Actor, list_audit
from dadkhah.errors import InputError
from dadkhah.jobs import (
    cancel_job,
    job_kind,
    printed_file,
    queue_report_print,
    run_worker,
    show_job,
    submit_job,
)
from dadkhah.jobs.kinds import REPORT_LANGUAGES, printed_folder, run_report_print
from dadkhah.jobs.worker import Cancelled
from dadkhah.model import Job
from dadkhah.model.base import utcnow
from dadkhah.publish.report import LANGUAGES, print_report
from dadkhah.store import PRINTED_KEEP_DAYS, sweep_leftovers
from tests.conftest import write
from tests.publish import test_report_pdf
from tests.publish.test_report_pdf import read_back

case = test_report_pdf.case  # the printed report's own case: a public list, restricted material, an estimate

ASKER = Actor("investigator", "web", "192.0.2.9")


def _events(store, action: str) -> list[dict]:
    with store.session() as session:
        return [e for e in list_audit(session, limit=None, newest_first=False) if e["action"] == action]


def _jobs(store) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Job))


def _printed(store) -> list[str]:
    folder = store.workspace.printed_dir
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _undated(text: str) -> list[str]:
    """The report's lines but the date it was printed (two printings may fall on either side of midnight)."""
    return [line for line in text.splitlines() if "Printed" not in line]


def test_the_kinds_languages_are_the_reports_own():
    assert REPORT_LANGUAGES == LANGUAGES


def test_a_report_asked_for_is_printed_by_the_worker_for_the_user_who_asked(case, tmp_path):
    store = case
    job_id = queue_report_print(store, actor=ASKER, language="en", incident="Synthetic prison executions")
    with store.session() as session:
        job = show_job(session, job_id)
    assert (job["kind"], job["status"], job["requested_by"]) == ("report print", "queued", "investigator")
    assert job["parameters"]["language"] == "en" and len(job["parameters"]["folder"]) == 32
    assert _printed(store) == [] and _events(store, "report printed") == [], "nothing is printed in the request"

    assert run_worker(store, once=True) == 1
    with store.session() as session:
        job = show_job(session, job_id)
    assert job["status"] == "done", job["error"]
    path = printed_file(store.workspace, job["result"])
    assert path is not None and path.parent == printed_folder(store.workspace, job["parameters"]["folder"])
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == job["result"]["sha256"]
    [event] = _events(store, "report printed")
    assert (event["actor"], event["channel"], event["address"]) == ("investigator", "web", "192.0.2.9")
    assert event["object_id"] == job["result"]["sha256"], "the audit names the very file kept for download"

    # The same report the command line prints: the same persons, pages and sources.
    here = print_report(store, tmp_path / "here.pdf", actor=ASKER, language="en", incident="Synthetic prison executions")
    assert job["result"]["persons"] == here["persons"] > 0 and job["result"]["pages"] == here["pages"]
    assert job["result"]["sources"] == len(here["sources"]) and job["result"]["tagged"] is True
    assert _undated(read_back(path)) == _undated(read_back(tmp_path / "here.pdf"))


def test_what_cannot_be_printed_is_refused_when_asked_naming_the_field(case):
    store = case
    jobs = _jobs(store)
    for asked, field in (({"language": "de"}, "language"), ({"city": "Atlantis"}, "city"),
                         ({"incident": "No such incident"}, "incident"), ({"official": "O-999999"}, "official"),
                         ({"official": "O-000001", "city": "Tehran"}, "official"),
                         ({"city": "Teh\x00ran"}, "city"), ({"incident": "x" * 301}, "incident")):
        with pytest.raises(InputError) as refused:
            queue_report_print(store, actor=ASKER, **asked)
        assert refused.value.field == field, asked
    for folder in ("../../etc", "0" * 31, "G" * 32, 7):
        with pytest.raises(InputError) as refused:
            submit_job(store, actor=ASKER, kind="report print", parameters={"folder": folder})
        assert refused.value.field == "folder", folder
    with pytest.raises(InputError) as refused:
        submit_job(store, actor=ASKER, kind="report print", parameters={"out": "/tmp/x.pdf"})
    assert refused.value.field == "out"
    assert _jobs(store) == jobs and _events(store, "job submitted") == [], "nothing refused was submitted"


def test_a_report_the_printing_refuses_fails_its_job_and_leaves_no_file(case):
    store = case
    # Asked for directly (the queue's own check passed by): the printing itself refuses the city.
    job_id = submit_job(store, actor=ASKER, kind="report print", parameters={"city": "Atlantis"})
    assert run_worker(store, once=True) == 1
    with store.session() as session:
        job = show_job(session, job_id)
    assert job["status"] == "failed" and "city" in job["error"] and "Atlantis" in job["error"]
    assert _printed(store) == [] and _events(store, "report printed") == []


def test_a_report_cancelled_while_printing_leaves_no_file_and_no_event(case):
    store = case
    parameters = job_kind("report print").validate({"language": "fa"})

    def cancelled(done: int, total: int) -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):
        run_report_print(store, ASKER, parameters, cancelled)
    assert _printed(store) == [] and _events(store, "report printed") == []
    # A job cancelled while it waits is never printed.
    job_id = queue_report_print(store, actor=ASKER)
    cancel_job(store, actor=ASKER, job_id=job_id)
    assert run_worker(store, once=True) == 0 and _printed(store) == []


def test_a_printed_report_is_kept_some_days_and_what_no_job_names_is_swept(case):
    store = case
    printed = queue_report_print(store, actor=ASKER)
    assert run_worker(store, once=True) == 1
    waiting = queue_report_print(store, actor=ASKER)  # no worker has taken it yet
    with store.session() as session:
        kept = show_job(session, printed)
        folder_waiting = show_job(session, waiting)["parameters"]["folder"]
    orphan = store.workspace.printed_dir / ("f" * 32)  # a worker killed while printing
    orphan.mkdir()
    write(orphan / "report.pdf.part", "half")
    an_hour_ago = time.time() - 3700
    for folder in store.workspace.printed_dir.iterdir():
        os.utime(folder, (an_hour_ago, an_hour_ago))
    assert sweep_leftovers(store)["files"] == 1
    assert _printed(store) == [kept["parameters"]["folder"]], "kept: the printed one; the waiting one has no folder yet"
    assert printed_file(store.workspace, kept["result"]) is not None

    (store.workspace.printed_dir / folder_waiting).mkdir()  # its worker has begun
    os.utime(store.workspace.printed_dir / folder_waiting, (an_hour_ago, an_hour_ago))
    with store.session() as session:  # the printed one's job ended longer ago than reports are kept
        session.execute(sa.update(Job).where(Job.id == printed)
                        .values(finished_at=utcnow() - timedelta(days=PRINTED_KEEP_DAYS, hours=1)))
    assert sweep_leftovers(store)["files"] == 1
    assert _printed(store) == [folder_waiting] and printed_file(store.workspace, kept["result"]) is None
