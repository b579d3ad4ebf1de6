"""A kind of job for the queue's own tests (it counts, reporting each step), and a worker in a thread.

The kind is registered as any later kind would be (``dadkhah.jobs.KINDS``), for the test only, so the
queue, the worker, progress, cancellation and stopping are tested on both databases without an
estimate's minutes; the estimate kind itself is tested on the linked case.
"""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from dadkhah.errors import InputError
from dadkhah.jobs import KINDS, JobKind, run_worker, show_job


def _validate_count(parameters: dict) -> dict:
    steps = parameters.get("steps")
    if not isinstance(steps, int) or steps < 1:
        raise InputError("a whole number of steps, at least 1", field="steps")
    return {"steps": steps, "pause": float(parameters.get("pause", 0)), "fail_at": parameters.get("fail_at")}


def _count(store, actor, parameters, progress) -> dict:
    steps = parameters["steps"]
    for done in range(steps + 1):
        if parameters["fail_at"] == done:
            raise InputError("the count was told to fail here", field="fail_at")
        progress(done, steps)
        if done < steps:
            time.sleep(parameters["pause"])
    return {"counted": steps, "for": actor.name, "channel": actor.channel, "address": actor.address}


@pytest.fixture
def counting(monkeypatch) -> str:
    """The kind "count" (permission ``estimates``), registered for this test."""
    monkeypatch.setitem(KINDS, "count", JobKind("count", "estimates", _validate_count, _count))
    return "count"


@contextlib.contextmanager
def worker_thread(store, **options):
    """``run_worker`` in a thread, polling often and reporting quickly, until the block ends."""
    stop = threading.Event()
    settings = {"poll": 0.05, "progress_every": 0.05, "heartbeat_every": 0.2} | options
    thread = threading.Thread(target=run_worker, args=(store,), kwargs={"stop_event": stop, **settings},
                              name="test-worker", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the worker did not stop"


def wait_for(store, job_id: int, predicate, timeout: float = 30) -> dict:
    """The job once ``predicate(job)`` holds (polling its row), or a failed test."""
    deadline = time.monotonic() + timeout
    while True:
        with store.session() as session:
            job = show_job(session, job_id)
        if predicate(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} never got there: {job}"
        time.sleep(0.05)
