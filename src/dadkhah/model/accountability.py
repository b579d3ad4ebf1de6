"""Who did what: institutions, officials, acts and sites, and the sourced claims made about them.

Everything said about an official, an institution, an act or a site is a *claim*: a post held, a
parent relation, the act itself (its type, date, place and victims), an involvement in an act, a
status observed, a burial. Each claim has one or more citations (a source with a locator, or a
testimony or evidence item), a review status (accepted, conflict, work needed) and, where it applies,
a likelihood (maybe, likely, certain). Claims are never edited: a source's correction is a new
version that supersedes its earlier one, and two sources that disagree are both kept, marked
``conflict``.

The things claims are about are *entities*, with stable registry ids (``I-…`` institutions,
``O-…`` officials, ``A-…`` acts, ``S-…`` sites) beside the id the importer's files gave them.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow


class ClaimImport(Base):
    """One accountability import: a folder of CSV files or one workbook, what came in and what was refused."""

    __tablename__ = "claim_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"))
    path_name: Mapped[str] = mapped_column(sa.String(500))
    content_sha256: Mapped[str] = mapped_column(sa.String(64))  # of the files' names and bytes, in order
    files: Mapped[dict] = mapped_column(sa.JSON)  # file -> {rows, imported, rejected, sha256}
    rows: Mapped[int] = mapped_column(sa.Integer, default=0)
    imported: Mapped[int] = mapped_column(sa.Integer, default=0)
    rejected: Mapped[int] = mapped_column(sa.Integer, default=0)
    quarantine_path: Mapped[str | None] = mapped_column(sa.String(1000))
    imported_by: Mapped[str] = mapped_column(sa.String(200))
    software_version: Mapped[str] = mapped_column(sa.String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("source_id", "content_sha256"),)


class Entity(Base):
    """An institution, official, act or site: its stable id, the importer's id, and how to show it.

    ``name``, ``name_fa``, ``category`` (the institution's kind, the act's type, the site's kind),
    ``place_id`` and ``publication`` are read from the entity's claims when they change, for lists
    and look-ups; the claims stay the record of who said what. A site's ``publication`` is the most
    restrictive policy any current claim about it gives.
    """

    __tablename__ = "entities"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_id: Mapped[str] = mapped_column(sa.String(20), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(12))  # institution | official | act | site
    external_id: Mapped[str | None] = mapped_column(sa.String(200))
    name: Mapped[str | None] = mapped_column(sa.Text)
    name_fa: Mapped[str | None] = mapped_column(sa.Text)
    category: Mapped[str | None] = mapped_column(sa.String(40))
    place_id: Mapped[str | None] = mapped_column(sa.ForeignKey("places.id"))
    publication: Mapped[str | None] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("kind", "external_id"),
        sa.CheckConstraint("kind IN ('institution', 'official', 'act', 'site')", name="kind"),
        sa.CheckConstraint("publication IS NULL OR publication IN ('exact', 'city', 'hidden')", name="publication"),
    )


class EntityName(Base):
    """A cross-script name key of an official or institution (its names in both scripts and aliases)."""

    __tablename__ = "entity_names"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    entity_pk: Mapped[int] = mapped_column(sa.ForeignKey("entities.id"), primary_key=True, index=True)


class Claim(Base):
    """One sourced statement about an entity.

    ``kind`` says which: ``institution`` / ``official`` / ``site`` (the entity's own description:
    names, kind, place, coordinates, certainty, publication policy, in ``value`` and ``data``),
    ``relation`` (subject child-of/member-of object), ``post`` (subject official held ``value`` in
    object institution), ``act`` (subject act of type ``value``, with its victims), ``involvement``
    (object official or institution took part in subject act with degree ``value``),
    ``official-status`` and ``site-status`` (``value`` observed on ``from``), ``burial`` (a victim
    lies at subject site). ``from``/``to`` are date intervals as the source wrote them: the text,
    and the first and last Gregorian day it can mean.

    ``claim_key`` is what the claim is about (the same post, the same act, the same involvement);
    ``content_sha256`` what it says. The current claims are those not ``superseded_by`` another.
    """

    __tablename__ = "claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    subject_pk: Mapped[int] = mapped_column(sa.ForeignKey("entities.id"))
    object_pk: Mapped[int | None] = mapped_column(sa.ForeignKey("entities.id"))
    value: Mapped[str | None] = mapped_column(sa.Text)
    likelihood: Mapped[str | None] = mapped_column(sa.String(10))
    from_text: Mapped[str | None] = mapped_column(sa.Text)
    from_earliest: Mapped[date | None] = mapped_column(sa.Date)
    from_latest: Mapped[date | None] = mapped_column(sa.Date)
    to_text: Mapped[str | None] = mapped_column(sa.Text)
    to_earliest: Mapped[date | None] = mapped_column(sa.Date)
    to_latest: Mapped[date | None] = mapped_column(sa.Date)
    place_id: Mapped[str | None] = mapped_column(sa.ForeignKey("places.id"))
    count: Mapped[int | None] = mapped_column(sa.Integer)  # an act's victims known by number only
    data: Mapped[dict | None] = mapped_column(sa.JSON)  # kind-specific fields and the row's extra columns
    claim_key: Mapped[str] = mapped_column(sa.String(64))
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    superseded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("claims.id"))
    review_status: Mapped[str] = mapped_column(sa.String(12), default="work-needed")
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"))  # who makes the claim
    import_id: Mapped[int | None] = mapped_column(sa.ForeignKey("claim_imports.id"))
    file: Mapped[str | None] = mapped_column(sa.String(100))
    line: Mapped[int | None] = mapped_column(sa.Integer)
    added_by: Mapped[str] = mapped_column(sa.String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_claims_subject", "subject_pk", "kind"),
        sa.Index("ix_claims_object", "object_pk", "kind"),
        sa.CheckConstraint("review_status IN ('accepted', 'conflict', 'work-needed')", name="review_status"),
        sa.CheckConstraint("likelihood IS NULL OR likelihood IN ('maybe', 'likely', 'certain')", name="likelihood"),
    )


class ClaimCitation(Base):
    """Where a claim comes from: a source and a locator (page, URL, file), or a testimony or evidence item."""

    __tablename__ = "claim_citations"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_pk: Mapped[int] = mapped_column(sa.ForeignKey("claims.id"), index=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"))
    locator: Mapped[str | None] = mapped_column(sa.Text)
    testimony_id: Mapped[str | None] = mapped_column(sa.String(20))
    evidence_id: Mapped[str | None] = mapped_column(sa.String(20))
    import_id: Mapped[int | None] = mapped_column(sa.ForeignKey("claim_imports.id"))
    added_by: Mapped[str] = mapped_column(sa.String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClaimVictim(Base):
    """A victim named by an act or burial claim: a record (``source``, ``record_id``) or a person id.

    A record reference follows its record into whichever person holds it after any merge or split,
    as reviewers' decisions do; a person reference follows the person's merges.
    """

    __tablename__ = "claim_victims"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_pk: Mapped[int] = mapped_column(sa.ForeignKey("claims.id"), index=True)
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sources.id"))
    record_id: Mapped[str | None] = mapped_column(sa.String(200))
    person_id: Mapped[str | None] = mapped_column(sa.String(20), index=True)

    __table_args__ = (sa.Index("ix_claim_victims_record", "source_id", "record_id"),)


class ClaimReview(Base):
    """A reviewer's decision on a claim's status, with who and why; the claim shows the latest."""

    __tablename__ = "claim_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_pk: Mapped[int] = mapped_column(sa.ForeignKey("claims.id"), index=True)
    review_status: Mapped[str] = mapped_column(sa.String(12))
    reason: Mapped[str] = mapped_column(sa.Text)
    decided_by: Mapped[str] = mapped_column(sa.String(200))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
