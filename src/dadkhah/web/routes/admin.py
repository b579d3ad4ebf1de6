"""Administration: the users of the web application, and the audit log with its chain check.

Every change to a user is one call into :mod:`dadkhah.users`, which writes its audit event in the
same transaction. Nobody may demote or deactivate themselves (:func:`dadkhah.users.change_user`
refuses), so an admin always remains. A new user's TOTP secret is shown once, in the answer to the
request that made it, as text and as a QR code drawn here (inline SVG: no request leaves the page).
An admin's password reset (:func:`dadkhah.users.reset_password`) answers likewise with the temporary
password, and the new TOTP secret when one was asked for.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dadkhah.audit import list_audit, verify_audit
from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.users import (
    LANGUAGES,
    ROLES,
    add_user,
    change_user,
    list_users,
    reset_password,
    totp_qr_svg,
)
from dadkhah.web.params import Page, Paging
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render

router = APIRouter()

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


# ----- users -------------------------------------------------------------------------------------


def users_document(store) -> dict:
    with store.session() as session:
        return {"users": list_users(session), "roles": list(ROLES), "languages": list(LANGUAGES)}


def create_user(store, viewer: Viewer, *, username: str, role: str, password: str, password_again: str | None,
                totp: bool, language: str) -> dict:
    """The form's two passwords must agree; then the user is added (with its audit event)."""
    if password_again is not None and password != password_again:
        raise InputError("the two passwords differ", field="password_again")
    return add_user(store, username, actor=viewer.actor, role=role, password=password, totp=totp, language=language)


def _active(text: str) -> bool | None:
    if text in ("", None):
        return None
    if text in ("true", "1", "on"):
        return True
    if text in ("false", "0", "off"):
        return False
    raise InputError(f"active is true or false, not {text!r}", field="active")


@router.get("/users", include_in_schema=False)
async def users_page(request: Request, viewer: Viewer = require("users"),
                     added: str | None = Query(None, pattern=_NAME), changed: str | None = Query(None, pattern=_NAME)):
    document = await run_in_threadpool(users_document, request.app.state.store)
    return await render(request, "users.html", document, added=added, changed=changed, error=None, values={})


@router.get("/api/v1/users", summary="The users of the web application, with roles (no secrets)")
async def users_api(request: Request, viewer: Viewer = require("users")) -> dict:
    return await run_in_threadpool(users_document, request.app.state.store)


@router.post("/users", include_in_schema=False)
async def user_add_page(request: Request, viewer: Viewer = require("users", tokens=False), username: str = Form(""),
                        role: str = Form("viewer"), password: str = Form(""), password_again: str = Form(""),
                        totp: bool = Form(False), language: str = Form("en")):
    store = request.app.state.store
    try:
        added = await run_in_threadpool(create_user, store, viewer, username=username, role=role, password=password,
                                        password_again=password_again, totp=totp, language=language)
    except DadkhahError as exc:
        document = await run_in_threadpool(users_document, store)
        return await render(request, "users.html", document, added=None, changed=None, error=exc.to_dict(),
                            values={"username": username, "role": role, "totp": totp, "language": language},
                            status_code=400)
    if added.get("totp_secret"):  # shown once, in this answer (which no one caches)
        return await render(request, "users_added.html", added, status_code=201, qr_svg=totp_qr_svg(added["totp_uri"]))
    return RedirectResponse(f"/users?added={quote(added['username'])}", status_code=303)


class NewUser(BaseModel):
    """A user to add. With ``totp``, the answer holds the TOTP secret and its URI, shown this once."""

    username: str = Field(min_length=2, max_length=64)
    role: Literal["viewer", "analyst", "investigator", "admin"]
    password: str = Field(min_length=1, max_length=1000)
    totp: bool = False
    language: Literal["en", "fa"] = "en"


@router.post("/api/v1/users", status_code=201, summary="Add a user (with totp: the secret is in this answer only)")
async def user_add_api(request: Request, body: NewUser, viewer: Viewer = require("users", tokens=False)) -> dict:
    return await run_in_threadpool(create_user, request.app.state.store, viewer, username=body.username,
                                   role=body.role, password=body.password, password_again=None, totp=body.totp,
                                   language=body.language)


@router.post("/users/{username}", include_in_schema=False)
async def user_change_page(request: Request, username: str, viewer: Viewer = require("users", tokens=False),
                           role: str = Form(""), active: str = Form("")):
    store = request.app.state.store
    try:
        changed = await run_in_threadpool(lambda: change_user(store, username, actor=viewer.actor, role=role or None,
                                                              active=_active(active)))
    except NotFound:
        raise  # no such user: a 404 page, not the form again
    except DadkhahError as exc:
        document = await run_in_threadpool(users_document, store)
        return await render(request, "users.html", document, added=None, changed=None,
                            error=exc.to_dict() | {"username": username}, values={}, status_code=400)
    return RedirectResponse(f"/users?changed={quote(changed['username'])}", status_code=303)


class UserChange(BaseModel):
    """What to change about a user: the role, whether they may log in, or both."""

    role: Literal["viewer", "analyst", "investigator", "admin"] | None = None
    active: bool | None = None


@router.post("/api/v1/users/{username}", summary="Change a user's role or deactivate/reactivate them")
async def user_change_api(request: Request, username: str, body: UserChange, viewer: Viewer = require("users", tokens=False)) -> dict:
    return await run_in_threadpool(lambda: change_user(request.app.state.store, username, actor=viewer.actor,
                                                       role=body.role, active=body.active))


@router.post("/users/{username}/reset-password", include_in_schema=False)
async def user_reset_password_page(request: Request, username: str, viewer: Viewer = require("users", tokens=False),
                                   totp: bool = Form(False)):
    """The answer shows the temporary password (and a new TOTP secret, with its QR code) this once."""
    store = request.app.state.store
    try:
        reset = await run_in_threadpool(lambda: reset_password(store, username, actor=viewer.actor, totp=totp))
    except NotFound:
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(users_document, store)
        return await render(request, "users.html", document, added=None, changed=None,
                            error=exc.to_dict() | {"username": username}, values={}, status_code=400)
    qr_svg = totp_qr_svg(reset["totp_uri"]) if reset.get("totp_uri") else None
    return await render(request, "users_reset.html", reset, qr_svg=qr_svg)


class PasswordReset(BaseModel):
    """Whether to give the user a new TOTP secret too (the old one then stops working)."""

    totp: bool = False


@router.post("/api/v1/users/{username}/reset-password",
             summary="Reset a user's password: a temporary one in this answer only; their sessions end, their "
                     "API tokens are revoked, and they must choose a new password at their next login")
async def user_reset_password_api(request: Request, username: str, body: PasswordReset | None = None,
                                  viewer: Viewer = require("users", tokens=False)) -> dict:
    totp = body.totp if body else False
    return await run_in_threadpool(lambda: reset_password(request.app.state.store, username, actor=viewer.actor,
                                                          totp=totp))


# ----- audit log ---------------------------------------------------------------------------------


def audit_document(store, *, actor: str | None, object_id: str | None, page: Page) -> dict:
    """Audit events, newest first (filtered by actor or object), and a fresh check of the whole chain."""
    actor, object_id = (actor or "").strip() or None, (object_id or "").strip() or None
    with store.session() as session:
        rows = list_audit(session, actor=actor, object_id=object_id, limit=page.fetch, offset=page.offset)
    return page.document("events", rows) | {"actor": actor, "object_id": object_id,
                                            "verification": verify_audit(store)}


@router.get("/audit", include_in_schema=False)
async def audit_page(request: Request, page: Paging, viewer: Viewer = require("audit"),
                     actor: str | None = Query(None, max_length=200), object_id: str | None = Query(None, max_length=200)):
    document = await run_in_threadpool(audit_document, request.app.state.store, actor=actor, object_id=object_id,
                                       page=page)
    return await render(request, "audit.html", document)


@router.get("/api/v1/audit", summary="The audit log (filter by actor or object) and whether its chain is intact")
async def audit_api(request: Request, page: Paging, viewer: Viewer = require("audit"),
                    actor: str | None = Query(None, max_length=200),
                    object_id: str | None = Query(None, max_length=200)) -> dict:
    return await run_in_threadpool(audit_document, request.app.state.store, actor=actor, object_id=object_id,
                                   page=page)
