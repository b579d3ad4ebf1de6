"""Background jobs: long work (an estimate by city with long chains, under several linkage
thresholds) asked for by a user and done by a worker process, with its progress, its cancellation
and its result, in the workspace's own database (SQLite or PostgreSQL alike; no broker).

A job acts for the user who asked for it, through the channel they asked through: the worker writes
the action's audit event as theirs, exactly as if they had waited for it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed", "cancelled")


class Job(Base):
    """One job: ``queued`` (waiting for a worker), ``running``, then ``done``, ``failed`` or ``cancelled``."""

    __tablename__ = "jobs"
    __table_args__ = (
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed', 'cancelled')", name="status"),
        sa.Index("ix_jobs_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(40))  # what to do: "estimate run"
    parameters: Mapped[dict] = mapped_column(sa.JSON)  # the action's arguments by their field names, checked
    status: Mapped[str] = mapped_column(sa.String(12), default="queued")
    requested_by: Mapped[str] = mapped_column(sa.String(200))  # the user the job acts for
    channel: Mapped[str] = mapped_column(sa.String(10))  # cli, web or api-token: as they asked
    address: Mapped[str | None] = mapped_column(sa.String(100))  # the client's address (web, api-token)
    token: Mapped[str | None] = mapped_column(sa.String(20))  # the API token's public id (api-token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the worker is alive (while running)
    worker: Mapped[str | None] = mapped_column(sa.String(200))  # host:pid of the worker that claimed it
    progress_done: Mapped[int] = mapped_column(sa.Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(sa.Integer)  # None until the work knows its size
    cancel_requested: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    result: Mapped[dict | None] = mapped_column(sa.JSON)  # what it made: {"estimate_id": 7, ...}
    error: Mapped[str | None] = mapped_column(sa.Text)  # why it failed
