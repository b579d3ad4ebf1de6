"""Places: the gazetteer's cities, prisons and grave sites on a map drawn here, with record counts.

The map is inline SVG made on the server from the places' coordinates: no tiles, no outside
request. Iran is drawn as its bounding box (44–63.5° E, 25–40° N) and a coarse outline through a
few dozen border points, labelled as approximate: it places points, it is no survey.
"""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render

router = APIRouter()

MAPPED_TYPES = ("city", "prison", "cemetery", "mass_grave")
WEST, EAST, SOUTH, NORTH = 44.0, 63.5, 25.0, 40.0
_PX_PER_DEGREE = 40.0
_X_SCALE = _PX_PER_DEGREE * math.cos(math.radians((SOUTH + NORTH) / 2))  # equirectangular, true at 32.5° N
_MARGIN = 12.0
MAP_WIDTH = round((EAST - WEST) * _X_SCALE + 2 * _MARGIN)
MAP_HEIGHT = round((NORTH - SOUTH) * _PX_PER_DEGREE + 2 * _MARGIN)

# A coarse outline of Iran's land border and coasts, clockwise from the north-west (lon, lat),
# through well-known points (tripoints, border towns, ports). Approximate by a few kilometres to
# tens of kilometres: for orientation only.
IRAN_OUTLINE = (
    (44.05, 39.40), (44.80, 39.71), (45.40, 39.05), (45.95, 38.90), (46.55, 38.87), (47.00, 39.12),
    (47.85, 39.65), (48.36, 39.37), (48.02, 38.95), (48.25, 38.75), (48.88, 38.44), (49.08, 37.60),
    (49.47, 37.47), (50.20, 37.15), (50.95, 36.80), (51.70, 36.62), (52.65, 36.72), (53.60, 36.85),
    (53.90, 37.33), (54.80, 37.45), (55.45, 38.08), (56.30, 38.08), (57.30, 37.95), (58.20, 37.68),
    (59.35, 37.50), (60.10, 36.95), (60.60, 36.62), (61.15, 36.62), (61.05, 35.60), (61.28, 35.00),
    (60.90, 34.30), (60.55, 33.80), (60.80, 33.20), (60.58, 32.60), (60.85, 31.50), (61.75, 31.30),
    (61.80, 30.90), (60.87, 29.86), (61.40, 29.35), (61.80, 28.65), (62.78, 28.26), (62.80, 27.25),
    (63.30, 26.65), (63.15, 26.10), (61.60, 25.20), (60.60, 25.30), (59.50, 25.45), (58.80, 25.55),
    (57.80, 25.70), (57.30, 26.40), (57.00, 27.00), (56.28, 27.18), (55.60, 26.95), (54.88, 26.56),
    (54.00, 26.70), (53.40, 26.95), (52.60, 27.45), (51.50, 27.90), (51.00, 28.50), (50.83, 28.97),
    (50.50, 29.60), (50.10, 30.10), (49.50, 30.05), (49.00, 30.40), (48.62, 29.92), (48.22, 30.36),
    (48.00, 30.48), (48.02, 30.99), (47.68, 31.00), (47.60, 31.75), (47.10, 32.45), (46.20, 33.05), (45.75, 33.60),
    (45.40, 33.95), (45.55, 34.50), (45.75, 35.10), (46.15, 35.10), (45.98, 35.80), (45.35, 36.00),
    (45.10, 36.70), (44.85, 37.15), (44.60, 37.75), (44.20, 38.40), (44.45, 38.60), (44.30, 38.85),
)


def project(lon: float, lat: float) -> tuple[float, float]:
    """Map coordinates in the SVG's own units (x east, y south)."""
    return (round(_MARGIN + (lon - WEST) * _X_SCALE, 1), round(_MARGIN + (NORTH - lat) * _PX_PER_DEGREE, 1))


def _points(pairs) -> str:
    return " ".join(f"{x},{y}" for x, y in (project(lon, lat) for lon, lat in pairs))


def map_frame() -> dict:
    """What the SVG draws besides the places: its size, the bounding box, the outline, graticule."""
    left, top = project(WEST, NORTH)
    right, bottom = project(EAST, SOUTH)
    meridians = [{"lon": lon, "x": project(lon, NORTH)[0]} for lon in range(45, 64, 3)]
    parallels = [{"lat": lat, "y": project(WEST, lat)[1]} for lat in range(26, 41, 2)]
    return {"width": MAP_WIDTH, "height": MAP_HEIGHT, "box": {"x": left, "y": top, "width": round(right - left, 1),
            "height": round(bottom - top, 1)}, "outline": _points(IRAN_OUTLINE), "meridians": meridians,
            "parallels": parallels, "bounds": {"west": WEST, "east": EAST, "south": SOUTH, "north": NORTH}}


def _marker(place: dict) -> dict | None:
    if place["lat"] is None or place["lon"] is None:
        return None
    if not (WEST <= place["lon"] <= EAST and SOUTH <= place["lat"] <= NORTH):
        return None
    x, y = project(place["lon"], place["lat"])
    return {"x": x, "y": y}


def _site_marker(location: dict) -> dict | None:
    """Where a site goes on the map: only when the location its document gives has coordinates."""
    if location.get("latitude") is None or location.get("longitude") is None:
        return None
    return _marker({"lat": location["latitude"], "lon": location["longitude"]})


def places_document(store, *, audience: str | None = None) -> dict:
    """Cities, prisons and grave sites with coordinates, map positions and how many records name each;
    with an ``audience``, the accountability sites too, each located only as that audience may see it."""
    from dadkhah.places import list_places
    from dadkhah.registry.records import place_record_counts

    with store.session() as session:
        places = [p for p in list_places(session) if p["type"] in MAPPED_TYPES]
        counts = place_record_counts(session)
    rows = []
    for place in places:
        count = counts.get(place["id"], {"as_city": 0, "as_prison": 0})
        rows.append({"id": place["id"], "type": place["type"], "name_en": place["name_en"], "name_fa": place["name_fa"],
                     "province_now": place["province_now"], "parent_id": place["parent_id"], "lat": place["lat"],
                     "lon": place["lon"], "records_as_city": count["as_city"], "records_as_prison": count["as_prison"],
                     "map": _marker(place)})
    order = {t: i for i, t in enumerate(MAPPED_TYPES)}
    rows.sort(key=lambda p: (order[p["type"]], -(p["records_as_city"] + p["records_as_prison"]), p["name_en"]))
    document = {"places": rows, "map": map_frame(),
                "totals": {t: sum(1 for p in rows if p["type"] == t) for t in MAPPED_TYPES}}
    if audience is not None:
        from dadkhah.accountability import list_sites

        with store.session() as session:
            sites = list_sites(session, audience=audience)
        document["sites"] = [site | {"map": _site_marker(site["location"])} for site in sites]
    return document


def _audience(viewer: Viewer) -> str | None:
    from dadkhah.accountability import audience_for

    return audience_for(viewer.role) if viewer.can("accountability") else None


@router.get("/places", include_in_schema=False)
async def places_page(request: Request, viewer: Viewer = require("registry")):
    document = await run_in_threadpool(lambda: places_document(request.app.state.store, audience=_audience(viewer)))
    return await render(request, "places.html", document)


@router.get("/api/v1/places",
            summary="Cities, prisons and grave sites with coordinates and record counts; accountability sites as "
                    "your role may see them")
async def places_api(request: Request, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(lambda: places_document(request.app.state.store, audience=_audience(viewer)))


def place_document(store, place_id: str) -> dict:
    """One place: what the gazetteer says, its names, the places within it and how many records name it."""
    import sqlalchemy as sa

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
        count = place_record_counts(session).get(place["id"], {"as_city": 0, "as_prison": 0})
    return place | {"names": names, "within": within, "records_as_city": count["as_city"],
                    "records_as_prison": count["as_prison"], "map": _marker(place) if place["type"] in MAPPED_TYPES else None,
                    "frame": map_frame()}


@router.get("/places/{place_id}", include_in_schema=False)
async def place_page(request: Request, place_id: str, viewer: Viewer = require("registry")):
    document = await run_in_threadpool(place_document, request.app.state.store, place_id)
    return await render(request, "places_detail.html", document)


@router.get("/api/v1/places/{place_id}", summary="One place: gazetteer entry, names, places within it, record counts")
async def place_api(request: Request, place_id: str, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(place_document, request.app.state.store, place_id)
