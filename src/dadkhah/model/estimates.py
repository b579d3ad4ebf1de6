"""Estimates of the total toll, stored with everything needed to reproduce them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow


class Estimate(Base):
    """One estimate: method, parameters, the input's digest, the software, the result."""

    __tablename__ = "estimates"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(20))  # "table" (a file) or "registry" (the linked persons)
    input_name: Mapped[str | None] = mapped_column(sa.String(500))  # the file, for a table
    linkage_run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("linkage_runs.id"))
    stratified_by: Mapped[str | None] = mapped_column(sa.String(20))
    method: Mapped[str] = mapped_column(sa.String(30))
    model: Mapped[str] = mapped_column(sa.Text)
    parameters: Mapped[dict] = mapped_column(sa.JSON)
    input_sha256: Mapped[str] = mapped_column(sa.String(64))
    observed: Mapped[int] = mapped_column(sa.Integer)
    estimate: Mapped[float] = mapped_column(sa.Float)
    interval_low: Mapped[float] = mapped_column(sa.Float)
    interval_high: Mapped[float] = mapped_column(sa.Float)
    level: Mapped[float] = mapped_column(sa.Float)
    diagnostics: Mapped[dict] = mapped_column(sa.JSON)
    strata: Mapped[list | None] = mapped_column(sa.JSON)
    sensitivity: Mapped[list | None] = mapped_column(sa.JSON)  # re-estimates under other linkage thresholds
    warnings: Mapped[list] = mapped_column(sa.JSON)
    software: Mapped[dict] = mapped_column(sa.JSON)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
