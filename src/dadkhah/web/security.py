"""Who is asking and may they: sessions, API tokens, roles (deny by default), CSRF tokens, security
headers.

Every route but ``/login``, ``/static`` and an appeal's public pages (``web.routes.signing``)
depends on :func:`require` with one permission. Pages answer an anonymous request with a redirect
to ``/login``; the API answers 401. A request whose user lacks the permission gets 403. Every POST
must carry the session's CSRF token: a form in the field ``csrf_token``, an API client in the
``X-CSRF-Token`` header. The anonymous forms (logging in, signing an appeal) carry instead the
token of a cookie set with the form (a double-submit cookie).

A program may instead send one of its user's API tokens as ``Authorization: Bearer dk_…``, and
only to ``/api/v1/``: pages ignore the header (a token never opens a page). Such a request acts as
the token's user with the role the user has now, through the audit channel ``api-token``; it needs
no CSRF token (CSRF guards cookies, which a browser sends by itself; it never sends this header by
itself), and a ``read`` token may only GET and HEAD. A request with both a session cookie and a
bearer token is refused (400): which of the two acts would otherwise be a guess. A refused token is
a 401 and counts as a failed login from its address (:func:`dadkhah.users.authenticate_token`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from dadkhah.audit import Actor
from dadkhah.users import LoginThrottled, TokenRefused, allowed, authenticate_token, session_user
from dadkhah.web.i18n import LANGUAGES, set_language

SESSION_COOKIE = "dadkhah_session"
LOGIN_CSRF_COOKIE = "dadkhah_login_csrf"
APPEAL_CSRF_COOKIE = "dadkhah_appeal_csrf"
LANG_COOKIE = "dadkhah_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
READ_METHODS = {"GET", "HEAD"}  # what a read token may send
TOKEN_PATHS = "/api/v1/"  # the only place a bearer token is read

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cache-control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    """The logged-in user as a request sees them, and where the request came from."""

    username: str
    role: str
    language: str
    csrf_token: str  # empty for a request with an API token (it has no session)
    address: str | None = None
    token: str | None = None  # the API token's public id, when the request came with one
    scope: str | None = None  # that token's scope: read or write

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)

    @property
    def actor(self) -> Actor:
        """Who acts in this request, for the core functions' audit events (through the channel
        ``api-token``, naming the token, when the request came with one)."""
        if self.token:
            return Actor(self.username, "api-token", self.address, token=self.token)
        return Actor(self.username, "web", self.address)


class LoginRequired(Exception):
    """No valid session: a page redirects to /login, the API answers 401."""


class Forbidden(Exception):
    """A valid session whose role lacks the permission."""

    def __init__(self, permission: str):
        super().__init__(permission)
        self.permission = permission


class CsrfRefused(Exception):
    """A POST without the session's CSRF token."""


class BearerRefused(Exception):
    """An API request whose bearer token cannot be used: ``status`` 401 (not valid, revoked,
    expired, its user deactivated), 400 (sent with a session cookie too) or 429 (too many failures
    from the address); ``reason`` names which for programs."""

    def __init__(self, status: int, message: str, reason: str):
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


class TokenForbidden(Exception):
    """A valid token that may not do this: a read token sending anything but GET or HEAD, or any token
    on what needs a logged-in person (making and revoking tokens)."""

    def __init__(self, message: str, reason: str, scope: str | None):
        super().__init__(message)
        self.message, self.reason, self.scope = message, reason, scope


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def choose_language(request: Request, user_language: str | None = None) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return set_language(asked if asked in LANGUAGES else user_language)


def bearer_token(request: Request) -> str | None:
    """The ``Authorization`` header of an ``/api/v1/`` request (None elsewhere or without one)."""
    if not request.url.path.startswith(TOKEN_PATHS):
        return None
    return request.headers.get("authorization")


async def _token_viewer(request: Request, header: str) -> Viewer:
    if SESSION_COOKIE in request.cookies:
        raise BearerRefused(400, "send either a session cookie or a bearer token, not both", "both credentials")
    scheme, _, token = header.strip().partition(" ")
    store, address = request.app.state.store, client_address(request)
    if scheme.lower() != "bearer" or not token.strip():
        token = ""  # a malformed header is a failed attempt like a wrong token
    try:
        holder = await run_in_threadpool(authenticate_token, store, token.strip(), address=address)
    except TokenRefused as exc:
        message = str(exc) if scheme.lower() == "bearer" else "send the token as Authorization: Bearer dk_…"
        raise BearerRefused(401, message, exc.reason) from None
    except LoginThrottled as exc:
        raise BearerRefused(429, str(exc), "throttled") from None
    return Viewer(holder.username, holder.role, holder.language, "", address, holder.token_id, holder.scope)


async def current_viewer(request: Request) -> Viewer | None:
    """The user of the session, or of the API token, looked up once per request (None when there is
    neither)."""
    if hasattr(request.state, "viewer"):
        return request.state.viewer
    header = bearer_token(request)
    if header is not None:
        request.state.viewer = await _token_viewer(request, header)
        return request.state.viewer
    token = request.cookies.get(SESSION_COOKIE)
    store = request.app.state.store

    def lookup():
        if not token:
            return None
        with store.session() as session:
            found = session_user(session, token)
            if found is None:
                return None
            user, web_session = found
            return Viewer(user.username, user.role, user.language, web_session.csrf_token, client_address(request))

    viewer = await run_in_threadpool(lookup)
    request.state.viewer = viewer
    return viewer


async def _check_csrf(request: Request, expected: str) -> None:
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    if not given or not secrets.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused()


def require(permission: str, *, tokens: bool = True):
    """A dependency: the request's user must hold ``permission`` (and, for a POST, send the CSRF token).

    With an API token instead of a session: no CSRF token, but a read token may only GET and HEAD;
    ``tokens=False`` refuses tokens altogether (what only a logged-in person may do).
    """

    async def dependency(request: Request) -> Viewer:
        viewer = await current_viewer(request)
        choose_language(request, viewer.language if viewer else None)
        if viewer is None:
            raise LoginRequired()
        if not viewer.can(permission):
            raise Forbidden(permission)
        if viewer.token:
            if not tokens:
                raise TokenForbidden("an API token may not do this: log in, or use the command line",
                                     "needs a session", viewer.scope)
            if request.method not in READ_METHODS and viewer.scope != "write":
                raise TokenForbidden("this token's scope is read: it may only GET and HEAD, not "
                                     f"{request.method}", "read-only token", viewer.scope)
        elif request.method not in SAFE_METHODS:
            await _check_csrf(request, viewer.csrf_token)
        return viewer

    dependency.permission = permission
    dependency.tokens = tokens
    return Depends(dependency)
