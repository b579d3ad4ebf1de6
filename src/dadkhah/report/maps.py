"""Maps of Iran's provinces as self-contained SVG: one function for the web app, the static memorial
site and PDF reports.

:func:`province_map` draws the provinces filled by a number each (a choropleth: named victims per
province, say), the neighbouring countries in pale grey on the sea, and places as markers of a
shape per kind; markers that crowd merge into one circle saying how many. The answer is one SVG
string that needs nothing else: no stylesheet, script, font, image or link outside itself (colours
and the system-ui font stack are attributes, so a page's content security policy has nothing to
forbid), and everything that came from data is XML-escaped.

The shapes are Natural Earth's (:mod:`dadkhah.report.boundaries`); points are placed with its
:func:`~dadkhah.report.boundaries.project`. Words are English or Persian: the legend's defaults are
here (:data:`LABELS`), and the caller passes its own (``labels``) to match its pages. Persian maps
write numbers in Persian digits with the Persian thousands separator (٬) and set the legend right
to left.

**Classes.** Five, from quantiles rounded to readable numbers (:func:`class_breaks`): counts of
victims per province are very skewed (Tehran alone can outnumber a dozen provinces), so equal
steps would leave nearly every province in the first class; quantiles give each class about a
fifth of the provinces that have a value, and rounding each break to 1, 1.5, 2, 2.5, 3, 4, 5, 6 or
8 times a power of ten (whole numbers below ten) gives a legend one can read and remember, whose
breaks do not move when one count changes by one. Provinces with no value (or zero) are drawn
neutral, "none recorded", never as the lightest class. The palette is ColorBrewer's OrRd,
sequential, its lightness falling by 12–17 L* a class, so the order survives printing in grey.
"""

from __future__ import annotations

import bisect
import heapq
import math
import re
import statistics
import textwrap
from collections.abc import Iterable, Mapping
from functools import cache

from dadkhah.report.boundaries import (
    EAST,
    NORTH,
    SOUTH,
    WEST,
    iran_outline,
    map_height,
    neighbour_shapes,
    project,
    province_shapes,
    svg_path,
)

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', 'Noto Sans Arabic', Vazirmatn, Tahoma, sans-serif"

# ColorBrewer OrRd (Cynthia Brewer, Penn State), lightest to darkest: L* 87, 70, 54, 37, 25.
PALETTE = ("#fdd49e", "#fc8d59", "#e34a33", "#b30000", "#7f0000")
NO_VALUE = "#ffffff"  # provinces without a value: lighter than any class
NEIGHBOUR = "#e0e0e0"
SEA = "#dde8f0"
PROVINCE_BORDER = "#8f8f8f"
OUTLINE = "#4d4d4d"
INK = "#1a1a1a"

# Marker kinds: fill and shape. Dark fills with a white edge stand out on every class's colour, and
# the shapes tell the kinds apart without colour.
KINDS = {
    "city": ("#234e86", "circle"),
    "prison": ("#1a1a1a", "square"),
    "cemetery": ("#1d6b3a", "triangle-down"),
    "mass_grave": ("#6a3d9a", "triangle-up"),
    "site": ("#0b5f73", "diamond"),
}
OTHER = ("#ffffff", "ring")

CLUSTER_DISTANCE = 12.0  # map units on a map 800 wide: markers closer than this merge
_BASE_WIDTH = 800.0

LABELS = {
    "en": {
        "title": "Iran's provinces",
        "legend_title": "Number per province",
        "no_value": "None recorded",
        "city": "City", "prison": "Prison", "cemetery": "Cemetery", "mass_grave": "Mass grave", "site": "Site",
        "other": "Other place",
        "cluster": "{n} places close together:",
        "cluster_key": "Places close together",
        "credit": "Boundaries: Natural Earth, simplified",
        "desc": "Iran's 31 provinces and the countries around it.",
        "desc_values": "{legend}: {ranges}.",
        "desc_markers": "{n} places marked.",
        "range": "{low}–{high}",
    },
    "fa": {
        "title": "استان‌های ایران",
        "legend_title": "شمار در هر استان",
        "no_value": "ثبت نشده",
        "city": "شهر", "prison": "زندان", "cemetery": "گورستان", "mass_grave": "گور جمعی", "site": "محل",
        "other": "مکان دیگر",
        "cluster": "{n} مکان نزدیک به هم:",
        "cluster_key": "مکان‌های نزدیک به هم",
        "credit": "مرزها: Natural Earth، ساده‌شده",
        "desc": "۳۱ استان ایران و کشورهای پیرامون آن.",
        "desc_values": "{legend}: {ranges}.",
        "desc_markers": "{n} مکان بر نقشه نشان داده شده است.",
        "range": "{low} تا {high}",
    },
}

_PERSIAN = str.maketrans("0123456789,.-", "۰۱۲۳۴۵۶۷۸۹٬٫−")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CLASS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_SCHEME = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//|\\\\)", re.IGNORECASE)
_LADDER = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)


# --- text ----------------------------------------------------------------------------------------

def _text(value) -> str:
    """Character data: escaped, and stripped of what XML 1.0 cannot hold at all."""
    return (_NOT_XML.sub("", str(value)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _attr(value) -> str:
    return _text(value).replace('"', "&quot;").replace("'", "&apos;").replace("\n", "&#10;").replace("\t", "&#9;")


def _n(value: float) -> str:
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def format_number(value: float | int, language: str = "en") -> str:
    """A count or a rate as the legend writes it: thousands separated (1,234), at most two decimals;
    in Persian with Persian digits, ٬ between thousands and ٫ before decimals (۱٬۲۳۴)."""
    if float(value).is_integer():
        text = f"{int(value):,}"
    else:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.translate(_PERSIAN) if language == "fa" else text


# --- classes -------------------------------------------------------------------------------------

def _nice(value: float, integer: bool) -> float:
    """``value`` rounded to the nearest (in ratio) of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ⁿ; whole
    numbers below ten stay whole numbers when the data are counts."""
    if integer and value < 10:
        return max(1, math.floor(value + 0.5))
    exponent = math.floor(math.log10(value))
    candidates = [round(step * 10.0 ** exponent, 10) for step in _LADDER]
    best = min(candidates, key=lambda c: (abs(math.log(c / value)), c))
    return int(best) if integer else best


def class_breaks(values: Iterable[float | int | None], classes: int = 5) -> list[tuple[float, float]]:
    """The classes of a choropleth as (lowest, highest) value each, for the values above zero:
    quantiles rounded to readable numbers (see the module's docstring), the first class starting at
    the smallest value and the last ending at the largest. Fewer classes when rounding makes two
    breaks one, or when there are few distinct values. Counts give ranges of whole numbers that do
    not overlap (1–10, 11–25); other numbers give ranges that meet (0.5–1, 1–2: a class holds its
    upper end)."""
    data = sorted(float(v) for v in values if v is not None and v > 0)
    if not data:
        return []
    integer = all(v.is_integer() for v in data)
    low, high = (int(data[0]), int(data[-1])) if integer else (data[0], data[-1])
    if low == high:
        return [(low, high)]
    cuts = statistics.quantiles(data, n=min(classes, len(set(data))), method="inclusive")
    breaks = sorted({_nice(c, integer) for c in cuts})
    breaks = [b for b in breaks if low <= b < high]
    lows = [low] + [b + 1 if integer else b for b in breaks]
    return list(zip(lows, [*breaks, high], strict=True))


def class_of(value: float | int | None, classes: list[tuple[float, float]]) -> int | None:
    """The index of the class ``value`` falls in (0 the lowest), or None for no value (or zero)."""
    if value is None or value <= 0 or not classes:
        return None
    uppers = [high for _, high in classes]
    return min(bisect.bisect_left(uppers, value), len(classes) - 1)


def class_colours(count: int) -> list[str]:
    """The palette for ``count`` classes: all five, or as far apart as they go for fewer."""
    if count <= 0:
        return []
    if count == 1:
        return [PALETTE[2]]
    return [PALETTE[round(i * (len(PALETTE) - 1) / (count - 1))] for i in range(count)]


# --- clustering ----------------------------------------------------------------------------------

def cluster_points(points: list[tuple[float, float]], distance: float) -> list[list[int]]:
    """Groups of the indexes of ``points`` such that no two groups' centres lie closer than
    ``distance``: the closest two groups merge first (centroid linkage), ties by index, until none
    are that close. The answer depends on the points only, listed by their first index."""
    groups: dict[int, tuple[list[int], float, float]] = {i: ([i], x, y) for i, (x, y) in enumerate(points)}
    heap: list[tuple[float, int, int]] = []
    cells: dict[tuple[int, int], list[int]] = {}
    size = max(distance, 1e-9)
    for i, (x, y) in enumerate(points):
        cells.setdefault((math.floor(x / size), math.floor(y / size)), []).append(i)
    for (cx, cy), members in cells.items():
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for j in cells.get((cx + dx, cy + dy), ()):
                    for i in members:
                        if i < j:
                            d = math.dist(points[i], points[j])
                            if d < distance:
                                heap.append((d, i, j))
    heapq.heapify(heap)
    next_id = len(points)
    while heap:
        _, a, b = heapq.heappop(heap)
        if a not in groups or b not in groups:
            continue
        members = sorted(groups.pop(a)[0] + groups.pop(b)[0])
        x = sum(points[m][0] for m in members) / len(members)
        y = sum(points[m][1] for m in members) / len(members)
        for other, (_, ox, oy) in groups.items():
            d = math.dist((x, y), (ox, oy))
            if d < distance:
                heapq.heappush(heap, (d, other, next_id))
        groups[next_id] = (members, x, y)
        next_id += 1
    return sorted((members for members, _, _ in groups.values()), key=lambda m: m[0])


# --- drawing -------------------------------------------------------------------------------------

@cache
def _province_names() -> dict[str, dict[str, str]]:
    from dadkhah.normalize.places import load_builtin_gazetteer

    return {p["id"]: {"en": p["name_en"], "fa": p.get("name_fa") or p["name_en"]}
            for p in load_builtin_gazetteer().places if p["type"] == "province"}


def _kind(kind) -> str:
    kind = str(kind or "").replace("-", "_")
    return kind if kind in KINDS else "other"


def _shape(kind: str, x: float, y: float, k: float, *, css: str, title: str = "", scale: float = 1.0) -> str:
    """One marker's shape at (x, y), with its ``<title>`` inside."""
    fill, shape = KINDS.get(kind, OTHER)
    s = k * scale
    edge = f'stroke="{INK if shape == "ring" else "#ffffff"}" stroke-width="{_n(max(0.8 * s, 0.1))}"'
    common = f'class="{css}" fill="{fill}" {edge}'
    if shape in ("circle", "ring"):
        tag, geometry = "circle", f'cx="{_n(x)}" cy="{_n(y)}" r="{_n((3.5 if shape == "circle" else 3.0) * s)}"'
    elif shape == "square":
        tag, geometry = "rect", (f'x="{_n(x - 3.3 * s)}" y="{_n(y - 3.3 * s)}" width="{_n(6.6 * s)}" '
                                 f'height="{_n(6.6 * s)}"')
    else:
        corners = {
            "triangle-up": ((0, -4.8), (4.2, 2.8), (-4.2, 2.8)),
            "triangle-down": ((0, 4.8), (4.2, -2.8), (-4.2, -2.8)),
            "diamond": ((0, -5), (4, 0), (0, 5), (-4, 0)),
        }[shape]
        tag = "polygon"
        geometry = 'points="' + " ".join(f"{_n(x + dx * s)},{_n(y + dy * s)}" for dx, dy in corners) + '"'
    if not title:
        return f"<{tag} {common} {geometry}/>"
    return f"<{tag} {common} {geometry}><title>{_text(title)}</title></{tag}>"


def _check_href(href) -> str | None:
    if href is None or href == "":
        return None
    href = str(href)
    if _SCHEME.match(href):
        raise ValueError(f"a marker links within the site only, not to {href!r}")
    return href


def _wrapper_attributes(marker: Mapping, kind: str) -> str:
    classes = ["map-marker"]
    extra = marker.get("class")
    for name in (extra.split() if isinstance(extra, str) else extra or ()):
        if not _CLASS_NAME.match(name):
            raise ValueError(f"not a class name: {name!r}")
        classes.append(name)
    attributes = [f'class="{" ".join(classes)}"', f'data-kind="{kind}"']
    if marker.get("id") is not None:
        attributes.append(f'data-id="{_attr(marker["id"])}"')
    for name, value in (marker.get("data") or {}).items():
        if not re.fullmatch(r"[a-z][a-z0-9-]*", str(name)):
            raise ValueError(f"not a data attribute name: {name!r}")
        attributes.append(f'data-{name}="{_attr(value)}"')
    return " ".join(attributes)


def _marker_label(marker: Mapping, kind: str, words: Mapping, language: str) -> str:
    label = str(marker.get("label") or words.get(kind) or kind)
    if marker.get("count") is not None:
        label += f" ({format_number(marker['count'], language)})"
    return label


def _legend_lines(text: str, chars: int) -> list[str]:
    return textwrap.wrap(text, width=max(chars, 8)) or [""]


def province_map(
    values: Mapping[str, float | int | None] | None,
    markers: Iterable[Mapping] = (),
    *,
    width: int = 800,
    language: str = "en",
    title: str | None = None,
    legend_title: str | None = None,
    labels: Mapping | None = None,
    element_id: str | None = None,
    standalone: bool = True,
    legend: bool = True,
    cluster_distance: float = CLUSTER_DISTANCE,
) -> str:
    """Iran's provinces filled by ``values`` (gazetteer province id → number), with ``markers`` on
    top, as one SVG ``width`` wide (its height is :func:`~dadkhah.report.boundaries.map_height`).

    ``markers``: dicts with ``lon``, ``lat``, ``kind`` (``city``, ``prison``, ``cemetery``,
    ``mass_grave``, ``site``; others are drawn as rings), ``label``, and optionally ``href`` (a link
    within the site: a scheme or ``//`` is refused), ``count`` (written after the label), ``id``
    (``data-id``, and listed in a cluster's ``data-members``), ``class`` (more class names) and
    ``data`` (``{"place": "city:tehran"}`` → ``data-place="city:tehran"``). A marker without
    coordinates, or outside the map, is left out. Markers closer than ``cluster_distance`` (in the
    units of a map 800 wide; it scales with ``width``, as markers do) merge into one circle showing
    how many, whose ``<title>`` names each.

    ``labels`` overrides the words of :data:`LABELS` for ``language`` (the marker kinds,
    ``no_value``, ``cluster``…), and may give ``provinces`` (id → name; the gazetteer's names
    otherwise). ``element_id`` is the root's ``id`` and prefixes every other id, so several maps can
    share a page. ``standalone=False`` leaves out the ``xmlns`` attribute, for SVG inline in HTML.
    ``legend=False`` draws no legend (nor the credit).
    """
    if language not in LABELS:
        raise ValueError(f"language must be one of {sorted(LABELS)}")
    words = {**LABELS[language], **{k: v for k, v in (labels or {}).items() if v is not None}}
    title = title if title is not None else words["title"]
    legend_title = legend_title if legend_title is not None else words["legend_title"]
    names = {pid: n[language] for pid, n in _province_names().items()} | dict(words.get("provinces") or {})
    rtl = language == "fa"
    k = width / _BASE_WIDTH
    height = map_height(width=width)
    prefix = element_id or "map"
    values = dict(values or {})

    classes = class_breaks(values.values())
    colours = class_colours(len(classes))

    def number(value) -> str:
        return format_number(value, language)

    def class_range(low, high) -> str:
        return number(low) if low == high else words["range"].format(low=number(low), high=number(high))

    # the markers on the map, in a fixed order, and how they cluster
    placed = []
    for marker in markers:
        lon, lat = marker.get("lon"), marker.get("lat")
        if lon is None or lat is None or not (WEST <= float(lon) <= EAST and SOUTH <= float(lat) <= NORTH):
            continue
        kind = _kind(marker.get("kind"))
        x, y = project(float(lon), float(lat), width=width)
        placed.append({"marker": marker, "kind": kind, "x": x, "y": y, "href": _check_href(marker.get("href")),
                       "label": _marker_label(marker, kind, words, language)})
    order = list(KINDS) + ["other"]
    placed.sort(key=lambda p: (p["x"], p["y"], order.index(p["kind"]), p["label"], str(p["marker"].get("id") or "")))
    groups = cluster_points([(p["x"], p["y"]) for p in placed], cluster_distance * k)

    out = []
    root = ["<svg"]
    if standalone:
        root.append(f'xmlns="{SVG_NAMESPACE}"')
    if element_id:
        root.append(f'id="{_attr(element_id)}"')
    root += [f'class="province-map" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" height="{_n(height)}"',
             f'role="img" aria-labelledby="{_attr(prefix)}-title {_attr(prefix)}-desc"',
             f'font-family="{FONT_FAMILY}" xml:lang="{language}"']
    out.append(" ".join(root) + ">")
    out.append(f'<title id="{_attr(prefix)}-title">{_text(title)}</title>')
    desc = [words["desc"]]
    if classes:
        desc.append(words["desc_values"].format(legend=legend_title,
                                                ranges="; ".join(class_range(lo, hi) for lo, hi in classes)))
    if placed:
        desc.append(words["desc_markers"].format(n=number(len(placed))))
    out.append(f'<desc id="{_attr(prefix)}-desc">{_text(" ".join(desc))}</desc>')

    # sea, neighbours, provinces, Iran's outline
    out.append(f'<rect class="sea" x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="{SEA}"/>')
    out.append(f'<g class="neighbours" fill="{NEIGHBOUR}" stroke="#ffffff" stroke-width="{_n(0.8 * k)}" '
               'stroke-linejoin="round" fill-rule="evenodd">')
    for code, rings in sorted(neighbour_shapes().items()):
        out.append(f'<path data-country="{_attr(code)}" d="{svg_path(rings, width=width)}"/>')
    out.append("</g>")
    out.append(f'<g class="provinces" stroke="{PROVINCE_BORDER}" stroke-width="{_n(max(0.6 * k, 0.1))}" '
               'stroke-linejoin="round" fill-rule="evenodd">')
    for province_id, rings in sorted(province_shapes().items()):
        value = values.get(province_id)
        index = class_of(value, classes)
        fill = NO_VALUE if index is None else colours[index]
        shown = number(value) if index is not None else words["no_value"]
        data = f' data-class="{index + 1}" data-value="{_attr(value)}"' if index is not None else ""
        name = names.get(province_id, province_id)
        out.append(f'<path class="province" id="{_attr(prefix)}-{_attr(province_id.replace(":", "-"))}" '
                   f'data-province="{_attr(province_id)}"{data} fill="{fill}" d="{svg_path(rings, width=width)}">'
                   f"<title>{_text(name)}: {_text(shown)}</title></path>")
    out.append("</g>")
    out.append(f'<path class="outline" fill="none" stroke="{OUTLINE}" stroke-width="{_n(1.1 * k)}" '
               f'stroke-linejoin="round" fill-rule="evenodd" d="{svg_path(iran_outline(), width=width)}"/>')

    # markers: single ones from north to south, then the clusters on top
    singles = [placed[g[0]] for g in groups if len(g) == 1]
    clusters = [[placed[i] for i in g] for g in groups if len(g) > 1]
    out.append('<g class="markers">')
    for p in sorted(singles, key=lambda p: (p["y"], p["x"])):
        tag = "a" if p["href"] else "g"
        href = f'href="{_attr(p["href"])}" ' if p["href"] else ""
        css = f"marker marker-{p['kind']}"
        out.append(f"<{tag} {href}{_wrapper_attributes(p['marker'], p['kind'])}>"
                   f"{_shape(p['kind'], p['x'], p['y'], k, css=css, title=p['label'])}</{tag}>")
    for members in sorted(clusters, key=lambda c: (sum(p["y"] for p in c) / len(c), sum(p["x"] for p in c) / len(c))):
        x = round(sum(p["x"] for p in members) / len(members), 1)
        y = round(sum(p["y"] for p in members) / len(members), 1)
        members = sorted(members, key=lambda p: (order.index(p["kind"]), p["label"]))
        count = number(len(members))
        r = (5.0 + 1.8 * len(str(len(members)))) * k
        lines = [words["cluster"].format(n=count), *(p["label"] for p in members)]
        ids = " ".join(str(p["marker"]["id"]) for p in members if p["marker"].get("id") is not None)
        hrefs = {p["href"] for p in members}
        tag, href = ("a", f'href="{_attr(next(iter(hrefs)))}" ') if len(hrefs) == 1 and None not in hrefs else ("g", "")
        kinds = " ".join(sorted({p["kind"] for p in members}, key=order.index))
        out.append(f'<{tag} {href}class="map-cluster" data-count="{len(members)}" data-kinds="{kinds}"'
                   + (f' data-members="{_attr(ids)}"' if ids else "") + ">"
                   + f"<title>{_text(chr(10).join(lines))}</title>"
                   + f'<circle class="cluster" cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="#ffffff" stroke="{INK}" '
                     f'stroke-width="{_n(1.2 * k)}"/>'
                   + f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="middle" dominant-baseline="central" '
                     f'font-size="{_n(9 * k)}" font-weight="700" fill="{INK}">{_text(count)}</text>'
                   + f"</{tag}>")
    out.append("</g>")

    if legend:
        out.append(_legend(words, legend_title, [class_range(lo, hi) for lo, hi in classes], colours,
                           kinds=[kind for kind in order if any(p["kind"] == kind for p in placed)],
                           clustered=bool(clusters), k=k, height=height, rtl=rtl, language=language))
    out.append("</svg>")
    return "\n".join(out)


def _legend(words: Mapping, legend_title: str, ranges: list[str], colours: list[str], *, kinds: list[str],
            clustered: bool, k: float, height: float, rtl: bool, language: str) -> str:
    """The legend, in the map's lower left corner (the Arabian peninsula and the Gulf), on white."""
    font, row, pad, key = 10.0 * k, 15.0 * k, 7.0 * k, 16.0 * k
    box_width = 200.0 * k
    text_chars = int((box_width - 3 * pad - key) / (0.52 * font))
    rows: list[tuple[str, list[str], object]] = []  # (what, lines, key)
    if ranges:
        rows.append(("title", _legend_lines(legend_title, int((box_width - 2 * pad) / (0.56 * font))), None))
        for text, colour in zip(ranges, colours, strict=True):
            rows.append(("class", [text], colour))
        rows.append(("class", _legend_lines(words["no_value"], text_chars), NO_VALUE))
    for kind in kinds:
        rows.append(("kind", _legend_lines(str(words.get(kind) or kind), text_chars), kind))
    if clustered:
        rows.append(("cluster", _legend_lines(words["cluster_key"], text_chars), None))
    if words.get("credit"):
        rows.append(("credit", _legend_lines(words["credit"], int((box_width - 2 * pad) / (0.46 * 0.8 * font))), None))
    if not rows:
        return ""
    heights = [len(lines) * (row if what != "credit" else 0.85 * row) + (3 * k if what in ("title", "credit") else 0)
               for what, lines, _ in rows]
    box_height = sum(heights) + 2 * pad - 3 * k
    x0, y0 = 6.0 * k, height - 6.0 * k - box_height
    # left to right, or mirrored: keys on the right and text to their left, anchored at its start
    key_x = x0 + box_width - pad - key if rtl else x0 + pad
    text_x = key_x - 5 * k if rtl else key_x + key + 5 * k
    edge_x = x0 + box_width - pad if rtl else x0 + pad
    direction = ' direction="rtl"' if rtl else ""
    out = [f'<g class="legend"{direction} font-size="{_n(font)}" fill="{INK}">',
           f'<rect class="legend-box" x="{_n(x0)}" y="{_n(y0)}" width="{_n(box_width)}" height="{_n(box_height)}" '
           f'rx="{_n(3 * k)}" fill="#ffffff" fill-opacity="0.92" stroke="#b3b3b3" stroke-width="{_n(0.8 * k)}"/>']
    y = y0 + pad
    for (what, lines, item), step in zip(rows, heights, strict=True):
        middle = y + row / 2
        if what == "class":
            out.append(f'<rect class="legend-key" x="{_n(key_x)}" y="{_n(middle - 5.5 * k)}" width="{_n(key)}" '
                       f'height="{_n(11 * k)}" fill="{item}" stroke="{PROVINCE_BORDER}" stroke-width="{_n(0.6 * k)}"/>')
        elif what == "kind":
            out.append(_shape(str(item), key_x + key / 2, middle, k, css=f"legend-key marker-{item}", scale=1.15))
        elif what == "cluster":
            cx = key_x + key / 2
            out.append(f'<circle class="legend-key" cx="{_n(cx)}" cy="{_n(middle)}" r="{_n(6.8 * k)}" fill="#ffffff" '
                       f'stroke="{INK}" stroke-width="{_n(1.2 * k)}"/>'
                       f'<text x="{_n(cx)}" y="{_n(middle)}" text-anchor="middle" dominant-baseline="central" '
                       f'font-size="{_n(8 * k)}" font-weight="700">{_text(format_number(3, language))}</text>')
        anchor_x = edge_x if what in ("title", "credit") else text_x
        attributes = {"title": ' font-weight="700"', "credit": f' font-size="{_n(0.8 * font)}" fill="#555555"'}.get(what, "")
        line_height = row if what != "credit" else 0.85 * row
        for i, line in enumerate(lines):
            out.append(f'<text x="{_n(anchor_x)}" y="{_n(y + i * line_height + line_height / 2)}" text-anchor="start" '
                       f'dominant-baseline="central"{direction}{attributes}>{_text(line)}</text>')
        y += step
    out.append("</g>")
    return "\n".join(out)
