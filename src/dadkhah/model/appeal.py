"""Open letters (appeals) with their versioned text, signatures, deliveries and the mail queue.

A signer's email address, name, role and affiliation are sealed (``identity_sealed``, AES-256-GCM
under a per-signature data key wrapped by the workspace's master key, as witness identities are).
What is in clear is what counting and de-duplicating need: the kind, the country, keyed hashes
(``*_index``: equal values give equal hashes, and without the key nobody can test a guess) and,
once a signature is verified and only when the signer asked to be named, the public name, role and
affiliation that the public page shows anyway.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow


class Appeal(Base):
    """An open letter: ``draft`` (being written), ``open`` (published, taking signatures), ``closed``."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_id: Mapped[str] = mapped_column(sa.String(20), unique=True)  # A-0001
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    status: Mapped[str] = mapped_column(sa.String(12), default="draft")
    addressee: Mapped[str] = mapped_column(sa.Text)
    version: Mapped[int] = mapped_column(default=1)  # the current text's version
    signatory_order: Mapped[str] = mapped_column(sa.String(24), default="organisations-first")
    keep_days: Mapped[int] = mapped_column(default=90)  # after closing, what is not needed is purged
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AppealVersion(Base):
    """One version of the letter's text. Published versions are never changed."""

    __tablename__ = "appeal_versions"
    __table_args__ = (sa.UniqueConstraint("appeal_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_pk: Mapped[int] = mapped_column(sa.ForeignKey("appeals.id"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(sa.Text)
    title_fa: Mapped[str | None] = mapped_column(sa.Text)
    text: Mapped[str] = mapped_column(sa.Text)
    text_fa: Mapped[str | None] = mapped_column(sa.Text)
    sha256: Mapped[str] = mapped_column(sa.String(64))  # of the version's title and texts
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Signature(Base):
    """One signatory of one appeal, on the version of the text they were shown.

    ``status``: ``pending`` (waiting for the email to be confirmed), ``held`` (confirmed, waiting
    for a moderator: a possible duplicate, a suspicious burst, an organisation), ``verified``
    (counted), ``rejected`` (by a moderator, with a reason) or ``withdrawn`` (by the signer).
    """

    __tablename__ = "signatures"
    __table_args__ = (
        sa.UniqueConstraint("appeal_pk", "email_index"),
        sa.Index("ix_signatures_counts", "appeal_pk", "status", "kind", "country"),
        sa.Index("ix_signatures_public", "appeal_pk", "status", "kind", "public_name"),
        sa.Index("ix_signatures_alphabetical", "appeal_pk", "status", "public_name"),
        sa.Index("ix_signatures_name_index", "appeal_pk", "name_index"),
        sa.Index("ix_signatures_address", "address_index", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_pk: Mapped[int] = mapped_column(sa.ForeignKey("appeals.id"))
    version: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(12))  # person | organisation
    status: Mapped[str] = mapped_column(sa.String(12), default="pending")
    flag: Mapped[str | None] = mapped_column(sa.String(20))  # why a moderator must look: duplicate | suspicious | organisation
    flag_detail: Mapped[str | None] = mapped_column(sa.Text)
    wants_public: Mapped[bool] = mapped_column(default=False)
    public_name: Mapped[str | None] = mapped_column(sa.String(300))  # set only once verified, and only if wanted
    public_role: Mapped[str | None] = mapped_column(sa.String(300))
    public_affiliation: Mapped[str | None] = mapped_column(sa.String(300))
    country: Mapped[str | None] = mapped_column(sa.String(100))
    language: Mapped[str] = mapped_column(sa.String(5), default="en")
    channel: Mapped[str] = mapped_column(sa.String(10))  # web | paper
    email_index: Mapped[str | None] = mapped_column(sa.String(64))
    domain_index: Mapped[str | None] = mapped_column(sa.String(64))
    name_index: Mapped[str | None] = mapped_column(sa.String(64))
    address_index: Mapped[str | None] = mapped_column(sa.String(64))  # cleared once throttling is done with it
    wrapped_key: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    identity_sealed: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # name, email, role, affiliation
    confirm_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    withdraw_token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    mails_sent: Mapped[int] = mapped_column(default=0)
    last_mail_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by: Mapped[str | None] = mapped_column(sa.String(200))  # a reviewer who vouched for it
    decided_by: Mapped[str | None] = mapped_column(sa.String(200))
    decision_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # personal data removed (withdrawal, purge)


class AppealMail(Base):
    """A confirmation email waiting to be sent (sent mail leaves no row). The links' tokens are sealed."""

    __tablename__ = "appeal_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_pk: Mapped[int] = mapped_column(sa.ForeignKey("signatures.id"))
    base_url: Mapped[str] = mapped_column(sa.String(300))
    tokens_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AppealRequest(Base):
    """A signing request's keyed client address and time, kept only for the throttling window."""

    __tablename__ = "appeal_requests"
    __table_args__ = (sa.Index("ix_appeal_requests_address", "address_index", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address_index: Mapped[str] = mapped_column(sa.String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AppealDelivery(Base):
    """When, to whom, and on which version the letter was delivered; the proof is a vault item."""

    __tablename__ = "appeal_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    appeal_pk: Mapped[int] = mapped_column(sa.ForeignKey("appeals.id"))
    version: Mapped[int]
    delivered_to: Mapped[str] = mapped_column(sa.Text)
    delivered_on: Mapped[str] = mapped_column(sa.String(10))  # ISO date
    verified_count: Mapped[int]  # signatures counted when it was delivered
    evidence_id: Mapped[str | None] = mapped_column(sa.String(20))
    recorded_by: Mapped[str] = mapped_column(sa.String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
