"""Make ``src/dadkhah/report/data/boundaries.json``: Iran's provinces and its neighbours, for SVG maps.

Maps are drawn from boundaries kept in the repository, never from tiles or a download (a request to
a map server can reveal an investigator). The source is Natural Earth's 1:10m "Admin 1 – States,
Provinces" layer (version 4.1.0, public domain) as QGIS ships it in ``world_map.gpkg``: the one copy
of Natural Earth admin-1 polygons with names that a registry this project reaches carries (Debian's
``qgis-common``). QGIS generalized it (GRASS ``v.generalize``, 1 km threshold) and dissolved it into
the ``countries`` layer, so province and country borders share their vertices. To remake the file:

    apt-get download qgis-common=3.22.16+dfsg-1
    dpkg-deb -x qgis-common_3.22.16+dfsg-1_all.deb qgis-common
    .venv/bin/python tools/make_boundaries.py qgis-common/usr/share/qgis/resources/data/world_map.gpkg

This script reads only the file it is given and the gazetteer; it downloads nothing. It keeps:
Iran's 31 provinces, each under its gazetteer id (an explicit table: Natural Earth spells them its
own way); Iran's outline; and every other country's land clipped to the map's box, so seas and
gulfs are where no land is drawn. Coordinates are rounded to 3 decimals (about 100 m), then lines
are simplified (Douglas–Peucker) piece by piece between the points where borders meet, the same way
for every shape sharing a piece, so neighbouring shapes keep one common border and no gaps.
Standard library only, so it runs in the project's virtualenv as it is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sqlite3
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GAZETTEER = ROOT / "src" / "dadkhah" / "normalize" / "data" / "gazetteer.json"
OUT = ROOT / "src" / "dadkhah" / "report" / "data" / "boundaries.json"

# The map's box (west, south, east, north): Iran and a margin of its neighbours.
BBOX = (43.0, 24.0, 64.5, 40.5)
PRECISION = 3
DEFAULT_TOLERANCE = 0.01  # degrees of latitude, about 1.1 km; longitudes scaled by cos(32.5°)
X_SCALE = math.cos(math.radians(32.5))

SOURCE = {
    "package": "Debian qgis-common 3.22.16+dfsg-1 (qgis-common_3.22.16+dfsg-1_all.deb)",
    "file": "usr/share/qgis/resources/data/world_map.gpkg",
    "layers": "states_provinces (Iran's provinces), countries (outlines)",
    "upstream": "Natural Earth 1:10m Cultural Vectors, Admin 1 – States, Provinces v4.1.0 "
                "(naturalearthdata.com), generalized and dissolved by the QGIS project",
    "licence": "public domain (Natural Earth)",
}

# Natural Earth's name of each province (``name`` in the layer) -> gazetteer id. Written out, not
# guessed: the spellings differ ("Esfahan", "Kordestan", "Ardebil", "Hamadan", "Chahar Mahall and
# Bakhtiari", "Kohgiluyeh and Buyer Ahmad", "East Azarbaijan"...).
NE_TO_GAZETTEER = {
    "Alborz": "province:alborz",
    "Ardebil": "province:ardabil",
    "Bushehr": "province:bushehr",
    "Chahar Mahall and Bakhtiari": "province:chaharmahal-and-bakhtiari",
    "East Azarbaijan": "province:east-azerbaijan",
    "Esfahan": "province:isfahan",
    "Fars": "province:fars",
    "Gilan": "province:gilan",
    "Golestan": "province:golestan",
    "Hamadan": "province:hamedan",
    "Hormozgan": "province:hormozgan",
    "Ilam": "province:ilam",
    "Kerman": "province:kerman",
    "Kermanshah": "province:kermanshah",
    "Khuzestan": "province:khuzestan",
    "Kohgiluyeh and Buyer Ahmad": "province:kohgiluyeh-and-boyer-ahmad",
    "Kordestan": "province:kurdistan",
    "Lorestan": "province:lorestan",
    "Markazi": "province:markazi",
    "Mazandaran": "province:mazandaran",
    "North Khorasan": "province:north-khorasan",
    "Qazvin": "province:qazvin",
    "Qom": "province:qom",
    "Razavi Khorasan": "province:razavi-khorasan",
    "Semnan": "province:semnan",
    "Sistan and Baluchestan": "province:sistan-and-baluchestan",
    "South Khorasan": "province:south-khorasan",
    "Tehran": "province:tehran",
    "West Azarbaijan": "province:west-azerbaijan",
    "Yazd": "province:yazd",
    "Zanjan": "province:zanjan",
}

# Gazetteer provinces with no shape of their own today, and the current provinces they became.
HISTORICAL = {
    "province:khorasan": {
        "now": ["province:razavi-khorasan", "province:north-khorasan", "province:south-khorasan"],
        "note": "Khorasan province until its 2004 split: the union of these three shapes.",
    },
}


# --- reading the GeoPackage ---------------------------------------------------------------------

def _wkb_polygons(blob: bytes, offset: int) -> tuple[list, int]:
    """Polygons (lists of rings of (lon, lat)) from WKB at ``offset``; Polygon or MultiPolygon."""
    order = "<" if blob[offset] == 1 else ">"
    (kind,) = struct.unpack_from(order + "I", blob, offset + 1)
    offset += 5
    if kind == 6:
        (count,) = struct.unpack_from(order + "I", blob, offset)
        offset += 4
        polygons = []
        for _ in range(count):
            parts, offset = _wkb_polygons(blob, offset)
            polygons.extend(parts)
        return polygons, offset
    if kind != 3:
        raise ValueError(f"unexpected WKB geometry type {kind}")
    (ring_count,) = struct.unpack_from(order + "I", blob, offset)
    offset += 4
    rings = []
    for _ in range(ring_count):
        (n,) = struct.unpack_from(order + "I", blob, offset)
        offset += 4
        values = struct.unpack_from(order + "d" * (2 * n), blob, offset)
        offset += 16 * n
        rings.append(list(zip(values[0::2], values[1::2], strict=True)))
    return [rings], offset


def gpkg_polygons(blob: bytes) -> list:
    """The polygons of one GeoPackage geometry blob (header "GP", optional envelope, then WKB)."""
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry")
    envelope = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[(blob[3] >> 1) & 7]
    polygons, _ = _wkb_polygons(blob, 8 + envelope)
    return polygons


# --- geometry ------------------------------------------------------------------------------------

def _open(ring: list) -> list:
    """A ring without its closing point, consecutive repeats dropped."""
    out = []
    for point in ring:
        if not out or point != out[-1]:
            out.append(point)
    while len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out


def clip_ring(ring: list, box: tuple[float, float, float, float]) -> list:
    """Sutherland–Hodgman: the part of a ring inside the box (an open ring; empty if none)."""
    west, south, east, north = box
    edges = (
        (lambda p: p[0] >= west, lambda a, b: (west, a[1] + (b[1] - a[1]) * (west - a[0]) / (b[0] - a[0]))),
        (lambda p: p[0] <= east, lambda a, b: (east, a[1] + (b[1] - a[1]) * (east - a[0]) / (b[0] - a[0]))),
        (lambda p: p[1] >= south, lambda a, b: (a[0] + (b[0] - a[0]) * (south - a[1]) / (b[1] - a[1]), south)),
        (lambda p: p[1] <= north, lambda a, b: (a[0] + (b[0] - a[0]) * (north - a[1]) / (b[1] - a[1]), north)),
    )
    points = _open(ring)
    for inside, cross in edges:
        if not points:
            break
        result = []
        previous = points[-1]
        for current in points:
            if inside(current):
                if not inside(previous):
                    result.append(cross(previous, current))
                result.append(current)
            elif inside(previous):
                result.append(cross(previous, current))
            previous = current
        points = result
    return points


def _area(ring: list) -> float:
    return sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(ring, ring[1:] + ring[:1], strict=True)) / 2


def _distance(point, start, end) -> float:
    """Distance from ``point`` to the segment start–end, longitudes scaled as the map draws them."""
    px, py = point[0] * X_SCALE, point[1]
    ax, ay = start[0] * X_SCALE, start[1]
    bx, by = end[0] * X_SCALE, end[1]
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def douglas_peucker(points: list, tolerance: float) -> list:
    """Keep the ends and every point farther than ``tolerance`` from the simplified line."""
    if len(points) < 3:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        best, index = 0.0, None
        for i in range(first + 1, last):
            d = _distance(points[i], points[first], points[last])
            if d > best:
                best, index = d, i
        if index is not None and best > tolerance:
            keep[index] = True
            stack.extend(((first, index), (index, last)))
    return [p for p, k in zip(points, keep, strict=True) if k]


def _simplify_piece(piece: list, tolerance: float) -> list:
    """The same result whichever way round a shared piece is walked."""
    if tuple(piece) <= tuple(reversed(piece)):
        return douglas_peucker(piece, tolerance)
    return list(reversed(douglas_peucker(list(reversed(piece)), tolerance)))


def simplify_shared(rings: list[list], tolerance: float) -> list[list]:
    """Simplify open rings so that a border two rings share is simplified once, the same for both.

    A point is fixed where the set of rings passing through it changes (where three borders meet,
    where a border reaches the coast); the pieces between fixed points are simplified on their own.
    A ring with no such point (an island) is cut at its least point and the point farthest from it.
    """
    if tolerance <= 0:
        return [list(r) for r in rings]
    owners: dict[tuple, set[int]] = {}
    for index, ring in enumerate(rings):
        for point in ring:
            owners.setdefault(point, set()).add(index)
    out = []
    for ring in rings:
        n = len(ring)
        if n < 3:
            out.append(list(ring))
            continue
        fixed = [i for i in range(n)
                 if owners[ring[i]] != owners[ring[i - 1]] or owners[ring[i]] != owners[ring[(i + 1) % n]]]
        if not fixed:
            first = ring.index(min(ring))
            far = max(range(n), key=lambda i: (_distance(ring[i], ring[first], ring[first]), ring[i]))
            fixed = sorted({first, far})
        kept = []
        for k, start in enumerate(fixed):
            end = fixed[(k + 1) % len(fixed)]
            piece = ring[start:end + 1] if end > start else ring[start:] + ring[:end + 1]
            kept.extend(_simplify_piece(piece, tolerance)[:-1])
        out.append(kept)
    return out


# --- building the file ---------------------------------------------------------------------------

def _round(ring: list) -> list:
    return _open([(round(x, PRECISION), round(y, PRECISION)) for x, y in ring])


def _bounds(polygons: list) -> tuple[float, float, float, float]:
    xs = [x for polygon in polygons for ring in polygon for x, _ in ring]
    ys = [y for polygon in polygons for ring in polygon for _, y in ring]
    return min(xs), min(ys), max(xs), max(ys)


def _overlaps(bounds, box) -> bool:
    return bounds[0] < box[2] and bounds[2] > box[0] and bounds[1] < box[3] and bounds[3] > box[1]


def read_source(path: Path) -> tuple[list[dict], list[dict]]:
    """Iran's provinces and the countries near it, as features with unrounded polygons."""
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        provinces = [
            {"name": name, "fips": fips, "polygons": gpkg_polygons(geom)}
            for name, fips, geom in connection.execute(
                "SELECT name, fips, geom FROM states_provinces WHERE adm0_a3 = 'IRN' ORDER BY name")
        ]
        countries = []
        for name, iso, geom in connection.execute("SELECT NAME, ISO_A3, geom FROM countries"):
            polygons = [p for p in gpkg_polygons(geom) if _overlaps(_bounds([p]), BBOX)]
            if polygons:
                if not (iso and len(iso) == 3 and iso.isalpha()):
                    raise SystemExit(f"a country in the box has no ISO 3166 code: {name!r} {iso!r}")
                countries.append({"name": name, "iso_a3": iso, "polygons": polygons})
    finally:
        connection.close()
    return provinces, countries


def match_provinces(provinces: list[dict]) -> dict[str, dict]:
    """Gazetteer id -> province feature; fails unless the 31 current provinces match one to one."""
    gazetteer = json.loads(GAZETTEER.read_text(encoding="utf-8"))
    current = {p["id"] for p in gazetteer["places"] if p["type"] == "province" and p["province_now"] == p["id"]}
    names = [p["name"] for p in provinces]
    unmatched = sorted(set(names) - set(NE_TO_GAZETTEER))
    missing = sorted(set(NE_TO_GAZETTEER) - set(names))
    unknown = sorted(set(NE_TO_GAZETTEER.values()) - current)
    uncovered = sorted(current - set(NE_TO_GAZETTEER.values()))
    if unmatched or missing or unknown or uncovered or len(names) != len(set(names)):
        raise SystemExit(f"province table does not fit: source names not in the table {unmatched}, table names "
                         f"not in the source {missing}, ids not current in the gazetteer {unknown}, current "
                         f"gazetteer provinces without a shape {uncovered}")
    for place_id in HISTORICAL:
        if place_id in current:
            raise SystemExit(f"{place_id} is a current province in the gazetteer")
    return {NE_TO_GAZETTEER[p["name"]]: p for p in provinces}


def build(source: Path, tolerance: float) -> dict:
    provinces, countries = read_source(source)
    by_id = match_provinces(provinces)
    if not any(c["iso_a3"] == "IRN" for c in countries):
        raise SystemExit("no Iran in the countries layer")

    # Every feature as (properties, polygons of open rings), rounded and clipped to the box.
    features = []
    for place_id in sorted(by_id):
        province = by_id[place_id]
        polygons = [[_round(ring) for ring in polygon] for polygon in province["polygons"]]
        features.append(({"kind": "province", "id": place_id, "name_ne": province["name"],
                          "fips": province["fips"]}, polygons))
    for country in sorted(countries, key=lambda c: (c["iso_a3"] != "IRN", c["iso_a3"])):
        polygons = [[_round(clip_ring(ring, BBOX)) for ring in polygon] for polygon in country["polygons"]]
        features.append(({"kind": "country", "id": country["iso_a3"], "name": country["name"]}, polygons))

    flat = [ring for _, polygons in features for polygon in polygons for ring in polygon]
    simplified = iter(simplify_shared(flat, tolerance))
    out = []
    for properties, polygons in features:
        kept = []
        for polygon in polygons:
            rings = [next(simplified) for _ in polygon]
            # A ring simplified to nothing goes; so do a polygon's holes when its outer ring goes.
            if rings and len(rings[0]) >= 3 and _area(rings[0]) != 0:
                kept.append([r + r[:1] for r in rings if len(r) >= 3 and _area(r) != 0])  # closed, as in GeoJSON
        if kept:
            out.append({"type": "Feature", "properties": properties,
                        "geometry": {"type": "MultiPolygon", "coordinates": kept}})
    kinds = [f["properties"]["kind"] for f in out]
    if kinds.count("province") != len(NE_TO_GAZETTEER):
        raise SystemExit("a province vanished in simplification")
    return {
        "type": "FeatureCollection",
        "bbox": list(BBOX),
        "dadkhah": {
            "what": "Iran's 31 current provinces under their gazetteer ids, Iran's outline, and the land of "
                    "the countries around it clipped to bbox; water is where no land is drawn",
            "source": SOURCE | {"sha256": hashlib.sha256(source.read_bytes()).hexdigest()},
            "made_by": "tools/make_boundaries.py",
            "coordinates": "longitude, latitude (WGS 84), rounded to 3 decimals",
            "simplification": f"Douglas–Peucker on shared border pieces, tolerance {tolerance}° "
                              "(longitudes scaled by cos 32.5°)",
            "historical": HISTORICAL,
        },
        "features": out,
    }


def dumps(document: dict) -> str:
    """Compact JSON, one feature a line, so a change shows as a readable diff."""
    head = {k: v for k, v in document.items() if k != "features"}
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in document["features"]]
    body = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    return body + ',"features":[\n' + ",\n".join(lines) + "\n]}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="world_map.gpkg from Debian's qgis-common 3.22.16+dfsg-1")
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT.relative_to(ROOT)})")
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE,
                        help=f"simplification tolerance in degrees (default {DEFAULT_TOLERANCE}; 0 keeps every point)")
    args = parser.parse_args(argv)
    text = dumps(build(args.source, args.tolerance))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    data = text.encode("utf-8")
    print(f"{args.out}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
