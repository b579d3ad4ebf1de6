"""Places: the gazetteer's cities, prisons and grave sites on a map drawn here, with record counts.

The map is inline SVG made on the server by :func:`dadkhah.report.maps.province_map` from the
vendored Natural Earth boundaries (no tiles, no outside request): the provinces shaded by how many
named persons their records place in each, the places and the accountability sites the viewer's
role may locate as markers, markers that crowd merged into one circle saying how many.
"""

from __future__ import annotations

from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError, NotFound, Unavailable
from dadkhah.report.boundaries import EAST, NORTH, SOUTH, WEST, map_height, project
from dadkhah.web.i18n import current_language
from dadkhah.web.i18n import gettext as _
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render

router = APIRouter()

MAPPED_TYPES = ("city", "prison", "cemetery", "mass_grave")
UNKNOWN_SHOWN = 25  # spellings naming no known place, per field, most records first
MAP_WIDTH = 800
MAP_HEIGHT = map_height(width=MAP_WIDTH)


def map_frame() -> dict:
    """The map's size in its own units and the box it shows (degrees)."""
    return {"width": MAP_WIDTH, "height": MAP_HEIGHT,
            "bounds": {"west": WEST, "east": EAST, "south": SOUTH, "north": NORTH}}


def _marker(place: dict) -> dict | None:
    if place["lat"] is None or place["lon"] is None:
        return None
    if not (WEST <= place["lon"] <= EAST and SOUTH <= place["lat"] <= NORTH):
        return None
    x, y = project(place["lon"], place["lat"], width=MAP_WIDTH)
    return {"x": x, "y": y}


def _site_marker(location: dict) -> dict | None:
    """Where a site goes on the map: only when the location its document gives has coordinates."""
    if location.get("latitude") is None or location.get("longitude") is None:
        return None
    return _marker({"lat": location["latitude"], "lon": location["longitude"]})


def persons_per_province(session) -> dict[str, int]:
    """Province (as it is today) → how many active persons have a current record whose city lies in
    it: one grouped query. A person whose records give cities in two provinces counts in both;
    records naming only the pre-2004 Khorasan province, which has no shape today, count nowhere."""
    from dadkhah.model import Person, PersonRecord, Place, Record

    query = (sa.select(Place.province_now, sa.func.count(sa.distinct(PersonRecord.person_pk)))
             .select_from(Record)
             .join(PersonRecord, sa.and_(PersonRecord.source_id == Record.source_id,
                                         PersonRecord.record_id == Record.record_id))
             .join(Person, Person.id == PersonRecord.person_pk)
             .join(Place, Place.id == Record.city_place_id)
             .where(Record.superseded_by.is_(None), Person.status == "active", Place.province_now.is_not(None))
             .group_by(Place.province_now))
    return {province: n for province, n in session.execute(query)}


def places_document(store, *, audience: str | None = None) -> dict:
    """Cities, prisons and grave sites with coordinates, map positions and how many records name each;
    the spellings of cities and prisons that name no known place (``unknown``, the most given first);
    with an ``audience``, the accountability sites too, each located only as that audience may see it."""
    from dadkhah.places import list_places, unknown_spellings
    from dadkhah.registry.records import place_record_counts

    with store.session() as session:
        places = [p for p in list_places(session) if p["type"] in MAPPED_TYPES]
        counts = place_record_counts(session)
        per_province = persons_per_province(session)
        unknown = {field: unknown_spellings(session, field=field, limit=UNKNOWN_SHOWN) for field in ("city", "prison")}
    rows = []
    for place in places:
        count = counts.get(place["id"], {"as_city": 0, "as_prison": 0})
        rows.append({"id": place["id"], "type": place["type"], "name_en": place["name_en"], "name_fa": place["name_fa"],
                     "province_now": place["province_now"], "parent_id": place["parent_id"], "lat": place["lat"],
                     "lon": place["lon"], "records_as_city": count["as_city"], "records_as_prison": count["as_prison"],
                     "map": _marker(place)})
    order = {t: i for i, t in enumerate(MAPPED_TYPES)}
    rows.sort(key=lambda p: (order[p["type"]], -(p["records_as_city"] + p["records_as_prison"]), p["name_en"]))
    document = {"places": rows, "map": map_frame(), "persons_by_province": dict(sorted(per_province.items())),
                "totals": {t: sum(1 for p in rows if p["type"] == t) for t in MAPPED_TYPES}, "unknown": unknown}
    if audience is not None:
        from dadkhah.accountability import list_sites

        with store.session() as session:
            sites = list_sites(session, audience=audience)
        document["sites"] = [site | {"map": _site_marker(site["location"])} for site in sites]
    return document


def _audience(viewer: Viewer) -> str | None:
    from dadkhah.accountability import audience_for

    return audience_for(viewer.role) if viewer.can("accountability") else None


def _place_label(place: dict, language: str) -> str:
    return place["name_fa"] if language == "fa" and place["name_fa"] else place["name_en"]


def places_map_svg(document: dict, *, language: str, words: dict) -> str:
    """The places page's map: provinces shaded by named persons, the places and the sites the
    document locates (a site only where the viewer's role may see its coordinates) as markers."""
    from dadkhah.report.maps import province_map

    markers = [{"lon": p["lon"], "lat": p["lat"], "kind": p["type"], "label": _place_label(p, language),
                "href": f"/places/{p['id']}", "id": p["id"], "class": "place", "data": {"place": p["id"]}}
               for p in document["places"] if p["map"]]
    for site in document.get("sites") or ():
        if not site["map"]:
            continue
        name = site["name_fa"] if language == "fa" and site["name_fa"] else (site["name"] or site["name_fa"] or "")
        markers.append({"lon": site["location"]["longitude"], "lat": site["location"]["latitude"], "kind": "site",
                        "label": f"{site['id']} {name}".strip(), "href": f"/sites/{quote(site['id'], safe='')}",
                        "id": site["id"], "class": "site", "data": {"site": site["id"]}})
    return province_map(document["persons_by_province"], markers, width=MAP_WIDTH, language=language,
                        title=words["title"], legend_title=words["legend_title"], labels=words["labels"],
                        element_id="places-map", standalone=False)


def _map_words() -> dict:
    """The map's words in the request's language (the module has its own for the rest)."""
    return {"title": _("Map of the cities, prisons and grave sites in the gazetteer"),
            "legend_title": _("Named persons per province"),
            "labels": {"city": _("City"), "prison": _("Prison"), "cemetery": _("Cemetery"), "mass_grave": _("Mass grave"),
                       "site": _("Site from the accountability files")}}


@router.get("/places", include_in_schema=False)
async def places_page(request: Request, viewer: Viewer = require("registry")):
    language, words = current_language(), _map_words()

    def build():
        document = places_document(request.app.state.store, audience=_audience(viewer))
        return document, places_map_svg(document, language=language, words=words)

    document, svg = await run_in_threadpool(build)
    return await render(request, "places.html", document, map_svg=svg)


@router.get("/api/v1/places",
            summary="Cities, prisons and grave sites with coordinates and record counts; accountability sites as "
                    "your role may see them")
async def places_api(request: Request, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(lambda: places_document(request.app.state.store, audience=_audience(viewer)))


def place_document(store, place_id: str) -> dict:
    """One place: what the gazetteer says, its names, the places within it and how many records name it."""
    from dadkhah.model import Place, PlaceName
    from dadkhah.places import get_place, place_to_dict
    from dadkhah.registry.records import place_record_counts

    with store.session() as session:
        place = place_to_dict(get_place(session, place_id))
        names = list(session.scalars(sa.select(PlaceName.name).where(PlaceName.place_id == place["id"])
                                     .order_by(PlaceName.id)))
        within = [{"id": pid, "type": kind, "name_en": en, "name_fa": fa} for pid, kind, en, fa in session.execute(
            sa.select(Place.id, Place.type, Place.name_en, Place.name_fa).where(Place.parent_id == place["id"])
            .order_by(Place.type, Place.name_en))]
        count = place_record_counts(session, place_id=place["id"]).get(place["id"], {"as_city": 0, "as_prison": 0})
    return place | {"names": names, "within": within, "records_as_city": count["as_city"],
                    "records_as_prison": count["as_prison"], "map": _marker(place) if place["type"] in MAPPED_TYPES else None,
                    "frame": map_frame()}


@router.get("/places/{place_id}", include_in_schema=False)
async def place_page(request: Request, place_id: str, taught: int | None = None,
                     alias: str = Query("", max_length=300), viewer: Viewer = require("registry")):
    """``alias``: a spelling to offer in the form (from the list of unknown spellings); ``taught``:
    how many records the spelling just added resolved."""
    document = await run_in_threadpool(place_document, request.app.state.store, place_id)
    return await _render_place(request, document | ({"taught": taught} if taught is not None else {})
                               | ({"alias_given": alias} if alias else {}))


async def _render_place(request: Request, document: dict, status_code: int = 200):
    from dadkhah.report.maps import province_map

    # The provinces and neighbours under the place's own marker (drawn by the page, places_map.html).
    base = province_map(None, [], width=MAP_WIDTH, language=current_language(), title=_("Where it is"),
                        element_id="place-map", standalone=False, legend=False)
    return await render(request, "places_detail.html", document, map_svg=base, status_code=status_code)


class Alias(BaseModel):
    """Another spelling of a place, as lists write it."""

    alias: str = Field(max_length=300)


def _teach(store, viewer: Viewer, place_id: str, alias: str) -> dict:
    from dadkhah.places import add_place_alias

    return add_place_alias(store, place_id, alias, actor=viewer.actor)


@router.post("/places/{place_id}/aliases", include_in_schema=False)
async def alias_page(request: Request, place_id: str, alias: str = Form("", max_length=300),
                     viewer: Viewer = require("sources")):
    store = request.app.state.store
    try:
        taught = await run_in_threadpool(_teach, store, viewer, place_id, alias)
    except (Unavailable, NotFound):  # the 503 and the 404, not a form's 400
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(place_document, store, place_id)
        return await _render_place(request, document | {"alias_error": exc.to_dict(), "alias_given": alias},
                                   status_code=400)
    resolved = sum(taught["records_resolved"].values())
    return RedirectResponse(f"/places/{quote(place_id, safe=':')}?taught={resolved}", status_code=303)


@router.post("/api/v1/places/{place_id}/aliases",
             summary="Teach another spelling of a place; records imported with it and left unresolved resolve to it")
async def alias_api(request: Request, place_id: str, body: Alias, viewer: Viewer = require("sources")):
    try:
        return await run_in_threadpool(_teach, request.app.state.store, viewer, place_id, body.alias)
    except (Unavailable, NotFound):
        raise
    except DadkhahError as exc:
        return JSONResponse({"error": exc.to_dict()}, status_code=400)


@router.get("/api/v1/places/{place_id}", summary="One place: gazetteer entry, names, places within it, record counts")
async def place_api(request: Request, place_id: str, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(place_document, request.app.state.store, place_id)
