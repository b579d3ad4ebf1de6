"""The worker: claims queued jobs one at a time and runs each for the user who asked for it.

While a job runs, its progress goes to its row (at most every half second) with the worker's
heartbeat; a thread beside the work keeps the heartbeat going through long steps, so that other
workers can tell a slow job from a lost one. Each progress report also reads whether the job's
cancellation was asked for: the work then stops there (:class:`Cancelled` is raised from the
progress callback, and nothing the job was doing is stored, since the action writes only at its
end, in one transaction). Asked to stop (``stop_event``), the worker fails the job it is running at
its next report the same way, and claims no other.

Between jobs the worker also does its *chores*: work due on a schedule rather than asked for (the
command line gives it the appeals' promised erasure, hourly).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dadkhah.errors import DadkhahError, KeysOutdated
from dadkhah.jobs.kinds import KINDS
from dadkhah.jobs.queue import (
    STALE_SECONDS,
    claim_next,
    fail_stale,
    finish_job,
    job_actor,
    report_progress,
    worker_name,
)
from dadkhah.store import Store

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.5  # seconds between two progress writes of one job
HEARTBEAT_EVERY = 10.0  # seconds between two heartbeats while a step runs without a progress report


class Cancelled(Exception):
    """The job's cancellation was asked for: the work stops at this progress report."""


class Stopped(Exception):
    """The worker was asked to stop while the job ran."""


class _Reporter:
    """The ``progress(done, total)`` a job's work is given: writes progress, throttled, and stops the
    work when the job was cancelled or the worker is stopping."""

    def __init__(self, store: Store, job_id: int, worker: str, stop: threading.Event, every: float):
        self.store, self.job_id, self.worker, self.stop, self.every = store, job_id, worker, stop, every
        self.last = float("-inf")

    def __call__(self, done: int, total: int) -> None:
        if self.stop.is_set():
            raise Stopped()
        now = time.monotonic()
        if now - self.last < self.every and done < total:
            return
        self.last = now
        if report_progress(self.store, self.job_id, self.worker, done, total, wait=False):
            raise Cancelled()


def _beat(store: Store, job_id: int, worker: str, done: threading.Event, every: float) -> None:
    while not done.wait(every):
        try:
            report_progress(store, job_id, worker)
        except Exception:  # a busy or absent database: the next beat tries again
            log.warning("job %s: the heartbeat could not be written", job_id, exc_info=True)


def run_job(store: Store, job: dict, worker: str, *, stop_event: threading.Event | None = None,
            progress_every: float = PROGRESS_EVERY, heartbeat_every: float = HEARTBEAT_EVERY) -> str:
    """Run one claimed job (a document from :func:`claim_next`) to its end; answers how it ended."""
    stop = stop_event or threading.Event()
    kind = KINDS.get(job["kind"])
    if kind is None:
        finish_job(store, job["id"], worker, status="failed", error=f"this version knows no job of kind {job['kind']!r}")
        return "failed"
    done = threading.Event()
    beating = threading.Thread(target=_beat, args=(store, job["id"], worker, done, heartbeat_every),
                               name=f"dadkhah-job-{job['id']}-heartbeat", daemon=True)
    beating.start()
    status, result, error, outdated = "done", None, None, None
    try:
        reporter = _Reporter(store, job["id"], worker, stop, progress_every)
        result = kind.run(store, job_actor(store, job["id"]), job["parameters"], reporter)
    except Cancelled:
        status = "cancelled"
    except Stopped:
        status, error = "failed", "the worker was stopped before the job finished; nothing was stored: ask for it again"
    except KeysOutdated as exc:  # every later job would fail alike: the worker stops (see run_worker)
        status, error, outdated = "failed", f"{exc}; ask for it again once the worker runs with them", exc
    except DadkhahError as exc:
        status, error = "failed", str(exc)
    except Exception as exc:  # a bug: kept with the job, and in the worker's log with its traceback
        log.exception("job %s (%s) failed", job["id"], job["kind"])
        status, error = "failed", f"an unexpected error: {type(exc).__name__}: {exc}"
    finally:
        done.set()
        beating.join()
    finish_job(store, job["id"], worker, status=status, result=result, error=error)
    if outdated is not None:
        raise outdated
    return status


@dataclass
class Chore:
    """Work the worker does every ``every`` seconds between jobs, the first time when it starts.

    ``run()`` is an action of the core, which writes its own audit events (as an actor of the channel
    ``schedule``); what it answers is given to the worker's ``on_chore``. If it fails, the worker says
    so in its log and tries again after ``retry`` seconds; keys rotated under the worker stop it, as
    for a job."""

    name: str
    every: float
    run: Callable[[], object]
    retry: float = 300.0
    due: float = float("-inf")  # (time.monotonic() from which it is due)


def _do_chores(chores: Sequence[Chore], on_chore: Callable[[str, object], None] | None, *, once: bool) -> None:
    for chore in chores:
        now = time.monotonic()
        if now < chore.due:
            continue
        try:
            outcome = chore.run()
        except KeysOutdated:
            raise
        except Exception:
            if once:
                raise
            log.warning("the worker's chore (%s) failed; trying again in %d s", chore.name, chore.retry, exc_info=True)
            chore.due = now + chore.retry
            continue
        chore.due = now + chore.every
        if on_chore is not None:
            on_chore(chore.name, outcome)


def run_worker(store: Store, *, once: bool = False, poll: float = 1.0, stop_event: threading.Event | None = None,
               name: str | None = None, stale_seconds: float = STALE_SECONDS, progress_every: float = PROGRESS_EVERY,
               heartbeat_every: float = HEARTBEAT_EVERY, on_finish: Callable[[dict], None] | None = None,
               chores: Sequence[Chore] = (), on_chore: Callable[[str, object], None] | None = None) -> int:
    """Claim and run queued jobs, one at a time, until ``stop_event`` is set (or, with ``once``, until
    none is waiting); looks for new ones every ``poll`` seconds. Before each claim, running jobs
    whose worker is gone are marked failed, and the ``chores`` that are due are done (with ``once``:
    each once, first). ``on_finish(job)`` is told of each job it ran (its id, kind and how it ended),
    ``on_chore(name, answer)`` of each chore done. Answers how many jobs it ran.

    A job refused because the workspace's keys were rotated after this worker loaded them
    (:class:`~dadkhah.errors.KeysOutdated`) is failed, and the worker stops by raising it: every later
    job would fail alike. The worker ``dadkhah serve`` started is then started again, with the keys as
    they are now; one started by hand says why it stopped."""
    stop = stop_event or threading.Event()
    worker = name or worker_name()
    ran = 0
    while not stop.is_set():
        _do_chores(chores, on_chore, once=once)
        try:
            fail_stale(store, stale_seconds=stale_seconds)
            job = claim_next(store, worker)
        except Exception:  # a database busy or away: try again at the next turn
            if once:
                raise
            log.warning("the worker could not claim a job; trying again shortly", exc_info=True)
            job = None
        if job is None:
            if once:
                break
            stop.wait(poll)
            continue
        status = run_job(store, job, worker, stop_event=stop, progress_every=progress_every,
                         heartbeat_every=heartbeat_every)
        ran += 1
        if on_finish is not None:
            on_finish({"id": job["id"], "kind": job["kind"], "status": status})
    return ran
