"""The job queue on SQLite and PostgreSQL: submitting (checked at once, audited), claiming (each job
once, however many workers), progress, cancelling (queued at once, running at its next report),
stopping, and workers that vanished."""

from __future__ import annotations

import os
import socket
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from dadkhah.audit import Actor, list_audit, verify_audit
from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.jobs import (
    cancel_job,
    claim_next,
    fail_stale,
    list_jobs,
    run_worker,
    show_job,
    submit_job,
)
from dadkhah.model import Job
from dadkhah.model.base import utcnow
from tests.conftest import TESTER
from tests.jobs.conftest import wait_for, worker_thread

ANALYST = Actor("analyst", "web", "192.0.2.7")


def _jobs(store) -> int:
    with store.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Job))


def _events(store, action: str) -> list[dict]:
    with store.session() as session:
        return [e for e in list_audit(session, limit=None, newest_first=False) if e["action"] == action]


def test_a_job_is_checked_when_submitted_and_its_submission_is_audited(store, counting):
    for kind, parameters, field in [("guess", {}, "kind"), ("estimate run", {"method": "guess"}, "method"),
                                    ("estimate run", {"by": "religion"}, "by"), ("estimate run", {"level": 1.5}, "level"),
                                    ("estimate run", {"linkage_thresholds": [0.5, 1.2]}, "linkage_thresholds"),
                                    ("estimate run", {"seed": -1}, "seed"), ("estimate run", {"iterations": "many"}, "iterations"),
                                    ("estimate run", {"colour": "red"}, "colour"), (counting, {"steps": 0}, "steps")]:
        with pytest.raises(InputError) as refused:
            submit_job(store, actor=ANALYST, kind=kind, parameters=parameters)
        assert refused.value.field == field, (kind, parameters)
    assert _jobs(store) == 0 and _events(store, "job submitted") == [], "a refused request leaves nothing"

    job_id = submit_job(store, actor=ANALYST, kind="estimate run", parameters={"method": "lcmcr", "by": "city",
                                                                              "iterations": 5000, "seed": 3})
    with store.session() as session:
        job = show_job(session, job_id)
        assert list_jobs(session) == [job] and list_jobs(session, status="active") == [job]
        assert list_jobs(session, status="done") == []
        with pytest.raises(NotFound):
            show_job(session, job_id + 1)
    assert job["status"] == "queued" and job["requested_by"] == "analyst" and job["channel"] == "web"
    assert job["parameters"] == {"method": "lcmcr", "by": "city", "linkage_thresholds": [], "seed": 3, "level": 0.95,
                                 "iterations": 5000}
    assert job["progress"] == {"done": 0, "total": None, "fraction": None} and "address" not in job
    [event] = _events(store, "job submitted")
    assert (event["actor"], event["channel"], event["address"], event["object_kind"], event["object_id"]) == (
        "analyst", "web", "192.0.2.7", "job", str(job_id))
    assert event["details"] == {"job_id": job_id, "kind": "estimate run", "parameters": job["parameters"]}


def test_each_job_is_claimed_once_however_many_workers_ask_at_once(store, counting):
    ids = [submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1}) for _ in range(6)]
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def claimer(n: int) -> None:
        start.wait()
        while (job := claim_next(store, f"test:{n}")) is not None:
            with lock:
                claimed.append(job["id"])

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(claimed) == ids, "every job once, none twice"
    with store.session() as session:
        running = list_jobs(session, status="running")
    assert len(running) == 6 and all(j["worker"].startswith("test:") and j["started_at"] for j in running)
    assert claim_next(store, "test:late") is None


def test_a_worker_runs_a_job_for_the_user_who_asked_with_its_progress_and_result(store, counting):
    job_id = submit_job(store, actor=ANALYST, kind=counting, parameters={"steps": 5})
    finished = []
    assert run_worker(store, once=True, progress_every=0, on_finish=finished.append) == 1
    assert finished == [{"id": job_id, "kind": "count", "status": "done"}]
    with store.session() as session:
        job = show_job(session, job_id)
    assert job["status"] == "done" and job["error"] is None
    assert job["result"] == {"counted": 5, "for": "analyst", "channel": "web", "address": "192.0.2.7"}
    assert job["progress"] == {"done": 5, "total": 5, "fraction": 1.0}
    assert job["worker"] == f"{socket.gethostname()}:{os.getpid()}" and job["finished_at"] >= job["started_at"]
    assert run_worker(store, once=True) == 0, "nothing left to do"


def test_a_failing_job_keeps_its_reason_and_the_worker_goes_on(store, counting):
    failing = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 3, "fail_at": 2})
    after = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1})
    assert run_worker(store, once=True, progress_every=0) == 2
    with store.session() as session:
        failed, done = show_job(session, failing), show_job(session, after)
    assert failed["status"] == "failed" and "told to fail" in failed["error"] and failed["result"] is None
    assert failed["progress"]["done"] == 1 and done["status"] == "done"


def test_a_worker_does_its_chores_when_due_and_goes_on_when_one_fails(store, counting, caplog):
    """Chores run when the worker starts, then every ``every`` seconds between jobs; one that fails is
    logged and tried again after ``retry`` seconds, and the jobs go on."""
    import time

    from dadkhah.jobs import Chore

    done: list[tuple[str, object]] = []
    hourly = Chore("hourly", 3600, lambda: "swept")
    assert run_worker(store, once=True, chores=[hourly], on_chore=lambda *told: done.append(told)) == 0
    assert done == [("hourly", "swept")]
    assert run_worker(store, once=True, chores=[hourly], on_chore=lambda *told: done.append(told)) == 0
    assert done == [("hourly", "swept")], "not due again within the hour"

    tries = []

    def failing():
        tries.append(time.monotonic())
        raise RuntimeError("the chore's database is away")

    broken = Chore("broken", 3600, failing, retry=0.05)
    with caplog.at_level("WARNING", logger="dadkhah.jobs.worker"), worker_thread(store, chores=[broken]):
        job_id = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1})
        assert wait_for(store, job_id, lambda job: job["status"] == "done")["status"] == "done"
        deadline = time.monotonic() + 10
        while len(tries) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(tries) >= 3, "a failed chore is tried again after its retry delay, not an hour later"
    assert any("chore (broken) failed" in r.getMessage() for r in caplog.records)


def test_a_queued_job_is_cancelled_at_once_and_no_worker_takes_it(store, counting):
    job_id = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1})
    cancelled = cancel_job(store, actor=ANALYST, job_id=job_id)
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] and cancelled["cancel_requested"]
    assert run_worker(store, once=True) == 0
    with pytest.raises(DadkhahError, match="already cancelled"):
        cancel_job(store, actor=ANALYST, job_id=job_id)
    with pytest.raises(NotFound):
        cancel_job(store, actor=ANALYST, job_id=job_id + 100)
    [event] = _events(store, "job cancelled")
    assert (event["actor"], event["object_id"]) == ("analyst", str(job_id))
    assert event["details"] == {"job_id": job_id, "kind": "count", "was": "queued", "requested_by": "tester"}


def test_a_running_job_stops_at_its_next_progress_report_when_cancelled(store, counting):
    job_id = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 2000, "pause": 0.005})
    with worker_thread(store):
        wait_for(store, job_id, lambda j: j["status"] == "running" and j["progress"]["done"] > 0)
        asked = cancel_job(store, actor=ANALYST, job_id=job_id)
        assert asked["status"] == "running" and asked["cancel_requested"]
        try:  # asked twice: nothing new (unless the worker has stopped it already, which it may, quickly)
            assert cancel_job(store, actor=ANALYST, job_id=job_id)["cancel_requested"]
        except DadkhahError as exc:
            assert "already cancelled" in str(exc)
        job = wait_for(store, job_id, lambda j: j["status"] != "running")
    assert job["status"] == "cancelled" and job["result"] is None and job["progress"]["done"] < 2000
    assert [e["details"]["was"] for e in _events(store, "job cancelled")] == ["running"]
    assert verify_audit(store)["intact"]


def test_a_stopping_worker_fails_its_job_and_takes_no_other(store, counting):
    long_one = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 2000, "pause": 0.005})
    waiting = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1})
    with worker_thread(store):
        wait_for(store, long_one, lambda j: j["progress"]["done"] > 0)
    with store.session() as session:
        stopped, untouched = show_job(session, long_one), show_job(session, waiting)
    assert stopped["status"] == "failed" and "worker was stopped" in stopped["error"]
    assert untouched["status"] == "queued"


def test_a_job_whose_worker_vanished_is_failed_by_the_next_worker(store, counting):
    silent = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1})
    gone = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1})
    alive = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1})
    host = socket.gethostname()
    dead_pid = 2**22 + 12345  # above the usual pid_max: no such process
    with store.session() as session:
        session.execute(sa.update(Job).where(Job.id == silent).values(
            status="running", worker="elsewhere:1", started_at=utcnow() - timedelta(minutes=5),
            heartbeat_at=utcnow() - timedelta(minutes=2)))
        session.execute(sa.update(Job).where(Job.id == gone).values(
            status="running", worker=f"{host}:{dead_pid}", started_at=utcnow(), heartbeat_at=utcnow()))
        session.execute(sa.update(Job).where(Job.id == alive).values(
            status="running", worker=f"{host}:{os.getpid()}", started_at=utcnow(), heartbeat_at=utcnow()))
    assert sorted(fail_stale(store)) == [silent, gone]
    with store.session() as session:
        jobs = {j["id"]: j for j in list_jobs(session)}
    assert "no sign of life" in jobs[silent]["error"] and "process" in jobs[gone]["error"]
    assert jobs[alive]["status"] == "running"
    assert all(jobs[i]["status"] == "failed" and "ask for it again" in jobs[i]["error"] for i in (silent, gone))


def test_the_heartbeat_goes_on_through_a_long_step(store, counting):
    job_id = submit_job(store, actor=TESTER, kind=counting, parameters={"steps": 1, "pause": 1.0})
    with worker_thread(store, heartbeat_every=0.1, progress_every=10):
        first = wait_for(store, job_id, lambda j: j["status"] == "running" and j["heartbeat_at"])
        later = wait_for(store, job_id, lambda j: j["heartbeat_at"] != first["heartbeat_at"], timeout=5)
        assert later["status"] == "running" and later["progress"]["done"] == 0
        wait_for(store, job_id, lambda j: j["status"] == "done")


def test_a_worker_whose_keys_were_rotated_fails_the_job_and_stops(store, monkeypatch):
    """A worker that loaded the keys before `keys rotate` cannot sign a job's events any more: the job is
    failed saying why, and the worker stops (raising it) instead of failing every later job alike."""
    from dadkhah.audit import record_audit
    from dadkhah.errors import KeysOutdated
    from dadkhah.jobs import KINDS, JobKind
    from dadkhah.store import open_store
    from dadkhah.vault.keycare import rotate_keys
    from dadkhah.vault.keys import create_keys, load_keys

    def audited(store, actor, parameters, progress) -> dict:
        with store.session() as session:
            record_audit(session, store, actor, action="counted", object_kind="job", object_id="count")
            session.commit()
        return {"counted": 1}

    monkeypatch.setitem(KINDS, "audited", JobKind("audited", "estimates", lambda parameters: {}, audited))
    create_keys(store.workspace)
    store.workspace = store.workspace.reloaded()
    store.use_keys(load_keys(store.workspace))
    with open_store(store.workspace) as other:  # the rotation and the requests: processes with the new keys
        rotate_keys(other, actor=TESTER)
        first = submit_job(other, actor=ANALYST, kind="audited", parameters={})
        second = submit_job(other, actor=ANALYST, kind="audited", parameters={})
    with pytest.raises(KeysOutdated):
        run_worker(store, once=True)
    with store.session() as session:
        failed, waiting = show_job(session, first), show_job(session, second)
    assert failed["status"] == "failed" and "keys were rotated after this process loaded them" in failed["error"]
    assert waiting["status"] == "queued", "the worker stopped before taking another job"
    assert _events(store, "counted") == []
