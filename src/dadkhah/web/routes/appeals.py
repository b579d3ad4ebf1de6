"""Appeals for staff: the list and a form to start one; an appeal's management page (its counts,
versions, deliveries, corrections, history and mail queue; publish, close, revise, record a delivery,
purge, export); and its moderation page (the queue with names unsealed for the moderator, decisions,
invalidation in bulk, signatures given on paper).

Every action is one call into :mod:`dadkhah.appeal` with the logged-in user as its actor, which
writes the change and its audit event together; these routes only parse, check permission and
render. Reading the queue is itself audited by the core ("signatures read"). ``signatures``
(analyst) may read appeals, moderate and export; ``appeals`` (investigator) may change them.
A proof of delivery passes through a private folder of the workspace, removed before the answer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from dadkhah.appeal import (
    ORDERS,
    add_paper_signature,
    close_appeal,
    create_appeal,
    decide,
    deliver_appeal,
    export_appeal,
    invalidate,
    latest_day,
    list_appeals,
    moderation_queue,
    publish_appeal,
    purge,
    revise_appeal,
    show_appeal,
)
from dadkhah.errors import InputError
from dadkhah.vault.files import attachment_disposition, checked_upload_name
from dadkhah.web.params import Page, Paging
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render
from dadkhah.workspace import new_private_folder, private_space

router = APIRouter()

# An appeal named in a path: its id (A-0001) or its slug.
Ref = Annotated[str, PathParam(min_length=1, max_length=80)]
QUEUE_STATUSES = ("held", "pending", "verified", "rejected")
# What a page says after an action (its query string names it; nothing else is shown from there).
DONE = ("created", "revised", "published", "closed", "delivered", "purged", "decided", "invalidated",
        "added", "unchanged")
_CHUNK = 1 << 20


def _blank(value: str | None) -> str | None:
    """A form's empty field is a value not given."""
    return value if value is not None and value.strip() else None


def _done(request: Request) -> str | None:
    done = request.query_params.get("done")
    return done if done in DONE else None


def _to(url: str, **params) -> RedirectResponse:
    given = {k: v for k, v in params.items() if v is not None}
    return RedirectResponse(url + ("?" + urlencode(given) if given else ""), status_code=303)


def _manage_url(ref: str) -> str:
    return f"/appeals/{quote(ref, safe='')}/manage"


def _moderate_url(ref: str) -> str:
    return f"/appeals/{quote(ref, safe='')}/moderate"


# ----- the list, and a new appeal ----------------------------------------------------------------


def appeals_document(store) -> dict:
    with store.session() as session:
        return {"appeals": list_appeals(session), "orders": list(ORDERS)}


_NEW = {"slug": "", "title": "", "title_fa": "", "addressee": "", "text": "", "text_fa": "",
        "order": ORDERS[0], "keep_days": ""}


@router.get("/appeals", include_in_schema=False)
async def appeals_page(request: Request, viewer: Viewer = require("signatures")):
    document = await run_in_threadpool(appeals_document, request.app.state.store)
    return await render(request, "appeals.html", document, form=_NEW, error=None, done=_done(request))


@router.get("/api/v1/appeals", summary="The appeals, with their status and counts")
async def appeals_api(request: Request, viewer: Viewer = require("signatures")) -> dict:
    return await run_in_threadpool(appeals_document, request.app.state.store)


def new_appeal(store, viewer: Viewer, *, slug: str, title: str, addressee: str, text: str | None,
               title_fa: str | None = None, text_fa: str | None = None, order: str | None = None,
               keep_days=None) -> dict:
    return create_appeal(store, actor=viewer.actor, slug=slug, title=title, text=_blank(text), addressee=addressee,
                         title_fa=_blank(title_fa), text_fa=_blank(text_fa), order=_blank(order),
                         keep_days=_blank(keep_days) if isinstance(keep_days, str) else keep_days)


@router.post("/appeals", include_in_schema=False)
async def appeal_create_page(request: Request, viewer: Viewer = require("appeals"), slug: str = Form(""),
                             title: str = Form(""), title_fa: str = Form(""), addressee: str = Form(""),
                             text: str = Form(""), text_fa: str = Form(""), order: str = Form(""),
                             keep_days: str = Form("")):
    store = request.app.state.store
    try:
        made = await run_in_threadpool(lambda: new_appeal(store, viewer, slug=slug, title=title, addressee=addressee,
                                                          text=text, title_fa=title_fa, text_fa=text_fa,
                                                          order=order, keep_days=keep_days))
    except InputError as exc:  # the form again, as typed, with the error beside its field
        document = await run_in_threadpool(appeals_document, store)
        form = {"slug": slug, "title": title, "title_fa": title_fa, "addressee": addressee, "text": text,
                "text_fa": text_fa, "order": order, "keep_days": keep_days}
        return await render(request, "appeals.html", document, status_code=400, form=form, error=exc.to_dict(),
                            done=None)
    return _to(_manage_url(made["slug"]), done="created")


class NewAppeal(BaseModel):
    """A new appeal, as a draft (publish it to open its public page)."""

    slug: str = Field(max_length=80, description="The public page's address: /appeals/SLUG", examples=["inquiry-1988"])
    title: str = Field(max_length=1000)
    title_fa: str | None = Field(None, max_length=1000)
    addressee: str = Field(max_length=1000, examples=["The UN Secretary-General"])
    text: str = Field(description="The letter's text.")
    text_fa: str | None = Field(None, description="The letter's text in Persian.")
    order: str | None = Field(None, description="How the signatories are listed: " + ", ".join(ORDERS))
    keep_days: int | None = Field(None, description="Days after closing before signers' details may be purged.")


@router.post("/api/v1/appeals", status_code=201, summary="Start an appeal (a draft)")
async def appeal_create_api(request: Request, body: NewAppeal, viewer: Viewer = require("appeals")) -> dict:
    store = request.app.state.store
    return await run_in_threadpool(lambda: new_appeal(store, viewer, **body.model_dump()))


# ----- one appeal: its management page -----------------------------------------------------------


def manage_document(store, ref: str) -> dict:
    """The appeal as ``appeal show`` prints it: counts, versions, deliveries, corrections, history, mail."""
    return show_appeal(store, ref) | {"orders": list(ORDERS), "latest_day": latest_day().isoformat()}


async def _manage(request: Request, ref: str, *, status_code: int = 200, error: dict | None = None,
                  form: str | None = None, values: dict | None = None):
    document = await run_in_threadpool(manage_document, request.app.state.store, ref)
    return await render(request, "appeal_manage.html", document, status_code=status_code, error=error, form=form,
                        values=values or {}, done=_done(request), keys_missing=request.app.state.settings.keys is None)


@router.get("/appeals/{slug}/manage", include_in_schema=False)
async def appeal_manage_page(request: Request, slug: Ref, viewer: Viewer = require("signatures")):
    return await _manage(request, slug)


@router.get("/api/v1/appeals/{ref}", summary="An appeal: counts, versions, deliveries, corrections, history, mail queue")
async def appeal_api(request: Request, ref: Ref, viewer: Viewer = require("signatures")) -> dict:
    return await run_in_threadpool(show_appeal, request.app.state.store, ref)


async def _act(request: Request, ref: str, call, *, form: str, values: dict | None = None, done: str):
    """Run one action of the management page; back to the page, with its error beside the form on a refusal."""
    try:
        answer = await run_in_threadpool(call)
    except InputError as exc:
        return await _manage(request, ref, status_code=400, error=exc.to_dict(), form=form, values=values)
    if isinstance(answer, dict) and answer.get("changed") is False:
        done = "unchanged"
    return _to(_manage_url(ref), done=done)


@router.post("/appeals/{slug}/publish", include_in_schema=False)
async def appeal_publish_page(request: Request, slug: Ref, viewer: Viewer = require("appeals")):
    store = request.app.state.store
    return await _act(request, slug, lambda: publish_appeal(store, slug, actor=viewer.actor), form="status",
                      done="published")


@router.post("/api/v1/appeals/{ref}/publish", summary="Publish an appeal: its public page opens for signatures")
async def appeal_publish_api(request: Request, ref: Ref, viewer: Viewer = require("appeals")) -> dict:
    store = request.app.state.store
    return await run_in_threadpool(lambda: publish_appeal(store, ref, actor=viewer.actor))


@router.post("/appeals/{slug}/close", include_in_schema=False)
async def appeal_close_page(request: Request, slug: Ref, viewer: Viewer = require("appeals")):
    store = request.app.state.store
    return await _act(request, slug, lambda: close_appeal(store, slug, actor=viewer.actor), form="status",
                      done="closed")


@router.post("/api/v1/appeals/{ref}/close", summary="Close an appeal: no more signatures; the page and counts stay")
async def appeal_close_api(request: Request, ref: Ref, viewer: Viewer = require("appeals")) -> dict:
    store = request.app.state.store
    return await run_in_threadpool(lambda: close_appeal(store, ref, actor=viewer.actor))


def revise(store, viewer: Viewer, ref: str, **given) -> dict:
    """A new version of a published appeal's text (a draft's changes in place); fields left empty stay."""
    fields = {k: (_blank(v) if isinstance(v, str) else v) for k, v in given.items()}
    return revise_appeal(store, ref, actor=viewer.actor, **fields)


@router.post("/appeals/{slug}/revise", include_in_schema=False)
async def appeal_revise_page(request: Request, slug: Ref, viewer: Viewer = require("appeals"),
                             title: str = Form(""), title_fa: str = Form(""), addressee: str = Form(""),
                             text: str = Form(""), text_fa: str = Form(""), order: str = Form(""),
                             keep_days: str = Form("")):
    values = {"title": title, "title_fa": title_fa, "addressee": addressee, "text": text, "text_fa": text_fa,
              "order": order, "keep_days": keep_days}
    store = request.app.state.store
    return await _act(request, slug, lambda: revise(store, viewer, slug, **values), form="revise", values=values,
                      done="revised")


class Revision(BaseModel):
    """What changes; what is not given stays. A published appeal's new text is a new version."""

    title: str | None = Field(None, max_length=1000)
    title_fa: str | None = Field(None, max_length=1000)
    addressee: str | None = Field(None, max_length=1000)
    text: str | None = None
    text_fa: str | None = None
    order: str | None = Field(None, description=", ".join(ORDERS))
    keep_days: int | None = None


@router.post("/api/v1/appeals/{ref}/revise", summary="Revise an appeal (a published one gets a new version)")
async def appeal_revise_api(request: Request, ref: Ref, body: Revision, viewer: Viewer = require("appeals")) -> dict:
    store = request.app.state.store
    return await run_in_threadpool(lambda: revise(store, viewer, ref, **body.model_dump()))


def record_delivery(store, keys, viewer: Viewer, ref: str, *, to: str, on: str,
                    upload: tuple[str | None, object] | None) -> dict:
    """Record a delivery; its proof (an upload) is saved in a private folder only while the vault takes it."""
    if upload is None:
        return deliver_appeal(store, ref, actor=viewer.actor, to=to, on=on, keys=keys)
    name, source = upload
    safe = _upload_name(name)
    with private_space(store.workspace, "upload") as folder:
        path = folder / safe
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as handle:
            shutil.copyfileobj(source, handle, _CHUNK)
            size = handle.tell()
        if size == 0:
            raise InputError("is empty: a proof of delivery must have content", file=safe, field="evidence")
        return deliver_appeal(store, ref, actor=viewer.actor, to=to, on=on, evidence=path, keys=keys)


def _upload_name(name: str | None) -> str:
    """The uploaded proof's name, made safe (the error names the delivery form's field)."""
    try:
        return checked_upload_name(name)
    except InputError as exc:
        raise InputError(exc.message, file=exc.file, field="evidence") from None


def _upload(file: UploadFile | None) -> tuple[str | None, object] | None:
    """The file a form sent; a file input left empty sends one nameless, empty part, which is no file."""
    return (file.filename, file.file) if file is not None and (file.filename or file.size) else None


@router.post("/appeals/{slug}/deliver", include_in_schema=False)
async def appeal_deliver_page(request: Request, slug: Ref, viewer: Viewer = require("appeals"),
                              to: str = Form(""), on: str = Form(""), evidence: UploadFile | None = File(None)):
    store, keys = request.app.state.store, request.app.state.settings.keys
    return await _act(request, slug, lambda: record_delivery(store, keys, viewer, slug, to=to, on=on,
                                                             upload=_upload(evidence)),
                      form="deliver", values={"to": to, "on": on}, done="delivered")


class Delivery(BaseModel):
    """To whom, and on which day (YYYY-MM-DD), the letter was delivered."""

    to: str = Field(max_length=1000, examples=["Office of the UN High Commissioner for Human Rights"])
    on: str = Field(max_length=40, examples=["2026-12-05"])


_DELIVERY_BODY = {"required": True, "content": {
    "application/json": {"schema": Delivery.model_json_schema()},
    "multipart/form-data": {"schema": {"type": "object", "required": ["to", "on"], "properties": {
        "to": {"type": "string"}, "on": {"type": "string"}, "evidence": {"type": "string", "format": "binary"}}}},
}}


@router.post("/api/v1/appeals/{ref}/deliver", openapi_extra={"requestBody": _DELIVERY_BODY},
             summary="Record a delivery: JSON {to, on}, or multipart with to, on and the proof as a file (evidence)")
async def appeal_deliver_api(request: Request, ref: Ref, viewer: Viewer = require("appeals")) -> dict:
    store, keys = request.app.state.store, request.app.state.settings.keys
    upload = None
    if request.headers.get("content-type", "").startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        given = {k: form.get(k) for k in ("to", "on") if isinstance(form.get(k), str)}
        proof = form.get("evidence")
        upload = _upload(proof) if proof is not None and not isinstance(proof, str) else None
    else:
        try:
            given = await request.json()
        except ValueError:
            raise RequestValidationError([{"loc": ("body",), "msg": "send JSON {to, on}, or a multipart form",
                                           "type": "json_invalid"}]) from None
    try:
        body = Delivery.model_validate(given)
    except ValidationError as exc:
        raise RequestValidationError([e | {"loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    return await run_in_threadpool(lambda: record_delivery(store, keys, viewer, ref, to=body.to, on=body.on,
                                                           upload=upload))


def _days(text: str | int | None):
    """A number of days as typed: the core says what is wrong with anything else."""
    if isinstance(text, str):
        text = text.strip()
        return int(text) if text.isdigit() else text
    return text


@router.post("/appeals/{slug}/purge", include_in_schema=False)
async def appeal_purge_page(request: Request, slug: Ref, viewer: Viewer = require("appeals"),
                            older_than: str = Form("")):
    store = request.app.state.store
    return await _act(request, slug, lambda: purge(store, slug, actor=viewer.actor,
                                                   older_than_days=_days(older_than)),
                      form="purge", values={"older_than": older_than}, done="purged")


class Purge(BaseModel):
    """Erase signers' details untouched for this many days (a closed appeal's)."""

    older_than: int = Field(ge=0, le=100_000, examples=[90])


@router.post("/api/v1/appeals/{ref}/purge",
             summary="Purge a closed appeal: erase signers' details (counts and public names stay)")
async def appeal_purge_api(request: Request, ref: Ref, body: Purge, viewer: Viewer = require("appeals")) -> dict:
    store = request.app.state.store
    return await run_in_threadpool(lambda: purge(store, ref, actor=viewer.actor, older_than_days=body.older_than))


# ----- exports -----------------------------------------------------------------------------------



def export_file(store, viewer: Viewer, ref: str, *, format: str, language: str) -> dict:
    """Write the export in a private folder (the download removes it), audited by the core."""
    folder = new_private_folder(store.workspace, "appeal-export")
    try:
        name = f"appeal.{format}" if format in ("csv", "pdf") else "appeal"
        made = export_appeal(store, ref, actor=viewer.actor, format=format, out=folder / name, language=language)
        return made | {"folder": folder, "file": Path(made["path"])}
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _download(made: dict, ref: str) -> StreamingResponse:
    """Stream the export; its folder is removed first (the open handle keeps the bytes readable)."""
    handle = open(made["file"], "rb")  # closed when the stream ends
    size = os.fstat(handle.fileno()).st_size
    shutil.rmtree(made["folder"], ignore_errors=True)

    def chunks():
        try:
            while block := handle.read(_CHUNK):
                yield block
        finally:
            handle.close()

    suffix = f"-{made['language']}" if made["format"] == "pdf" else ""
    media = "application/pdf" if made["format"] == "pdf" else "text/csv; charset=utf-8"
    return StreamingResponse(chunks(), media_type=media, headers={
        "content-disposition": attachment_disposition(f"{made['id']}-{ref}{suffix}.{made['format']}"),
        "content-length": str(size), "x-dadkhah-sha256": made["sha256"]})


async def _export(request: Request, viewer: Viewer, ref: str, format: str, language: str) -> StreamingResponse:
    made = await run_in_threadpool(export_file, request.app.state.store, viewer, ref, format=format, language=language)
    return _download(made, ref)


@router.get("/appeals/{slug}/export", include_in_schema=False)
async def appeal_export_page(request: Request, slug: Ref, viewer: Viewer = require("signatures"),
                             format: Literal["csv", "pdf"] = Query("csv"), language: Literal["en", "fa"] = Query("en")):
    return await _export(request, viewer, slug, format, language)


@router.get("/api/v1/appeals/{ref}/export",
            summary="The letter with its public signatories, as CSV or PDF (in English or Persian); recorded")
async def appeal_export_api(request: Request, ref: Ref, viewer: Viewer = require("signatures"),
                            format: Literal["csv", "pdf"] = Query("csv"), language: Literal["en", "fa"] = Query("en")):
    return await _export(request, viewer, ref, format, language)


# ----- moderation --------------------------------------------------------------------------------


def queue_document(store, keys, viewer: Viewer, ref: str, *, status: str | None, page: Page) -> dict:
    """One page of what waits for a moderator (held first, then pending), names unsealed: an audited read."""
    found = moderation_queue(store, keys, ref, actor=viewer.actor, status=status, limit=page.size,
                             offset=page.offset)
    return found | {"status": status} | page.describe(has_next=page.offset + len(found["signatures"]) < found["total"])


_PAPER = {"name": "", "email": "", "affiliation": "", "role": "", "country": "", "kind": "person",
          "public_name": True, "verified_by": ""}


async def _moderate(request: Request, viewer: Viewer, ref: str, page: Page, status: str | None, *,
                    status_code: int = 200, error: dict | None = None, form: str | None = None,
                    values: dict | None = None):
    keys = request.app.state.settings.keys
    document = {"id": None, "total": 0, "signatures": [], "status": status} | page.describe(has_next=False)
    if keys is not None:
        document = await run_in_threadpool(lambda: queue_document(request.app.state.store, keys, viewer, ref,
                                                                  status=status, page=page))
    paper = _PAPER | {"verified_by": viewer.username} | (values if form == "paper" else {})
    return await render(request, "appeal_moderate.html", document, status_code=status_code, slug=ref, error=error,
                        form=form, values=values or {}, paper=paper, statuses=QUEUE_STATUSES, done=_done(request),
                        keys_missing=keys is None, count=request.query_params.get("n", "")[:12])


@router.get("/appeals/{slug}/moderate", include_in_schema=False)
async def appeal_moderate_page(request: Request, slug: Ref, page: Paging, viewer: Viewer = require("signatures"),
                               status: str | None = Query(None, max_length=20)):
    return await _moderate(request, viewer, slug, page, status if status in QUEUE_STATUSES else None)


@router.get("/api/v1/appeals/{ref}/queue",
            summary="The moderation queue (held first, then pending; or one status), names unsealed: recorded as read")
async def appeal_queue_api(request: Request, ref: Ref, page: Paging, viewer: Viewer = require("signatures"),
                           status: Literal["held", "pending", "verified", "rejected"] | None = Query(None)) -> dict:
    keys = request.app.state.settings.keys
    return await run_in_threadpool(lambda: queue_document(request.app.state.store, keys, viewer, ref, status=status,
                                                          page=page))


async def _moderated(request: Request, viewer: Viewer, ref: str, call, *, form: str, values: dict, done: str,
                     count_key: str | None = None):
    """Run one action of the moderation page; back to it, with the error beside the form on a refusal."""
    try:
        answer = await run_in_threadpool(call)
    except InputError as exc:
        return await _moderate(request, viewer, ref, Page(1, request.app.state.settings.page_size), None,
                               status_code=400, error=exc.to_dict(), form=form, values=values)
    return _to(_moderate_url(ref), done=done, n=answer.get(count_key) if count_key else None)


def _ids(values: list[str]) -> list[str]:
    return [part for value in values for part in value.replace(",", " ").split() if part]


@router.post("/appeals/{slug}/decide", include_in_schema=False)
async def appeal_decide_page(request: Request, slug: Ref, viewer: Viewer = require("signatures"),
                             signatures: list[str] = Form([]), decision: str = Form(""), reason: str = Form("")):
    store, keys = request.app.state.store, request.app.state.settings.keys
    values = {"signatures": " ".join(_ids(signatures)), "decision": decision, "reason": reason}
    return await _moderated(request, viewer, slug, lambda: decide(store, keys, slug, _ids(signatures),
                                                                  actor=viewer.actor, decision=decision,
                                                                  reason=_blank(reason)),
                            form="decide", values=values, done="decided")


class Decision(BaseModel):
    """A moderator's decision on signatures (by their numbers); a rejection says why."""

    signatures: list[int] = Field(min_length=1, max_length=10_000, examples=[[12, 13]])
    decision: Literal["approve", "reject"]
    reason: str | None = Field(None, max_length=300)


@router.post("/api/v1/appeals/{ref}/decide", summary="Approve held signatures, or reject signatures with a reason")
async def appeal_decide_api(request: Request, ref: Ref, body: Decision, viewer: Viewer = require("signatures")) -> dict:
    store, keys = request.app.state.store, request.app.state.settings.keys
    return await run_in_threadpool(lambda: decide(store, keys, ref, body.signatures, actor=viewer.actor,
                                                  decision=body.decision, reason=body.reason))


@router.post("/appeals/{slug}/invalidate", include_in_schema=False)
async def appeal_invalidate_page(request: Request, slug: Ref, viewer: Viewer = require("signatures"),
                                 domain: str = Form(""), since: str = Form(""), until: str = Form(""),
                                 reason: str = Form("")):
    store, keys = request.app.state.store, request.app.state.settings.keys
    values = {"domain": domain, "since": since, "until": until, "reason": reason}
    return await _moderated(request, viewer, slug, lambda: invalidate(store, keys, slug, actor=viewer.actor,
                                                                      reason=reason, domain=_blank(domain),
                                                                      since=_blank(since), until=_blank(until)),
                            form="invalidate", values=values, done="invalidated", count_key="removed")


class Invalidation(BaseModel):
    """Reject in bulk the signatures from an email domain and/or signed in a window (since ≤ signed < until)."""

    reason: str = Field(max_length=300)
    domain: str | None = Field(None, max_length=253, examples=["example.org"])
    since: str | None = Field(None, max_length=40, examples=["2026-12-05T14:00"])
    until: str | None = Field(None, max_length=40, examples=["2026-12-05T15:00"])


@router.post("/api/v1/appeals/{ref}/invalidate",
             summary="Invalidate signatures in bulk by email domain and/or time window, with a reason")
async def appeal_invalidate_api(request: Request, ref: Ref, body: Invalidation,
                                viewer: Viewer = require("signatures")) -> dict:
    store, keys = request.app.state.store, request.app.state.settings.keys
    return await run_in_threadpool(lambda: invalidate(store, keys, ref, actor=viewer.actor, reason=body.reason,
                                                      domain=body.domain, since=body.since, until=body.until))


def paper_signature(store, keys, viewer: Viewer, ref: str, *, name: str, verified_by: str | None,
                    email: str | None = None, affiliation: str | None = None, role: str | None = None,
                    country: str | None = None, kind: str = "person", public_name: bool = True) -> dict:
    return add_paper_signature(store, keys, ref, actor=viewer.actor, name=name,
                               verified_by=_blank(verified_by) or viewer.username, email=_blank(email),
                               affiliation=_blank(affiliation), role=_blank(role), country=_blank(country),
                               kind=kind or "person", public_name=public_name)


@router.post("/appeals/{slug}/signatures", include_in_schema=False)
async def appeal_paper_page(request: Request, slug: Ref, viewer: Viewer = require("signatures"),
                            name: str = Form(""), email: str = Form(""), affiliation: str = Form(""),
                            role: str = Form(""), country: str = Form(""), kind: str = Form("person"),
                            public_name: str = Form(""), verified_by: str = Form("")):
    store, keys = request.app.state.store, request.app.state.settings.keys
    shown = public_name.strip().lower() in ("yes", "on", "true", "1")
    values = {"name": name, "email": email, "affiliation": affiliation, "role": role, "country": country,
              "kind": kind, "public_name": shown, "verified_by": verified_by}
    return await _moderated(request, viewer, slug, lambda: paper_signature(
        store, keys, viewer, slug, name=name, verified_by=verified_by, email=email, affiliation=affiliation,
        role=role, country=country, kind=kind, public_name=shown), form="paper", values=values, done="added")


class PaperSignature(BaseModel):
    """A signature given on paper or offline, vouched for by ``verified_by`` (the user when not given)."""

    name: str = Field(max_length=300)
    verified_by: str | None = Field(None, max_length=300)
    email: str | None = Field(None, max_length=254)
    affiliation: str | None = Field(None, max_length=300)
    role: str | None = Field(None, max_length=300)
    country: str | None = Field(None, max_length=100)
    kind: Literal["person", "organisation"] = "person"
    public_name: bool = True


@router.post("/api/v1/appeals/{ref}/signatures", status_code=201,
             summary="Add a signature given on paper (counted at once, vouched for by a reviewer)")
async def appeal_paper_api(request: Request, ref: Ref, body: PaperSignature,
                           viewer: Viewer = require("signatures")) -> dict:
    store, keys = request.app.state.store, request.app.state.settings.keys
    return await run_in_threadpool(lambda: paper_signature(store, keys, viewer, ref, **body.model_dump()))
