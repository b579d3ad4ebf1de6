"""Intake from field tools: which submissions of ODK Central, KoboToolbox or Tella were taken in, and
what each became.

One ``intakes`` row per run that took in or refused something; one ``intake_submissions`` row per
submission taken in, unique by tool and submission id, which is what makes running the same export
again add nothing. Nothing here is sealed, so nothing here may identify a witness: a submission is
named by the id its tool gave it, and points at the testimony (by its public id), the evidence items
and the victim records it became.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow


class Intake(Base):
    """One run of ``dadkhah intake``: which export, how many submissions, what became of them."""

    __tablename__ = "intakes"

    id: Mapped[int] = mapped_column(primary_key=True)
    tool: Mapped[str] = mapped_column(sa.String(10))  # odk, kobo, tella
    form_id: Mapped[str | None] = mapped_column(sa.String(200))  # ODK's xmlFormId, Kobo's asset uid
    file_name: Mapped[str] = mapped_column(sa.String(500))
    file_sha256: Mapped[str] = mapped_column(sa.String(64))  # the export (for Tella: its metadata files)
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sources.id"))
    import_id: Mapped[int | None] = mapped_column(sa.ForeignKey("imports.id"))  # the victim records it brought
    mapping_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    rows: Mapped[int] = mapped_column(sa.Integer, default=0)  # submissions in the export
    imported: Mapped[int] = mapped_column(sa.Integer, default=0)  # taken in by this run
    already_held: Mapped[int] = mapped_column(sa.Integer, default=0)  # taken in by an earlier run
    rejected: Mapped[int] = mapped_column(sa.Integer, default=0)  # refused, in the quarantine report
    quarantine_path: Mapped[str | None] = mapped_column(sa.String(1000))
    taken_by: Mapped[str] = mapped_column(sa.String(200))
    software_version: Mapped[str] = mapped_column(sa.String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IntakeSubmission(Base):
    """One submission taken in, and what it became. Its tool and id are never taken in twice."""

    __tablename__ = "intake_submissions"
    __table_args__ = (sa.UniqueConstraint("tool", "submission_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(sa.ForeignKey("intakes.id"), index=True)
    tool: Mapped[str] = mapped_column(sa.String(10))
    submission_id: Mapped[str] = mapped_column(sa.String(200))
    version_id: Mapped[str | None] = mapped_column(sa.String(200))  # the version taken (edits get new ones)
    submitted_at: Mapped[str | None] = mapped_column(sa.String(40))  # as the tool wrote it
    line: Mapped[int] = mapped_column(sa.Integer)  # where it was in the export
    testimony_id: Mapped[str | None] = mapped_column(sa.String(20))
    evidence_ids: Mapped[list] = mapped_column(sa.JSON)  # E-000001 ...
    record_ids: Mapped[list] = mapped_column(sa.JSON)  # record_id of each victim record, in the intake's import
