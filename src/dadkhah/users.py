"""People who may use the web application: roles, passwords (argon2id), a TOTP second factor,
login throttling and sessions.

Roles are ordered and deny by default: a permission names the least role that holds it, and a role
holds every permission of the roles below it. Each change to a user, each login and logout and each
change of language is one function here that writes its audit event in the same transaction;
passwords and TOTP secrets never go into an audit event.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit
from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.model import LoginAttempt, User, WebSession
from dadkhah.store import Store

ROLES = ("viewer", "analyst", "investigator", "admin")

# Each permission and the least role that holds it. Anything not named here is refused to everyone.
PERMISSIONS = {
    "registry": "viewer",  # dashboard, persons, places, sources and estimates to read
    "sources": "analyst",  # upload lists
    "review": "analyst",  # decide pairs
    "estimates": "analyst",  # run estimates
    "vault": "investigator",  # testimonies, evidence, custody log: read and add
    "export": "admin",  # case files
    "users": "admin",
    "keys": "admin",
    "audit": "admin",
}

LANGUAGES = ("en", "fa")
SESSION_HOURS = 12
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
THROTTLE_MINUTES = 15
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
# argon2id at the library's RFC 9106 "low memory" profile: 64 MiB, 3 passes.
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)


class LoginRefused(DadkhahError):
    """Wrong name, password or code; the message never says which."""


class LoginThrottled(DadkhahError):
    """Too many failed logins recently for this name or address."""


def allowed(role: str | None, permission: str) -> bool:
    """Whether ``role`` holds ``permission``; unknown roles and permissions are refused."""
    least = PERMISSIONS.get(permission)
    if role not in ROLES or least is None:
        return False
    return ROLES.index(role) >= ROLES.index(least)


def validate_username(name: str) -> str:
    name = (name or "").strip()
    if not _USERNAME.match(name):
        raise InputError("a user name is 2 to 64 letters, digits, dots, dashes or underscores, starting with a "
                         "letter or digit", field="username")
    return name


def validate_password(password: str, *, file: str | None = None) -> str:
    password = (password or "").rstrip("\r\n")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", file=file, field="password")
    return password


def user_to_dict(user: User) -> dict:
    return {"username": user.username, "role": user.role, "totp": user.totp_secret is not None,
            "language": user.language, "active": user.active, "created_by": user.created_by,
            "created_at": user.created_at.isoformat() if user.created_at else None,
            "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None}


def add_user(store: Store, username: str, *, actor: Actor, role: str, password: str, totp: bool = False,
             language: str = "en") -> dict:
    """Create a user, with the audit event "user added" (role, TOTP, language; never a secret).

    With ``totp``, the answer holds the secret and its ``otpauth://`` URI, shown once.
    """
    username = validate_username(username)
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", field="role")
    if language not in LANGUAGES:
        raise InputError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}", field="language")
    password = validate_password(password)
    secret = None
    if totp:
        import pyotp

        secret = pyotp.random_base32()
    with store.session() as session:
        if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
            raise InputError(f"a user named {username!r} already exists", field="username")
        user = User(username=username, role=role, password_hash=_hasher.hash(password), totp_secret=secret,
                    language=language, active=True, created_by=actor.name)
        session.add(user)
        session.flush()
        document = user_to_dict(user)
        record_audit(session, store, actor, action="user added", object_kind="user", object_id=username,
                     details={"role": role, "totp": secret is not None, "language": language})
    if secret:
        import pyotp

        document["totp_secret"] = secret
        document["totp_uri"] = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Dadkhah")
    return document


def get_user(session: Session, username: str) -> User:
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def list_users(session: Session) -> list[dict]:
    return [user_to_dict(u) for u in session.scalars(sa.select(User).order_by(User.username))]


def _update_user(session: Session, username: str, *, role: str | None = None, active: bool | None = None,
                 language: str | None = None) -> dict:
    user = get_user(session, username)
    if role is not None:
        if role not in ROLES:
            raise InputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", field="role")
        user.role = role
    if language is not None:
        if language not in LANGUAGES:
            raise InputError(f"unknown language {language!r}", field="language")
        user.language = language
    if active is not None:
        user.active = active
        if not active:
            session.execute(sa.delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()
    return user_to_dict(user)


def _throttled(session: Session, username: str, address: str | None, now: datetime) -> bool:
    since = now - timedelta(minutes=THROTTLE_MINUTES)
    by_name = session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)
                             .where(LoginAttempt.username == username, LoginAttempt.at >= since))
    if by_name >= MAX_FAILURES_PER_USER:
        return True
    if address:
        by_address = session.scalar(sa.select(sa.func.count()).select_from(LoginAttempt)
                                    .where(LoginAttempt.address == address, LoginAttempt.at >= since))
        if by_address >= MAX_FAILURES_PER_ADDRESS:
            return True
    return False


def _totp_ok(secret: str, code: str | None) -> bool:
    import pyotp

    code = (code or "").strip().replace(" ", "")
    return bool(code) and pyotp.TOTP(secret).verify(code, valid_window=1)


def authenticate(session: Session, username: str, password: str, *, totp_code: str | None = None,
                 address: str | None = None) -> User:
    """Check a login. Failures are counted (by name and by address) and throttle further tries.

    The caller must commit the session whether or not this raises, so that failures are kept.
    """
    now = datetime.now(UTC)
    username = (username or "").strip()[:100]
    if _throttled(session, username, address, now):
        raise LoginThrottled(f"too many failed logins; try again in {THROTTLE_MINUTES} minutes")
    user = session.scalar(sa.select(User).where(User.username == username))
    ok = False
    if user is not None and user.active:
        try:
            ok = _hasher.verify(user.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
        if ok and user.totp_secret:
            ok = _totp_ok(user.totp_secret, totp_code)
    else:
        try:  # spend the same time as for a real user, so timing does not tell which names exist
            _hasher.verify(_DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            pass
    if not ok:
        session.add(LoginAttempt(username=username, address=address, at=now))
        session.flush()
        raise LoginRefused("wrong user name, password or code")
    session.execute(sa.delete(LoginAttempt).where(LoginAttempt.username == username))
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = now
    return user


_DUMMY_HASH = _hasher.hash("not a password of anyone")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    token: str
    csrf_token: str
    expires_at: datetime


def start_session(session: Session, user: User, *, address: str | None = None) -> SessionInfo:
    """A new session for ``user``: the token goes in the cookie, only its hash in the database."""
    now = datetime.now(UTC)
    session.execute(sa.delete(WebSession).where(WebSession.expires_at < now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + timedelta(hours=SESSION_HOURS)
    session.add(WebSession(token_sha256=_token_hash(token), user_id=user.id, csrf_token=csrf, created_at=now,
                           expires_at=expires, address=address))
    session.flush()
    return SessionInfo(token=token, csrf_token=csrf, expires_at=expires)


def session_user(session: Session, token: str | None) -> tuple[User, WebSession] | None:
    """The active user and session behind a cookie's token, or None (expired, ended, disabled)."""
    if not token or len(token) > 200:
        return None
    row = session.execute(sa.select(User, WebSession).join(WebSession, WebSession.user_id == User.id)
                          .where(WebSession.token_sha256 == _token_hash(token))).first()
    if row is None:
        return None
    user, web_session = row
    if not user.active or web_session.expires_at < datetime.now(UTC):
        return None
    return user, web_session


def end_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(sa.delete(WebSession).where(WebSession.token_sha256 == _token_hash(token)))


def change_user(store: Store, username: str, *, actor: Actor, role: str | None = None,
                active: bool | None = None) -> dict:
    """Change a user's role or activity on behalf of ``actor``; one audit event for each thing that
    changed, and what changed in ``changes``.

    Nobody may demote or deactivate themselves (so an admin always remains to undo a mistake).
    """
    if role is not None and role not in ROLES:
        raise InputError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", field="role")
    with store.session() as session:
        user = get_user(session, username)
        if user.username == actor.name:
            if role is not None and role != user.role:
                raise InputError("you cannot change your own role; ask another admin", field="role")
            if active is False:
                raise InputError("you cannot deactivate yourself; ask another admin", field="active")
        before = {"role": user.role, "active": user.active}
        document = _update_user(session, username, role=role, active=active)
        changes = {k: [before[k], document[k]] for k in before if before[k] != document[k]}
        if "role" in changes:
            record_audit(session, store, actor, action="user role changed", object_kind="user",
                         object_id=document["username"], details={"from": changes["role"][0], "to": changes["role"][1]})
        if "active" in changes:
            record_audit(session, store, actor, action="user reactivated" if document["active"] else "user deactivated",
                         object_kind="user", object_id=document["username"])
    return document | {"changes": changes}


def set_language(store: Store, *, actor: Actor, language: str) -> dict:
    """Keep ``language`` as the acting user's own setting, with the audit event "language set"."""
    if language not in LANGUAGES:
        raise InputError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}", field="language")
    with store.session() as session:
        document = _update_user(session, actor.name, language=language)
        record_audit(session, store, actor, action="language set", object_kind="user", object_id=actor.name,
                     details={"language": language})
    return document


def log_in(store: Store, username: str, password: str, *, totp_code: str | None = None, address: str | None = None,
           channel: str = "web") -> tuple[dict, SessionInfo]:
    """Check a login and start a session: the user and the session (whose token goes in the cookie).

    A refused login raises :class:`LoginRefused` or :class:`LoginThrottled` after the failure is
    kept (it counts towards throttling); a successful one is audited as "login" by the user.
    """
    with store.session() as session:
        try:
            user = authenticate(session, username, password, totp_code=totp_code, address=address)
        except (LoginRefused, LoginThrottled) as exc:
            refused = exc
        else:
            refused = None
            record_audit(session, store, Actor(user.username, channel, address), action="login", object_kind="user",
                         object_id=user.username)
            started = start_session(session, user, address=address)
            document = user_to_dict(user)
    if refused is not None:
        raise refused
    return document, started


def log_out(store: Store, token: str | None, *, actor: Actor) -> None:
    """End the session behind ``token``, with the audit event "logout"."""
    with store.session() as session:
        end_session(session, token)
        record_audit(session, store, actor, action="logout", object_kind="user", object_id=actor.name)
