"""Who did what, in the browser: officials' dossiers, institutions' charts on a date, acts, sites;
a form to add what one row of an accountability file says, and one to review a claim.

Every page is one call into :mod:`dadkhah.accountability` and renders the document it returns; its
``/api/v1/`` twin returns the same document. A site's location is only ever what the core's documents
give the viewer's audience (:func:`~dadkhah.accountability.audience_for` of their role): these routes
never read coordinates themselves. Adding and reviewing are one core call each with the logged-in
user as actor, which writes the claim and its audit event together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from dadkhah.accountability import (
    add_claim,
    audience_for,
    find_entity,
    institution_chart,
    list_acts,
    list_entities,
    review_claim,
    show_act,
    show_claim,
    show_official,
    show_site,
)
from dadkhah.accountability.rows import CITATION_COLUMNS, FILES
from dadkhah.accountability.vocabulary import (
    ACT_TYPES,
    CERTAINTIES,
    DEGREES,
    INSTITUTION_KINDS,
    LIKELIHOODS,
    METHODS,
    OFFICIAL_STATUSES,
    PUBLICATIONS,
    RELATIONS,
    REVIEW_STATUSES,
    SITE_KINDS,
    SITE_STATUSES,
)
from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.web.params import Page, Paging
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render

router = APIRouter()

# An entity named in a path: its registry id (O-000001), the files' id, or a name.
Ref = Annotated[str, PathParam(min_length=1, max_length=200)]
# A claim's id (digits only, and few enough for the database's integers).
CLAIM_PATTERN = r"^C-[0-9]{1,18}$"
ClaimId = Annotated[str, PathParam(pattern=CLAIM_PATTERN)]
_ADDED = re.compile(r"^(?:C-[0-9]{1,18}(?:,C-[0-9]{1,18}){0,49}|nothing)$")
_REVIEWED = re.compile(CLAIM_PATTERN)
MAX_CELL = 10_000  # characters in one cell of a form row

# What each kind of row may choose from, for the form's lists (the core reads any spelling).
VOCABULARY: dict[tuple[str, str], tuple[str, ...]] = {
    ("institutions", "kind"): INSTITUTION_KINDS, ("institutions", "relation"): RELATIONS,
    ("sites", "kind"): SITE_KINDS, ("sites", "certainty"): CERTAINTIES, ("sites", "publication"): PUBLICATIONS,
    ("acts", "act_type"): ACT_TYPES, ("involvements", "degree"): DEGREES,
    ("involvements", "likelihood"): LIKELIHOODS, ("official_status", "status"): OFFICIAL_STATUSES,
    ("site_status", "status"): SITE_STATUSES, ("site_status", "method"): METHODS,
    ("burials", "likelihood"): LIKELIHOODS,
}
# The page a row of each file is about, by the id in one of its columns.
TARGETS = {
    "institutions": ("institution", "institution_id"), "officials": ("official", "official_id"),
    "posts": ("official", "official_id"), "official_status": ("official", "official_id"),
    "acts": ("act", "act_id"), "involvements": ("act", "act_id"), "sites": ("site", "site_id"),
    "site_status": ("site", "site_id"), "burials": ("site", "site_id"),
}
PAGES = {"institution": "/institutions/", "official": "/officials/", "act": "/acts/", "site": "/sites/"}


def entity_url(kind: str, entity_id: str) -> str:
    return PAGES[kind] + quote(entity_id, safe="")


def _page_of(page: Page, shown: int, total: int) -> dict:
    return page.describe(has_next=page.offset + shown < total)


def _flash(request: Request) -> dict:
    """What the page says about the claims just added or reviewed (from its query string)."""
    added = request.query_params.get("added") or ""
    reviewed = request.query_params.get("reviewed") or ""
    held = request.query_params.get("held") or ""
    return {"added": ([] if added == "nothing" else added.split(",")) if _ADDED.match(added) else None,
            "held": held.split(",") if held != "nothing" and _ADDED.match(held) else [],
            "reviewed": reviewed if _REVIEWED.match(reviewed) else None}


# ----- officials, institutions, sites: lists ---------------------------------------------------------


def entities_document(store, kind: str, query: str | None, page: Page) -> dict:
    """One page of officials or institutions, found by a name in either script or an id."""
    with store.session() as session:
        found = list_entities(session, kind, query=query, limit=page.size, offset=page.offset)
    return {"query": query, "total": found["total"], "items": found["items"]} | _page_of(page, len(found["items"]),
                                                                                          found["total"])


def sites_document(store, query: str | None, page: Page, audience: str) -> dict:
    """One page of sites, each with what of its location ``audience`` may see."""
    with store.session() as session:
        found = list_entities(session, "site", query=query, limit=page.size, offset=page.offset, audience=audience)
    return {"query": query, "total": found["total"], "items": found["items"], "audience": audience} | _page_of(
        page, len(found["items"]), found["total"])


async def _query(q: str | None = Query(None, max_length=200,
                                       description="a name in either script, or an id")) -> str | None:
    """The search text (an async dependency: no thread is needed to read it)."""
    return (q or "").strip() or None


SearchText = Annotated[str | None, Depends(_query)]


@router.get("/officials", include_in_schema=False)
async def officials_page(request: Request, page: Paging, q: SearchText, viewer: Viewer = require("accountability")):
    document = await run_in_threadpool(entities_document, request.app.state.store, "official", q, page)
    return await render(request, "entities.html", document, kind="official")


@router.get("/api/v1/officials", summary="Officials, found by a name in either script or an id (paged)")
async def officials_api(request: Request, page: Paging, q: SearchText,
                        viewer: Viewer = require("accountability")) -> dict:
    return await run_in_threadpool(entities_document, request.app.state.store, "official", q, page)


@router.get("/institutions", include_in_schema=False)
async def institutions_page(request: Request, page: Paging, q: SearchText,
                            viewer: Viewer = require("accountability")):
    document = await run_in_threadpool(entities_document, request.app.state.store, "institution", q, page)
    return await render(request, "entities.html", document, kind="institution")


@router.get("/api/v1/institutions", summary="Institutions, found by a name in either script or an id (paged)")
async def institutions_api(request: Request, page: Paging, q: SearchText,
                           viewer: Viewer = require("accountability")) -> dict:
    return await run_in_threadpool(entities_document, request.app.state.store, "institution", q, page)


@router.get("/sites", include_in_schema=False)
async def sites_page(request: Request, page: Paging, q: SearchText, viewer: Viewer = require("accountability")):
    document = await run_in_threadpool(sites_document, request.app.state.store, q, page, audience_for(viewer.role))
    return await render(request, "sites.html", document)


@router.get("/api/v1/sites", summary="Sites with their location as your role may see it (paged)")
async def sites_api(request: Request, page: Paging, q: SearchText, viewer: Viewer = require("accountability")) -> dict:
    return await run_in_threadpool(sites_document, request.app.state.store, q, page, audience_for(viewer.role))


# ----- one official, institution, act, site ---------------------------------------------------------


def official_document(store, ref: str, page: Page) -> dict:
    """An official's dossier, with one page of the acts."""
    with store.session() as session:
        dossier = show_official(session, ref, acts_limit=page.size, acts_offset=page.offset)
    return dossier | _page_of(page, len(dossier["acts"]), dossier["acts_total"])


@router.get("/officials/{official}", include_in_schema=False)
async def official_page(request: Request, official: Ref, page: Paging, viewer: Viewer = require("accountability")):
    document = await run_in_threadpool(official_document, request.app.state.store, official, page)
    return await render(request, "official.html", document, flash=_flash(request))


@router.get("/api/v1/officials/{official}",
            summary="An official: posts over time, a page of acts with degree and likelihood, victims, status")
async def official_api(request: Request, official: Ref, page: Paging,
                       viewer: Viewer = require("accountability")) -> dict:
    return await run_in_threadpool(official_document, request.app.state.store, official, page)


def institution_document(store, ref: str, on: str | None, page: Page) -> dict:
    """The institution; with a date ``on`` (Gregorian or Jalali), who held which post in it and its
    sub-units that day (every unit with its count, a page of the posts)."""
    from dadkhah.accountability.queries import entity_to_dict
    from dadkhah.registry.search import parse_one_day

    day = None
    if on is not None and on.strip():
        day = parse_one_day(on, field="on")
        if day is None:
            raise InputError(f"{on.strip()!r} is not a date", field="on")
    with store.session() as session:
        if day is None:
            return {"institution": entity_to_dict(find_entity(session, "institution", ref)), "on": None,
                    "units": [], "posts": 0} | page.describe(has_next=False)
        chart = institution_chart(session, ref, on=day, limit=page.size, offset=page.offset)
    return chart | _page_of(page, chart["shown"], chart["posts"])


@router.get("/institutions/{institution}", include_in_schema=False)
async def institution_page(request: Request, institution: Ref, page: Paging, viewer: Viewer = require("accountability"),
                           on: str | None = Query(None, max_length=40)):
    store = request.app.state.store
    try:
        document = await run_in_threadpool(institution_document, store, institution, on, page)
    except InputError as exc:
        if exc.field != "on":
            raise
        document = await run_in_threadpool(institution_document, store, institution, None, page)
        return await render(request, "institution.html", document, status_code=400, error=exc.to_dict(), asked=on,
                            flash=_flash(request))
    return await render(request, "institution.html", document, error=None, asked=on, flash=_flash(request))


@router.get("/api/v1/institutions/{institution}",
            summary="An institution; with on=DATE (Gregorian or Jalali), who held which post in it and its sub-units "
                    "(paged)")
async def institution_api(request: Request, institution: Ref, page: Paging, viewer: Viewer = require("accountability"),
                          on: str | None = Query(None, max_length=40)) -> dict:
    return await run_in_threadpool(institution_document, request.app.state.store, institution, on, page)


@dataclass(frozen=True)
class ActFilters:
    """The acts list's filters, as given (empty fields count as not given)."""

    official: str | None = None
    institution: str | None = None
    person: str | None = None
    site: str | None = None
    type: str | None = None

    def as_query(self) -> str:
        """The filters as the rest of a query string (starting with "&"), for the pager."""
        given = {k: v for k, v in self.__dict__.items() if v}
        return "&" + urlencode(given) if given else ""


def _clean(value: str | None) -> str | None:
    return (value or "").strip() or None


async def act_filters(
    official: str | None = Query(None, max_length=200, description="an official's id or name"),
    institution: str | None = Query(None, max_length=200, description="an institution's id or name"),
    person: str | None = Query(None, max_length=40, description="a person id (P-000123) among the victims"),
    site: str | None = Query(None, max_length=200, description="a site where a victim may lie"),
    type: str | None = Query(None, max_length=60, description="the act's type (execution, torture, ...)"),
) -> ActFilters:
    return ActFilters(_clean(official), _clean(institution), _clean(person), _clean(site), _clean(type))


def acts_document(store, filters: ActFilters, page: Page) -> dict:
    """One page of the acts matching every filter, with their victims and who is alleged to be involved."""
    with store.session() as session:
        found = list_acts(session, official=filters.official, institution=filters.institution, person=filters.person,
                          site=filters.site, act_type=filters.type, limit=page.size, offset=page.offset)
    return {"filters": found["filters"], "total": found["total"], "acts": found["acts"]} | _page_of(
        page, len(found["acts"]), found["total"])


@router.get("/acts", include_in_schema=False)
async def acts_page(request: Request, page: Paging, filters: ActFilters = Depends(act_filters),
                    viewer: Viewer = require("accountability")):
    try:
        document = await run_in_threadpool(acts_document, request.app.state.store, filters, page)
    except (InputError, NotFound) as exc:  # a filter naming nothing, or a word not in the vocabulary
        document = {"filters": {}, "total": 0, "acts": []} | page.describe(has_next=False)
        return await render(request, "acts.html", document, status_code=404 if isinstance(exc, NotFound) else 400,
                            form=filters, error=exc.to_dict(), act_types=ACT_TYPES)
    return await render(request, "acts.html", document, form=filters, error=None, act_types=ACT_TYPES)


@router.get("/api/v1/acts", summary="Acts by official, institution, person, site and type, with victims (paged)")
async def acts_api(request: Request, page: Paging, filters: ActFilters = Depends(act_filters),
                   viewer: Viewer = require("accountability")) -> dict:
    return await run_in_threadpool(acts_document, request.app.state.store, filters, page)


def act_document(store, ref: str) -> dict:
    """One act: what each source says it was (type, date, place, victims) and who is alleged to be involved."""
    with store.session() as session:
        return show_act(session, ref)


@router.get("/acts/{act}", include_in_schema=False)
async def act_page(request: Request, act: Ref, viewer: Viewer = require("accountability")):
    document = await run_in_threadpool(act_document, request.app.state.store, act)
    return await render(request, "act.html", document, flash=_flash(request))


@router.get("/api/v1/acts/{act}", summary="One act: its claims, victims and who is alleged to be involved")
async def act_api(request: Request, act: Ref, viewer: Viewer = require("accountability")) -> dict:
    return await run_in_threadpool(act_document, request.app.state.store, act)


def site_document(store, ref: str, audience: str) -> dict:
    """A site: certainty, its location as ``audience`` may see it, status history, burial claims."""
    with store.session() as session:
        return show_site(session, ref, audience=audience)


@router.get("/sites/{site}", include_in_schema=False)
async def site_page(request: Request, site: Ref, viewer: Viewer = require("accountability")):
    document = await run_in_threadpool(site_document, request.app.state.store, site, audience_for(viewer.role))
    return await render(request, "site.html", document, flash=_flash(request))


@router.get("/api/v1/sites/{site}",
            summary="A site: certainty, location as your role may see it, status history, burial claims")
async def site_api(request: Request, site: Ref, viewer: Viewer = require("accountability")) -> dict:
    return await run_in_threadpool(site_document, request.app.state.store, site, audience_for(viewer.role))


# ----- one claim, and its review ------------------------------------------------------------------


def claim_document(store, claim: str) -> dict:
    """A claim: what it is about, its review status and every decision on it (never a site's data)."""
    with store.session() as session:
        return show_claim(session, claim) | {"statuses": list(REVIEW_STATUSES)}


@router.get("/claims/{claim}", include_in_schema=False)
async def claim_page(request: Request, claim: ClaimId, viewer: Viewer = require("accountability")):
    document = await run_in_threadpool(claim_document, request.app.state.store, claim)
    return await render(request, "claim.html", document, error=None, form={}, flash=_flash(request))


@router.get("/api/v1/claims/{claim}", summary="A claim: what it is about, its review status and the decisions on it")
async def claim_api(request: Request, claim: ClaimId, viewer: Viewer = require("accountability")) -> dict:
    return await run_in_threadpool(claim_document, request.app.state.store, claim)


def _back(text: str | None, fallback: str) -> str:
    """Where a form's answer goes back to: a path of this application only (no other site, ever)."""
    text = (text or "").strip()
    parts = urlsplit(text)
    if (not text.startswith("/") or text.startswith("//") or "\\" in text or parts.scheme or parts.netloc
            or len(text) > 1000 or any(ord(ch) < 32 for ch in text)):
        return fallback
    return text


def _with(url: str, **params: str) -> str:
    """``url`` with ``params`` in its query string, in place of any earlier flash."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("added", "held", "reviewed", "lang")]
    return parts.path + "?" + urlencode(kept + list(params.items()))


class ClaimReview(BaseModel):
    """A reviewer's decision on a claim."""

    status: str = Field(max_length=40, description="accepted, conflict or work-needed", examples=["accepted"])
    reason: str = Field(max_length=5000, description="Why (kept with the decision).")


@router.post("/claims/{claim}/review", include_in_schema=False)
async def review_page(request: Request, claim: ClaimId, status: str = Form(""), reason: str = Form(""),
                      back: str = Form(""), viewer: Viewer = require("claims")):
    store = request.app.state.store
    try:
        decided = await run_in_threadpool(lambda: review_claim(store, claim, status=status, reason=reason,
                                                               actor=viewer.actor))
    except InputError as exc:  # the form again, with the error by its field (a busy case answers 503 as ever)
        document = await run_in_threadpool(claim_document, store, claim)
        return await render(request, "claim.html", document, status_code=400, error=exc.to_dict(),
                            form={"status": status, "reason": reason, "back": _back(back, "")}, flash=_flash(request))
    target = _back(back, f"/claims/{decided['claim']}")
    return RedirectResponse(_with(target, reviewed=decided["claim"]), status_code=303)


@router.post("/api/v1/claims/{claim}/review", summary="Review a claim: accepted, conflict or work-needed, with a reason")
async def review_api(request: Request, claim: ClaimId, body: ClaimReview, viewer: Viewer = require("claims")) -> dict:
    store = request.app.state.store
    return await run_in_threadpool(lambda: review_claim(store, claim, status=body.status, reason=body.reason,
                                                        actor=viewer.actor))


# ----- adding a claim -------------------------------------------------------------------------------


def _file(file: str) -> str:
    if file not in FILES:
        raise NotFound(f"no kind of row {file!r}: one of {', '.join(FILES)}")
    return file


def _columns(file: str) -> list[dict]:
    return [{"name": name, "required": index == 0, "choices": list(VOCABULARY.get((file, name), ()))}
            for index, name in enumerate(FILES[file])] + [
        {"name": "locator", "required": False, "choices": []},
        {"name": "review_status", "required": False, "choices": list(REVIEW_STATUSES)}]


def add_form_document(file: str, values: dict | None = None, error: DadkhahError | None = None) -> dict:
    return {"file": file, "files": list(FILES), "columns": _columns(file), "values": values or {},
            "error": error.to_dict() if error else None}


def _cells(given: dict) -> dict[str, str | None]:
    cells = {}
    for name, value in given.items():
        if value is None:
            cells[name] = None
            continue
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_CELL:
            raise InputError(f"is longer than {MAX_CELL:,} characters", field=str(name)[:100])
        cells[name] = text
    return cells


def add_document(store, viewer: Viewer, file: str, cells: dict, source: str | None) -> dict:
    """Add what the row says (its claims and their audit event together); then name the page it is about."""
    added = add_claim(store, file, _cells(cells), actor=viewer.actor, source=source)
    kind, column = TARGETS[file]
    named = {k.strip().lower(): v for k, v in cells.items()}.get(column)
    try:
        with store.session() as session:
            entity = find_entity(session, kind, str(named or ""), field=column)
        added["entity"] = {"id": entity.entity_id, "kind": kind}
    except (InputError, NotFound):  # named by a name several bear, say: the answer still names the claims
        added["entity"] = None
    return added


@router.get("/accountability/add", include_in_schema=False)
async def add_index_page(request: Request, viewer: Viewer = require("claims")):
    return await render(request, "claim_add.html", {"file": None, "files": list(FILES), "columns": [], "values": {},
                                                    "error": None})


@router.get("/accountability/add/{file}", include_in_schema=False)
async def add_form_page(request: Request, file: str, viewer: Viewer = require("claims")):
    """The form for one row of ``file``; the query string may fill in some of its cells (``?official_id=O-000001``)."""
    _file(file)
    given = {name: value[:MAX_CELL] for name in (*FILES[file], *CITATION_COLUMNS)
             if (value := request.query_params.get(name))}
    return await render(request, "claim_add.html", add_form_document(file, given))


@router.post("/accountability/add/{file}", include_in_schema=False)
async def add_page(request: Request, file: str, viewer: Viewer = require("claims")):
    _file(file)
    form = await request.form()
    names = [*FILES[file], *CITATION_COLUMNS]
    values = {name: value for name in names if isinstance(value := form.get(name), str)}
    cells = {name: values[name] for name in names if name != "source" and name in values}
    source = (values.get("source") or "").strip() or None
    try:
        added = await run_in_threadpool(add_document, request.app.state.store, viewer, file, cells, source)
    except InputError as exc:  # the form again, with what was typed and the error by its field
        return await render(request, "claim_add.html", add_form_document(file, values, exc), status_code=400)
    flash = ",".join(added["claims"]) or "nothing"
    if added["entity"]:
        target = entity_url(added["entity"]["kind"], added["entity"]["id"])
    elif added["claims"] or added["held"]:
        target = f"/claims/{(added['claims'] or added['held'])[0]}"
    else:
        target = f"/accountability/add/{file}"
    return RedirectResponse(_with(target, added=flash, **({"held": ",".join(added["held"][:50])} if added["held"] else {})),
                            status_code=303)


class NewClaim(BaseModel):
    """One row of an accountability file (``posts``, ``acts``, ...), read exactly as an import reads it."""

    file: str = Field(max_length=40, description="Which kind of row: " + ", ".join(FILES), examples=["posts"])
    cells: dict[Annotated[str, StringConstraints(max_length=100)], str | int | float | None] = Field(
        max_length=60, description="The row's columns and values (source, locator and review_status too).",
        examples=[{"official_id": "O-000001", "institution_id": "I-000002", "role": "judge", "from": "1988"}])
    source: str | None = Field(None, max_length=200, description="The source the row cites (or a source cell).")


@router.post("/api/v1/claims", status_code=201,
             summary="Add what one row of an accountability file says (its claims, read as an import reads them)")
async def add_api(request: Request, body: NewClaim, viewer: Viewer = require("claims")) -> dict:
    return await run_in_threadpool(add_document, request.app.state.store, viewer, body.file, body.cells, body.source)
