"""Who may use the web application, their sessions, API tokens, failed logins, and the audit log.

Passwords are kept only as argon2id hashes; session and API tokens only as their SHA-256, so a copy
of the database lets no one log in. The audit log is hash-chained like the chain of custody
(:mod:`dadkhah.chain`): each event holds the SHA-256 of the one before it, so an edited, removed
or inserted event shows.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow


class User(Base):
    """A person who may log in, with one role (viewer, analyst, investigator, admin)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(100), unique=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    password_hash: Mapped[str] = mapped_column(sa.String(200))  # argon2id, PHC string
    # Sealed ("sealed1:...", AES-GCM under the key file's login key: dadkhah.users); base32 in clear
    # before revision 0021, until `dadkhah serve` seals it. None: no second factor.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(128))
    # The time step (Unix time // 30) of the last TOTP code accepted: a code of that step or an earlier
    # one is refused, so a code seen over a shoulder or in a proxy's log cannot log in again (RFC 6238, 5.2).
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    language: Mapped[str] = mapped_column(sa.String(10), default="en")
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by an admin's password reset: the password is a temporary one, and the next login leads
    # only to choosing a new one (dadkhah.users.reset_password, change_password).
    must_change_password: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())

    __table_args__ = (sa.CheckConstraint("role IN ('viewer', 'analyst', 'investigator', 'admin')", name="role"),)


class WebSession(Base):
    """A logged-in browser or client. The cookie holds the token; the table only its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    address: Mapped[str | None] = mapped_column(sa.String(100))


class LoginAttempt(Base):
    """A failed login, kept to slow down password guessing (by user name and by address)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(100), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ApiToken(Base):
    """A personal API token: a program acting as its user, with that user's current role, through
    ``/api/v1`` only. The token itself (``dk_<token_id>_<secret>``) is shown once when it is made; the
    table keeps only the SHA-256 of it, so a copy of the database lets no one use it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[str] = mapped_column(sa.String(20), unique=True)  # the public part, in the token and the audit log
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))  # what it is for, as its maker said
    scope: Mapped[str] = mapped_column(sa.String(10))  # read (GET and HEAD only) or write
    token_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: until revoked
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # written at most once a minute
    last_used_address: Mapped[str | None] = mapped_column(sa.String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(sa.String(200))

    __table_args__ = (sa.CheckConstraint("scope IN ('read', 'write')", name="scope"),)


class AuditEvent(Base):
    """Who read or changed what, when, through which shell: one link of a hash chain, written in the
    action's transaction, and signed with the instance key when the command had it."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.Integer, unique=True)
    actor: Mapped[str] = mapped_column(sa.String(200))
    channel: Mapped[str | None] = mapped_column(sa.String(10))  # cli or web; None only before revision 0007
    action: Mapped[str] = mapped_column(sa.String(60))
    object_kind: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    address: Mapped[str | None] = mapped_column(sa.String(100))
    occurred_at: Mapped[str] = mapped_column(sa.String(40))  # ISO 8601 UTC, exactly as hashed
    details: Mapped[str] = mapped_column(sa.Text)  # canonical JSON, exactly as hashed
    prev_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    event_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    signature: Mapped[str | None] = mapped_column(sa.String(200))  # base64 Ed25519; None when written without the keys
