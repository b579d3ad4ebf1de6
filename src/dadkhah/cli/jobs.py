"""Commands for background jobs: the list, one job, cancelling one, and the worker that runs them."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer
from rich.table import Table

from dadkhah.cli.common import (
    JsonOption,
    cli_actor,
    emit_json,
    err,
    handle_errors,
    opened_store,
    out,
)

jobs_app = typer.Typer(help="Background jobs: long estimates run by a worker, with their progress, cancellation "
                            "and result.", no_args_is_help=True)

APPEALS_ERASURE_EVERY = 3600.0  # seconds between two looks for appeals whose signers' details are due to go


def _progress(job: dict) -> str:
    done, total = job["progress"]["done"], job["progress"]["total"]
    return f"{done}/{total}" if total else ""


def show_job_text(job: dict) -> None:
    """A job for people: what, whose, how far, and what it made or why it failed."""
    out.print(f"Job {job['id']} ({job['kind']}), asked for by {job['requested_by']} ({job['channel']}) at "
              f"{job['created_at'][:19]}: {job['status']}" + (" (cancellation asked for)" if
                                                              job["cancel_requested"] and job["status"] == "running"
                                                              else ""), markup=False)
    if job["progress"]["total"]:
        out.print(f"  progress: {_progress(job)} steps", markup=False)
    if job["worker"]:
        out.print(f"  worker: {job['worker']}, started {(job['started_at'] or '')[:19]}", markup=False)
    if job["finished_at"]:
        out.print(f"  finished: {job['finished_at'][:19]}", markup=False)
    parameters = ", ".join(f"{k}={v}" for k, v in job["parameters"].items() if v not in (None, []))
    out.print(f"  parameters: {parameters}", markup=False)
    result = job["result"] or {}
    if "estimate_id" in result:
        out.print(f"  result: estimate {result['estimate_id']} ({result['method']}): {result['estimate']:,.0f} "
                  f"[{result['interval'][0]:,.0f}, {result['interval'][1]:,.0f}]; `dadkhah estimate show {result['estimate_id']}` shows it whole",
                  markup=False)
    if job["kind"] == "intake" and result:
        counts = ("nothing new: every submission in it was taken in before" if result["nothing_new"] else
                  f"{result['rows']:,} submissions: {result['imported']:,} taken in, {result['already_held']:,} "
                  f"taken in before, {result['rejected']:,} refused; {result['testimonies_count']:,} testimonies, "
                  f"{result['evidence_count']:,} evidence items, {result['records']:,} victim records")
        out.print(f"  result: intake {result['intake_id']} of {result['file']}: {counts}", markup=False)
        if result.get("quarantine"):
            out.print(f"  refused submissions, with their reasons: {result['quarantine']}", markup=False)
    elif "import_id" in result:
        counts = ("the file was already imported into this source: nothing was added" if result["already_imported"]
                  else f"{result['rows']:,} rows: {result['imported']:,} imported, {result['rejected']:,} rejected")
        out.print(f"  result: import {result['import_id']} of {result['file']} into {result['source']}: {counts}",
                  markup=False)
    if "printed_file" in job:
        where = job["printed_file"] or "removed from the workspace since (ask for it again)"
        if job["kind"] == "memorial build":
            out.print(f"  result: the memorial site in {', '.join(result['languages'])}, {result['persons']:,} persons, "
                      f"{result['files']:,} files signed by {result['fingerprint']}, zipped: {where}", markup=False)
        else:
            what = f"the dossier of {result['official']}" if result.get("official") else f"{result['persons']:,} victims"
            out.print(f"  result: the printed report, {result['pages']:,} pages in {result['language']}, {what}: {where}",
                      markup=False)
    if job["error"]:
        out.print(f"  error: {job['error']}", markup=False)


@jobs_app.command("list")
@handle_errors
def jobs_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="Only jobs queued, running, done, failed or cancelled (active: queued or running).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many jobs, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Background jobs, newest first, with their status and progress.

    Example: dadkhah jobs list --status active --json
    """
    from dadkhah.jobs import list_jobs

    with opened_store(ctx) as store, store.session() as session:
        listed = list_jobs(session, status=status, limit=limit)
    if as_json:
        emit_json(listed)
        return
    table = Table("#", "kind", "status", "progress", "asked by", "asked at", "finished", "result")
    for job in listed:
        result = job["result"] or {}
        table.add_row(str(job["id"]), job["kind"], job["status"] + (" (stopping)" if job["cancel_requested"] and
                                                                   job["status"] == "running" else ""),
                      _progress(job), job["requested_by"], job["created_at"][:16], (job["finished_at"] or "")[:16],
                      f"estimate {result['estimate_id']}" if "estimate_id" in result else
                      f"intake {result['intake_id']}" if job["kind"] == "intake" and result.get("intake_id") else
                      f"import {result['import_id']}" if "import_id" in result else (job["error"] or "")[:60])
    out.print(table)


@jobs_app.command("show")
@handle_errors
def jobs_show(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(metavar="JOB", help="The job's number.")],
    as_json: JsonOption = False,
) -> None:
    """One job: its parameters, status, progress, and its result or why it failed.

    Example: dadkhah jobs show 3 --json
    """
    from dadkhah.jobs import printed_file, show_job

    with opened_store(ctx) as store, store.session() as session:
        job = show_job(session, job_id)
        if job["kind"] in ("report print", "memorial build") and job["status"] == "done":  # where it is kept, while it is
            path = printed_file(store.workspace, job["result"])
            job["printed_file"] = str(path) if path is not None else None
    if as_json:
        emit_json(job)
    else:
        show_job_text(job)


@jobs_app.command("cancel")
@handle_errors
def jobs_cancel(
    ctx: typer.Context,
    job_id: Annotated[int, typer.Argument(metavar="JOB", help="The job's number.")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a job: a queued one at once, a running one at its next progress report (nothing it was
    doing is stored).

    Example: dadkhah jobs cancel 3
    """
    from dadkhah.jobs import cancel_job

    with opened_store(ctx) as store:
        job = cancel_job(store, actor=cli_actor(ctx), job_id=job_id)
    if as_json:
        emit_json(job)
    elif job["status"] == "cancelled":
        out.print(f"Job {job['id']} cancelled.", markup=False)
    else:
        out.print(f"Job {job['id']} is told to stop: its worker stops it at its next progress report.", markup=False)


@handle_errors
def worker_command(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Run the jobs waiting now, then stop (else wait for more until interrupted).")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.1, max=600, help="Seconds between two looks for new jobs.")] = 1.0,
    as_json: JsonOption = False,
) -> None:
    """Run background jobs for this workspace until interrupted (`dadkhah serve` starts one itself).

    Each job runs for the user who asked for it; its events are signed when the keys can be had
    without asking (a key file without a passphrase, or DADKHAH_PASSPHRASE). Interrupted, the worker
    fails the job it is running at its next progress report (nothing of it is stored) and stops.

    Example: dadkhah worker --once --json
    """
    from dadkhah.jobs import run_worker, worker_name

    stop = threading.Event()
    finished: list[dict] = []
    purged: list[dict] = []

    def on_finish(job: dict) -> None:
        finished.append(job)
        err.print(f"job {job['id']} ({job['kind']}): {job['status']}", markup=False, highlight=False)

    def on_chore(_name: str, done: list[dict]) -> None:
        purged.extend(done)
        for appeal in done:
            err.print(f"{appeal['id']}: its promised erasure was due; {appeal['erased']} signers' details erased.",
                      markup=False, highlight=False)

    def stopping(signum, _frame) -> None:
        stop.set()
        signal.signal(signum, signal.SIG_DFL)  # asked twice: stop at once

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, stopping) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        with opened_store(ctx) as store:
            keys = store.chain_keys
            if keys is not None and getattr(keys, "signing_key", None) is None:
                err.print("The keys cannot be had without asking: the jobs' events are written unsigned "
                          "(set DADKHAH_PASSPHRASE to sign them).", markup=False, highlight=False)
            if not once:
                err.print(f"Worker {worker_name()} waiting for jobs (Ctrl-C stops).", markup=False, highlight=False)
            ran = run_worker(store, once=once, poll=poll, stop_event=stop, on_finish=on_finish,
                             chores=[_appeals_erasure(store)], on_chore=on_chore)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if as_json:
        emit_json({"worker": worker_name(), "ran": ran, "jobs": finished, "appeals_purged": purged})
    elif once:
        out.print(f"Ran {ran} job{'s' if ran != 1 else ''}.", markup=False)


def _appeals_erasure(store):
    """The worker's hourly chore: erase signers' details where an appeal's page promised it by now."""
    from dadkhah.appeal import purge_due_appeals
    from dadkhah.audit import Actor
    from dadkhah.jobs import Chore, worker_name

    return Chore("the appeals' promised erasure", APPEALS_ERASURE_EVERY,
                 lambda: purge_due_appeals(store, actor=Actor(worker_name(), "schedule")))

