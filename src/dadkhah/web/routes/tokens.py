"""Personal API tokens: each user makes, lists and revokes their own; an admin sees and may revoke
everyone's (a leaked token is stopped by whoever finds it first).

Making and revoking a token needs a logged-in person (a session, or the command line), never a
token: a stolen token cannot mint itself a successor that outlives its revocation. A new token is
shown once, in the answer to the request that made it (which no one caches). Each action is one
call into :mod:`dadkhah.users`, which writes its audit event in the same transaction.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError, NotFound
from dadkhah.users import TOKEN_SCOPES, create_token, list_tokens, revoke_token
from dadkhah.web.security import Forbidden, Viewer, require
from dadkhah.web.templating import render

router = APIRouter()

_TOKEN_ID = r"^[0-9a-f]{12}$"


def tokens_document(store, viewer: Viewer, *, user: str | None = None) -> dict:
    """The viewer's own tokens; for an admin everyone's (or ``user``'s). Never a token's secret."""
    everyone = viewer.can("users")
    if user is not None and user != viewer.username and not everyone:
        raise Forbidden("users")
    with store.session() as session:
        tokens = list_tokens(session, username=user if everyone else viewer.username)
    return {"tokens": tokens, "everyone": everyone and user is None, "user": user, "scopes": list(TOKEN_SCOPES)}


def _revoke(store, viewer: Viewer, token_id: str) -> dict:
    """An admin may revoke anyone's token, anyone else only their own."""
    return revoke_token(store, token_id, actor=viewer.actor, of_user=None if viewer.can("users") else viewer.username)


@router.get("/tokens", include_in_schema=False)
async def tokens_page(request: Request, viewer: Viewer = require("registry"),
                      revoked: str | None = Query(None, pattern=_TOKEN_ID), user: str | None = Query(None, max_length=100)):
    document = await run_in_threadpool(tokens_document, request.app.state.store, viewer, user=user)
    return await render(request, "tokens.html", document, revoked=revoked, error=None, values={})


@router.get("/api/v1/tokens", summary="API tokens: your own (an admin: everyone's, or one user's); never a secret")
async def tokens_api(request: Request, viewer: Viewer = require("registry"),
                     user: str | None = Query(None, max_length=100)) -> dict:
    return await run_in_threadpool(tokens_document, request.app.state.store, viewer, user=user)


@router.post("/tokens", include_in_schema=False)
async def token_create_page(request: Request, viewer: Viewer = require("registry", tokens=False),
                            scope: str = Form("read"), expires: str = Form(""), name: str = Form("")):
    store = request.app.state.store
    try:
        made = await run_in_threadpool(lambda: create_token(store, viewer.username, actor=viewer.actor, scope=scope,
                                                            expires=expires or None, name=name or None))
    except DadkhahError as exc:
        document = await run_in_threadpool(tokens_document, store, viewer)
        return await render(request, "tokens.html", document, revoked=None, error=exc.to_dict(),
                            values={"scope": scope, "expires": expires, "name": name}, status_code=400)
    return await render(request, "tokens_added.html", made, status_code=201)


class NewToken(BaseModel):
    """A token for yourself. The answer holds it (``token``) this once."""

    scope: Literal["read", "write"]
    expires: str | None = Field(None, max_length=40, description="A date (the token works to its end, UTC) "
                                                                 "or an ISO date and time; none: until revoked")
    name: str | None = Field(None, max_length=200, description="What the token is for")


@router.post("/api/v1/tokens", status_code=201,
             summary="Make yourself an API token (logged in, not with a token): it is in this answer only")
async def token_create_api(request: Request, body: NewToken, viewer: Viewer = require("registry", tokens=False)) -> dict:
    return await run_in_threadpool(lambda: create_token(request.app.state.store, viewer.username, actor=viewer.actor,
                                                        scope=body.scope, expires=body.expires, name=body.name))


@router.post("/tokens/{token_id}/revoke", include_in_schema=False)
async def token_revoke_page(request: Request, token_id: str, viewer: Viewer = require("registry", tokens=False)):
    store = request.app.state.store
    try:
        revoked = await run_in_threadpool(_revoke, store, viewer, token_id)
    except NotFound:
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(tokens_document, store, viewer)
        return await render(request, "tokens.html", document, revoked=None, error=exc.to_dict() | {"token": token_id},
                            values={}, status_code=400)
    return RedirectResponse(f"/tokens?revoked={quote(revoked['id'])}", status_code=303)


@router.post("/api/v1/tokens/{token_id}/revoke",
             summary="Revoke an API token for good: your own (an admin: anyone's; logged in, not with a token)")
async def token_revoke_api(request: Request, token_id: str, viewer: Viewer = require("registry", tokens=False)) -> dict:
    return await run_in_threadpool(_revoke, request.app.state.store, viewer, token_id)
