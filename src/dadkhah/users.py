"""People who may use the web application: roles, passwords (argon2id), a TOTP second factor,
login throttling, sessions, and personal API tokens.

Roles are ordered and deny by default: a permission names the least role that holds it, and a role
holds every permission of the roles below it. Each change to a user, each login and logout, each
change of language and each API token made or revoked is one function here that writes its audit
event in the same transaction; passwords, TOTP secrets and tokens never go into an audit event.

An admin's password reset (:func:`reset_password`) gives the user a temporary password, shown once
to the admin, ends their sessions and revokes their API tokens; their next login then opens only a
short session in which they must choose a new password (:func:`change_password`) before any page
or API call works (:func:`session_user` refuses such a user).

A TOTP secret is kept sealed (AES-256-GCM, bound to the user's name) under the *login key* of the
workspace's key file, which the server reads at login without a passphrase: a copy of the database
(a dump, a backup, the workspace folder) holds no usable second factor. Secrets kept in clear by an
older version are sealed by :func:`seal_totp_secrets`, which `dadkhah serve` runs when it starts.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.orm import Session

from dadkhah.audit import Actor, record_audit, refuse_outdated_keys
from dadkhah.errors import DadkhahError, InputError, KeysOutdated, NotFound
from dadkhah.model import ApiToken, LoginAttempt, User, WebSession
from dadkhah.store import Store

ROLES = ("viewer", "analyst", "investigator", "admin")

# Each permission and the least role that holds it. Anything not named here is refused to everyone.
PERMISSIONS = {
    "registry": "viewer",  # dashboard, persons, places, sources and estimates to read
    "accountability": "viewer",  # officials, institutions, acts and sites to read
    "sources": "analyst",  # upload lists
    "review": "analyst",  # decide pairs
    "estimates": "analyst",  # run estimates
    "vault": "investigator",  # testimonies, evidence, custody log: read and add
    "claims": "investigator",  # add accountability claims, review them
    "publication": "investigator",  # which sources may be published; withhold persons from publication
    "signatures": "analyst",  # appeals: the moderation queue, decisions, bulk invalidation, paper signatures, exports
    "appeals": "investigator",  # appeals: create, revise, publish, close, record deliveries, purge
    "export": "admin",  # case files
    "users": "admin",
    "keys": "admin",
    "audit": "admin",
}

LANGUAGES = ("en", "fa")
SESSION_HOURS = 12
PASSWORD_CHANGE_MINUTES = 15  # how long a login with a temporary password may take to choose a new one
# A temporary password: 4 groups of 5 from 31 letters and digits no one mistakes for another (no
# 0/o, 1/l/i): about 99 bits, typed from a screen or read out over a telephone.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# Login throttling (see log_in): failures counted over a window, per user name *from one address*
# (so an attacker locks out only their own address), per address, and per user name from
# anywhere, which only slows its logins down (a delay, never a refusal).
MAX_FAILURES_PER_USER = 5  # from one address
MAX_FAILURES_PER_ADDRESS = 20
THROTTLE_MINUTES = 15
DELAY_AFTER_FAILURES = 5  # of one user name, from any address
MAX_DELAY_SECONDS = 30
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
# argon2id at the library's RFC 9106 "low memory" profile: 64 MiB, 3 passes.
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4)
SEALED_TOTP = "sealed1:"  # a TOTP secret sealed under the login key: this, then base64(nonce + ciphertext)
log = logging.getLogger(__name__)


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
            "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
            "reset_pending": bool(user.must_change_password)}


def totp_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (typed, or scanned from :func:`totp_qr`)."""
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="Dadkhah")


def totp_qr(uri: str):
    """The QR code of a TOTP URI (a ``segno.QRCode``: ``.svg_inline()`` for a page, ``.terminal()``
    for a terminal, ``.matrix`` for its modules). Made here, on this machine: the secret is never
    sent to a QR service. Error correction M, as authenticator apps expect from a screen."""
    import segno

    return segno.make(uri, error="m", boost_error=False)


def totp_qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an SVG element to put in a page as it is (no script, no style
    attribute, no external reference: it passes the web application's content security policy)."""
    return totp_qr(uri).svg_inline(scale=4, border=4, dark="#000", light="#fff", svgclass="totp-qr",
                                   title="TOTP")


def _login_key(store: Store, *, create: bool) -> bytes:
    """The login key of the workspace's key file (``create``: added to an older key file that lacks it)."""
    keys = store.chain_keys
    if keys is None or not callable(getattr(keys, "login_key", None)):
        raise DadkhahError(f"a second factor's secret is sealed with the login key kept in the workspace's key file, "
                           f"and {store.workspace.path} has no key file at hand (`dadkhah init` makes one)")
    return keys.login_key(create=create)


def _totp_aad(username: str) -> bytes:
    return f"dadkhah-totp:{username}".encode()


def seal_totp(key: bytes, secret: str, username: str) -> str:
    """``secret`` sealed for ``username``'s row: opened only with ``key`` and only for that name."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode("ascii"), _totp_aad(username))
    return SEALED_TOTP + base64.b64encode(nonce + sealed).decode("ascii")


def open_totp(key: bytes, stored: str, username: str) -> str:
    """The TOTP secret kept as ``stored`` for ``username`` (a :class:`DadkhahError` when ``key`` does
    not open it: another key file's login key, or a row that was altered or moved to another name)."""
    try:
        raw = base64.b64decode(stored[len(SEALED_TOTP):], validate=True)
        return AESGCM(key).decrypt(raw[:12], raw[12:], _totp_aad(username)).decode("ascii")
    except (InvalidTag, ValueError) as exc:
        raise DadkhahError(f"the second-factor secret of {username!r} does not open with the key file's login key "
                           f"({type(exc).__name__}): the key file is not the one it was sealed with, or the row was "
                           "altered; an admin gives the user a new one (a password reset with a new second factor)") from None


def _new_totp_secret(store: Store, username: str) -> tuple[str, str]:
    """A new TOTP secret: (as shown to the user once, as kept)."""
    import pyotp

    key = _login_key(store, create=True)
    secret = pyotp.random_base32()
    return secret, seal_totp(key, secret, username)


def seal_totp_secrets(store: Store, *, actor: Actor) -> dict:
    """Seal every TOTP secret still kept in clear (written by a version before sealing), with the
    audit event "second factors sealed" naming the users; nothing when there is none. Codes the
    users' apps make are unchanged. Returns ``{"sealed": [names]}``."""
    with store.session() as session:
        clear = list(session.scalars(sa.select(User).where(User.totp_secret.is_not(None),
                                                           ~User.totp_secret.startswith(SEALED_TOTP))
                                     .order_by(User.username)))
        if not clear:
            return {"sealed": []}
        key = _login_key(store, create=True)
        for user in clear:
            user.totp_secret = seal_totp(key, user.totp_secret, user.username)
        names = [user.username for user in clear]
        record_audit(session, store, actor, action="second factors sealed", object_kind="user", object_id=None,
                     details={"users": names})
    return {"sealed": names}


def _opened(key: bytes, stored: str, username: str) -> str | None:
    """The secret ``stored`` holds, when ``key`` opens it; else None."""
    try:
        return open_totp(key, stored, username) if key else None
    except DadkhahError:
        return None


def second_factors(session: Session, key: bytes) -> dict:
    """How the users' second factors stand with the login key ``key`` (empty: the key file has none):
    ``sealed`` (they open with it), ``clear`` (kept in clear by an older version, until `serve` seals
    them) and ``unreadable`` (the users whose second factor it cannot open, who cannot log in until an
    admin gives them a new one). Nothing is changed and no secret is shown."""
    sealed, clear, unreadable = 0, 0, []
    for username, stored in session.execute(sa.select(User.username, User.totp_secret)
                                            .where(User.totp_secret.is_not(None)).order_by(User.username)):
        if not stored.startswith(SEALED_TOTP):
            clear += 1
        elif _opened(key, stored, username) is not None:
            sealed += 1
        else:
            unreadable.append(username)
    return {"sealed": sealed, "clear": clear, "unreadable": unreadable}


def reseal_totp_secrets(session: Session, old: bytes, new: bytes) -> dict:
    """For a rotation of the keys: every TOTP secret sealed under the login key ``old`` sealed anew
    under ``new``, in the caller's transaction; one already under ``new`` is left as it is (a rotation
    finished after a crash), one kept in clear is sealed. A secret that opens with neither (its login
    key was lost before) cannot be carried over: such users are named, to be given a new second
    factor. Returns ``{"sealed": n, "unreadable": [names]}``; the codes users' apps make are unchanged."""
    sealed, unreadable = 0, []
    for user in session.scalars(sa.select(User).where(User.totp_secret.is_not(None)).order_by(User.username)):
        stored = user.totp_secret
        if stored.startswith(SEALED_TOTP):
            if _opened(new, stored, user.username) is not None:
                continue
            secret = _opened(old, stored, user.username)
        else:
            secret = stored
        if secret is None:
            unreadable.append(user.username)
            continue
        user.totp_secret = seal_totp(new, secret, user.username)
        sealed += 1
    session.flush()
    return {"sealed": sealed, "unreadable": unreadable}


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
    secret = kept = None
    if totp:
        secret, kept = _new_totp_secret(store, username)
    with store.session() as session:
        if session.scalar(sa.select(User.id).where(User.username == username)) is not None:
            raise InputError(f"a user named {username!r} already exists", field="username")
        user = User(username=username, role=role, password_hash=_hasher.hash(password), totp_secret=kept,
                    language=language, active=True, created_by=actor.name)
        session.add(user)
        session.flush()
        document = user_to_dict(user)
        record_audit(session, store, actor, action="user added", object_kind="user", object_id=username,
                     details={"role": role, "totp": secret is not None, "language": language})
    if secret:
        document["totp_secret"] = secret
        document["totp_uri"] = totp_uri(secret, username)
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


def _failures(session: Session, *conditions, up_to: int | None = None) -> int:
    since = datetime.now(UTC) - timedelta(minutes=THROTTLE_MINUTES)
    query = sa.select(sa.func.count()).select_from(LoginAttempt).where(LoginAttempt.at >= since, *conditions)
    if up_to is not None:
        query = query.where(LoginAttempt.id <= up_to)
    return session.scalar(query)


def _same_address(address: str | None):
    return LoginAttempt.address == address if address else LoginAttempt.address.is_(None)


def login_delay(store: Store, username: str) -> float:
    """How long a login for ``username`` waits before its password is checked: nothing until the name
    has failed ``DELAY_AFTER_FAILURES`` times in the window (from any address), then doubling from a
    second up to ``MAX_DELAY_SECONDS``. A delay slows guessing without letting anyone lock a user out."""
    username = (username or "").strip()[:100]
    with store.session() as session:
        failures = _failures(session, LoginAttempt.username == username)
    return 0.0 if failures < DELAY_AFTER_FAILURES else float(min(2 ** (failures - DELAY_AFTER_FAILURES),
                                                                  MAX_DELAY_SECONDS))


def _totp_ok(session: Session, user: User, code: str | None, login_key: Callable[[], bytes] | None,
             unopened: Callable[[], None] | None = None) -> bool:
    """Whether ``code`` is the user's TOTP code now (a step either side) and of a later time step than
    the last code accepted (RFC 6238, 5.2): a code logs in once, and an older one never. The step is
    taken in the caller's transaction, by an update that only a later step passes, so two logins
    sending one code at once cannot both succeed. A sealed secret that cannot be opened (no login key
    at hand, another key file's) refuses the login, and the server's log says why: the person logging
    in is told only that the login failed. ``unopened`` is called first in that case: it may raise
    instead (a server whose keys a rotation replaced)."""
    import pyotp
    from pyotp.utils import strings_equal

    code = (code or "").strip().replace(" ", "")
    if not code:
        return False
    secret = user.totp_secret
    if secret.startswith(SEALED_TOTP):
        try:
            if login_key is None:
                raise DadkhahError("no login key was given to open it")
            secret = open_totp(login_key(), secret, user.username)
        except DadkhahError as exc:
            if unopened is not None:
                unopened()
            log.error("cannot check the second factor of %s: %s", user.username, exc)
            return False
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.now(UTC))
    steps = [step for step in (now - 1, now, now + 1) if strings_equal(code, totp.generate_otp(step))]
    if not steps:
        return False
    step = steps[-1]
    taken = session.execute(
        sa.update(User).where(User.id == user.id, sa.or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    if taken.rowcount != 1:
        log.warning("a second-factor code of %s was refused: it was used before, or is older than one that was",
                    user.username)
        return False
    user.totp_last_step = step
    return True


def authenticate(session: Session, username: str, password: str, *, totp_code: str | None = None,
                 login_key: Callable[[], bytes] | None = None, unopened: Callable[[], None] | None = None
                 ) -> User | None:
    """The active user whose name, password and (when set) TOTP code these are, else None.

    ``login_key`` gives the key that opens sealed TOTP secrets (asked only for a user who has one,
    once the password is right); ``unopened`` is called when it does not open one (see :func:`_totp_ok`). Spends the same time on a name that does not exist, so timing does
    not tell which names do. Counting and throttling are :func:`log_in`'s.
    """
    username = (username or "").strip()[:100]
    user = session.scalar(sa.select(User).where(User.username == username))
    ok = False
    if user is not None and user.active:
        try:
            ok = _hasher.verify(user.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            ok = False
        if ok and user.totp_secret:
            ok = _totp_ok(session, user, totp_code, login_key, unopened)
    else:
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            pass
    if not ok:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = datetime.now(UTC)
    return user


_DUMMY_HASH = _hasher.hash("not a password of anyone")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class SessionInfo:
    token: str
    csrf_token: str
    expires_at: datetime


def start_session(session: Session, user: User, *, address: str | None = None,
                  hours: float = SESSION_HOURS) -> SessionInfo:
    """A new session for ``user``: the token goes in the cookie, only its hash in the database."""
    now = datetime.now(UTC)
    session.execute(sa.delete(WebSession).where(WebSession.expires_at < now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + timedelta(hours=hours)
    session.add(WebSession(token_sha256=_token_hash(token), user_id=user.id, csrf_token=csrf, created_at=now,
                           expires_at=expires, address=address))
    session.flush()
    return SessionInfo(token=token, csrf_token=csrf, expires_at=expires)


def _session_row(session: Session, token: str | None) -> tuple[User, WebSession] | None:
    """The active user and unexpired session behind a cookie's token, whatever the user must do first."""
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


def session_user(session: Session, token: str | None) -> tuple[User, WebSession] | None:
    """The active user and session behind a cookie's token, or None (expired, ended, disabled, or the
    user must first choose a new password: such a session opens nothing but :func:`change_password`)."""
    found = _session_row(session, token)
    if found is None or found[0].must_change_password:
        return None
    return found


def password_change_pending(session: Session, token: str | None) -> tuple[User, WebSession] | None:
    """The user and session behind a cookie's token when that user must choose a new password
    before anything else (after an admin's reset), else None."""
    found = _session_row(session, token)
    if found is None or not found[0].must_change_password:
        return None
    return found


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


def temporary_password() -> str:
    """A random password for a reset, e.g. ``k7mxq-4hzta-...``: 23 characters, about 99 bits."""
    return "-".join("".join(secrets.choice(_TEMPORARY_ALPHABET) for _ in range(5)) for _ in range(4))


def reset_password(store: Store, username: str, *, actor: Actor, totp: bool = False) -> dict:
    """An admin's reset of ``username``'s password, with the audit event "password reset".

    The user gets a random temporary password (``temporary_password`` in the answer, shown this once;
    only its hash is kept) and must choose a new one at their next login (:func:`change_password`).
    Every web session of theirs ends at once, and every API token of theirs still active is revoked
    (each with its own "token revoked" event): whoever may have learnt the old password may have made
    one. The second factor is kept, unless ``totp``: then a new TOTP secret replaces it (or is given to
    a user who had none), in the answer with its URI this once. The event's details say which
    (``totp``: kept, new or none), how many sessions ended and which tokens were revoked; never a secret.

    Nobody resets themselves through the web or a token: whoever holds an admin's session or token
    could otherwise take the account over, second factor and all (a user who knows their password
    changes it instead). On the command line, whoever runs it already holds the workspace: an admin
    locked out resets themselves there.
    """
    username = (username or "").strip()
    if username == actor.name and actor.channel != "cli":
        raise InputError("you cannot reset your own password; change it, or ask another admin", field="user")
    password = temporary_password()
    secret = kept = None
    if totp:
        with store.session() as session:
            get_user(session, username)  # an unknown name is refused before the key file is touched
        secret, kept = _new_totp_secret(store, username)
    now = datetime.now(UTC)
    with store.session() as session:
        user = get_user(session, username)
        user.password_hash = _hasher.hash(password)
        user.must_change_password = True
        if kept:
            user.totp_secret = kept
            user.totp_last_step = None  # a new secret's codes owe nothing to the old one's
        ended = session.execute(sa.delete(WebSession).where(WebSession.user_id == user.id)).rowcount or 0
        tokens = list(session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user.id,
                                                                ApiToken.revoked_at.is_(None))
                                      .order_by(ApiToken.id)))
        for token in tokens:
            token.revoked_at, token.revoked_by = now, actor.name
        session.flush()
        revoked = [token.token_id for token in tokens]
        second_factor = "new" if secret else "kept" if user.totp_secret else "none"
        for token_id in revoked:
            record_audit(session, store, actor, action="token revoked", object_kind="token", object_id=token_id,
                         details={"user": user.username, "reason": "password reset"})
        record_audit(session, store, actor, action="password reset", object_kind="user", object_id=user.username,
                     details={"totp": second_factor, "sessions_ended": ended, "tokens_revoked": revoked})
        document = user_to_dict(user)
    document |= {"temporary_password": password, "totp_second_factor": second_factor, "sessions_ended": ended,
                 "tokens_revoked": revoked}
    if secret:
        document["totp_secret"] = secret
        document["totp_uri"] = totp_uri(secret, document["username"])
    return document


def change_password(store: Store, token: str | None, *, password: str, address: str | None = None,
                    channel: str = "web") -> tuple[dict, SessionInfo]:
    """The new password of the user whose login with a temporary password made the session behind
    ``token``, with the audit event "password changed" (by the user); returns the user and a new,
    ordinary session (every other session of theirs, the short one included, ends).

    The password must pass :func:`validate_password` and differ from the temporary one. Without
    such a session (none, expired, or no change is pending) :class:`LoginRefused` is raised: log in again.
    """
    password = validate_password(password)
    with store.session() as session:
        found = password_change_pending(session, token)
        if found is None:
            raise LoginRefused("no password change is pending for this session (it may have expired): log in again")
        user, _ = found
        try:
            same = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            same = False
        if same:
            raise InputError("choose a new password, not the temporary one", field="password")
        user.password_hash = _hasher.hash(password)
        user.must_change_password = False
        session.execute(sa.delete(WebSession).where(WebSession.user_id == user.id))
        record_audit(session, store, Actor(user.username, channel, address), action="password changed",
                     object_kind="user", object_id=user.username)
        started = start_session(session, user, address=address)
        document = user_to_dict(user)
    return document, started


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

    The attempt is first recorded as a failure, in a transaction of its own that is committed
    before anything is counted; then the failures recorded up to it are counted. So attempts sent
    at once cannot all slip under the limits: the sixth of twelve parallel attempts from one address
    already counts the five before it. Beyond ``MAX_FAILURES_PER_USER`` failures for the name from
    this address, or ``MAX_FAILURES_PER_ADDRESS`` from the address, the attempt is refused without
    checking the password (:class:`LoginThrottled`), and is then not counted as a failure. A refused password raises
    :class:`LoginRefused`; a successful login removes its record and this address's failures for
    the name, and is audited as "login" by the user. See :func:`login_delay` for the delay a
    much-failed name waits first.
    """
    username = (username or "").strip()[:100]
    with store.session() as session:
        if session.get_bind().dialect.name == "postgresql":  # one attempt per name is recorded at a time
            session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _name_lock(username)})
        attempt = LoginAttempt(username=username, address=address, at=datetime.now(UTC))
        session.add(attempt)
        session.flush()
        attempt_id = attempt.id
    with store.session() as session:
        throttled = (_failures(session, LoginAttempt.username == username, _same_address(address), up_to=attempt_id)
                     > MAX_FAILURES_PER_USER
                     or (address and _failures(session, LoginAttempt.address == address, up_to=attempt_id)
                         > MAX_FAILURES_PER_ADDRESS))
    if throttled:
        # Not checked, so not a failure: a refused flood does not lengthen the name's delay for others.
        with store.session() as session:
            session.execute(sa.delete(LoginAttempt).where(LoginAttempt.id == attempt_id))
        raise LoginThrottled(f"too many failed logins; try again in {THROTTLE_MINUTES} minutes")
    try:
        with store.session() as session:
            user = authenticate(session, username, password, totp_code=totp_code,
                                login_key=lambda: _login_key(store, create=False),
                                unopened=lambda: refuse_outdated_keys(session, store))
            if user is None:
                raise LoginRefused("wrong user name, password or code")
            session.execute(sa.delete(LoginAttempt).where(LoginAttempt.username == username, _same_address(address)))
            must_change = bool(user.must_change_password)
            record_audit(session, store, Actor(user.username, channel, address), action="login", object_kind="user",
                         object_id=user.username, details={"reset_pending": True} if must_change else None)
            # With a temporary password, the session is short and opens only the change of password.
            started = start_session(session, user, address=address,
                                    hours=PASSWORD_CHANGE_MINUTES / 60 if must_change else SESSION_HOURS)
            document = user_to_dict(user)
    except KeysOutdated:
        # This process holds keys a rotation replaced: the server is at fault, not the person, so the
        # attempt does not count against the name (nothing of it is kept).
        with store.session() as session:
            session.execute(sa.delete(LoginAttempt).where(LoginAttempt.id == attempt_id))
        raise
    return document, started


def _name_lock(username: str) -> int:
    """A 63-bit advisory-lock key for one user name."""
    return int.from_bytes(hashlib.sha256(f"dadkhah-login:{username}".encode()).digest()[:8], "big") >> 1


def log_out(store: Store, token: str | None, *, actor: Actor) -> None:
    """End the session behind ``token``, with the audit event "logout"."""
    with store.session() as session:
        end_session(session, token)
        record_audit(session, store, actor, action="logout", object_kind="user", object_id=actor.name)


# ----- personal API tokens -----------------------------------------------------------------------
#
# A token is ``dk_<token_id>_<secret>``: the id (12 hex digits, public: it is listed, and named in
# the audit log) finds the row by an index; the secret (32 random bytes) proves it. Only the SHA-256
# of the whole token is kept. A fast hash is enough here, unlike for passwords: the secret has 256
# bits of entropy, so no dictionary or brute force can invert its hash, and argon2's cost (64 MiB and
# tens of milliseconds) would be paid on every API request instead, and handed to anyone who floods
# the API. The ``dk_`` prefix and fixed shape let secret scanners recognise a leaked token.

TOKEN_SCOPES = ("read", "write")
TOKEN_PATTERN = re.compile(r"dk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_TOKEN_ID = re.compile(r"[0-9a-f]{12}")
LAST_USED_EVERY = timedelta(minutes=1)  # how stale ``last_used_at`` may be: reads stay reads
_TOKEN_FAILURE = "token:"  # how a failed token is named among failed logins (no user name has a colon)


class TokenRefused(DadkhahError):
    """A bearer token that does not let its holder in: malformed, unknown, wrong, revoked, expired,
    or its user may no longer log in. ``reason`` says which, for the client (only a holder of the
    real secret learns that a token was revoked or has expired)."""

    def __init__(self, message: str, *, reason: str):
        super().__init__(message)
        self.reason = reason

    def to_dict(self) -> dict:
        return {"message": str(self), "reason": self.reason}


@dataclass(frozen=True)
class TokenHolder:
    """Who a valid token acts for, with the user's role and language as they are now."""

    username: str
    role: str
    language: str
    token_id: str
    scope: str


def token_status(token: ApiToken, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def token_to_dict(token: ApiToken, username: str) -> dict:
    """What may be shown of a token: never the token itself, nor its hash."""

    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {"id": token.token_id, "user": username, "name": token.name, "scope": token.scope,
            "status": token_status(token), "created_by": token.created_by, "created_at": moment(token.created_at),
            "expires_at": moment(token.expires_at), "last_used_at": moment(token.last_used_at),
            "last_used_address": token.last_used_address, "revoked_at": moment(token.revoked_at),
            "revoked_by": token.revoked_by}


def parse_expiry(value: str | date | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """When a token stops working: a date means the end of that day (UTC), a time without a zone is
    UTC; None or empty, never (until revoked). It must lie in the future."""
    now = now or datetime.now(UTC)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"an expiry is a date (2027-06-30) or a date and time (2027-06-30T18:00:00+00:00), "
                             f"not {text!r}", field="expires") from None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    else:
        moment = datetime.combine(value + timedelta(days=1), time(0), tzinfo=UTC)
    if moment <= now:
        raise InputError(f"the expiry {moment.isoformat()} has already passed", field="expires")
    return moment.astimezone(UTC)


def token_id_of(text: str) -> str:
    """The token id in ``text``: a token id, or a whole token (so a leaked token can be revoked as found)."""
    text = (text or "").strip()
    whole = TOKEN_PATTERN.fullmatch(text)
    if whole:
        return whole.group(1)
    if _TOKEN_ID.fullmatch(text):
        return text
    raise InputError("a token id is 12 hexadecimal digits (or give the whole token, dk_…)", field="token_id")


def create_token(store: Store, username: str, *, actor: Actor, scope: str, expires: str | date | datetime | None = None,
                 name: str | None = None) -> dict:
    """Make an API token for ``username``, with the audit event "token created" (user, scope, expiry).

    The answer holds the token (``token``) this once; only its SHA-256 is kept. The token acts with
    the user's role as it is at each request, through ``/api/v1`` only; a ``read`` token may only
    read (GET and HEAD), whatever the role allows.
    """
    if scope not in TOKEN_SCOPES:
        raise InputError(f"a token's scope is read or write, not {scope!r}", field="scope")
    expires_at = parse_expiry(expires)
    name = (name or "").strip() or None
    if name is not None and len(name) > 200:
        raise InputError("a token's name is at most 200 characters", field="name")
    with store.session() as session:
        user = get_user(session, (username or "").strip())
        if not user.active:
            raise InputError(f"{user.username} may not log in (deactivated), so may hold no token", field="username")
        token_id = secrets.token_hex(6)
        while session.scalar(sa.select(ApiToken.id).where(ApiToken.token_id == token_id)) is not None:
            token_id = secrets.token_hex(6)
        token = f"dk_{token_id}_{secrets.token_urlsafe(32)}"
        row = ApiToken(token_id=token_id, user_id=user.id, name=name, scope=scope, token_sha256=_token_hash(token),
                       created_by=actor.name, created_at=datetime.now(UTC), expires_at=expires_at)
        session.add(row)
        session.flush()
        document = token_to_dict(row, user.username)
        record_audit(session, store, actor, action="token created", object_kind="token", object_id=token_id,
                     details={"user": user.username, "scope": scope, "expires_at": document["expires_at"]})
    return document | {"token": token}


def list_tokens(session: Session, *, username: str | None = None) -> list[dict]:
    """API tokens (all users', or one user's), newest first; never the token or its hash."""
    query = sa.select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
    if username is not None:
        query = query.where(User.username == username)
    return [token_to_dict(token, name) for token, name in session.execute(query.order_by(ApiToken.id.desc()))]


def revoke_token(store: Store, token_id: str, *, actor: Actor, of_user: str | None = None) -> dict:
    """Stop a token for good, with the audit event "token revoked".

    ``token_id`` may be the whole token. With ``of_user``, only that user's token may be revoked
    (another's is not found, as if it did not exist).
    """
    token_id = token_id_of(token_id)
    with store.session() as session:
        found = session.execute(sa.select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
                                .where(ApiToken.token_id == token_id)).first()
        if found is None or (of_user is not None and found[1] != of_user):
            raise NotFound(f"no token {token_id}")
        token, username = found
        if token.revoked_at is not None:
            raise InputError(f"token {token_id} was already revoked, by {token.revoked_by} on "
                             f"{token.revoked_at:%Y-%m-%d %H:%M} UTC", field="token_id")
        token.revoked_at, token.revoked_by = datetime.now(UTC), actor.name
        session.flush()
        document = token_to_dict(token, username)
        record_audit(session, store, actor, action="token revoked", object_kind="token", object_id=token_id,
                     details={"user": username})
    return document


_DUMMY_TOKEN_HASH = _token_hash("dk_000000000000_" + "0" * 43)


def authenticate_token(store: Store, token: str, *, address: str | None = None) -> TokenHolder:
    """The user a bearer token acts for, with their current role; else :class:`TokenRefused`.

    What slows password guessing applies to tokens: a malformed, unknown or wrong token counts as a
    failed login from ``address``, and once the address has ``MAX_FAILURES_PER_ADDRESS`` failures
    (logins and tokens together) in the window, every token from it is refused unchecked
    (:class:`LoginThrottled`). A revoked or expired token, or one whose user was deactivated, is
    refused without counting (its holder had the secret). The hash is compared in constant time, and
    a token id that matches nothing is compared against a dummy hash, so timing tells nothing.
    ``last_used_at`` is written at most once a minute per token, in a transaction of its own.
    """
    now = datetime.now(UTC)
    with store.session() as session:
        if address and _failures(session, LoginAttempt.address == address) >= MAX_FAILURES_PER_ADDRESS:
            raise LoginThrottled(f"too many failed logins or tokens from this address; try again in "
                                 f"{THROTTLE_MINUTES} minutes")
        shaped = TOKEN_PATTERN.fullmatch(token or "") if len(token or "") < 100 else None
        found = None
        if shaped:
            found = session.execute(sa.select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                                    .where(ApiToken.token_id == shaped.group(1))).first()
        expected = found[0].token_sha256 if found else _DUMMY_TOKEN_HASH
        matches = secrets.compare_digest(_token_hash(token or "").encode(), expected.encode())
        if not (found and matches):
            session.add(LoginAttempt(username=f"{_TOKEN_FAILURE}{shaped.group(1) if shaped else '?'}",
                                     address=address, at=now))
    if not (found and matches):
        raise TokenRefused("the bearer token is not valid" if shaped else
                           "not a Dadkhah API token (dk_ followed by its id and secret)", reason="invalid")
    row, user = found
    status = token_status(row, now)
    if status != "active":
        raise TokenRefused(f"the token {row.token_id} {'was revoked' if status == 'revoked' else 'has expired'}",
                           reason=status)
    if not user.active:
        raise TokenRefused(f"the token's user {user.username} may no longer log in", reason="user deactivated")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        try:
            with store.session() as session:
                session.execute(sa.update(ApiToken).where(ApiToken.id == row.id, sa.or_(
                    ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USED_EVERY))
                    .values(last_used_at=now, last_used_address=address))
        except DadkhahError:  # busy: the time is a hint, the request goes on
            pass
    return TokenHolder(user.username, user.role, user.language, row.token_id, row.scope)
