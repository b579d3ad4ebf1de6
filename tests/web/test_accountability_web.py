"""Who did what, in the browser and through the API: officials, institutions on a date, acts, sites
and the person page's sections, on each database, with the hand-written set of tests/accountability;
claims added and reviewed through forms and the API; and a hidden site's coordinates reaching no one
but investigators, on any page or answer."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup

from dadkhah.accountability import import_accountability
from dadkhah.audit import list_audit
from dadkhah.ingest.importer import import_file
from dadkhah.model import Person, PersonRecord, Source
from dadkhah.store import open_store
from dadkhah.users import ROLES, add_user
from dadkhah.web import WebSettings, create_app
from tests.accountability.conftest import VICTIMS, write_set
from tests.conftest import TESTER, write
from tests.registry.test_persons import run
from tests.web.conftest import PASSWORD, login

HIDDEN = ("37.123456", "49.654321")  # G-HID: publication hidden
CITY = ("37.21", "49.61")  # G-CITY: publication city, coordinates to investigators only


@pytest.fixture
def app(workspace, database_url, tmp_path):
    """The hand-written set over its eight victims (each record a person of its own), a user per role."""
    with open_store(workspace) as store:
        import_file(store, write(tmp_path / "victims.csv", VICTIMS), source="s", actor=TESTER)
        import_accountability(store, write_set(tmp_path / "accountability"), actor=TESTER, source="report-1")
        with store.session() as session:
            source_id = session.scalar(sa.select(Source.id).where(Source.name == "s"))
        run(store, {(source_id, f"V{i}"): i for i in range(1, 9)})
        for role in ROLES:
            add_user(store, role, actor=TESTER, role=role, password=PASSWORD)
    application = create_app(WebSettings(workspace=workspace.path, database_url=database_url))
    yield application
    application.state.store.close()


@pytest.fixture
def as_role(app):
    clients = {}

    def make(role: str):
        if role not in clients:
            clients[role] = login(app, role)
        return clients[role]

    return make


def _page(answer, status: int = 200) -> BeautifulSoup:
    assert answer.status_code == status, answer.text[:1000]
    return BeautifulSoup(answer.text, "html.parser")


def _json(answer, status: int = 200) -> dict:
    assert answer.status_code == status, answer.text[:1000]
    return answer.json()


def _person(app, record_id: str) -> str:
    with app.state.store.session() as session:
        return session.scalar(sa.select(Person.person_id).join(PersonRecord, PersonRecord.person_pk == Person.id)
                              .where(PersonRecord.record_id == record_id))


def _post(client, path: str, data: dict):
    return client.post(path, data={"csrf_token": client.csrf, **data})


def _api(client, path: str, body: dict):
    return client.post(path, json=body, headers={"X-CSRF-Token": client.csrf})


def test_officials_list_and_dossier_agree_with_their_twins(as_role, app):
    client = as_role("viewer")
    listed = _json(client.get("/api/v1/officials"))
    assert listed["total"] == 3 and [o["external_id"] for o in listed["items"]] == ["OF1", "OF2", "OF3"]
    page = _page(client.get("/officials"))
    assert [tr["data-entity"] for tr in page.select("table#entities tbody tr")] == [o["id"] for o in listed["items"]]
    for query in ("کامران تستاری", "Kamran Testary", "OF1", "O-000001"):
        found = _json(client.get("/api/v1/officials", params={"q": query}))
        assert [o["id"] for o in found["items"]] == ["O-000001"], query
    assert [tr["data-entity"] for tr in _page(client.get("/officials", params={"q": "کامران تستاری"}))
            .select("table#entities tbody tr")] == ["O-000001"]

    dossier = _json(client.get("/api/v1/officials/OF1"))
    assert dossier["official"]["id"] == "O-000001" and dossier["acts_total"] == 2
    assert [p["role"] for p in dossier["posts"]] == ["judge", "head of a national court"]
    assert (dossier["victims"]["named_total"], dossier["victims"]["unnamed_total"]) == (3, 3)
    page = _page(client.get("/officials/OF1"))
    assert page.select_one("#official-id").text == "O-000001"
    posts = page.select("table#posts tbody tr")
    assert [tr.select_one("td.role span").text for tr in posts] == ["judge", "head of a national court"]
    assert ["later-post" in tr["class"] for tr in posts] == [False, True]
    assert posts[0].select_one('a[href="/institutions/I-000002"]') is not None
    assert posts[0].select_one(".citations").text.strip().startswith("report-1, p. 10")
    assert "work needed" in posts[0].select_one(".review").text
    acts = {tr["data-act"]: tr for tr in page.select("table#acts tbody tr")}
    assert set(acts) == {a["id"] for a in dossier["acts"]} == {"A-000001", "A-000002"}
    a1 = acts["A-000001"]
    assert a1.select_one("td.degree").text.strip() == "approved" and a1.select_one("td.likelihood").text.strip() == "certain"
    v1, v2 = _person(app, "V1"), _person(app, "V2")
    assert [a["href"] for a in a1.select("td.victims a.victim")] == [f"/persons/{v1}", f"/persons/{v2}"]
    assert a1.select_one(".unnamed-count")["data-count"] == "3"
    totals = page.select_one("#acts-totals")
    assert (totals.select_one(".named")["data-total"], totals.select_one(".unnamed")["data-total"]) == ("3", "3")
    assert [td.text for td in page.select("table#status td.status")] == ["promoted"]
    # a viewer sees no form to add or review
    assert not page.select("form[method=post][action^='/claims/']") and not page.select('a[href^="/accountability/add"]')


def test_the_dossier_shows_a_page_of_acts_at_a_time(as_role):
    client = as_role("viewer")
    first = _json(client.get("/api/v1/officials/O-000001", params={"per_page": 1}))
    second = _json(client.get("/api/v1/officials/O-000001", params={"per_page": 1, "page": 2}))
    assert (len(first["acts"]), first["has_next"], len(second["acts"]), second["has_next"]) == (1, True, 1, False)
    assert {first["acts"][0]["id"], second["acts"][0]["id"]} == {"A-000001", "A-000002"}
    page = _page(client.get("/officials/O-000001", params={"per_page": 1}))
    assert len(page.select("table#acts tbody tr")) == 1
    assert page.select_one("a[rel=next]")["href"] == "?page=2&per_page=1"


def test_an_institution_on_a_date_in_either_calendar_and_without_one(as_role):
    client = as_role("viewer")
    chart = _json(client.get("/api/v1/institutions/JUD", params={"on": "1988-08-15"}))
    assert _json(client.get("/api/v1/institutions/I-000001", params={"on": "1367/05/24"})) == chart
    held = {(p["official"]["external_id"], p["role"], p["on_date"]) for u in chart["units"] for p in u["posts"]}
    assert held == {("OF1", "judge", "possible"), ("OF2", "prosecutor", "certain"), ("OF3", "head of prison", "certain")}
    page = _page(client.get("/institutions/JUD", params={"on": "1367/05/24"}))
    assert [tb["data-unit"] for tb in page.select("table#chart tbody.unit")] == [u["id"] for u in chart["units"]]
    rows = {(tr["data-official"], tr.select_one("td.on-date").text.strip()) for tr in page.select("table#chart tr.post")}
    assert rows == {("O-000001", "possible"), ("O-000002", "certain"), ("O-000003", "certain")}
    assert "depth-2" in page.select_one('tbody[data-unit="I-000003"]')["class"]  # Lakan prison, in the organisation
    # the posts come a page at a time; every unit is listed with its count
    first = _json(client.get("/api/v1/institutions/JUD", params={"on": "1988-08-15", "per_page": 2}))
    rest = _json(client.get("/api/v1/institutions/JUD", params={"on": "1988-08-15", "per_page": 2, "page": 2}))
    assert (first["shown"], first["has_next"], rest["shown"], rest["has_next"]) == (2, True, 1, False)
    assert [u["posts_total"] for u in first["units"]] == [u["posts_total"] for u in chart["units"]]
    page = _page(client.get("/institutions/JUD", params={"on": "1988-08-15", "per_page": 2}))
    assert len(page.select("table#chart tr.post")) == 2
    assert page.select_one("a[rel=next]")["href"] == "?page=2&per_page=2&on=1988-08-15"

    plain = _json(client.get("/api/v1/institutions/JUD"))
    assert plain["institution"]["name"] == "National Judiciary" and plain["on"] is None and plain["units"] == []
    page = _page(client.get("/institutions/JUD"))
    assert page.select_one("form#date-form input[name=on]") is not None and not page.select("table#chart")
    assert "ministry" in page.select_one("#description").text

    bad = client.get("/institutions/JUD", params={"on": "the day after"})
    error = _page(bad, 400).select_one("#error")
    assert error["data-field"] == "on" and error.find_parent("form")["id"] == "date-form"
    assert _json(client.get("/api/v1/institutions/JUD", params={"on": "the day after"}), 400)["error"]["field"] == "on"
    spanned = _json(client.get("/api/v1/institutions/JUD", params={"on": "1367/05"}), 400)["error"]
    assert spanned["field"] == "on" and "not one day" in spanned["message"]
    assert client.get("/institutions/NOPE").status_code == 404
    assert client.get("/api/v1/institutions/NOPE").status_code == 404
    listed = _json(client.get("/api/v1/institutions"))
    assert listed["total"] == 4 and "ministry" in _page(client.get("/institutions")).select_one("table#entities").text


def test_acts_by_filter_and_one_act(as_role, app):
    client = as_role("viewer")

    def ids(**filters):
        answer = _json(client.get("/api/v1/acts", params=filters))
        page = _page(client.get("/acts", params=filters))
        shown = [tr["data-act"] for tr in page.select("table#acts tbody tr")]
        assert shown == [a["id"] for a in answer["acts"]], filters
        return sorted(a["external_id"] for a in answer["acts"])

    assert ids() == ["A1", "A2", "A3", "A5"]
    assert ids(official="OF1") == ["A1", "A2"]
    assert ids(official="Kamran Testari", type="execution") == ["A1", "A2"]
    assert ids(institution="COM-G") == ["A2"]
    assert ids(site="G-HID") == ["A1", "A2"]
    assert ids(person=_person(app, "V4")) == ["A3"]
    assert ids(type="grave desecration") == ["A5"]
    paged = _json(client.get("/api/v1/acts", params={"per_page": 3}))
    assert (len(paged["acts"]), paged["has_next"], paged["total"]) == (3, True, 4)
    page = _page(client.get("/acts", params={"per_page": 3, "official": "OF1"}))
    assert page.select_one("a[rel=next]") is None
    page = _page(client.get("/acts", params={"per_page": 1, "official": "OF1"}))
    assert page.select_one("a[rel=next]")["href"] == "?page=2&per_page=1&official=OF1"

    error = _page(client.get("/acts", params={"type": "massacre"}), 400).select_one("#error")
    assert error["data-field"] == "type" and "massacre" in error.text
    assert _json(client.get("/api/v1/acts", params={"type": "massacre"}), 400)["error"]["field"] == "type"
    assert client.get("/acts", params={"official": "O-000099"}).status_code == 404

    act = _json(client.get("/api/v1/acts/A1"))
    assert act["id"] == "A-000001" and {i["actor"]["external_id"] if "external_id" in i["actor"] else i["actor"]["id"]
                                        for i in act["involvements"]} == {"O-000001", "O-000003"}
    page = _page(client.get("/acts/A-000001"))
    assert {tr["data-actor"]: tr.select_one("td.degree").text for tr in page.select("table#involvements tbody tr")} == {
        "O-000001": "approved", "O-000003": "carried out"}
    assert "Synthetic prison executions" in page.select_one("table#act-claims").text
    assert client.get("/acts/A-000099").status_code == 404


def test_sites_their_location_as_the_role_may_see_it(as_role):
    viewer, investigator = as_role("viewer"), as_role("investigator")
    listed = _json(viewer.get("/api/v1/sites"))
    assert [s["external_id"] for s in listed["items"]] == ["G-OPEN", "G-CITY", "G-HID"]
    assert [s["location"].get("withheld") for s in listed["items"]] == [None, "coordinates", "location"]
    assert "place" not in listed["items"][2]["location"]  # a hidden site's city is withheld too
    page = _page(viewer.get("/sites"))
    assert [tr["data-entity"] for tr in page.select("table#sites tbody tr")] == [s["id"] for s in listed["items"]]
    assert page.select_one('tr[data-entity="S-000003"] .location')["data-withheld"] == "location"
    assert "Location withheld" in page.select_one('tr[data-entity="S-000003"]').text

    hidden = _json(viewer.get("/api/v1/sites/G-HID"))
    assert hidden["location"] == {"publication": "hidden", "withheld": "location"}
    assert hidden["certainty"] == ["suspected"] and hidden["burials_total"] == 2
    page = _page(viewer.get("/sites/G-HID"))
    assert "Location withheld" in page.select_one("#location").text
    assert [td.text for td in page.select("table#status-history td.status")] == ["built over"]
    assert len(page.select("table#burials tbody tr")) == 2
    city = _page(viewer.get("/sites/G-CITY"))
    assert "Coordinates withheld" in city.select_one("#location").text and "Rasht" in city.select_one("#location").text
    opened = _page(viewer.get("/sites/S-000001"))
    assert opened.select_one("#location .coordinates").text == "37.25, 49.55"
    full = _json(investigator.get("/api/v1/sites/G-HID"))
    assert (full["location"]["latitude"], full["location"]["longitude"]) == (37.123456, 49.654321)
    assert _page(investigator.get("/sites/G-CITY")).select_one("#location .coordinates").text == "37.21, 49.61"


def test_the_person_page_names_the_acts_and_where_the_person_may_lie(as_role, app):
    client = as_role("viewer")
    v2 = _person(app, "V2")
    person = _json(client.get(f"/api/v1/persons/{v2}"))["accountability"]
    assert [a["external_id"] for a in person["acts"]] == ["A1"] and person["acts_total"] == 1
    assert [b["site"]["external_id"] for b in person["burials"]] == ["G-HID"]
    page = _page(client.get(f"/persons/{v2}"))
    act = page.select_one('table#person-acts tr[data-act="A-000001"]')
    involved = {d["data-actor"]: (d.select_one(".degree").text, d.select_one(".likelihood").text)
                for d in act.select("td.involved div")}
    assert involved == {"O-000001": ("approved", "certain"), "O-000003": ("carried out", "likely")}
    burial = page.select_one('table#person-burials tr[data-site="S-000003"]')
    assert burial.select_one(".likelihood").text == "maybe" and "Location withheld" in burial.text
    v1 = _person(app, "V1")
    burial = _page(client.get(f"/persons/{v1}")).select_one('table#person-burials tr[data-site="S-000001"]')
    assert burial.select_one(".coordinates").text == "37.25, 49.55"
    assert "Location withheld" not in _page(as_role("investigator").get(f"/persons/{v2}")).select_one(
        "table#person-burials").text
    quiet = _page(client.get(f"/persons/{_person(app, 'V8')}"))
    assert quiet.select_one("#no-acts") is not None and quiet.select_one("#no-burials") is not None


def test_the_map_draws_only_the_sites_whose_coordinates_the_role_may_see(as_role):
    for role, drawn in (("viewer", {"S-000001"}), ("analyst", {"S-000001"}),
                        ("investigator", {"S-000001", "S-000002", "S-000003"})):
        client = as_role(role)
        data = _json(client.get("/api/v1/places"))
        assert {s["id"] for s in data["sites"] if s["map"]} == drawn, role
        page = _page(client.get("/places"))
        alone = {a["data-site"] for a in page.select("svg#places-map a.site")}
        clustered = {m for g in page.select("svg#places-map .map-cluster") for m in g["data-members"].split()}
        assert alone | (clustered & {"S-000001", "S-000002", "S-000003"}) == drawn, role  # Rasht's: close together
        listed = {tr["data-site"]: tr.select_one("td.on-map").text for tr in page.select("table#sites tbody tr")}
        assert listed == {s: ("yes" if s in drawn else "no") for s in ("S-000001", "S-000002", "S-000003")}, role


def test_viewers_and_analysts_read_but_may_not_add_or_review(as_role):
    for role in ("viewer", "analyst"):
        client = as_role(role)
        assert client.get("/accountability/add/posts").status_code == 403
        assert client.get("/accountability/add").status_code == 403
        cells = {"official_id": "O-000002", "institution_id": "I-000003", "role": "guard", "source": "notes"}
        assert _post(client, "/accountability/add/posts", cells).status_code == 403
        assert _post(client, "/claims/C-000001/review", {"status": "accepted", "reason": "r"}).status_code == 403
        assert _api(client, "/api/v1/claims", {"file": "posts", "cells": cells}).status_code == 403
        assert _api(client, "/api/v1/claims/C-000001/review", {"status": "accepted", "reason": "r"}).status_code == 403
        assert client.get("/api/v1/claims/C-000001").status_code == 200  # the claim and its reviews, to read
    with pytest.raises(AssertionError):
        _page(as_role("viewer").get("/accountability/add/posts"))


def _claims_events(app, action: str) -> list[dict]:
    with app.state.store.session() as session:
        return [e for e in list_audit(session, limit=None, newest_first=False) if e["action"] == action]


def test_an_investigator_adds_a_post_through_the_form_and_through_the_api(as_role, app):
    client = as_role("investigator")
    form = _page(client.get("/accountability/add/posts", params={"official_id": "O-000002"}))
    inputs = [field["name"] for field in form.select("form#add-form [name]") if field["name"] != "csrf_token"]
    assert inputs == ["official_id", "institution_id", "role", "from", "to", "locator", "review_status", "source"]
    assert form.select_one("input[name=official_id]")["value"] == "O-000002"
    answer = _post(client, "/accountability/add/posts", {"official_id": "O-000002", "institution_id": "PR-L",
                                                          "role": "deputy head of prison", "from": "1367/06/01",
                                                          "to": "1370", "locator": "p. 99", "source": "field-notes"})
    assert answer.status_code == 303, answer.text[:500]
    target = answer.headers["location"]
    assert target.startswith("/officials/O-000002?added=C-")
    added = target.split("added=")[1]
    page = _page(client.get(target))
    assert page.select_one("#added a").text == added
    post = page.select_one(f'table#posts tr[data-claim="{added}"]')
    assert post.select_one("td.role span").text == "deputy head of prison"
    assert "field-notes, p. 99" in post.select_one(".citations").text
    assert post.select_one('a[href="/institutions/I-000003"]') is not None

    made = _json(_api(client, "/api/v1/claims", {"file": "posts", "source": "field-notes", "cells": {
        "official_id": "OF3", "institution_id": "COM-G", "role": "member", "from": 1988}}), 201)
    assert made["added"] == 1 and made["entity"] == {"id": "O-000003", "kind": "official"}
    dossier = _json(client.get("/api/v1/officials/O-000003"))
    assert [(p["claim"], p["role"], p["from"]["original"]) for p in dossier["posts"] if p["role"] == "member"] == [
        (made["claims"][0], "member", "1988")]
    again = _post(client, "/accountability/add/posts", {"official_id": "O-000002", "institution_id": "PR-L",
                                                         "role": "deputy head of prison", "from": "1367/06/01",
                                                         "to": "1370", "locator": "p. 99", "source": "field-notes"})
    said = _page(client.get(again.headers["location"])).select_one("#added")
    assert "Nothing new" in said.text and [a.text for a in said.select("a")] == [added], "names the claim held"
    events = _claims_events(app, "claim added")
    assert [(e["actor"], e["channel"], e["object_id"]) for e in events[:3]] == [
        ("investigator", "web", added), ("investigator", "web", made["claims"][0]), ("investigator", "web", added)]
    assert events[2]["details"]["claims"] == [] and events[2]["details"]["held"] == [added]


def test_a_bad_row_shows_the_error_next_to_the_field_it_names(as_role, app):
    client = as_role("investigator")
    for cells, field, said in (
            ({"official_id": "O-000002", "institution_id": "PR-L", "role": "guard", "from": "1990", "to": "1985",
              "source": "notes"}, "to", "ends"),
            ({"official_id": "O-000002", "institution_id": "PR-L", "source": "notes"}, "role", "required"),
            ({"official_id": "O-000002", "institution_id": "PR-L", "role": "guard"}, "source", "source"),
            ({"official_id": "O-000002", "institution_id": "PR-L", "role": "guard", "source": "notes",
              "review_status": "perhaps"}, "review_status", "perhaps"),
            ({"official_id": "OF-NOBODY", "institution_id": "PR-L", "role": "guard", "source": "notes"}, "official_id",
             "OF-NOBODY")):
        page = _page(_post(client, "/accountability/add/posts", cells), 400)
        error = page.select_one("#error")
        assert error["data-field"] == field and said in error.text, (field, error.text)
        label = error.find_previous_sibling("label")
        assert label.select_one(f"[name={field}]") is not None, (field, str(label)[:200])
        assert page.select_one("input[name=official_id]")["value"] == cells["official_id"]  # what was typed stays
    wrong = _json(_api(client, "/api/v1/claims", {"file": "acts", "cells": {"act_id": "A9", "act_type": "massacre"},
                                                  "source": "notes"}), 400)
    assert wrong["error"]["field"] == "act_type"
    assert _json(_api(client, "/api/v1/claims", {"file": "nope", "cells": {}}), 400)["error"]["field"] == "file"
    assert client.get("/accountability/add/nope").status_code == 404
    assert _claims_events(app, "claim added") == []


def test_review_changes_the_status_through_the_form_and_the_api(as_role, app):
    client = as_role("investigator")
    dossier = _json(client.get("/api/v1/officials/O-000001"))
    post = dossier["posts"][0]["claim"]
    page = _page(client.get("/officials/O-000001"))
    form = page.select_one(f'form[action="/claims/{post}/review"]')
    assert form.select_one("input[name=back]")["value"] == "/officials/O-000001"
    answer = _post(client, f"/claims/{post}/review", {"status": "accepted", "reason": "matches the court record",
                                                       "back": "/officials/O-000001?per_page=10"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/officials/O-000001?per_page=10&reviewed={post}"
    page = _page(client.get(answer.headers["location"]))
    assert page.select_one("#reviewed a").text == post
    assert page.select_one(f'table#posts tr[data-claim="{post}"] .review')["data-status"] == "accepted"
    claim = _json(client.get(f"/api/v1/claims/{post}"))
    assert claim["review_status"] == "accepted" and [r["reason"] for r in claim["reviews"]] == ["matches the court record"]
    assert _page(client.get(f"/claims/{post}")).select_one("table#reviews td[dir=auto]").text == "matches the court record"

    # somewhere else is never where a review sends you back to
    elsewhere = _post(client, f"/claims/{post}/review", {"status": "accepted", "reason": "again",
                                                          "back": "//evil.example/x"})
    assert elsewhere.headers["location"] == f"/claims/{post}?reviewed={post}"

    refused = _page(_post(client, f"/claims/{post}/review", {"status": "sure", "reason": "r"}), 400)
    error = refused.select_one("#error")
    assert error["data-field"] == "status" and error.find_previous_sibling("label").select_one("select[name=status]")
    refused = _page(_post(client, f"/claims/{post}/review", {"status": "accepted", "reason": " "}), 400)
    assert refused.select_one("#error")["data-field"] == "reason"
    assert client.post("/claims/C-999999/review", data={"csrf_token": client.csrf, "status": "accepted",
                                                        "reason": "r"}).status_code == 404

    act = dossier["acts"][0]["claims"][0]["claim"]
    decided = _json(_api(client, f"/api/v1/claims/{act}/review", {"status": "conflict", "reason": "dates differ"}))
    assert (decided["previous"], decided["review_status"]) == ("work-needed", "conflict")
    page = _page(client.get("/officials/O-000001"))
    row = page.select_one(f'table#acts tr[data-act="{dossier["acts"][0]["id"]}"]')
    assert "conflict-row" in row["class"] and row.select_one("strong.conflict") is not None
    assert row.select_one(f'.claim[data-claim="{act}"] .review.conflict') is not None
    assert [(e["actor"], e["channel"], e["details"]) for e in _claims_events(app, "claim reviewed")] == [
        ("investigator", "web", {"from": "work-needed", "to": "accepted"}),
        ("investigator", "web", {"from": "accepted", "to": "accepted"}),
        ("investigator", "web", {"from": "work-needed", "to": "conflict"})]


def _coordinates_in(text: str, pair: tuple[str, str]) -> bool:
    return any(re.search(rf"(?<![\d.]){re.escape(number)}(?!\d)", text) for number in pair)


def test_a_hidden_site_reaches_no_page_or_answer_but_investigators(as_role, app):
    with app.state.store.session() as session:
        site_claims = [f"C-{pk:06d}" for pk in session.scalars(sa.text("select id from claims where kind = 'site'"))]
    v2, v3 = _person(app, "V2"), _person(app, "V3")
    paths = ["/persons", f"/persons/{v2}", f"/persons/{v3}", "/officials", "/officials/O-000001", "/institutions",
             "/institutions/JUD?on=1988-08-15", "/acts", "/acts?site=G-HID", "/acts/A-000001", "/sites",
             "/sites/G-HID", "/sites/G-CITY", "/sites/S-000001", "/places",
             *[f"/claims/{c}" for c in site_claims]]
    paths += ["/api/v1" + p for p in paths]
    for role in ("viewer", "analyst", "investigator", "admin"):
        client = as_role(role)
        seen = ""
        for path in paths:
            answer = client.get(path)
            assert answer.status_code == 200, (role, path, answer.text[:300])
            seen += answer.text
            if path.startswith("/api/"):
                seen += json.dumps(answer.json(), ensure_ascii=False)
        sees_all = role in ("investigator", "admin")
        assert _coordinates_in(seen, HIDDEN) is sees_all, role
        assert _coordinates_in(seen, CITY) is sees_all, role


def test_conflicts_and_corrections_are_marked(as_role):
    client = as_role("investigator")
    other = _json(_api(client, "/api/v1/claims", {"file": "acts", "source": "another-report", "cells": {
        "act_id": "A1", "act_type": "execution", "date": "1367/05/02", "place": "Lakan"}}), 201)
    assert other["conflicts"] == 1 and other["entity"] == {"id": "A-000001", "kind": "act"}
    act = _json(client.get("/api/v1/acts/A-000001"))
    assert act["conflict"] and {c["review_status"] for c in act["claims"]} == {"conflict"} and len(act["claims"]) == 2
    page = _page(client.get("/acts/A-000001"))
    assert page.select_one("#conflict") is not None
    assert len(page.select("table#act-claims tr.conflict-row")) == 2
    row = _page(client.get("/officials/O-000001")).select_one('table#acts tr[data-act="A-000001"]')
    assert "conflict-row" in row["class"] and len(row.select(".claim.in-conflict")) == 2

    before = _json(client.get("/api/v1/officials/O-000002"))["posts"][0]["claim"]
    corrected = _json(_api(client, "/api/v1/claims", {"file": "posts", "source": "report-1", "cells": {
        "official_id": "OF2", "institution_id": "COM-G", "role": "prosecutor", "from": "1988-07-20",
        "to": "1988-10-30"}}), 201)
    assert corrected["superseded"] == 1
    old = _page(client.get(f"/claims/{before}"))
    assert old.select_one("#superseded a").text == corrected["claims"][0] and old.select_one("form#review-form") is None
    refused = _page(_post(client, f"/claims/{before}/review", {"status": "accepted", "reason": "r"}), 400)
    assert "superseded" in refused.select_one("#error").text
    assert [p["to"]["original"] for p in _json(client.get("/api/v1/officials/O-000002"))["posts"]] == ["1988-10-30"]
