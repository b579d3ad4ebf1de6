"""The province map: one self-contained SVG (provinces shaded in classes, neighbours, sea, markers
by kind, crowded markers merged into a counted circle, a legend in English or Persian) that parses
as XML, escapes what came from data and refers to nothing outside itself."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest

from dadkhah.report.boundaries import map_height, province_shapes
from dadkhah.report.maps import (
    KINDS,
    NO_VALUE,
    PALETTE,
    SVG_NAMESPACE,
    class_breaks,
    class_colours,
    class_of,
    cluster_points,
    format_number,
    province_map,
)

NS = {"svg": SVG_NAMESPACE}
PERSIAN_DIGITS = set("۰۱۲۳۴۵۶۷۸۹")
# Markers far apart: Tabriz, Mashhad, Shiraz, Zahedan, Ahvaz.
APART = [
    {"lon": 46.29, "lat": 38.08, "kind": "city", "label": "Tabriz", "href": "/places/city:tabriz", "id": "city:tabriz"},
    {"lon": 59.61, "lat": 36.30, "kind": "prison", "label": "Vakilabad", "id": "prison:vakilabad"},
    {"lon": 52.53, "lat": 29.59, "kind": "cemetery", "label": "Shiraz cemetery", "id": "cemetery:shiraz"},
    {"lon": 60.86, "lat": 29.50, "kind": "mass_grave", "label": "Zahedan grave", "id": "mass_grave:zahedan"},
    {"lon": 48.67, "lat": 31.32, "kind": "site", "label": "Ahvaz site", "id": "S-000001", "count": 1234},
]
# Tehran and four places within a few kilometres of it: one cluster of five at width 800.
CROWD = [
    {"lon": 51.42, "lat": 35.69, "kind": "city", "label": "Tehran", "id": "city:tehran"},
    {"lon": 51.39, "lat": 35.80, "kind": "prison", "label": "Evin", "id": "prison:evin"},
    {"lon": 51.49, "lat": 35.62, "kind": "cemetery", "label": "Behesht-e Zahra", "id": "cemetery:behesht-e-zahra"},
    {"lon": 51.60, "lat": 35.66, "kind": "mass_grave", "label": "Khavaran", "id": "mass_grave:khavaran"},
    {"lon": 51.45, "lat": 35.71, "kind": "site", "label": "Site", "id": "S-000009"},
]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def values() -> dict[str, int]:
    """A skewed count per province, like named victims: Tehran far ahead, some provinces with none."""
    provinces = sorted(province_shapes())
    counts = {p: 3 * i + 1 for i, p in enumerate(provinces)}
    counts["province:tehran"] = 2345
    for p in provinces[:3]:
        counts[p] = 0
    return counts


def provinces(root: ET.Element) -> dict[str, ET.Element]:
    return {p.get("data-province"): p for p in root.iterfind(".//svg:g[@class='provinces']/svg:path", NS)}


def test_the_svg_parses_and_draws_every_province_neighbours_and_the_sea():
    svg = province_map(values(), APART, legend_title="Named victims per province")
    root = parse(svg)
    assert root.tag == f"{{{SVG_NAMESPACE}}}svg"
    assert root.get("role") == "img" and root.get("viewBox") == f"0 0 800 {map_height(width=800):g}"
    assert root.find("svg:title", NS).text and root.find("svg:desc", NS).text
    assert root.get("aria-labelledby") == "map-title map-desc"
    shapes = provinces(root)
    assert set(shapes) == set(province_shapes()) and len(shapes) == 31
    for province_id, path in shapes.items():
        assert path.get("id") == "map-" + province_id.replace(":", "-")
        assert path.get("d").startswith("M") and path.get("fill-rule") is None  # the group's evenodd applies
    assert shapes["province:tehran"].find("svg:title", NS).text == "Tehran: 2,345"
    assert shapes["province:alborz"].find("svg:title", NS).text == "Alborz: None recorded"
    neighbours = {p.get("data-country") for p in root.iterfind(".//svg:g[@class='neighbours']/svg:path", NS)}
    assert {"IRQ", "TUR", "AFG", "PAK", "TKM"} <= neighbours
    assert root.find("svg:rect[@class='sea']", NS) is not None
    assert root.find("svg:path[@class='outline']", NS) is not None
    ids = [e.get("id") for e in root.iter() if e.get("id")]
    assert len(ids) == len(set(ids))


def test_values_land_in_their_classes():
    data = values()
    classes = class_breaks(data.values())
    assert len(classes) == 5
    assert classes[0][0] == min(v for v in data.values() if v > 0) and classes[-1][1] == 2345
    for (_, high), (low, _) in zip(classes, classes[1:], strict=False):
        assert low == high + 1  # counts: ranges of whole numbers, meeting without overlap
    shapes = provinces(parse(province_map(data, [])))
    colours = class_colours(5)
    assert colours == list(PALETTE)
    for province_id, value in data.items():
        path = shapes[province_id]
        if value == 0:
            assert path.get("fill") == NO_VALUE and path.get("data-class") is None
            continue
        index = int(path.get("data-class")) - 1
        low, high = classes[index]
        assert low <= value <= high and path.get("fill") == colours[index] and path.get("data-value") == str(value)
    # each class holds some provinces: quantiles spread them
    counts = [sum(1 for v in data.values() if class_of(v, classes) == i) for i in range(5)]
    assert all(counts) and sum(counts) == 28


def test_class_breaks_are_round_numbers_and_few_values_give_few_classes():
    assert class_breaks([]) == [] and class_breaks([None, 0]) == []
    assert class_breaks([7, 7, 7]) == [(7, 7)]
    assert class_breaks([3, 40, 1200]) == [(3, 30), (31, 400), (401, 1200)]
    skewed = class_breaks([1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597])
    assert [high for _, high in skewed[:-1]] == [5, 20, 80, 400]  # quantiles 5, 21, 89, 377, rounded
    assert skewed[-1] == (401, 1597)
    rates = class_breaks([0.12, 0.3, 0.45, 0.8, 1.7, 2.2, 3.9])
    assert rates[0][0] == 0.12 and rates[-1][1] == 3.9
    assert all(b in (0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 2.5, 3) for _, b in rates[:-1])
    assert class_of(0.3, rates) == next(i for i, (_, high) in enumerate(rates) if 0.3 <= high)
    assert class_of(None, rates) is None and class_of(0, rates) is None
    assert class_colours(3) == [PALETTE[0], PALETTE[2], PALETTE[4]]


def test_the_palette_darkens_class_by_class_so_it_reads_in_grey():
    def lightness(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        y = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
        return 116 * y ** (1 / 3) - 16

    steps = [lightness(c) for c in (NO_VALUE, *PALETTE)]
    assert all(a - b >= 10 for a, b in zip(steps, steps[1:], strict=False)), steps


def test_markers_are_drawn_by_kind_with_their_titles_links_and_data():
    root = parse(province_map(None, APART))
    drawn = {m.get("data-id"): m for m in root.iterfind(".//svg:g[@class='markers']/*", NS)}
    assert set(drawn) == {m["id"] for m in APART}
    shapes = {"city": "circle", "prison": "rect", "cemetery": "polygon", "mass_grave": "polygon", "site": "polygon"}
    points = set()
    for marker in APART:
        wrapper = drawn[marker["id"]]
        shape = wrapper.find("*", NS)
        assert shape.tag == f"{{{SVG_NAMESPACE}}}{shapes[marker['kind']]}"
        assert f"marker-{marker['kind']}" in shape.get("class") and shape.get("fill") == KINDS[marker["kind"]][0]
        assert shape.find("svg:title", NS).text.startswith(marker["label"])
        assert wrapper.get("data-kind") == marker["kind"]
        points.add(shape.get("points"))
    assert len(points) == 4  # the three polygons differ (and rect and circle have none)
    assert drawn["city:tabriz"].tag == f"{{{SVG_NAMESPACE}}}a" and drawn["city:tabriz"].get("href") == "/places/city:tabriz"
    assert drawn["prison:vakilabad"].tag == f"{{{SVG_NAMESPACE}}}g"  # no link, no <a>
    assert drawn["S-000001"].find("*/svg:title", NS).text == "Ahvaz site (1,234)"
    legend = "".join(root.find(".//svg:g[@class='legend']", NS).itertext())
    for word in ("City", "Prison", "Cemetery", "Mass grave", "Site"):
        assert word in legend
    assert "close together" not in legend  # no cluster, no key for one


def test_markers_may_carry_classes_and_data_attributes_and_leave_out_what_is_off_the_map():
    markers = [{**APART[0], "class": "place", "data": {"place": "city:tabriz"}},
               {"lon": 10.0, "lat": 50.0, "kind": "city", "label": "Off the map"},
               {"lon": None, "lat": 30.0, "kind": "city", "label": "Nowhere"}]
    root = parse(province_map(None, markers))
    drawn = list(root.iterfind(".//svg:g[@class='markers']/*", NS))
    assert len(drawn) == 1 and drawn[0].get("class") == "map-marker place" and drawn[0].get("data-place") == "city:tabriz"
    with pytest.raises(ValueError, match="within the site"):
        province_map(None, [{**APART[0], "href": "https://example.org/"}])
    with pytest.raises(ValueError, match="within the site"):
        province_map(None, [{**APART[0], "href": "javascript:alert(1)"}])
    with pytest.raises(ValueError, match="class name"):
        province_map(None, [{**APART[0], "class": 'x" onload="y'}])


def test_crowded_markers_merge_into_one_counted_circle_naming_each():
    root = parse(province_map(None, CROWD + APART))
    clusters = list(root.iterfind(".//svg:g[@class='markers']/*[@class='map-cluster']", NS))
    assert len(clusters) == 1
    cluster = clusters[0]
    assert cluster.get("data-count") == "5" and cluster.find("svg:text", NS).text == "5"
    assert sorted(cluster.get("data-members").split()) == sorted(m["id"] for m in CROWD)
    lines = cluster.find("svg:title", NS).text.split("\n")
    assert lines[0] == "5 places close together:" and sorted(lines[1:]) == sorted(m["label"] for m in CROWD)
    singles = {m.get("data-id") for m in root.iterfind(".//svg:g[@class='markers']/*[@data-id]", NS)}
    assert singles == {m["id"] for m in APART}
    assert "Places close together" in "".join(root.find(".//svg:g[@class='legend']", NS).itertext())


def test_clustering_leaves_no_two_centres_closer_than_the_distance_and_does_not_depend_on_order():
    import random

    rng = random.Random(1988)
    points = [(round(rng.uniform(0, 300), 1), round(rng.uniform(0, 300), 1)) for _ in range(400)]
    groups = cluster_points(points, 12.0)
    assert sorted(i for g in groups for i in g) == list(range(400))
    centres = [(sum(points[i][0] for i in g) / len(g), sum(points[i][1] for i in g) / len(g)) for g in groups]
    assert all(math.dist(a, b) >= 12.0 for n, a in enumerate(centres) for b in centres[n + 1:])
    assert any(len(g) > 2 for g in groups) and any(len(g) == 1 for g in groups)
    # the map sorts its markers before clustering: shuffled input, the same SVG
    shuffled = (CROWD + APART)[::-1]
    assert province_map(values(), shuffled) == province_map(values(), CROWD + APART)
    # a wider map scales the distance with the markers: the same groups
    wide = parse(province_map(None, CROWD + APART, width=2480))
    assert [c.get("data-count") for c in wide.iterfind(".//*[@class='map-cluster']", NS)] == ["5"]


def test_a_hostile_label_is_escaped_everywhere():
    hostile = "<script>alert('x')</script> & \"quoted\" \x00\x1b"
    markers = [{**APART[0], "label": hostile, "id": 'id" onmouseover="x', "data": {"note": "<b>&"}},
               {**CROWD[0], "label": hostile}, {**CROWD[1], "label": "Evin & <Co>"}]
    svg = province_map({"province:tehran": 5}, markers, title=hostile, legend_title=hostile,
                       labels={"provinces": {"province:tehran": hostile}, "city": hostile})
    root = parse(svg)  # well formed: the NUL and escape characters are gone
    assert "<script" not in svg and "\x00" not in svg and "\x1b" not in svg
    assert not any(e.tag.endswith("script") for e in root.iter())
    assert not any(name.startswith("on") for e in root.iter() for name in e.attrib)
    texts = [t for e in root.iter() for t in (e.text,) if t]
    assert "<script>alert('x')</script> & \"quoted\" " in texts  # the root's title, as text
    single = root.find(".//*[@data-id]", NS)
    assert single.get("data-id") == 'id" onmouseover="x' and single.get("data-note") == "<b>&"
    cluster = root.find(".//*[@class='map-cluster']", NS)
    assert "Evin & <Co>" in cluster.find("svg:title", NS).text.split("\n")
    assert provinces(root)["province:tehran"].find("svg:title", NS).text.startswith("<script>")


def test_the_persian_legend_is_right_to_left_with_persian_digits():
    svg = province_map(values(), CROWD + APART, language="fa", legend_title="قربانیان نام‌برده در هر استان")
    root = parse(svg)
    legend = root.find(".//svg:g[@class='legend']", NS)
    assert legend.get("direction") == "rtl"
    words = [t for t in legend.iterfind("svg:text", NS) if t.get("text-anchor") != "middle"]  # not the key's "3"
    texts = [t.text for t in words]
    assert texts[0] == "قربانیان نام‌برده در هر استان"
    ranges = texts[1:6]
    assert all(" تا " in r and not re.search(r"[0-9]", r) and set(r) & PERSIAN_DIGITS for r in ranges)
    assert ranges[-1].endswith("۲٬۳۴۵")  # Persian digits, Persian thousands separator
    assert "ثبت نشده" in texts and "شهر" in texts and "زندان" in texts
    assert all(t.get("direction") == "rtl" and t.get("text-anchor") == "start" for t in words)
    assert legend.find("svg:text[@text-anchor='middle']", NS).text == "۳"
    cluster = root.find(".//*[@class='map-cluster']", NS)
    assert cluster.find("svg:text", NS).text == "۵" and cluster.find("svg:title", NS).text.startswith("۵ مکان")
    assert provinces(root)["province:tehran"].find("svg:title", NS).text == "تهران: ۲٬۳۴۵"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "fa"
    # keys on the right of their words: mirrored against the English legend
    english = parse(province_map(values(), CROWD + APART)).find(".//svg:g[@class='legend']", NS)
    fa_key = float(legend.find("svg:rect[@class='legend-key']", NS).get("x"))
    en_key = float(english.find("svg:rect[@class='legend-key']", NS).get("x"))
    assert fa_key > en_key


def test_numbers_are_written_for_the_language():
    assert format_number(1234567) == "1,234,567" and format_number(2.5) == "2.5" and format_number(3.0) == "3"
    assert format_number(1234567, "fa") == "۱٬۲۳۴٬۵۶۷" and format_number(2.5, "fa") == "۲٫۵"


def test_the_svg_refers_to_nothing_outside_itself():
    svg = province_map(values(), CROWD + APART)
    assert re.findall(r"https?://[^\s\"']*", svg) == [SVG_NAMESPACE]
    root = parse(svg)
    for element in root.iter():
        assert element.tag.split("}")[1] not in ("script", "image", "use", "foreignObject", "style", "a") or (
            element.get("href", "").startswith("/"))
        assert element.get("style") is None and "url(" not in "".join(element.attrib.values())
    assert root.get("font-family").startswith("system-ui")
    inline = province_map(values(), CROWD + APART, standalone=False, element_id="places-map")
    assert "http" not in inline and 'id="places-map"' in inline and 'id="places-map-province-tehran"' in inline


def test_no_values_and_no_markers_draw_the_plain_map_and_legend_can_be_left_out():
    root = parse(province_map(None, []))
    assert all(p.get("fill") == NO_VALUE for p in provinces(root).values())
    legend = "".join(root.find(".//svg:g[@class='legend']", NS).itertext())
    assert "Natural Earth" in legend and "None recorded" not in legend  # the credit only
    bare = parse(province_map(None, [], legend=False))
    assert bare.find(".//svg:g[@class='legend']", NS) is None
    with pytest.raises(ValueError):
        province_map(None, [], language="de")
