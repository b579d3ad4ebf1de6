"""Iran's provinces and its neighbours as shapes, and how to draw them as SVG paths.

Every map Dadkhah draws (the web app, the static memorial site, PDF reports) is SVG made from
``data/boundaries.json``, which ships with the package: no tiles, no download, no request to any map
server, since such a request can reveal who is looking at what. The file holds Natural Earth
boundaries (public domain), simplified, made by ``tools/make_boundaries.py``; docs/data-sources.md
says exactly from what. Provinces are keyed by their gazetteer ids (``province:tehran``), so a count
per ``province_now`` colours the map directly.

Shapes are lists of rings of (longitude, latitude); a shape's rings are its islands and holes, to be
filled with the even–odd rule (``fill-rule="evenodd"``), which also makes a hole a hole.
"""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources

# The map's box (west, south, east, north), the same as the data file's ``bbox``: Iran with a
# margin of its neighbours. Neighbours are clipped to it, so it is also the SVG's whole extent.
WEST, SOUTH, EAST, NORTH = 43.0, 24.0, 64.5, 40.5
# Equirectangular, true to scale at 32.5° N (the box's middle): one degree of longitude is drawn
# cos(32.5°) as wide as one of latitude, so Iran keeps its shape without a projection library.
X_SCALE = math.cos(math.radians((SOUTH + NORTH) / 2))

Rings = list[list[tuple[float, float]]]


@cache
def load_boundaries() -> dict:
    """The data file as parsed JSON (a GeoJSON FeatureCollection with a ``dadkhah`` member saying
    where it came from and how the historical Khorasan province maps to today's three). Read once
    and shared: do not change what it returns."""
    raw = resources.files("dadkhah.report").joinpath("data/boundaries.json").read_text(encoding="utf-8")
    return json.loads(raw)


def _rings(feature: dict) -> Rings:
    return [[(x, y) for x, y in ring] for polygon in feature["geometry"]["coordinates"] for ring in polygon]


def _features(kind: str) -> list[dict]:
    return [f for f in load_boundaries()["features"] if f["properties"]["kind"] == kind]


def province_shapes() -> dict[str, Rings]:
    """Gazetteer id of each of Iran's 31 current provinces -> its rings. The pre-2004
    ``province:khorasan`` has no shape: it is the three Khorasans (see the data's ``historical``)."""
    return {f["properties"]["id"]: _rings(f) for f in _features("province")}


def neighbour_shapes() -> dict[str, Rings]:
    """ISO 3166-1 alpha-3 code of each other country with land in the box -> its rings, clipped to
    the box (their straight edges along the box's sides are the cut, not a border)."""
    return {f["properties"]["id"]: _rings(f) for f in _features("country") if f["properties"]["id"] != "IRN"}


def iran_outline() -> Rings:
    """Iran's land border and coasts (islands included): the union of the provinces' shapes."""
    return next(_rings(f) for f in _features("country") if f["properties"]["id"] == "IRN")


def map_height(*, width: float) -> float:
    """The height of a map drawn ``width`` wide: the box keeps its proportions."""
    return round(width * (NORTH - SOUTH) / ((EAST - WEST) * X_SCALE), 1)


def project(lon: float, lat: float, *, width: float) -> tuple[float, float]:
    """Where a point goes on a map ``width`` wide whose top-left corner is the box's north-west
    corner (x east, y down), to 0.1 of a unit: finer than any screen or print needs."""
    scale = width / ((EAST - WEST) * X_SCALE)
    return round((lon - WEST) * X_SCALE * scale, 1), round((NORTH - lat) * scale, 1)


def svg_path(rings: Rings, *, width: float) -> str:
    """An SVG path ``d`` attribute drawing ``rings`` on a map ``width`` wide, one closed subpath a
    ring; points that land on the same spot after rounding are drawn once."""
    parts = []
    for ring in rings:
        points = []
        for lon, lat in ring:
            point = project(lon, lat, width=width)
            if not points or point != points[-1]:
                points.append(point)
        if len(points) > 1 and points[0] == points[-1]:
            points.pop()
        if len(points) >= 3:
            parts.append("M" + "L".join(f"{_number(x)} {_number(y)}" for x, y in points) + "Z")
    return "".join(parts)


def _number(value: float) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text
