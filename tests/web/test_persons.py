"""The persons pages: search in either script with filters and pages; one person side by side."""

from __future__ import annotations

import csv

import pytest
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from dadkhah.normalize.names import token_key
from tests.conftest import TESTER


def _soup(answer) -> BeautifulSoup:
    assert answer.status_code == 200, answer.text[:500]
    return BeautifulSoup(answer.text, "html.parser")


def _hit_ids(page: BeautifulSoup) -> list[str]:
    return [row.select_one("td.person-id").get_text(strip=True) for row in page.select("table#hits tr.hit")]


def _persons_written_in_one_script(client, small_case) -> dict[str, list[tuple[str, str, str]]]:
    """script -> [(person id, given, family in the other script)] for persons whose records all use one
    script and carry the victim's names without a typo; the other spelling comes from the synthetic population."""
    with open(small_case / "population.csv", encoding="utf-8") as handle:
        population = {row["person_id"]: row for row in csv.DictReader(handle)}
    with open(small_case / "truth.csv", encoding="utf-8") as handle:
        truth = {(row["source"], row["record_id"]): row["person_id"] for row in csv.DictReader(handle)}
    found: dict[str, list] = {"fa": [], "latin": []}
    candidates, page = [], 1
    while True:
        listed = client.get("/api/v1/persons", params={"per_page": 200, "page": page}).json()
        for hit in listed["persons"]:
            if bool(hit["name_fa"]) != bool(hit["name_latin"]):
                candidates.append((hit["person_id"], "fa" if hit["name_fa"] else "latin"))
        if not listed["has_next"]:
            break
        page += 1
    for person_id, script in candidates:
        if len(found[script]) >= 8:
            continue
        person = client.get(f"/api/v1/persons/{person_id}").json()
        records = person["records"]
        victims = {truth[(r["source"], r["record_id"])] for r in records}
        if len(victims) != 1:
            continue
        victim = population[victims.pop()]
        given, family = ((victim["given_name_latin"], victim["family_name_latin"]) if script == "fa"
                         else (victim["given_name"], victim["family_name"]))
        if all((r["given_name"] or {}).get("key") == token_key(given) and (r["family_name"] or {}).get("key") == token_key(family)
               for r in records):
            found[script].append((person["person_id"], given, family))
    return found


def test_the_search_page_and_its_json_twin_agree(as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/persons", params={"q": "Ali", "per_page": 200}).json()
    page = _soup(client.get("/persons", params={"q": "Ali", "per_page": 200}))
    assert data["persons"] and _hit_ids(page) == [p["person_id"] for p in data["persons"]]
    for row, hit in zip(page.select("table#hits tr.hit"), data["persons"], strict=True):
        names = row.select_one("td.names")
        if hit["name_fa"]:
            assert names.select_one(".name-fa").get_text(strip=True) == hit["name_fa"]
        if hit["name_latin"]:
            assert names.select_one(".name-latin").get_text(strip=True) == hit["name_latin"]
        assert row.select_one("td.city").get_text(strip=True) == (hit["city"]["name_en"] if hit["city"] else "")
        assert row.select_one("td.sources").get_text(strip=True) == ", ".join(hit["sources"])
        assert row.select_one("td.records").get_text(strip=True) == str(hit["records"])
    assert page.select_one("input[name=q]")["value"] == "Ali"


def test_a_latin_query_finds_persian_script_records_and_back(as_role, small_case):
    client = as_role("viewer")
    found = _persons_written_in_one_script(client, small_case)
    assert len(found["fa"]) >= 3 and len(found["latin"]) >= 3, found
    for script in ("fa", "latin"):
        for person_id, given, family in found[script][:5]:
            query = f"{given} {family}"
            ids = [p["person_id"] for p in client.get("/api/v1/persons", params={"q": query, "per_page": 200}).json()["persons"]]
            assert person_id in ids, f"{query!r} should find {person_id}, whose records are all in {script} script"
            assert person_id in _hit_ids(_soup(client.get("/persons", params={"q": query, "per_page": 200})))


def test_filters_narrow_the_search_and_the_form_offers_cities_and_sources(as_role):
    client = as_role("viewer")
    page = _soup(client.get("/persons"))
    cities = {o["value"] for o in page.select("select[name=city] option") if o["value"]}
    sources = {o["value"] for o in page.select("select[name=source] option") if o["value"]}
    assert "city:tehran" in cities and sources == {"list-1", "list-2", "list-3", "list-4"}

    everyone = client.get("/api/v1/persons", params={"per_page": 200}).json()
    in_tehran = client.get("/api/v1/persons", params={"city": "city:tehran", "per_page": 200}).json()["persons"]
    assert 0 < len(in_tehran) < len(everyone["persons"])
    for hit in in_tehran[:10]:
        person = client.get(f"/api/v1/persons/{hit['person_id']}").json()
        assert any((r["city"] or {}).get("place_id") == "city:tehran" for r in person["records"])

    on_list_2 = client.get("/api/v1/persons", params={"source": "list-2", "per_page": 200}).json()["persons"]
    assert on_list_2 and all("list-2" in hit["sources"] for hit in on_list_2)

    iso = client.get("/api/v1/persons", params={"death_from": "1988-08-06", "death_to": "1988-08-06", "per_page": 200}).json()
    jalali = client.get("/api/v1/persons", params={"death_from": "1367/05/15", "death_to": "1367/05/15", "per_page": 200}).json()
    assert iso["persons"] and iso["persons"] == jalali["persons"]
    assert iso["death_from"] == jalali["death_from"] == "1988-08-06"
    for hit in iso["persons"]:
        assert hit["death_earliest"] <= "1988-08-06" <= hit["death_latest"]

    combined = client.get("/persons", params={"q": "علی", "city": "city:tehran", "source": "list-1"})
    form = _soup(combined)
    assert form.select_one("select[name=city] option[selected]")["value"] == "city:tehran"
    assert form.select_one("select[name=source] option[selected]")["value"] == "list-1"


def test_pages_have_next_and_previous_links_that_keep_the_search(as_role):
    client = as_role("viewer")
    first = client.get("/api/v1/persons", params={"q": "Ali", "per_page": 5}).json()
    second = client.get("/api/v1/persons", params={"q": "Ali", "per_page": 5, "page": 2}).json()
    both = client.get("/api/v1/persons", params={"q": "Ali", "per_page": 10}).json()
    assert first["has_next"] and first["page"] == 1 and first["per_page"] == 5
    assert [p["person_id"] for p in first["persons"] + second["persons"]] == [p["person_id"] for p in both["persons"]]
    page = _soup(client.get("/persons", params={"q": "Ali", "per_page": 5}))
    following = page.select_one("a[rel=next]")["href"]
    assert "q=Ali" in following and "page=2" in following and "per_page=5" in following
    assert page.select_one("a[rel=prev]") is None
    assert _hit_ids(_soup(client.get(following))) == [p["person_id"] for p in second["persons"]]
    beyond = client.get("/api/v1/persons", params={"q": "Ali", "per_page": 200, "page": 50}).json()
    assert beyond["persons"] == [] and not beyond["has_next"]
    for bad in ({"per_page": 0}, {"per_page": 201}, {"page": 0}, {"page": "x"}):
        assert client.get("/api/v1/persons", params=bad).status_code == 422
        assert client.get("/persons", params=bad).status_code == 422


def test_bad_filters_answer_400_with_the_field_and_the_page_says_why(as_role):
    client = as_role("viewer")
    answer = client.get("/api/v1/persons", params={"death_from": "next tuesday"})
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "death_from"
    answer = client.get("/api/v1/persons", params={"city": "city:atlantis"})
    assert answer.status_code == 400 and answer.json()["error"]["field"] == "city"
    page = client.get("/persons", params={"death_from": "next tuesday"})
    assert page.status_code == 400
    assert "next tuesday" in BeautifulSoup(page.text, "html.parser").select_one("#search-error").get_text()


def test_a_person_id_in_the_search_box_finds_that_person(as_role):
    client = as_role("viewer")
    for written in ("P-000003", "p3"):
        assert [p["person_id"] for p in client.get("/api/v1/persons", params={"q": written}).json()["persons"]] == ["P-000003"]


def _person_with_conflicts(client) -> dict:
    for number in range(1, 200):
        person = client.get(f"/api/v1/persons/P-{number:06d}").json()
        if person.get("status") == "active" and person["conflicts"] and len(person["records"]) >= 2:
            return person
    pytest.fail("the served case should have a person whose records disagree")


def test_the_person_page_shows_every_record_side_by_side_with_conflicts_marked(as_role):
    client = as_role("viewer")
    person = _person_with_conflicts(client)
    page = _soup(client.get(f"/persons/{person['person_id']}"))
    assert page.select_one("#person-id").get_text(strip=True) == person["person_id"]
    headers = [th["data-record"] for th in page.select("table#comparison thead th[data-record]")]
    assert headers == [f"{r['source']}:{r['record_id']}" for r in person["records"]]
    rows = {tr["data-field"]: tr for tr in page.select("table#comparison tbody tr")}
    assert set(rows) == {row["field"] for row in person["comparison"]}
    # each value takes its own direction: on a Persian page "19 August 1988" read "August 1988 19"
    assert {td.get("dir") for td in page.select("table#comparison td[data-record]")} == {"auto"}
    for row in person["comparison"]:
        cells = rows[row["field"]].select("td")
        for cell, value in zip(cells, row["values"], strict=True):
            assert cell.get_text(strip=True) == (value["value"] or "").strip()
            marked = "conflict" in (cell.get("class") or [])
            assert marked == (row["conflict"] and value["value"] is not None), (row["field"], value)
    assert {span["data-field"] for span in page.select("#conflicts .conflict")} == set(person["conflicts"])
    assert len(page.select("details.record")) == len(person["records"])
    first_raw = person["records"][0]["raw"]
    raw_cells = page.select("details.record")[0].select("table.raw tbody td")
    assert [c.get_text() for c in raw_cells[1::2]] == list(first_raw.values())
    events = page.select("table#events tbody tr")
    assert len(events) == len(person["events"]) >= 1


def test_testimonies_and_evidence_show_only_to_those_who_may_see_the_vault(as_role):
    viewer = as_role("viewer").get("/api/v1/persons/P-000001").json()
    assert "testimonies" not in viewer and "evidence" not in viewer
    analyst_page = as_role("analyst").get("/persons/P-000001").text
    for text in ("T-0001", "E-000001", "/testimonies/", "/evidence/", "Synthetic Witness"):
        assert text not in analyst_page and text not in as_role("viewer").get("/persons/P-000001").text

    investigator = as_role("investigator")
    data = investigator.get("/api/v1/persons/P-000001").json()
    assert [t["id"] for t in data["testimonies"]] == ["T-0001"]
    assert data["testimonies"][0]["witness"].startswith("W-")
    assert [(e["id"], e["description"]) for e in data["evidence"]] == [("E-000001", "synthetic ledger page")]
    page = _soup(investigator.get("/persons/P-000001"))
    links = {a["href"] for a in page.select("#vault-links a")}
    assert links == {"/testimonies/T-0001", "/evidence/E-000001"}
    assert data["testimonies"][0]["witness"] in page.select_one("#testimonies").get_text()
    assert "Synthetic Witness" not in page.text, "witnesses appear by pseudonym only"
    other = investigator.get("/api/v1/persons/P-000002").json()
    assert other["testimonies"] == [] and other["evidence"] == []


def test_a_merged_person_redirects_to_the_survivor_and_unknown_ids_are_404(app, as_role):
    import sqlalchemy as sa

    from dadkhah.link.review import decide
    from dadkhah.link.run import run_linkage
    from dadkhah.model import Person, PersonRecord, Source

    store = app.state.store
    with store.session() as session:
        refs = []
        for person_id in ("P-000001", "P-000002"):
            source, record_id = session.execute(
                sa.select(Source.name, PersonRecord.record_id).join(Source, Source.id == PersonRecord.source_id)
                .join(Person, Person.id == PersonRecord.person_pk).where(Person.person_id == person_id)
                .order_by(PersonRecord.record_id).limit(1)).one()
            refs.append(f"{source}:{record_id}")
        decide(store, "same", actor=TESTER, reason="synthetic test", records=tuple(refs))
    run_linkage(store, actor=TESTER)
    client = as_role("investigator")
    answer = client.get("/persons/P-000002")
    assert answer.status_code == 303 and answer.headers["location"] == "/persons/P-000001"
    data = client.get("/api/v1/persons/P-000002").json()
    assert data["status"] == "merged" and data["merged_into"] == "P-000001" and "records" not in data
    assert [p["person_id"] for p in client.get("/api/v1/persons", params={"q": "P-000002"}).json()["persons"]] == ["P-000001"]
    survivor = _soup(client.get("/persons/P-000001"))
    assert "P-000002" in survivor.select_one("table#events").get_text()

    assert client.get("/persons/P-999999").status_code == 404
    missing = client.get("/api/v1/persons/P-999999")
    assert missing.status_code == 404 and "P-999999" in missing.json()["error"]["message"]


def test_persons_need_a_login(app):
    anonymous = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    assert anonymous.get("/persons").status_code == 303
    assert anonymous.get("/persons/P-000001").headers["location"] == "/login"
    assert anonymous.get("/api/v1/persons").status_code == 401
    assert anonymous.get("/api/v1/persons/P-000001").status_code == 401


def test_persian_pages_show_persian_city_names_and_jalali_dates(as_role):
    client = as_role("viewer")
    data = client.get("/api/v1/persons", params={"city": "city:tehran", "per_page": 3}).json()
    page = _soup(client.get("/persons", params={"city": "city:tehran", "per_page": 3, "lang": "fa"}))
    assert page.html["dir"] == "rtl"
    row = page.select("table#hits tr.hit")[0]
    assert row.select_one("td.city").get_text(strip=True) == "تهران"
    if data["persons"][0]["death_earliest"]:
        assert data["persons"][0]["death_earliest"] in row.select_one("td.death").get_text(), "Gregorian beside Jalali"
        assert "۱۳۶" in row.select_one("td.death").get_text()
