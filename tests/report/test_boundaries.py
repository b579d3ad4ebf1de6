"""The vendored boundaries: every current province has its shape under its gazetteer id, the
gazetteer's places fall inside their shapes, the file stays small and is the one the docs describe,
and the SVG paths drawn from it are well formed.

Borders are simplified (about 1 km, on top of Natural Earth's own generalization), so a place on a
coast or a provincial border may fall just outside: the place tests ask for 95%, and name the misses.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from pathlib import Path

import pytest

from dadkhah.normalize.places import load_builtin_gazetteer
from dadkhah.report.boundaries import (
    EAST,
    NORTH,
    SOUTH,
    WEST,
    iran_outline,
    load_boundaries,
    map_height,
    neighbour_shapes,
    project,
    province_shapes,
    svg_path,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
DATA = resources.files("dadkhah.report").joinpath("data/boundaries.json")
NUMBER = r"-?\d+(?:\.\d)?"
SUBPATH = rf"M{NUMBER} {NUMBER}(?:L{NUMBER} {NUMBER}){{2,}}Z"


def inside(point: tuple[float, float], rings) -> bool:
    """Even–odd ray casting: a point is inside when a ray east of it crosses the rings an odd number
    of times (so islands count and holes do not)."""
    x, y = point
    crossings = 0
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                crossings += 1
    return crossings % 2 == 1


def gazetteer(place_type: str) -> list[dict]:
    return [p for p in load_builtin_gazetteer().places if p["type"] == place_type]


def current_provinces() -> set[str]:
    return {p["id"] for p in gazetteer("province") if p["province_now"] == p["id"]}


def located_cities() -> list[dict]:
    return [c for c in gazetteer("city") if c["lat"] is not None and c["lon"] is not None and c["province_now"]]


def test_every_current_province_has_a_shape_and_nothing_else_does():
    shapes = province_shapes()
    assert len(current_provinces()) == 31
    assert set(shapes) == current_provinces()
    assert all(shapes[p] and all(len(ring) >= 4 and ring[0] == ring[-1] for ring in shapes[p]) for p in shapes)


def test_historical_khorasan_has_no_shape_and_maps_to_the_three_khorasans():
    khorasan = next(p for p in gazetteer("province") if p["id"] == "province:khorasan")
    assert khorasan["province_now"] is None
    assert "province:khorasan" not in province_shapes()
    now = load_boundaries()["dadkhah"]["historical"]["province:khorasan"]["now"]
    assert sorted(now) == ["province:north-khorasan", "province:razavi-khorasan", "province:south-khorasan"]
    union = [ring for place_id in now for ring in province_shapes()[place_id]]
    then = [c for c in located_cities() if c["province_1988"] == "province:khorasan"]
    assert then and all(inside((c["lon"], c["lat"]), union) for c in then)


def test_cities_lie_in_their_own_province():
    shapes = province_shapes()
    cities = located_cities()
    assert len(cities) >= 100
    misses = []
    for city in cities:
        point = (city["lon"], city["lat"])
        if not inside(point, shapes[city["province_now"]]):
            found = [p for p, rings in shapes.items() if inside(point, rings)]
            misses.append(f"{city['id']} ({city['lat']}, {city['lon']}): {city['province_now']}, drawn in {found or 'no province'}")
    assert len(misses) <= 0.05 * len(cities), "\n".join(misses)


def test_cities_lie_in_iran():
    outline = iran_outline()
    cities = located_cities()
    misses = [f"{c['id']} ({c['lat']}, {c['lon']})" for c in cities if not inside((c["lon"], c["lat"]), outline)]
    assert len(misses) <= 0.05 * len(cities), "\n".join(misses)


def test_provinces_tile_iran_and_meet_the_neighbours_on_one_border():
    """Simplification kept shared borders shared: every province edge is either inside Iran, shared
    by exactly two provinces, or on Iran's outline; and the land border is the neighbours' too."""

    def edges(rings):
        return [frozenset(pair) for ring in rings for pair in zip(ring, ring[1:], strict=False)]

    province_edges: dict[frozenset, int] = {}
    for rings in province_shapes().values():
        for edge in edges(rings):
            province_edges[edge] = province_edges.get(edge, 0) + 1
    outline = set(edges(iran_outline()))
    assert outline <= set(province_edges)
    assert all(count == (1 if edge in outline else 2) for edge, count in province_edges.items())
    neighbours = {edge for rings in neighbour_shapes().values() for edge in edges(rings)}
    assert len(outline & neighbours) > 100


def test_neighbours_are_clipped_to_the_box():
    data = load_boundaries()
    assert data["bbox"] == [WEST, SOUTH, EAST, NORTH]
    neighbours = neighbour_shapes()
    assert {"IRQ", "TUR", "ARM", "AZE", "TKM", "AFG", "PAK"} <= set(neighbours)
    assert "IRN" not in neighbours
    points = [p for rings in [*neighbours.values(), iran_outline()] for ring in rings for p in ring]
    assert all(WEST <= lon <= EAST and SOUTH <= lat <= NORTH for lon, lat in points)
    assert all(round(v, 3) == v for point in points for v in point)


def test_the_file_is_small():
    assert len(DATA.read_bytes()) < 400_000


def test_the_file_is_the_one_the_data_sources_describe():
    sources = (DOCS / "data-sources.md").read_text(encoding="utf-8")
    section = sources.split("## Natural Earth boundaries", 1)[1].split("\n## ", 1)[0]
    assert f"`{hashlib.sha256(DATA.read_bytes()).hexdigest()}` |" in section
    assert f"`{load_boundaries()['dadkhah']['source']['sha256']}`" in section


def test_projection_spans_the_box():
    assert project(WEST, NORTH, width=800) == (0.0, 0.0)
    assert project(EAST, SOUTH, width=800) == (800.0, map_height(width=800))
    assert 720 < map_height(width=800) < 730  # 16.5° of latitude against 21.5° of longitude × cos 32.5°
    x, y = project(51.422, 35.694, width=800)  # Tehran: north of the middle, a little west of it
    assert 300 < x < 400 and y < map_height(width=800) / 2


@pytest.mark.parametrize("width", [400, 800, 2480])
def test_svg_paths_are_well_formed(width):
    height = map_height(width=width)
    shapes = [iran_outline(), *province_shapes().values(), *neighbour_shapes().values()]
    for rings in shapes:
        d = svg_path(rings, width=width)
        assert re.fullmatch(rf"(?:{SUBPATH})+", d), d[:200]
        numbers = [float(n) for n in re.findall(NUMBER, d)]
        assert all(0 <= x <= width for x in numbers[0::2]) and all(0 <= y <= height for y in numbers[1::2])
    assert svg_path([], width=width) == ""
    assert svg_path([[(50.0, 30.0), (50.0, 30.0), (50.0, 30.0)]], width=width) == ""  # nothing to draw
