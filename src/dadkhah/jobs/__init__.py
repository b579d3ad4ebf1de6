"""Background jobs: long work that outlives the request that asked for it.

A long estimate (LCMCR by city with long chains, linkage replicates), a large list uploaded
through the web (:func:`queue_list_import`), a large field tool's export uploaded through the web
(:func:`queue_intake`), the printed report or the memorial site asked for on
the web (:func:`queue_report_print`, :func:`queue_memorial_build`), is submitted as a job
(:func:`submit_job`, audited "job submitted") and runs in a worker process (:func:`run_worker`:
``dadkhah worker``, or the one ``dadkhah serve`` starts), which writes its progress, honours its
cancellation (:func:`cancel_job`, audited "job cancelled") and keeps its result. The job table is in
the workspace's database, so the queue works on SQLite and PostgreSQL alike, without a broker.

The worker runs each job with the same core function a shell would call, for the user who asked
(their name, channel, address and token): the action's own audit event ("estimate run") is theirs,
exactly as if they had waited for it.
"""

from dadkhah.jobs.kinds import KINDS, JobKind, job_kind, printed_file
from dadkhah.jobs.queue import (
    ACTIVE,
    FINISHED,
    STALE_SECONDS,
    cancel_job,
    claim_next,
    fail_stale,
    job_to_dict,
    list_jobs,
    queue_intake,
    queue_list_import,
    queue_memorial_build,
    queue_report_print,
    show_job,
    submit_job,
    worker_name,
)
from dadkhah.jobs.worker import Cancelled, Chore, Stopped, run_job, run_worker

__all__ = [
    "ACTIVE",
    "FINISHED",
    "KINDS",
    "STALE_SECONDS",
    "Cancelled",
    "Chore",
    "JobKind",
    "Stopped",
    "cancel_job",
    "claim_next",
    "fail_stale",
    "job_kind",
    "job_to_dict",
    "list_jobs",
    "printed_file",
    "queue_intake",
    "queue_list_import",
    "queue_memorial_build",
    "queue_report_print",
    "run_job",
    "run_worker",
    "show_job",
    "submit_job",
    "worker_name",
]
