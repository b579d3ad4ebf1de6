"""Persons: search in either script with filters, and one person's records side by side."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import InputError
from dadkhah.web.params import Page, Paging
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render

router = APIRouter()

_FILTERS = ("q", "city", "source", "death_from", "death_to")
# Searches are CPU work on the database: more at once than there are cores only makes the threads
# fight over the interpreter lock (measured: 20 at once cost twice the CPU per search of 2 at once).
_SEARCHES_AT_ONCE = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))


@dataclass(frozen=True)
class SearchParams:
    """The search form's fields, as given (empty fields count as not given)."""

    q: str | None = None
    city: str | None = None
    source: str | None = None
    death_from: str | None = None
    death_to: str | None = None
    page: Page = Page()

    def as_query(self, page: int) -> str:
        """This search's query string, for page number ``page``."""
        values = {name: getattr(self, name) for name in _FILTERS} | {"page": page, "per_page": self.page.size}
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


async def search_params(
    page: Paging,
    q: str | None = Query(None, max_length=200, description="names in either script, or a person id (P-000123)"),
    city: str | None = Query(None, max_length=100, description="a city's place id from the gazetteer (city:rasht)"),
    source: str | None = Query(None, max_length=200, description="a source's name"),
    death_from: str | None = Query(None, max_length=40, description="died on or after: ISO or Jalali date"),
    death_to: str | None = Query(None, max_length=40, description="died on or before: ISO or Jalali date"),
) -> SearchParams:
    """The query string's search fields (an async dependency: no thread is needed to read them)."""
    return SearchParams(q=(q or "").strip() or None, city=city or None, source=source or None,
                        death_from=(death_from or "").strip() or None, death_to=(death_to or "").strip() or None,
                        page=page)


def persons_document(store, params: SearchParams) -> dict:
    """One page of persons matching the search."""
    from dadkhah.registry.search import find_persons, parse_search_date

    page = params.page
    death_from = parse_search_date(params.death_from, field="death_from", end=False)
    death_to = parse_search_date(params.death_to, field="death_to", end=True)
    with _SEARCHES_AT_ONCE:
        found = find_persons(store, query=params.q, city=params.city, source=params.source, death_from=death_from,
                             death_to=death_to, limit=page.size, offset=page.offset)
    return {
        "query": params.q, "city": params.city, "source": params.source,
        "death_from": death_from.isoformat() if death_from else None,
        "death_to": death_to.isoformat() if death_to else None,
        "terms": found["terms"], "persons": found["hits"],
    } | page.describe(has_next=found["has_next"])


def _filters(store) -> dict:
    from dadkhah.registry.search import search_filters

    with store.session() as session:
        return search_filters(session)


@router.get("/persons", include_in_schema=False)
async def persons_page(request: Request, params: SearchParams = Depends(search_params), viewer: Viewer = require("registry")):
    store = request.app.state.store
    filters = await run_in_threadpool(_filters, store)
    try:
        document = await run_in_threadpool(persons_document, store, params)
    except InputError as exc:
        document = {"error": exc.to_dict(), "persons": []} | params.page.describe(has_next=False)
        return await render(request, "persons.html", document, status_code=400, filters=filters, form=params,
                            previous_url=None, next_url=None)
    number = params.page.number
    previous_url = f"/persons?{params.as_query(number - 1)}" if number > 1 else None
    next_url = f"/persons?{params.as_query(number + 1)}" if document["has_next"] else None
    return await render(request, "persons.html", document, filters=filters, form=params, previous_url=previous_url,
                        next_url=next_url)


@router.get("/api/v1/persons", summary="Search persons by name in either script, by id, city, source and death date")
async def persons_api(request: Request, params: SearchParams = Depends(search_params), viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(persons_document, request.app.state.store, params)


def person_document(store, person_id: str, *, include_vault: bool, audience: str | None = None) -> dict:
    """What the registry holds about one person; testimonies and evidence only with ``include_vault``;
    with an ``audience``, the acts naming the person and where the person may lie (each site's location
    as that audience may see it)."""
    from dadkhah.accountability import person_accountability
    from dadkhah.registry.dossier import person_details

    with store.session() as session:
        document = person_details(session, person_id, include_vault=include_vault)
        if audience is not None and document["status"] != "merged":
            document["accountability"] = person_accountability(session, document["person_id"], audience=audience)
        return document


def _audience(viewer: Viewer) -> str | None:
    from dadkhah.accountability import audience_for

    return audience_for(viewer.role) if viewer.can("accountability") else None


@router.get("/persons/{person_id}", include_in_schema=False)
async def person_page(request: Request, person_id: str, viewer: Viewer = require("registry")):
    document = await run_in_threadpool(person_document, request.app.state.store, person_id,
                                       include_vault=viewer.can("vault"), audience=_audience(viewer))
    if document["status"] == "merged":
        return RedirectResponse(f"/persons/{document['merged_into']}", status_code=303)
    return await render(request, "person.html", document)


@router.get("/api/v1/persons/{person_id}",
            summary="One person: every record side by side with conflicts, events, acts naming the person and "
                    "where the person may lie; testimonies and evidence for investigators")
async def person_api(request: Request, person_id: str, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(person_document, request.app.state.store, person_id,
                                   include_vault=viewer.can("vault"), audience=_audience(viewer))


class Withholding(BaseModel):
    """Why (for the team: never published)."""

    reason: str | None = Field(None, max_length=2000)


def _withhold(store, viewer: Viewer, person_id: str, reason: str | None) -> dict:
    from dadkhah.registry.persons import withhold_person

    return withhold_person(store, person_id, actor=viewer.actor, reason=reason or "")


def _release(store, viewer: Viewer, person_id: str, reason: str | None) -> dict:
    from dadkhah.registry.persons import release_person

    return release_person(store, person_id, actor=viewer.actor, reason=reason)


@router.post("/persons/{person_id}/withhold", include_in_schema=False)
async def withhold_page(request: Request, person_id: str, reason: str = Form(""),
                        viewer: Viewer = require("publication")):
    await run_in_threadpool(_withhold, request.app.state.store, viewer, person_id, reason)
    return RedirectResponse(f"/persons/{person_id}", status_code=303)


@router.post("/api/v1/persons/{person_id}/withhold",
             summary="Keep a person out of everything published (the reason is never published)")
async def withhold_api(request: Request, person_id: str, body: Withholding,
                       viewer: Viewer = require("publication")) -> dict:
    return await run_in_threadpool(_withhold, request.app.state.store, viewer, person_id, body.reason)


@router.post("/persons/{person_id}/release", include_in_schema=False)
async def release_page(request: Request, person_id: str, reason: str = Form(""),
                       viewer: Viewer = require("publication")):
    await run_in_threadpool(_release, request.app.state.store, viewer, person_id, reason or None)
    return RedirectResponse(f"/persons/{person_id}", status_code=303)


@router.post("/api/v1/persons/{person_id}/release", summary="Let a withheld person be published again")
async def release_api(request: Request, person_id: str, body: Withholding,
                      viewer: Viewer = require("publication")) -> dict:
    return await run_in_threadpool(_release, request.app.state.store, viewer, person_id, body.reason)
