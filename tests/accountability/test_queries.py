"""The questions: who held posts on a date, an official's dossier, acts by filter, sites and their
publication policy, the person page's sections; victims followed through merges and splits."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from dadkhah.accountability import import_accountability
from dadkhah.accountability.queries import (
    institution_chart,
    list_acts,
    list_entities,
    list_sites,
    person_accountability,
    show_official,
    show_site,
)
from dadkhah.errors import InputError, NotFound
from dadkhah.model import Source
from tests.conftest import TESTER
from tests.registry.test_persons import run


@pytest.fixture
def imported(victims, accountability_set):
    import_accountability(victims, accountability_set, actor=TESTER, source="report-1")
    return victims


def _link(store, groups: dict[str, int]):
    """Persons by hand: record V<n> -> cluster."""
    with store.session() as session:
        source_id = session.scalar(sa.select(Source.id).where(Source.name == "s"))
    return run(store, {(source_id, f"V{i}"): groups.get(f"V{i}", 100 + i) for i in range(1, 9)})


def test_chart_names_who_held_posts_in_the_institution_and_its_sub_units_on_the_date(imported):
    with imported.session() as session:
        chart = institution_chart(session, "JUD", on=date(1988, 8, 15))
        units = {u["external_id"]: u for u in chart["units"]}
        assert set(units) == {"JUD", "COM-G", "PRO", "PR-L"}
        assert (units["PR-L"]["depth"], units["PR-L"]["parent"]) == (2, units["PRO"]["id"])
        held = {(p["official"]["external_id"], p["role"], p["on_date"]) for u in chart["units"] for p in u["posts"]}
        # "summer 1367" may have begun as late as 1988-09-22: held on the day possibly, not certainly
        assert held == {("OF1", "judge", "possible"), ("OF2", "prosecutor", "certain"),
                        ("OF3", "head of prison", "certain")}
        assert all(p["citations"] for u in chart["units"] for p in u["posts"])
        assert {u["external_id"]: u["posts_total"] for u in chart["units"]} == {"JUD": 0, "COM-G": 2, "PRO": 0,
                                                                                "PR-L": 1}
        # a page at a time, in chart order (by unit, then start): the commission's two posts, then the prison's
        pages = [institution_chart(session, "JUD", on=date(1988, 8, 15), limit=1, offset=n) for n in range(4)]
        paged = [p["official"]["external_id"] for page in pages for u in page["units"] for p in u["posts"]]
        assert paged == ["OF1", "OF2", "OF3"] and pages[0]["posts"] == 3 and pages[3]["shown"] == 0
        # a partial date: "summer 1367" may or may not include 1988-06-25 (summer begins 1988-06-21)
        early = institution_chart(session, "National Judiciary", on=date(1988, 6, 25))
        assert {(p["official"]["external_id"], p["on_date"]) for u in early["units"] for p in u["posts"]} == {
            ("OF3", "certain")}  # the commission itself did not exist yet (from 1988-07-20)
        later = institution_chart(session, "قوه قضاییه", on=date(2010, 1, 1))
        assert {(p["official"]["external_id"], p["role"]) for u in later["units"] for p in u["posts"]} == {
            ("OF1", "head of a national court")}  # the prison head left in 1990


def test_official_dossier_posts_acts_victims_status_and_later_posts(imported):
    _link(imported, {})
    with imported.session() as session:
        by_registry_id = show_official(session, "O-000001")
        dossier = show_official(session, "OF1")
        assert by_registry_id == dossier
        assert dossier["official"]["name"] == "Kamran Testari"
        assert dossier["official"]["aliases"] == ["K. T.", "Kamran Testary"]
        assert [p["role"] for p in dossier["posts"]] == ["judge", "head of a national court"]
        assert [p["role"] for p in dossier["later_posts"]] == ["head of a national court"]
        assert dossier["acts_total"] == 2
        assert sorted(a["external_id"] for a in dossier["acts"]) == ["A1", "A2"]
        a1 = next(a for a in dossier["acts"] if a["external_id"] == "A1")
        assert [(c["degree"], c["likelihood"]) for c in a1["involvement"]] == [("approved", "certain")]
        assert {i["actor"]["name"] for i in a1["involvements"]} == {"Kamran Testari", "Sohrab Farzi"}
        assert [v["record"] for v in a1["claims"][0]["victims"]] == ["s:V1", "s:V2"]
        assert dossier["victims"]["named_total"] == 3 and dossier["victims"]["unnamed_total"] == 3
        assert [s["status"] for s in dossier["status"]] == ["promoted"]
        # found by a name in either script, or an alias
        assert show_official(session, "کامران تستاری")["official"]["id"] == dossier["official"]["id"]
        assert show_official(session, "Kamran Testary")["official"]["id"] == dossier["official"]["id"]
        with pytest.raises(NotFound):
            show_official(session, "O-000099")


def test_acts_follow_their_victims_through_merges_and_splits(imported):
    _, ids = _link(imported, {"V1": 1, "V4": 1})           # V1 and V4 one person
    with imported.session() as session:
        person = ids["V1"]
        acts = list_acts(session, person=person)
        assert sorted(a["external_id"] for a in acts["acts"]) == ["A1", "A3"]
    _, split = _link(imported, {"V1": 1, "V4": 2})         # a reviewer splits them again
    with imported.session() as session:
        assert sorted(a["external_id"] for a in list_acts(session, person=split["V1"])["acts"]) == ["A1"]
        assert sorted(a["external_id"] for a in list_acts(session, person=split["V4"])["acts"]) == ["A3"]
        a3 = list_acts(session, person=split["V4"])["acts"][0]
        assert a3["claims"][0]["victims"][0]["person"] == split["V4"]
    _, merged = _link(imported, {"V2": 7, "V3": 7})        # V2 and V3 merged: one person, two acts
    with imported.session() as session:
        assert merged["V2"] == merged["V3"]
        assert sorted(a["external_id"] for a in list_acts(session, person=merged["V2"])["acts"]) == ["A1", "A2"]
        page = person_accountability(session, merged["V2"])
        assert sorted(b["site"]["external_id"] for b in page["burials"]) == ["G-HID", "G-HID"]


def test_acts_list_filters(imported):
    _link(imported, {})
    with imported.session() as session:
        def ids(**filters):
            return sorted(a["external_id"] for a in list_acts(session, **filters)["acts"])
        assert ids() == ["A1", "A2", "A3", "A5"]
        assert ids(official="OF1") == ["A1", "A2"]
        assert ids(official="OF1", act_type="execution") == ["A1", "A2"]
        assert ids(institution="COM-G") == ["A2"]
        assert ids(act_type="grave desecration") == ["A5"]
        assert ids(site="G-HID") == ["A1", "A2"]
        with pytest.raises(InputError) as error:
            list_acts(session, act_type="massacre")
        assert error.value.field == "type"


def _text(document) -> str:
    return json.dumps(document, ensure_ascii=False, default=str)


def test_a_hidden_site_keeps_its_location_from_everyone_below_investigators(imported):
    _link(imported, {})
    with imported.session() as session:
        for audience in ("public", "team"):
            shown = _text([show_site(session, "G-HID", audience=audience), list_sites(session, audience=audience),
                           person_accountability(session, _person(session, "V2"), audience=audience)])
            assert "37.123456" not in shown and "49.654321" not in shown
            listed = list_entities(session, "site", audience=audience)["items"]
            hidden_row = next(s for s in listed if s["external_id"] == "G-HID")
            assert hidden_row["location"] == {"publication": "hidden", "withheld": "location"}
            assert "Rasht" not in _text(hidden_row)  # not even its city
            hidden = show_site(session, "G-HID", audience=audience)
            assert hidden["location"] == {"publication": "hidden", "withheld": "location"}
            city = show_site(session, "G-CITY", audience=audience)["location"]
            assert city["withheld"] == "coordinates" and "latitude" not in city and city["place"] == "Rasht"
            assert "37.21" not in _text(show_site(session, "G-CITY", audience=audience))
            exact = show_site(session, "G-OPEN", audience=audience)["location"]
            assert (exact["latitude"], exact["longitude"]) == (37.25, 49.55)
        full = show_site(session, "G-HID", audience="investigators")
        assert (full["location"]["latitude"], full["location"]["longitude"]) == (37.123456, 49.654321)
        assert [s["status"] if "status" in s else s["value"] for s in full["status_history"]] == ["built-over"]
        assert full["burials_total"] == 2 and full["certainty"] == ["suspected"]


def test_the_strictest_policy_any_claim_gives_wins(imported, tmp_path):
    from tests.accountability.conftest import write_set

    loose = write_set(tmp_path / "loose", {"sites.csv": (
        "site_id,name,name_fa,kind,place,latitude,longitude,certainty,publication,locator\n"
        "G-HID,Hidden Grave,,mass-grave,Rasht,37.123456,49.654321,suspected,exact,x\n")})
    import_accountability(imported, loose, actor=TESTER, source="careless-report")
    with imported.session() as session:
        assert "37.123456" not in _text(show_site(session, "G-HID", audience="public"))


def _person(session, record_id: str) -> str:
    from dadkhah.model import Person, PersonRecord

    return session.scalar(sa.select(Person.person_id).join(PersonRecord, PersonRecord.person_pk == Person.id)
                          .where(PersonRecord.record_id == record_id))


def test_a_sites_own_extra_columns_are_kept_from_those_below_investigators(imported, tmp_path):
    from tests.accountability.conftest import write_set

    noted = write_set(tmp_path / "noted", {"sites.csv": (
        "site_id,name,kind,place,certainty,publication,gps,locator\n"
        "G-NOTE,Noted Grave,mass-grave,Rasht,suspected,hidden,37.987654 49.123456,x\n")})
    import_accountability(imported, noted, actor=TESTER, source="field-notes")
    with imported.session() as session:
        assert "37.987654" not in _text(show_site(session, "G-NOTE", audience="team"))
        assert "37.987654" in _text(show_site(session, "G-NOTE", audience="investigators"))


def test_one_act_and_one_claim(imported):
    from dadkhah.accountability.queries import show_act, show_claim

    with imported.session() as session:
        act = show_act(session, "A1")
        assert act["id"] == "A-000001" and len(act["involvements"]) == 2
        claim = show_claim(session, act["involvements"][0]["claim"])
        assert claim["kind"] == "involvement" and claim["subject"]["id"] == "A-000001"
        assert claim["citations"] == [{"source": "report-1", "locator": "p. 30"}]
        with pytest.raises(InputError):
            show_claim(session, "C-²")
