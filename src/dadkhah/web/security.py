"""Who is asking and may they: sessions, roles (deny by default), CSRF tokens, security headers.

Every route but ``/login``, ``/static`` and an appeal's public pages (``web.routes.signing``)
depends on :func:`require` with one permission. Pages answer an anonymous request with a redirect
to ``/login``; the API answers 401. A request whose user lacks the permission gets 403. Every POST
must carry the session's CSRF token: a form in the field ``csrf_token``, an API client in the
``X-CSRF-Token`` header. The anonymous forms (logging in, signing an appeal) carry instead the
token of a cookie set with the form (a double-submit cookie).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from dadkhah.audit import Actor
from dadkhah.users import allowed, session_user
from dadkhah.web.i18n import LANGUAGES, set_language

SESSION_COOKIE = "dadkhah_session"
LOGIN_CSRF_COOKIE = "dadkhah_login_csrf"
APPEAL_CSRF_COOKIE = "dadkhah_appeal_csrf"
LANG_COOKIE = "dadkhah_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

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
    csrf_token: str
    address: str | None = None

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)

    @property
    def actor(self) -> Actor:
        """Who acts in this request, for the core functions' audit events."""
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


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def choose_language(request: Request, user_language: str | None = None) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return set_language(asked if asked in LANGUAGES else user_language)


async def current_viewer(request: Request) -> Viewer | None:
    """The session's user, looked up once per request (None when there is no valid session)."""
    if hasattr(request.state, "viewer"):
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


def require(permission: str):
    """A dependency: the request's user must hold ``permission`` (and, for a POST, send the CSRF token)."""

    async def dependency(request: Request) -> Viewer:
        viewer = await current_viewer(request)
        choose_language(request, viewer.language if viewer else None)
        if viewer is None:
            raise LoginRequired()
        if not viewer.can(permission):
            raise Forbidden(permission)
        if request.method not in SAFE_METHODS:
            await _check_csrf(request, viewer.csrf_token)
        return viewer

    dependency.permission = permission
    return Depends(dependency)
