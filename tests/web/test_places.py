"""The places page: a map drawn on the server from the gazetteer, with nothing fetched from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from dadkhah.model import Record

OUTSIDE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)  # any scheme, or protocol-relative
STATIC = Path(__file__).parents[2] / "src" / "dadkhah" / "web" / "static"


def _soup(answer) -> BeautifulSoup:
    assert answer.status_code == 200, answer.text[:500]
    return BeautifulSoup(answer.text, "html.parser")


def test_the_places_table_and_its_json_twin_agree_with_the_records(app, as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/places").json()
    page = _soup(client.get("/places"))
    rows = page.select("table#places tbody tr")
    assert [r["data-place"] for r in rows] == [p["id"] for p in data["places"]]
    assert {p["type"] for p in data["places"]} == {"city", "prison", "cemetery", "mass_grave"}
    with app.state.store.session() as session:
        per_city = dict(session.execute(sa.select(Record.city_place_id, sa.func.count()).where(
            Record.city_place_id.is_not(None), Record.superseded_by.is_(None)).group_by(Record.city_place_id)).all())
    by_id = {p["id"]: p for p in data["places"]}
    assert {pid: p["records_as_city"] for pid, p in by_id.items() if p["records_as_city"]} == per_city
    for row in rows:
        place = by_id[row["data-place"]]
        if place["type"] == "city":
            assert row.select_one("td.as-city").get_text(strip=True) == str(place["records_as_city"])
    tehran = page.select_one('tr[data-place="city:tehran"] td.as-city a')["href"]
    assert tehran == "/persons?city=city%3Atehran"
    assert client.get(tehran).status_code == 200


def test_the_map_draws_every_place_with_coordinates_by_type_with_titles_and_a_legend(as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/places").json()
    page = _soup(client.get("/places"))
    svg = page.select_one("svg#places-map")
    drawn = {a["data-place"]: a for a in svg.select("a.place")}
    assert set(drawn) == {p["id"] for p in data["places"] if p["map"]}
    assert len(drawn) > 100
    shapes = {"city": "circle", "prison": "rect", "cemetery": "polygon", "mass_grave": "polygon"}
    for place in data["places"]:
        if not place["map"]:
            continue
        marker = drawn[place["id"]].select_one(".marker")
        assert marker.name == shapes[place["type"]] and f"place-{place['type']}" in marker["class"]
        assert marker.select_one("title").get_text() == place["name_en"]
        assert 0 <= place["map"]["x"] <= data["map"]["width"] and 0 <= place["map"]["y"] <= data["map"]["height"]
    tehran, rasht = (next(p for p in data["places"] if p["id"] == i)["map"] for i in ("city:tehran", "city:rasht"))
    assert rasht["x"] < tehran["x"] and rasht["y"] < tehran["y"], "Rasht lies north-west of Tehran"
    outline = svg.select_one("polygon.iran-outline")
    assert "approximate" in outline.select_one("title").get_text()
    assert len(outline["points"].split()) >= 30
    legend = page.select_one("#legend").get_text()
    for label in ("City", "Prison", "Cemetery", "Mass grave", "approximate"):
        assert label in legend

    persian = _soup(client.get("/places", params={"lang": "fa"}))
    title = persian.select_one('svg#places-map a[data-place="city:tehran"] title').get_text()
    assert title == next(p["name_fa"] for p in data["places"] if p["id"] == "city:tehran") == "تهران"


def test_the_places_page_refers_to_nothing_outside_the_app(as_role):
    client = as_role("viewer")
    for path in ("/places", "/places?lang=fa", "/places/city:tehran"):
        answer = client.get(path)
        page = _soup(answer)
        for element in page.find_all(True):
            for attribute in ("src", "href", "xlink:href", "action", "data", "xmlns", "srcset", "poster"):
                value = element.get(attribute)
                if value is not None:
                    assert not OUTSIDE.match(value), (path, element.name, attribute, value)
            assert element.get("style") is None, "no inline style attributes: the CSP forbids them"
            assert not any(name.startswith("on") for name in element.attrs), "no inline handlers"
        assert not page.select("img, image, iframe, object, embed, use, foreignObject, script:not([src])")
        assert "http://" not in answer.text and "https://" not in answer.text
        assert "default-src 'none'" in answer.headers["content-security-policy"]
    stylesheet = client.get("/static/places.css")
    assert stylesheet.status_code == 200 and "url(" not in stylesheet.text and "@import" not in stylesheet.text
    assert (STATIC / "places.css").read_text(encoding="utf-8") == stylesheet.text


def test_one_place_has_its_page_and_twin_and_unknown_places_are_404(as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/places/city:tehran").json()
    assert data["type"] == "city" and data["records_as_city"] > 0 and "تهران" in data["names"]
    page = _soup(client.get("/places/city:tehran"))
    assert page.select_one("#place-id").get_text() == "city:tehran"
    assert page.select_one("#records-as-city").get_text().startswith(str(data["records_as_city"]))
    assert page.select_one("svg .place-city title").get_text() == "Tehran"
    prison = client.get("/api/v1/places/prison:evin").json()
    assert prison["type"] == "prison" and prison["parent_id"] == "city:tehran"
    assert {w["id"] for w in data["within"]} >= {"prison:evin"}
    assert client.get("/places/city:atlantis").status_code == 404
    assert client.get("/api/v1/places/city:atlantis").status_code == 404


def test_places_need_a_login(app):
    anonymous = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    assert anonymous.get("/places").headers["location"] == "/login"
    assert anonymous.get("/api/v1/places").status_code == 401
    assert anonymous.get("/api/v1/places/city:tehran").status_code == 401
