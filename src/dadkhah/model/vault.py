"""The vault's tables: evidence items, witnesses, testimonies, and the chain of custody.

Everything that could identify a witness or reveal what was said is stored sealed (``*_sealed``
columns, AES-256-GCM under a per-item data key, itself wrapped by the master key held outside the
workspace); what is in clear is what a documenter needs to find and describe items without
decrypting them.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow


class EvidenceItem(Base):
    """A file kept by its content: its SHA-256 names it, its bytes are sealed in the blob store."""

    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[str] = mapped_column(sa.String(20), unique=True)  # E-000001, the public id
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    media_type: Mapped[str] = mapped_column(sa.String(200))
    blob_path: Mapped[str] = mapped_column(sa.String(200))  # relative to the workspace
    wrapped_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    original_name_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    metadata_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # EXIF, C2PA: may locate a witness
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sources.id"))
    description: Mapped[str | None] = mapped_column(sa.Text)
    captured_at: Mapped[str | None] = mapped_column(sa.String(40))  # ISO 8601 as given: a date or a moment
    captured_where: Mapped[str | None] = mapped_column(sa.String(500))
    captured_place_id: Mapped[int | None] = mapped_column(sa.ForeignKey("places.id"))
    acquired_how: Mapped[str | None] = mapped_column(sa.Text)
    release: Mapped[list] = mapped_column(sa.JSON)  # scopes it may be exported to
    added_by: Mapped[str] = mapped_column(sa.String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EvidencePerson(Base):
    """Which persons an evidence item is about."""

    __tablename__ = "evidence_persons"

    evidence_pk: Mapped[int] = mapped_column(sa.ForeignKey("evidence_items.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class Witness(Base):
    """Someone who gave testimony, known everywhere by a pseudonym (W-0001)."""

    __tablename__ = "witnesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name_index: Mapped[str] = mapped_column(sa.String(64), unique=True)  # keyed hash: finds the same witness again
    wrapped_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    name_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    contact_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # the first contact given; never replaced
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Testimony(Base):
    """A witness statement: transcript and interviewer sealed; language, consent and links in clear."""

    __tablename__ = "testimonies"

    id: Mapped[int] = mapped_column(primary_key=True)
    testimony_id: Mapped[str] = mapped_column(sa.String(20), unique=True)  # T-0001
    witness_pk: Mapped[int] = mapped_column(sa.ForeignKey("witnesses.id"))
    language: Mapped[str] = mapped_column(sa.String(20))
    consent: Mapped[list] = mapped_column(sa.JSON)  # investigators, courts, public
    place: Mapped[str | None] = mapped_column(sa.String(500))
    place_id: Mapped[int | None] = mapped_column(sa.ForeignKey("places.id"))
    wrapped_key: Mapped[bytes] = mapped_column(sa.LargeBinary)
    transcript_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    transcript_sha256: Mapped[str] = mapped_column(sa.String(64))
    interviewer_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # A contact given with this testimony for a witness recorded before, when it is not one already
    # known: sealed under the witness's data key, kept beside the witness's first contact, never over it.
    witness_contact_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    recorded_by: Mapped[str] = mapped_column(sa.String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TestimonyPerson(Base):
    """Which persons a testimony is about."""

    __tablename__ = "testimony_persons"

    testimony_pk: Mapped[int] = mapped_column(sa.ForeignKey("testimonies.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class CustodyEvent(Base):
    """One link of the chain of custody: append-only, hash-chained, signed with the instance key.

    ``occurred_at`` and ``details`` are kept as text exactly as they were hashed, so that the hash
    can be recomputed byte for byte on any database.
    """

    __tablename__ = "custody_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, unique=True)
    item_kind: Mapped[str] = mapped_column(sa.String(20))  # evidence, testimony, witness, casefile, custody
    item_id: Mapped[str] = mapped_column(sa.String(40), index=True)
    action: Mapped[str] = mapped_column(sa.String(40))
    actor: Mapped[str] = mapped_column(sa.String(200))
    occurred_at: Mapped[str] = mapped_column(sa.String(40))
    details: Mapped[str] = mapped_column(sa.Text)  # canonical JSON
    prev_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    event_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    signature: Mapped[str] = mapped_column(sa.String(200))  # base64 Ed25519 over event_sha256
