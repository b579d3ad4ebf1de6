"""An appeal's public pages, open to anyone without logging in: the letter, its live counts, its
public signatories and the signing form; and the two links of the confirmation email (confirm,
withdraw). With ``/login`` and ``/static`` these are the only routes that answer anonymously.

Each is one call into :mod:`dadkhah.appeal` (``public_page``, ``sign``, ``confirm``, ``withdraw``)
and renders its answer. Signing, confirming and withdrawing are the signer's own acts: the core
keeps them on the signature's row, and no audit event holds the signer's address. There is no
session, so the forms carry the token of a cookie set with the page (a double-submit cookie, as the
login form does). A GET never changes anything (mail scanners open links): the confirmation and
withdrawal pages only show a button. The answer to a signature is the same whatever happened: the
page never tells whether an address has signed.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from dadkhah.appeal import CountsCache, Throttled, confirm, public_page, sign, withdraw
from dadkhah.errors import InputError, NotFound
from dadkhah.web.i18n import gettext as _
from dadkhah.web.security import APPEAL_CSRF_COOKIE, choose_language, client_address, current_viewer
from dadkhah.web.templating import render

router = APIRouter()

PER_PAGE = 100  # signatories on one public page
MAX_OFFSET = 10_000_000
Slug = Annotated[str, PathParam(min_length=1, max_length=80)]
Token = Annotated[str, PathParam(min_length=1, max_length=200)]
_COOKIE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
_ECHO = 300  # characters of a field as typed that the form shows again after an error


def counts_cache(settings) -> CountsCache | None:
    """A page read many times a second counts its 100,000 signatures at most every
    ``public_counts_seconds`` (it says when: ``as_of``); 0 counts them at every request."""
    return CountsCache(seconds=settings.public_counts_seconds) if settings.public_counts_seconds > 0 else None


def public_document(store, slug: str, *, offset: int = 0, limit: int = PER_PAGE,
                    cache: CountsCache | None = None) -> dict:
    """The public page's document: the letter in both languages, the counts as of ``as_of`` (now, or
    at most the cache's seconds ago), the corrections since publication, the deliveries and one
    page of the public signatories."""
    return public_page(store, slug, limit=limit, offset=offset, cache=cache)


async def _language(request: Request) -> str:
    viewer = await current_viewer(request)
    return choose_language(request, viewer.language if viewer else None)


def _cookie_token(request: Request) -> str:
    given = request.cookies.get(APPEAL_CSRF_COOKIE) or ""
    return given if _COOKIE_TOKEN.match(given) else secrets.token_urlsafe(32)


async def _page(request: Request, template: str, document: dict, *, status_code: int = 200, **extra):
    """A public page, its forms carrying the cookie's token (a logged-in user's carry their session's)."""
    token = _cookie_token(request)
    if await current_viewer(request) is None:
        extra["csrf_token"] = token
    response = await render(request, template, document, status_code=status_code, **extra)
    response.set_cookie(APPEAL_CSRF_COOKIE, token, max_age=24 * 3600, path="/appeals", httponly=True,
                        samesite="strict", secure=request.app.state.settings.secure_cookies)
    return response


async def _token_ok(request: Request, given: str) -> bool:
    """Whether a form came from our own page: its token is the cookie's, or the logged-in session's."""
    given_bytes = (given or "").encode()
    expected = request.cookies.get(APPEAL_CSRF_COOKIE) or ""
    if given_bytes and expected and secrets.compare_digest(given_bytes, expected.encode()):
        return True
    viewer = await current_viewer(request)
    return bool(given_bytes and viewer is not None and secrets.compare_digest(given_bytes, viewer.csrf_token.encode()))


async def _message(request: Request, slug: str | None, status: int, message: str, *, retry_after: int | None = None):
    answer = await _page(request, "appeal_message.html", {"status": status, "message": message, "slug": slug,
                                                          "retry_after": retry_after}, status_code=status)
    if retry_after is not None:
        answer.headers["retry-after"] = str(retry_after)
    return answer


async def _stale(request: Request, slug: str):
    return await _message(request, slug, 403, _("The form was stale or forged (no valid CSRF token). Open the page "
                                                 "again and send the form from there."))


async def _no_appeal(request: Request):
    return await _message(request, None, 404, _("There is no such appeal, or it has not been published yet."))


def _view(request: Request, document: dict, *, values: dict | None = None, error: dict | None = None) -> dict:
    """What the public page shows beside the document: the form as typed, its error, whether one may sign."""
    keys = request.app.state.settings.keys
    form = {"name": "", "email": "", "affiliation": "", "role": "", "country": "", "kind": "person",
            "public_name": False} | (values or {})
    return {"form": form, "error": error, "keys_missing": keys is None,
            "can_sign": document["status"] == "open" and keys is not None, "per_page": PER_PAGE}


@router.get("/appeals/{slug}", include_in_schema=False)
async def appeal_public_page(request: Request, slug: Slug, offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    await _language(request)
    try:
        document = await run_in_threadpool(public_document, request.app.state.store, slug, offset=offset,
                                           cache=request.app.state.public_counts)
    except NotFound:
        return await _no_appeal(request)
    return await _page(request, "appeal_public.html", document, **_view(request, document))


@router.get("/api/v1/appeals/{slug}/public",
            summary="An appeal's public page (no login): the letter, counts as of now, corrections, deliveries, "
                    "a page of public signatories")
async def appeal_public_api(request: Request, slug: Slug, offset: int = Query(0, ge=0, le=MAX_OFFSET),
                            limit: int = Query(PER_PAGE, ge=1, le=PER_PAGE)) -> dict:
    return await run_in_threadpool(public_document, request.app.state.store, slug, offset=offset, limit=limit,
                                   cache=request.app.state.public_counts)


def _ticked(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "on", "true", "1")


@router.post("/appeals/{slug}/sign", include_in_schema=False)
async def sign_page(request: Request, slug: Slug, name: str = Form(""), email: str = Form(""),
                    affiliation: str = Form(""), role: str = Form(""), country: str = Form(""),
                    kind: str = Form("person"), public_name: str = Form(""), website: str = Form(""),
                    csrf_token: str = Form("")):
    """Sign from the public page: a confirmation email is queued, and the answer is always "check your email"."""
    language = await _language(request)
    if not await _token_ok(request, csrf_token):
        return await _stale(request, slug)
    store, settings = request.app.state.store, request.app.state.settings
    values = {"name": name[:_ECHO], "email": email[:_ECHO], "affiliation": affiliation[:_ECHO], "role": role[:_ECHO],
              "country": country[:_ECHO], "kind": kind if kind in ("person", "organisation") else "person",
              "public_name": _ticked(public_name)}
    # The links in the email name the configured public address (else the server's own), never the
    # request's Host header: a forged one would send signers' confirm and withdraw tokens elsewhere.
    base_url = settings.links_url
    try:
        await run_in_threadpool(
            lambda: sign(store, settings.keys, slug, name=name, email=email, base_url=base_url,
                         affiliation=affiliation or None, role=role or None, country=country or None, kind=kind,
                         public_name=_ticked(public_name), language=language, address=client_address(request),
                         honeypot=website, limits=settings.signing_limits))
    except Throttled as exc:
        return await _message(request, slug, 429, _("Too many signing requests came from your network. If you have "
                                                     "signed, confirm with the link in the email first; otherwise try "
                                                     "again later."), retry_after=exc.retry_after)
    except NotFound:
        return await _no_appeal(request)
    except InputError as exc:  # the form again, as typed, with the error beside its field
        try:
            document = await run_in_threadpool(public_document, store, slug, cache=request.app.state.public_counts)
        except NotFound:
            return await _no_appeal(request)
        status = 503 if exc.field == "keys" else 409 if exc.field == "slug" else 400
        return await _page(request, "appeal_public.html", document, status_code=status,
                           **_view(request, document, values=values, error=exc.to_dict()))
    return await _page(request, "appeal_done.html", {"outcome": "check-your-email", "slug": slug})


async def _link_page(request: Request, slug: str, token: str, action: str):
    """The page a link of the email opens: the appeal's title and one button (a GET changes nothing)."""
    await _language(request)
    try:
        document = await run_in_threadpool(public_document, request.app.state.store, slug, limit=1,
                                           cache=request.app.state.public_counts)
    except NotFound:
        return await _no_appeal(request)
    return await _page(request, "appeal_link.html", document, action=action, token=token)


async def _link_refused(request: Request, slug: str, exc: Exception):
    if isinstance(exc, NotFound):
        return await _message(request, slug, 404, _("This link has been used already, or it is not a link we sent."))
    field = getattr(exc, "field", None)
    if field == "token":
        return await _message(request, slug, 410, _("This link has expired. Sign again to receive a new one."))
    if field == "slug":
        return await _message(request, slug, 409, _("This appeal no longer takes signatures."))
    return await _message(request, slug, 503, _("Signing is not available yet: the server was started without the "
                                                 "keys that seal signers' details."))


@router.get("/appeals/{slug}/confirm/{token}", include_in_schema=False)
async def confirm_form(request: Request, slug: Slug, token: Token):
    return await _link_page(request, slug, token, "confirm")


@router.post("/appeals/{slug}/confirm/{token}", include_in_schema=False)
async def confirm_page(request: Request, slug: Slug, token: Token, csrf_token: str = Form("")):
    await _language(request)
    if not await _token_ok(request, csrf_token):
        return await _stale(request, slug)
    store, settings = request.app.state.store, request.app.state.settings
    try:
        done = await run_in_threadpool(lambda: confirm(store, settings.keys, slug, token,
                                                       limits=settings.signing_limits))
    except (NotFound, InputError) as exc:
        return await _link_refused(request, slug, exc)
    return await _page(request, "appeal_done.html", {"outcome": done["status"], "public": done["public"],
                                                     "slug": slug})


@router.get("/appeals/{slug}/withdraw/{token}", include_in_schema=False)
async def withdraw_form(request: Request, slug: Slug, token: Token):
    return await _link_page(request, slug, token, "withdraw")


@router.post("/appeals/{slug}/withdraw/{token}", include_in_schema=False)
async def withdraw_page(request: Request, slug: Slug, token: Token, csrf_token: str = Form("")):
    await _language(request)
    if not await _token_ok(request, csrf_token):
        return await _stale(request, slug)
    store = request.app.state.store
    try:
        await run_in_threadpool(lambda: withdraw(store, slug, token))
    except (NotFound, InputError) as exc:
        return await _link_refused(request, slug, exc)
    return await _page(request, "appeal_done.html", {"outcome": "withdrawn", "slug": slug})
