"""Logging in and out, the language switch, who am I, and the API's schema and documentation.

After an admin's password reset the user logs in with the temporary password and is sent to
``/password``: their short session opens that page and nothing else (every other page sends them to
``/login``, which sends them back here) until they choose a password of their own
(:func:`dadkhah.users.change_password`), which starts an ordinary session.

The documentation page (``/api-docs``) is for every logged-in user, whatever their role: it shows
what the API offers and which permission each operation needs, never data. It is Swagger UI,
vendored in ``static/swagger-ui`` (docs/data-sources.md), started by ``static/api-docs.js``.
"""

from __future__ import annotations

import asyncio
import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from dadkhah.audit import Actor
from dadkhah.errors import InputError
from dadkhah.users import (
    PASSWORD_CHANGE_MINUTES,
    SESSION_HOURS,
    THROTTLE_MINUTES,
    LoginRefused,
    LoginThrottled,
    change_password,
    log_in,
    log_out,
    login_delay,
    password_change_pending,
    set_language,
)
from dadkhah.web.i18n import LANGUAGES
from dadkhah.web.i18n import gettext as _
from dadkhah.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Viewer,
    choose_language,
    client_address,
    current_viewer,
    require,
)
from dadkhah.web.templating import render

router = APIRouter()


def _cookie_options(request: Request) -> dict:
    return {"httponly": True, "samesite": "strict", "secure": request.app.state.settings.secure_cookies, "path": "/"}


async def _login_form(request: Request, *, message: str | None = None, status_code: int = 200):
    token = secrets.token_urlsafe(32)
    response = await render(request, "login.html", {"message": message}, status_code=status_code, csrf_token=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_options(request))
    return response


def _pending_user(request: Request) -> tuple[str, str, str | None] | None:
    """(user name, the short session's CSRF token, the user's language) when the cookie's session
    awaits a new password."""
    store, token = request.app.state.store, request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with store.session() as session:
        found = password_change_pending(session, token)
        return (found[0].username, found[1].csrf_token, found[0].language) if found else None


async def _pending_change(request: Request) -> tuple[str, str] | None:
    """(user name, the short session's CSRF token) when the cookie's session awaits a new password;
    the page is then in the user's language, unless the request or its cookie asks for another."""
    pending = await run_in_threadpool(_pending_user, request)
    if pending is None:
        return None
    choose_language(request, pending[2])
    return pending[0], pending[1]


@router.get("/login", include_in_schema=False)
async def login_page(request: Request):
    choose_language(request)
    if await current_viewer(request):
        return RedirectResponse("/", status_code=303)
    if await _pending_change(request):
        return RedirectResponse("/password", status_code=303)
    return await _login_form(request)


@router.post("/login", include_in_schema=False)
async def login(request: Request, username: str = Form(""), password: str = Form(""), totp: str = Form(""),
                csrf_token: str = Form("")):
    """Check the login form; on success set the session cookie and go to the dashboard."""
    choose_language(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not csrf_token or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        return await _login_form(request, message=_("The form was stale or forged (no valid CSRF token). Please try again."),
                                 status_code=403)
    store, address = request.app.state.store, client_address(request)
    # A much-failed name waits before its password is checked: guessing slows, the user still gets in.
    delay = await run_in_threadpool(login_delay, store, username)
    if delay:
        await asyncio.sleep(delay)

    def check():
        try:
            return log_in(store, username, password, totp_code=totp, address=address), None
        except (LoginRefused, LoginThrottled) as exc:
            return None, exc

    started, refused = await run_in_threadpool(check)
    if refused is not None:
        throttled = isinstance(refused, LoginThrottled)
        message = _("Too many failed logins. Try again in 15 minutes.") if throttled else _("Wrong user name, password or code.")
        answer = await _login_form(request, message=message, status_code=429 if throttled else 401)
        if throttled:
            answer.headers["retry-after"] = str(THROTTLE_MINUTES * 60)
        return answer
    user, started = started
    must_change = user["reset_pending"]  # a temporary password: the session opens /password only
    response = RedirectResponse("/password" if must_change else "/", status_code=303)
    max_age = PASSWORD_CHANGE_MINUTES * 60 if must_change else SESSION_HOURS * 3600
    response.set_cookie(SESSION_COOKIE, started.token, max_age=max_age, **_cookie_options(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


async def _password_form(request: Request, username: str, csrf_token: str, *, error: dict | None = None,
                         status_code: int = 200):
    return await render(request, "password_change.html", {"username": username, "error": error},
                        status_code=status_code, csrf_token=csrf_token)


@router.get("/password", include_in_schema=False)
async def password_page(request: Request):
    """Choosing a new password after an admin's reset: the only page a temporary password opens."""
    choose_language(request)
    pending = await _pending_change(request)
    if pending is None:
        return RedirectResponse("/login", status_code=303)
    return await _password_form(request, *pending)


@router.post("/password", include_in_schema=False)
async def password_change(request: Request, password: str = Form(""), password_again: str = Form(""),
                          csrf_token: str = Form("")):
    choose_language(request)
    pending = await _pending_change(request)
    if pending is None:
        return RedirectResponse("/login", status_code=303)
    username, expected = pending
    if not csrf_token or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        return await _password_form(request, username, expected, status_code=403, error={
            "message": _("The form was stale or forged (no valid CSRF token). Please try again.")})
    if password != password_again:
        return await _password_form(request, username, expected, status_code=400,
                                    error=InputError("the two passwords differ", field="password_again").to_dict())
    store, token, address = request.app.state.store, request.cookies.get(SESSION_COOKIE), client_address(request)
    try:
        started = (await run_in_threadpool(lambda: change_password(store, token, password=password, address=address)))[1]
    except LoginRefused:
        return RedirectResponse("/login", status_code=303)
    except InputError as exc:
        return await _password_form(request, username, expected, status_code=400, error=exc.to_dict())
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(SESSION_COOKIE, started.token, max_age=SESSION_HOURS * 3600, **_cookie_options(request))
    return response


@router.post("/password/cancel", include_in_schema=False)
async def password_change_cancel(request: Request, csrf_token: str = Form("")):
    """Leave without choosing a password (a shared computer): the short session ends ("logout")."""
    pending = await _pending_change(request)
    if pending is not None:
        username, expected = pending
        if not csrf_token or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
            return await _password_form(request, username, expected, status_code=403, error={
                "message": _("The form was stale or forged (no valid CSRF token). Please try again.")})
        store, token = request.app.state.store, request.cookies.get(SESSION_COOKIE)
        actor = Actor(username, "web", client_address(request))
        await run_in_threadpool(lambda: log_out(store, token, actor=actor))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, viewer: Viewer = require("registry")):
    store, token = request.app.state.store, request.cookies.get(SESSION_COOKIE)
    await run_in_threadpool(lambda: log_out(store, token, actor=viewer.actor))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _me(viewer: Viewer) -> dict:
    from dadkhah.users import PERMISSIONS

    return {"username": viewer.username, "role": viewer.role, "language": viewer.language,
            "permissions": sorted(p for p in PERMISSIONS if viewer.can(p)), "csrf_token": viewer.csrf_token or None,
            "token": {"id": viewer.token, "scope": viewer.scope} if viewer.token else None}


@router.get("/api/v1/me", summary="Who is asking (logged in, or with an API token), with what role and permissions")
async def me(viewer: Viewer = require("registry")) -> dict:
    return _me(viewer)


@router.post("/language", include_in_schema=False)
async def set_language_page(request: Request, language: str = Form(...), viewer: Viewer = require("registry")):
    """Keep the chosen language as the user's setting."""
    if language not in LANGUAGES:
        return RedirectResponse("/", status_code=303)
    store = request.app.state.store
    await run_in_threadpool(lambda: set_language(store, actor=viewer.actor, language=language))
    response = RedirectResponse(f"/?lang={language}", status_code=303)
    return response


@router.get("/api/v1/openapi.json", include_in_schema=False)
async def openapi(request: Request, viewer: Viewer = require("registry")):
    return JSONResponse(request.app.openapi())


@router.get("/api-docs", include_in_schema=False)
async def api_docs_page(request: Request, viewer: Viewer = require("registry")):
    return await render(request, "api_docs.html")
