"""The registry of persons: linkage runs, persons with stable ids, their records, events, review.

A person is one real individual resolved from records. Its id (``P-000123``) survives re-linking:
membership and decisions refer to records by ``(source, record_id)``, which a corrected version of
a record keeps, not by the row id, which it does not.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow


class LinkageRun(Base):
    """One run of the linkage: its parameters, the trained model, and what it produced."""

    __tablename__ = "linkage_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    engine: Mapped[str] = mapped_column(sa.String(20))
    threshold: Mapped[float] = mapped_column(sa.Float)
    review_low: Mapped[float] = mapped_column(sa.Float)
    review_high: Mapped[float] = mapped_column(sa.Float)
    parameters: Mapped[dict] = mapped_column(sa.JSON)  # the model specification and run options
    model: Mapped[dict | None] = mapped_column(sa.JSON)  # the trained model (Splink JSON)
    features_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    records: Mapped[int] = mapped_column(sa.Integer, default=0)
    persons: Mapped[int] = mapped_column(sa.Integer, default=0)
    pairs_planned: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    pairs_scored: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    pairs_linked: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    pairs_for_review: Mapped[int] = mapped_column(sa.Integer, default=0)
    summary: Mapped[dict | None] = mapped_column(sa.JSON)
    run_by: Mapped[str] = mapped_column(sa.String(200))
    software_version: Mapped[str] = mapped_column(sa.String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Person(Base):
    """One real individual. ``person_id`` is the stable, public id."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(20), unique=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="active")  # active | merged | retired
    merged_into: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    created_in_run: Mapped[int | None] = mapped_column(sa.ForeignKey("linkage_runs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_in_run: Mapped[int | None] = mapped_column(sa.ForeignKey("linkage_runs.id"))


class PersonRecord(Base):
    """Which person a record belongs to now, by the record's lasting identity."""

    __tablename__ = "person_records"

    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"), primary_key=True)
    record_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    person_pk: Mapped[int] = mapped_column(sa.ForeignKey("persons.id"), index=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("linkage_runs.id"))


class RegistryEvent(Base):
    """What happened to a person: created, merged into another, split, retired."""

    __tablename__ = "registry_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("linkage_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    person_id: Mapped[str] = mapped_column(sa.String(20), index=True)
    other_person_id: Mapped[str | None] = mapped_column(sa.String(20), index=True)
    details: Mapped[dict | None] = mapped_column(sa.JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MatchDecision(Base):
    """A reviewer's "same" or "different" on two records, with who and why. Every later run obeys it."""

    __tablename__ = "match_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_a: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"))
    record_a: Mapped[str] = mapped_column(sa.String(200))
    source_b: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"))
    record_b: Mapped[str] = mapped_column(sa.String(200))
    decision: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[str] = mapped_column(sa.Text)
    decided_by: Mapped[str] = mapped_column(sa.String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_by: Mapped[int | None] = mapped_column(sa.ForeignKey("match_decisions.id"))

    __table_args__ = (
        sa.CheckConstraint("decision IN ('same', 'different')", name="decision"),
        sa.Index("ix_match_decisions_pair", "source_a", "record_a", "source_b", "record_b"),
    )


class ReviewPair(Base):
    """A pair whose match probability fell in the uncertain band of a run: for a person to decide."""

    __tablename__ = "review_pairs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(sa.ForeignKey("linkage_runs.id"), index=True)
    record_l: Mapped[int] = mapped_column(sa.ForeignKey("records.id"), index=True)  # (decisions' earlier scorings)
    record_r: Mapped[int] = mapped_column(sa.ForeignKey("records.id"))
    match_probability: Mapped[float] = mapped_column(sa.Float)
    match_weight: Mapped[float] = mapped_column(sa.Float)
    weights: Mapped[dict] = mapped_column(sa.JSON)  # comparison -> weight of the level it fell in
    linked: Mapped[bool] = mapped_column(sa.Boolean)  # at or above the run's threshold
    # After clustering: are the two records one person now, and how many records a decision against
    # that would move (the one person's records, or both persons' records). None on older runs.
    together: Mapped[bool | None] = mapped_column(sa.Boolean, nullable=True)
    records_affected: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # For a pair the run joined: the chance that the best chain of the person's other links between
    # the two records is right (0 when there is none). None for pairs kept apart, and on older runs.
    other_path: Mapped[float | None] = mapped_column(sa.Float, nullable=True)


class PersonWithholding(Base):
    """A person kept out of everything published (at the family's request, for their safety), and its
    release. The reason is for the team: it is never published."""

    __tablename__ = "person_withholdings"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(20), index=True)  # as withheld; merges are followed
    reason: Mapped[str] = mapped_column(sa.Text)
    withheld_by: Mapped[str] = mapped_column(sa.String(200))
    withheld_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_by: Mapped[str | None] = mapped_column(sa.String(200))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_reason: Mapped[str | None] = mapped_column(sa.Text)
