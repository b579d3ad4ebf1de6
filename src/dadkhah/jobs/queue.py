"""The job table as a queue: submitting, cancelling, reading, and a worker's claims and reports.

Claiming is atomic on both databases. On PostgreSQL a worker locks the oldest queued row with
``FOR UPDATE SKIP LOCKED`` (two workers never wait for each other, nor take the same job); on
SQLite one ``UPDATE … WHERE status = 'queued'`` takes it, under the store's one writer (the lock
file beside the database), so the claims of several worker processes queue up instead of failing
as busy.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import DadkhahError, NotFound
from dadkhah.jobs.kinds import (
    job_kind,
    remove_upload,
    remove_upload_folder,
    upload_folder,
    upload_path,
)
from dadkhah.model import JOB_STATUSES, Job
from dadkhah.model.base import utcnow
from dadkhah.store import Store, is_busy
from dadkhah.workspace import process_alive

ACTIVE = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
STALE_SECONDS = 60  # a running job whose worker gave no sign of life for this long has lost its worker


def worker_name() -> str:
    """This process as a worker: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _moment(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_to_dict(job: Job) -> dict:
    """A job as the shells show it (never the client's address nor the token it came with)."""
    total = job.progress_total
    return {"id": job.id, "kind": job.kind, "parameters": job.parameters, "status": job.status,
            "requested_by": job.requested_by, "channel": job.channel, "created_at": _moment(job.created_at),
            "started_at": _moment(job.started_at), "finished_at": _moment(job.finished_at),
            "heartbeat_at": _moment(job.heartbeat_at), "worker": job.worker,
            "progress": {"done": job.progress_done, "total": total,
                         "fraction": round(job.progress_done / total, 4) if total else None},
            "cancel_requested": bool(job.cancel_requested), "result": job.result, "error": job.error}


def submit_job(store: Store, *, actor: Actor, kind: str, parameters: dict) -> int:
    """Queue a job of ``kind`` with ``parameters`` for ``actor``, with its audit event "job submitted";
    answers its id. The parameters are checked now: a bad one is an InputError naming its field."""
    checked = job_kind(kind).validate(parameters)
    with store.session() as session:
        job = Job(kind=kind, parameters=checked, status="queued", requested_by=actor.name, channel=actor.channel,
                  address=actor.address, token=actor.token, progress_done=0, cancel_requested=False)
        session.add(job)
        session.flush()
        record_audit(session, store, actor, action="job submitted", object_kind="job", object_id=str(job.id),
                     details={"job_id": job.id, "kind": kind, "parameters": checked})
        return job.id


def queue_list_import(store: Store, *, actor: Actor, path: Path, source: str, incident: str | None = None) -> int:
    """Have a list imported in the background for ``actor``: the file at ``path`` (checked already, and
    named as the user knows it) is moved into the workspace's uploads, and the job "list import" is
    submitted (audited "job submitted"); answers its id. The job removes the file when it ends; if the
    job cannot be submitted, the file is removed at once (and a file left by a process that died in
    between, by :func:`dadkhah.store.sweep_leftovers`)."""
    upload = f"{secrets.token_hex(16)}/{Path(path).name}"
    parameters = job_kind("list import").validate({"upload": upload, "source": source, "incident": incident})
    target = upload_path(store.workspace, upload)
    store.workspace.uploads_dir.mkdir(mode=0o700, exist_ok=True)
    target.parent.mkdir(mode=0o700)
    try:
        os.replace(path, target)
        return submit_job(store, actor=actor, kind="list import", parameters=parameters)
    except BaseException:
        remove_upload(store.workspace, upload)
        raise


def queue_intake(store: Store, *, actor: Actor, folder: Path, parameters: dict) -> int:
    """Have a field tool's export taken in in the background for ``actor``: the folder its files were
    saved in (checked already; ``parameters`` name them inside it, see
    :func:`dadkhah.jobs.kinds.validate_intake`) is moved into the workspace's uploads, and the job
    "intake" is submitted (audited "job submitted"); answers its id. The job removes the folder when
    it ends, and so does cancelling it before it runs; if the job cannot be submitted, the folder is
    removed at once (and one left by a process that died in between, by
    :func:`dadkhah.store.sweep_leftovers`)."""
    upload = secrets.token_hex(16)
    checked = job_kind("intake").validate(dict(parameters) | {"upload": upload})
    store.workspace.uploads_dir.mkdir(mode=0o700, exist_ok=True)
    try:
        os.replace(folder, upload_folder(store.workspace, upload))
        return submit_job(store, actor=actor, kind="intake", parameters=checked)
    except BaseException:
        remove_upload_folder(store.workspace, upload)
        raise


def queue_report_print(store: Store, *, actor: Actor, language: str = "fa", city: str | None = None,
                       incident: str | None = None, official: str | None = None) -> int:
    """Have the printed report (:func:`dadkhah.publish.report.print_report`) made in the background
    for ``actor``: what is asked is checked against the workspace first (an unknown city, incident
    or official is an InputError naming the field, and nothing is submitted), then the job "report
    print" is submitted (audited "job submitted"); answers its id. The worker prints it, for the
    user who asked, into a folder of the workspace's ``printed/`` named now; the job's result names
    the file (:func:`dadkhah.jobs.kinds.printed_file`)."""
    from dadkhah.publish.report import check_report

    parameters = job_kind("report print").validate({"language": language, "city": city, "incident": incident,
                                                    "official": official})
    with store.session() as session:
        check_report(session, language=parameters["language"], city=parameters["city"],
                     incident=parameters["incident"], official=parameters["official"])
    return submit_job(store, actor=actor, kind="report print", parameters=parameters)


def queue_memorial_build(store: Store, *, actor: Actor, languages=("fa", "en"), title: str | None = None,
                         contact: str | None = None) -> int:
    """Have the memorial site (:func:`dadkhah.publish.memorial.build_memorial`) built in the
    background for ``actor``, signed and zipped for download: the languages and the contact address
    are checked first (an InputError naming the field, and nothing is submitted), then the job
    "memorial build" is submitted (audited "job submitted"); answers its id. The worker needs the
    workspace's keys unlocked to sign the site."""
    from dadkhah.publish.memorial import check_memorial

    parameters = job_kind("memorial build").validate({"languages": languages, "title": title, "contact": contact})
    languages, contact = check_memorial(parameters["languages"], parameters["contact"])
    parameters |= {"languages": list(languages), "contact": contact}
    return submit_job(store, actor=actor, kind="memorial build", parameters=parameters)


def _get(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id) if isinstance(job_id, int) and 0 < job_id < 2**63 else None
    if job is None:
        raise NotFound(f"no job {job_id}")
    return job


def show_job(session: Session, job_id: int) -> dict:
    """One job, or NotFound."""
    return job_to_dict(_get(session, job_id))


def list_jobs(session: Session, *, status: str | None = None, kind: str | None = None, limit: int | None = 100,
              offset: int = 0, hidden_kinds: tuple[str, ...] = ()) -> list[dict]:
    """Jobs, newest first; only those with ``status`` (one of queued, running, done, failed, cancelled,
    or ``active``: queued or running) or of ``kind``; none of ``hidden_kinds``."""
    query = sa.select(Job).order_by(Job.id.desc()).offset(offset)
    if hidden_kinds:
        query = query.where(Job.kind.not_in(hidden_kinds))
    if status == "active":
        query = query.where(Job.status.in_(ACTIVE))
    elif status is not None:
        if status not in JOB_STATUSES:
            raise DadkhahError(f"a job's status is one of active, {', '.join(JOB_STATUSES)}, not {status!r}")
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if limit is not None:
        query = query.limit(limit)
    return [job_to_dict(job) for job in session.scalars(query)]


def cancel_job(store: Store, *, actor: Actor, job_id: int) -> dict:
    """Cancel a job, with the audit event "job cancelled": a queued one at once; a running one is told
    to stop, and its worker stops it at its next progress report (nothing it was doing is stored).
    Asking again while a running job is stopping changes nothing and records nothing. A finished
    job cannot be cancelled. Answers the job. A queued list import's uploaded list is removed (an
    intake's uploaded files too)."""
    now = utcnow()
    with store.session() as session:
        job = _get(session, job_id)
        taken = 0
        if job.status == "queued":
            taken = session.execute(sa.update(Job).where(Job.id == job.id, Job.status == "queued")
                                    .values(status="cancelled", cancel_requested=True, finished_at=now)
                                    .execution_options(synchronize_session=False)).rowcount
            session.refresh(job)
            if taken:
                _audit_cancel(session, store, actor, job, "queued")
        if not taken:
            if job.status in FINISHED:  # (a queued one may have run and ended while we looked)
                raise DadkhahError(f"job {job.id} is already {job.status}: there is nothing to cancel")
            if not job.cancel_requested:
                job.cancel_requested = True
                session.flush()
                _audit_cancel(session, store, actor, job, "running")
        answer = job_to_dict(job)
    if taken and answer["kind"] == "list import":  # it will never run: its list goes now, once that is stored
        remove_upload(store.workspace, answer["parameters"]["upload"])
    if taken and answer["kind"] == "intake":  # likewise the field tool's files
        remove_upload_folder(store.workspace, answer["parameters"]["upload"])
    return answer


def _audit_cancel(session: Session, store: Store, actor: Actor, job: Job, was: str) -> None:
    record_audit(session, store, actor, action="job cancelled", object_kind="job", object_id=str(job.id),
                 details={"job_id": job.id, "kind": job.kind, "was": was, "requested_by": job.requested_by})


def claim_next(store: Store, worker: str) -> dict | None:
    """Take the oldest queued job for ``worker`` (now ``running``), or None when none waits."""
    now = utcnow()
    claimed = {"status": "running", "worker": worker, "started_at": now, "heartbeat_at": now}
    if store.engine.dialect.name == "postgresql":
        with store.session() as session:
            job = session.scalar(sa.select(Job).where(Job.status == "queued").order_by(Job.id).limit(1)
                                 .with_for_update(skip_locked=True))
            if job is None:
                return None
            for name, value in claimed.items():
                setattr(job, name, value)
            session.flush()
            return job_to_dict(job)
    oldest = sa.select(Job.id).where(Job.status == "queued").order_by(Job.id).limit(1).scalar_subquery()
    with store.one_writer(), store.session() as session:
        job_id = session.execute(sa.update(Job).where(Job.id == oldest, Job.status == "queued").values(**claimed)
                                 .returning(Job.id).execution_options(synchronize_session=False)).scalar()
        return job_to_dict(session.get(Job, job_id)) if job_id is not None else None


def _lost(job: Job, now: datetime, stale_seconds: float, host: str) -> str | None:
    """Why a running job has lost its worker (None: it has not)."""
    beat = job.heartbeat_at or job.started_at
    if beat is None or now - beat > timedelta(seconds=stale_seconds):
        return f"the worker stopped: no sign of life from {job.worker or 'it'} since {_moment(beat)}"
    worker_host, _, pid = (job.worker or "").rpartition(":")
    if worker_host == host and pid.isdigit() and not process_alive(int(pid)):
        return f"the worker stopped: its process ({job.worker}) is gone"
    return None


def fail_stale(store: Store, *, stale_seconds: float = STALE_SECONDS) -> list[int]:
    """Mark failed the running jobs whose worker is gone (no heartbeat for ``stale_seconds``, or its
    process no longer runs on this machine); nothing they were doing was stored. Answers their ids."""
    now, host, failed = utcnow(), socket.gethostname(), []
    with store.session() as session:
        for job in session.scalars(sa.select(Job).where(Job.status == "running")).all():
            why = _lost(job, now, stale_seconds, host)
            if why is None:
                continue
            gone = session.execute(sa.update(Job).where(Job.id == job.id, Job.status == "running",
                                                         Job.worker == job.worker)
                                   .values(status="failed", finished_at=now,
                                           error=f"{why}; nothing was stored: ask for it again")
                                   .execution_options(synchronize_session=False)).rowcount
            if gone:
                failed.append(job.id)
    return failed


def job_actor(store: Store, job_id: int) -> Actor:
    """Who a job acts for: the user who asked, through the channel (and from the address, with the
    token) they asked through."""
    with store.session() as session:
        job = _get(session, job_id)
        return Actor(job.requested_by, job.channel, job.address, token=job.token)


def report_progress(store: Store, job_id: int, worker: str, done: int | None = None,
                    total: int | None = None, *, wait: bool = True) -> bool:
    """Write a running job's progress (when given) and heartbeat; answers whether its cancellation was asked for.

    ``wait=False``: on SQLite, when another writer holds the database, the write is left out rather
    than waited for. The job's own work may be that writer: an intake reports its progress while its
    transaction is open, and waiting for it would wait for ever (until :class:`Busy`). Progress is
    then shown again once the work's transaction ends; whether the job was cancelled is read all the
    same (a read never waits on SQLite)."""
    values: dict = {"heartbeat_at": utcnow()}
    if done is not None:
        values |= {"progress_done": done, "progress_total": total}
    update = (sa.update(Job).where(Job.id == job_id, Job.worker == worker, Job.status == "running")
              .values(**values).execution_options(synchronize_session=False))
    if wait or store.engine.dialect.name != "sqlite":
        with store.session() as session:
            session.execute(update)
            return bool(session.scalar(sa.select(Job.cancel_requested).where(Job.id == job_id)))
    with store.engine.connect() as connection:
        waits = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        connection.exec_driver_sql("PRAGMA busy_timeout = 0")
        connection.commit()
        try:
            connection.execute(update)
            connection.commit()
        except sa.exc.OperationalError as exc:
            connection.rollback()
            if not is_busy(exc):
                raise
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(waits)}")
        cancelled = bool(connection.scalar(sa.select(Job.cancel_requested).where(Job.id == job_id)))
        connection.rollback()
        return cancelled


def finish_job(store: Store, job_id: int, worker: str, *, status: str, result: dict | None = None,
               error: str | None = None) -> None:
    """Record how a job ended (done with its result, failed with the reason, or cancelled)."""
    now = utcnow()
    values: dict = {"status": status, "finished_at": now, "heartbeat_at": now, "result": result, "error": error}
    with store.session() as session:
        if status == "done":
            total = session.scalar(sa.select(Job.progress_total).where(Job.id == job_id))
            values["progress_done"] = total or 0
        # A job marked failed while its worker was thought gone still gets its true ending.
        session.execute(sa.update(Job).where(Job.id == job_id, Job.worker == worker,
                                             Job.status.in_(("running", "failed")))
                        .values(**values).execution_options(synchronize_session=False))
