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
from dadkhah.errors import Busy, DadkhahError, LimitExceeded, NotFound
from dadkhah.store import open_store
from dadkhah.web.i18n import gettext as _
from dadkhah.web.limits import BodyLimit, SecurityHeaders, TrustedProxies
from dadkhah.web.security import CsrfRefused, Forbidden, LoginRequired, is_api
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
                              "Every page has a JSON twin under /api/v1/.", lifespan=_lifespan)
    app.state.settings = settings
    workspace = load_workspace(settings.workspace, database_url=settings.database_url)
    # The audit log is signed with the unlocked keys; served without them, only the public key is
    # read, to check signatures and remember the newest event.
    app.state.store = open_store(workspace, keys=settings.keys or (lambda: find_public_keys(workspace)),
                                 busy_seconds=settings.busy_seconds)
    if any(app.state.store.swept.values()):
        log.warning("removed what interrupted runs left in the workspace: %s", app.state.store.swept)
    app.state.public_counts = counts_cache(settings)  # the appeals' public pages: counts kept a moment
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_mb * 1024 * 1024)
    app.add_middleware(SecurityHeaders, https_only=settings.secure_cookies)
    if settings.trusted_proxies:
        app.add_middleware(TrustedProxies, proxies=tuple(settings.trusted_proxies))
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
    the public address as ``public_url``.
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
                                  public_url=given.get("public_url") or None))


def _error(request: Request, status: int, message: str, detail: dict | None = None):
    if is_api(request):
        return JSONResponse({"error": detail or {"message": message}}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired):
        if is_api(request):
            return JSONResponse({"error": {"message": "log in first"}}, status_code=401,
                                headers={"www-authenticate": 'Cookie realm="dadkhah"'})
        return RedirectResponse("/login", status_code=303)

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
        return await _maybe_await(_error(request, exc.status_code, str(exc.detail)))


async def _maybe_await(value):
    if hasattr(value, "__await__"):
        return await value
    return value
