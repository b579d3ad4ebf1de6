"""The web application: ``create_app(settings)`` builds it; nothing is opened at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from dadkhah import __version__
from dadkhah.errors import Busy, DadkhahError, KeysOutdated, LimitExceeded, NotFound
from dadkhah.store import open_store
from dadkhah.users import PERMISSIONS, THROTTLE_MINUTES
from dadkhah.web.i18n import gettext as _
from dadkhah.web.limits import BodyLimit, NoNul, SecurityHeaders, TrustedProxies, Unhandled
from dadkhah.web.security import (
    BearerRefused,
    CsrfRefused,
    Forbidden,
    LoginRequired,
    TokenForbidden,
    choose_language,
    current_viewer,
    is_api,
)
from dadkhah.web.settings import WebSettings
from dadkhah.web.templating import render
from dadkhah.workspace import load_workspace

log = logging.getLogger(__name__)


def create_app(settings: WebSettings) -> FastAPI:
    from pathlib import Path

    from dadkhah.vault.keys import find_public_keys
    from dadkhah.web.routes import ROUTERS
    from dadkhah.web.routes.signing import counts_cache

    app = FastAPI(title="Dadkhah", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  description="The registry, review, estimates and vault of one Dadkhah workspace. "
                              "Every page has a JSON twin under /api/v1/. A program authenticates with a "
                              "personal API token (`Authorization: Bearer dk_…`), which acts with its user's "
                              "current role; a read token may only GET.", lifespan=_lifespan)
    app.state.settings = settings
    workspace = load_workspace(settings.workspace, database_url=settings.database_url)
    # The audit log is signed with the unlocked keys; served without them, only the public key is
    # read, to check signatures and remember the newest event.
    app.state.store = open_store(workspace, keys=settings.keys or (lambda: find_public_keys(workspace)),
                                 busy_seconds=settings.busy_seconds, claim=True, create=False)
    if any(app.state.store.swept.values()):
        log.warning("removed what interrupted runs left in the workspace: %s", app.state.store.swept)
    if app.state.store.places_resolved:
        log.warning("the newer shipped gazetteer resolved records that named no known place: %s",
                    app.state.store.places_resolved)
    app.state.public_counts = counts_cache(settings)  # the appeals' public pages: counts kept a moment
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.openapi = lambda: api_schema(app)
    app.add_middleware(NoNul)  # inside BodyLimit: the bodies it reads whole are bounded first
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * 1024 * 1024)
    app.add_middleware(SecurityHeaders, https_only=settings.secure_cookies)
    if settings.trusted_proxies:
        app.add_middleware(TrustedProxies, proxies=tuple(settings.trusted_proxies))
    app.add_middleware(Unhandled)  # outermost of ours: a bug is answered 500 by the app, the connection kept
    _add_error_handlers(app)

    return app


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    """While the app serves: with mail settings and the keys, a background sender of the appeals'
    confirmation emails (each worker process runs one; the queue's claims keep them apart)."""
    settings: WebSettings = app.state.settings
    stop = asyncio.Event()
    sender = None
    if settings.mail is not None and settings.keys is not None:
        sender = asyncio.create_task(_send_mail_until(app, stop), name="dadkhah-mail")
    try:
        yield
    finally:
        stop.set()
        if sender is not None:
            await sender


async def _send_mail_until(app: FastAPI, stop: asyncio.Event) -> None:
    """Send what the mail queue holds, about every ``mail_interval`` seconds, until ``stop`` is set."""
    from dadkhah.appeal import send_queued_mail

    settings: WebSettings = app.state.settings
    while not stop.is_set():
        try:
            await run_in_threadpool(send_queued_mail, app.state.store, settings.keys, settings.mail,
                                    confirm_days=settings.signing_limits.confirm_days)
        except Exception:  # a database that is busy or away: try again at the next turn
            log.exception("sending the appeals' confirmation emails failed; trying again shortly")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.mail_interval)


SETTINGS_ENV = "DADKHAH_WEB_SETTINGS"


def app_from_environment() -> FastAPI:
    """The app for each of uvicorn's worker processes (``dadkhah serve --workers N``).

    The settings come as JSON in ``DADKHAH_WEB_SETTINGS``; each worker unlocks the keys itself
    (a protected key file needs ``DADKHAH_PASSPHRASE``). Sessions and login throttling live in
    the database, so the workers share them. Appeals' mail comes as ``smtp_url`` and ``mail_from``,
    the public address as ``public_url`` (and the server's own as ``listen_url``), the time-stamping authorities as ``tsa_urls``.
    """
    import json
    import os
    from pathlib import Path

    from dadkhah.appeal import mail_settings
    from dadkhah.vault.keys import load_keys

    given = json.loads(os.environ[SETTINGS_ENV])
    workspace = Path(given["workspace"])
    keys = None
    if given.get("vault"):
        keys = load_keys(load_workspace(workspace), passphrase=os.environ.get("DADKHAH_PASSPHRASE"))
    return create_app(WebSettings(workspace=workspace, database_url=given.get("database_url"), keys=keys,
                                  secure_cookies=bool(given.get("secure_cookies")),
                                  trusted_proxies=tuple(given.get("trusted_proxies") or ()),
                                  max_upload_mb=int(given.get("max_upload_mb", 200)),
                                  mail=mail_settings(given.get("smtp_url"), given.get("mail_from")),
                                  public_url=given.get("public_url") or None,
                                  **({"listen_url": given["listen_url"]} if given.get("listen_url") else {}),
                                  tsa_urls=tuple(given.get("tsa_urls") or ())))


def api_schema(app: FastAPI) -> dict:
    """The OpenAPI schema, with how to authenticate: an API token as a bearer token, or the session
    cookie (with ``X-CSRF-Token`` on a POST); each operation says the permission it needs."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi
    from fastapi.routing import APIRoute

    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schema.setdefault("components", {})["securitySchemes"] = {
        "apiToken": {"type": "http", "scheme": "bearer", "bearerFormat": "dk_<id>_<secret>",
                     "description": "A personal API token (`dadkhah tokens create`), acting with its user's "
                                    "current role; a read token may only GET."},
        "session": {"type": "apiKey", "in": "cookie", "name": "dadkhah_session",
                    "description": "The browser's session, after logging in; a POST also needs the "
                                   "X-CSRF-Token header (its value is in /api/v1/me)."},
    }

    def walk(routes):
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            elif hasattr(route, "original_router"):  # an included router (ours have no prefix)
                yield from walk(route.original_router.routes)

    needs = {}
    for route in walk(app.routes):
        found = [d.call for d in route.dependant.dependencies if hasattr(d.call, "permission")]
        for method in route.methods:
            needs[(route.path_format, method.lower())] = found[0] if found else None
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            operation.setdefault("tags", [path.removeprefix("/api/v1/").split("/")[0]])  # grouped by resource
            check = needs.get((path, method))
            if check is None:
                operation["security"] = []
                continue
            permission = check.permission
            operation["x-permission"] = permission
            note = f"Needs the permission `{permission}` (the role {PERMISSIONS[permission]} or above)."
            if check.tokens:
                operation["security"] = [{"apiToken": []}, {"session": []}]
                if method not in ("get", "head"):
                    note += " Through an API token: a write token."
            else:
                operation["security"] = [{"session": []}]
                note += " A logged-in person only: an API token is refused."
            operation["description"] = f"{operation.get('description') or ''}\n\n{note}".strip()
    app.openapi_schema = schema
    return schema


async def _page_language(request: Request) -> None:
    """An error page in the language of its reader: as every page chooses it (``?lang=``, the cookie,
    the user's setting), also when the request failed before its page could choose (a form that
    could not be read)."""
    viewer = getattr(request.state, "viewer", None)
    if viewer is None:
        with contextlib.suppress(Exception):  # an error page must not fail for want of a viewer
            viewer = await current_viewer(request)
    choose_language(request, viewer.language if viewer else None)


async def _error(request: Request, status: int, message: str, detail: dict | None = None):
    if is_api(request):
        return JSONResponse({"error": detail or {"message": message}}, status_code=status)
    await _page_language(request)
    return await render(request, "error.html", {"status": status, "message": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        if is_api(request):
            return JSONResponse({"error": {"message": "log in first, or send an API token "
                                                      "(Authorization: Bearer dk_…)"}}, status_code=401,
                                headers={"www-authenticate": 'Bearer realm="dadkhah"'})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(BearerRefused)
    async def bearer_refused(request: Request, exc: BearerRefused):
        headers = {}
        if exc.status == 401:
            headers["www-authenticate"] = 'Bearer realm="dadkhah", error="invalid_token"'
        elif exc.status == 429:
            headers["retry-after"] = str(THROTTLE_MINUTES * 60)
        return JSONResponse({"error": {"message": exc.message, "reason": exc.reason}}, status_code=exc.status,
                            headers=headers)

    @app.exception_handler(TokenForbidden)
    async def token_forbidden(request: Request, exc: TokenForbidden):
        return JSONResponse({"error": {"message": exc.message, "reason": exc.reason, "scope": exc.scope}},
                            status_code=403)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden):
        return await _maybe_await(_error(request, 403, _("Your role may not do this."),
                                         {"message": "your role may not do this", "permission": exc.permission}))

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused):
        return await _maybe_await(_error(request, 403, _("The form was stale or forged (no valid CSRF token). "
                                                          "Reload the page and try again."),
                                         {"message": "missing or invalid CSRF token", "field": "csrf_token"}))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return await _maybe_await(_error(request, 404, str(exc), exc.to_dict()))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        answer = await _maybe_await(_error(request, 503, _("The case is busy saving someone's work (a large import "
                                                         "or a linkage run). Nothing was changed: try again in a "
                                                         "few seconds."), exc.to_dict() | {"busy": True}))
        answer.headers["retry-after"] = "5"
        return answer

    @app.exception_handler(KeysOutdated)
    async def keys_outdated(request: Request, exc: KeysOutdated):
        return await _maybe_await(_error(request, 503, _("The case's keys were changed after this server started. "
                                                         "Nothing was saved: the server must be started again "
                                                         "with the current key file."), exc.to_dict()))

    @app.exception_handler(DadkhahError)
    async def bad_input(request: Request, exc: DadkhahError):
        status = 413 if isinstance(exc, LimitExceeded) else 400
        return await _maybe_await(_error(request, status, str(exc), exc.to_dict()))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        problems = [{"field": ".".join(str(p) for p in e.get("loc", ())[1:]) or None, "message": e.get("msg")}
                    for e in exc.errors()]
        message = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return await _maybe_await(_error(request, 422, message, {"message": message, "problems": problems}))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = str(exc.detail)
        if exc.status_code == 400 and message.startswith("Part exceeded maximum size"):  # Starlette's form parser
            await _page_language(request)
            message = _("A field of the form holds more than 1 MB of text, more than a form may send: give a "
                              "long text (a transcript) as a file instead. Nothing was saved.")
        return await _maybe_await(_error(request, exc.status_code, message))


async def _maybe_await(value):
    if hasattr(value, "__await__"):
        return await value
    return value
