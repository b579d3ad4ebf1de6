"""The places page: a map drawn on the server from the gazetteer, with nothing fetched from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

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


def _drawn(svg) -> tuple[dict, dict]:
    """The map's markers: place id -> its own link; place or site id -> the cluster it merged into."""
    alone = {a["data-place"]: a for a in svg.select("a.place")}
    clustered = {member: g for g in svg.select(".map-cluster") for member in g["data-members"].split()}
    return alone, clustered


def test_the_map_draws_every_place_with_coordinates_by_type_with_titles_and_a_legend(as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/places").json()
    page = _soup(client.get("/places"))
    svg = page.select_one("svg#places-map")
    alone, clustered = _drawn(svg)
    sites = {a["data-site"] for a in svg.select("a.site")}  # the accountability sites the viewer may locate
    assert not set(alone) & set(clustered) and not sites & set(clustered)
    assert set(alone) | set(clustered) | sites == ({p["id"] for p in data["places"] if p["map"]}
                                                   | {s["id"] for s in data.get("sites", []) if s["map"]})
    assert len(alone) + len(clustered) > 100 and alone and clustered
    shapes = {"city": "circle", "prison": "rect", "cemetery": "polygon", "mass_grave": "polygon"}
    for place in data["places"]:
        if not place["map"]:
            continue
        if place["id"] in alone:
            marker = alone[place["id"]].select_one(".marker")
            assert marker.name == shapes[place["type"]] and f"marker-{place['type']}" in marker["class"]
            assert marker.select_one("title").get_text() == place["name_en"]
            assert alone[place["id"]]["href"] == f"/places/{place['id']}"
        else:
            cluster = clustered[place["id"]]
            lines = cluster.select_one("title").get_text().split("\n")
            assert place["name_en"] in lines[1:] and lines[0].startswith(cluster["data-count"])
        assert 0 <= place["map"]["x"] <= data["map"]["width"] and 0 <= place["map"]["y"] <= data["map"]["height"]
    for cluster in svg.select(".map-cluster"):
        assert int(cluster["data-count"]) == len(cluster["data-members"].split()) >= 2
        assert cluster.select_one("text").get_text() == cluster["data-count"]
    tehran, rasht = (next(p for p in data["places"] if p["id"] == i)["map"] for i in ("city:tehran", "city:rasht"))
    assert rasht["x"] < tehran["x"] and rasht["y"] < tehran["y"], "Rasht lies north-west of Tehran"
    provinces = svg.select("path.province")
    assert len(provinces) == 31 and all(p["data-province"].startswith("province:") for p in provinces)
    assert svg.select_one("path.outline") is not None and svg.select("g.neighbours path")
    legend = page.select_one("#legend").get_text()
    for label in ("City", "Prison", "Cemetery", "Mass grave", "approximate"):
        assert label in legend
    assert "Named persons per province" in svg.select_one("g.legend").get_text()

    persian = _soup(client.get("/places", params={"lang": "fa"}))
    alone, clustered = _drawn(persian.select_one("svg#places-map"))
    title = (alone["city:tehran"] if "city:tehran" in alone else clustered["city:tehran"]).select_one("title").get_text()
    assert next(p for p in data["places"] if p["id"] == "city:tehran")["name_fa"] == "تهران"
    assert "تهران" in title.split("\n")
    assert persian.select_one("svg#places-map g.legend")["direction"] == "rtl"


def test_the_provinces_are_shaded_by_the_named_persons_their_records_place_there(app, as_role):
    from dadkhah.model import Person, PersonRecord, Place

    client = as_role("viewer")
    data = client.get("/api/v1/places").json()
    with app.state.store.session() as session:
        province = dict(session.execute(sa.select(Place.id, Place.province_now)).all())
        rows = session.execute(
            sa.select(PersonRecord.person_pk, Record.city_place_id)
            .join(Record, sa.and_(Record.source_id == PersonRecord.source_id, Record.record_id == PersonRecord.record_id))
            .join(Person, Person.id == PersonRecord.person_pk)
            .where(Record.superseded_by.is_(None), Person.status == "active")).all()
    persons: dict[str, set] = {}
    for person, city in rows:
        if city and province.get(city):
            persons.setdefault(province[city], set()).add(person)
    expected = {p: len(members) for p, members in persons.items()}
    assert expected and data["persons_by_province"] == expected
    svg = _soup(client.get("/places")).select_one("svg#places-map")
    shaded = {p["data-province"]: int(p["data-value"]) for p in svg.select("path.province[data-value]")}
    assert shaded == {p: n for p, n in expected.items() if p in shaded} and set(shaded) == set(expected) - {"province:khorasan"}
    tehran = svg.select_one('path[data-province="province:tehran"]')
    assert tehran.select_one("title").get_text() == f"Tehran: {expected['province:tehran']:,}"


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
    listed = {p["id"]: p for p in client.get("/api/v1/places").json()["places"]}
    for place_id in ("city:tehran", "prison:evin"):  # counted for the one place as in the list of all
        one = client.get(f"/api/v1/places/{place_id}").json()
        assert (one["records_as_city"], one["records_as_prison"]) == (
            listed[place_id]["records_as_city"], listed[place_id]["records_as_prison"])
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


def _an_unresolved_city(app) -> tuple[str, int]:
    """A city spelling some records give and the gazetteer does not know, and how many give it."""
    with app.state.store.session() as session:
        return session.execute(sa.select(Record.city, sa.func.count()).where(
            Record.city.is_not(None), Record.city_place_id.is_(None)).group_by(Record.city)
            .order_by(sa.func.count().desc(), Record.city)).first()


def test_an_analyst_teaches_a_spelling_from_the_place_page_and_the_records_with_it_resolve(app, as_role):
    spelling, records = _an_unresolved_city(app)
    viewer = as_role("viewer")
    page = _soup(viewer.get("/places/city:tabriz"))
    assert page.select_one("#alias-form") is None, "a viewer is not offered the form"
    refused = viewer.post("/places/city:tabriz/aliases", data={"alias": spelling, "csrf_token": viewer.csrf})
    assert refused.status_code == 403

    listed = viewer.get("/api/v1/places").json()["unknown"]["city"]
    assert listed["unknown"][0] == {"spelling": spelling, "records": records, "close": listed["unknown"][0]["close"]}
    row = _soup(viewer.get("/places")).select("table#unknown-city tbody tr")[0]
    assert [td.get_text() for td in row.select("td")][:2] == [spelling, str(records)]
    for link, close in zip(row.select("a"), listed["unknown"][0]["close"], strict=True):  # to the place, spelling offered
        assert link["href"] == f"/places/{quote(close['place_id'])}?alias={quote(spelling)}"

    analyst = as_role("analyst")
    offered = _soup(analyst.get("/places/city:tabriz", params={"alias": spelling}))
    assert offered.select_one('#alias-form input[name="alias"]')["value"] == spelling
    form = _soup(analyst.get("/places/city:tabriz")).select_one("#alias-form")
    assert form["action"] == "/places/city%3Atabriz/aliases"
    answer = analyst.post(form["action"], data={"alias": spelling, "csrf_token": analyst.csrf})
    assert answer.status_code == 303 and answer.headers["location"] == f"/places/city:tabriz?taught={records}"
    shown = _soup(analyst.get(answer.headers["location"]))
    assert f": {records}." in shown.select_one("#alias-taught").get_text()
    assert spelling in [s.get_text() for s in shown.select("#place-names span")]
    after = viewer.get("/api/v1/places").json()["unknown"]["city"]
    assert spelling not in [u["spelling"] for u in after["unknown"]]
    assert (after["spellings"], after["records"]) == (listed["spellings"] - 1, listed["records"] - records)
    with app.state.store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).where(Record.city == spelling,
                                                               Record.city_place_id == "city:tabriz")) == records

    clash = analyst.post("/places/city:rasht/aliases", data={"alias": spelling, "csrf_token": analyst.csrf})
    assert clash.status_code == 400
    error = BeautifulSoup(clash.text, "html.parser").select_one("#alias-error")
    assert error["data-field"] == "alias" and "already names city:tabriz" in error.get_text()
    api = analyst.post("/api/v1/places/city:rasht/aliases", json={"alias": spelling},
                       headers={"X-CSRF-Token": analyst.csrf})
    assert api.status_code == 400 and api.json()["error"]["field"] == "alias"
    again = analyst.post("/api/v1/places/city:tabriz/aliases", json={"alias": spelling},
                         headers={"X-CSRF-Token": analyst.csrf}).json()
    assert again == {"place_id": "city:tabriz", "alias": spelling, "normalized": again["normalized"], "added": False,
                     "records_resolved": {}, "spellings_resolved": {}}
    assert analyst.post("/api/v1/places/city:nowhere/aliases", json={"alias": "Nowhere"},
                        headers={"X-CSRF-Token": analyst.csrf}).status_code == 404
