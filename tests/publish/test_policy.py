"""What may be published: public sources' records and only their published fields, never a withheld
person, a restricted source, a note, or anything sealed (a byte search for planted markers)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from dadkhah.accountability.importer import add_claim
from dadkhah.accountability.review import review_claim
from dadkhah.appeal import create_appeal, publish_appeal, sign
from dadkhah.ingest.importer import import_file
from dadkhah.model import LinkageRun, Source
from dadkhah.publish import published_persons
from dadkhah.registry.persons import assign_persons, withhold_person
from dadkhah.sources import set_release
from dadkhah.vault.evidence import add_evidence
from dadkhah.vault.keys import create_keys, load_keys
from dadkhah.vault.testimony import add_testimony
from tests.conftest import TESTER, write

HEAD = "id,given_name,family_name,father_name,death_date,city,notes\n"
PUBLIC_ROWS = ("p1,Ava,Rahimi,Ali,1367/05/10,Rasht,NOTE-MARKER-PUBLIC-LIST\n"
               "p2,Babak,Tehrani,Hasan,1367/05/12,Tabriz,\n"
               "p3,Cyrus,Navabi,Reza,1367/05/14,Tehran,\n")
RESTRICTED_ROWS = ("r1,آوا,رحیمی,علی,1367/05/10,Rasht,\n"
                   "r9,RESTRICTEDONLY,MARKERNAME,X,1367/05/20,Qom,\n")
MARKERS = ("NOTE-MARKER-PUBLIC-LIST", "restricted-source-marker", "RESTRICTEDONLY", "MARKERNAME", "رحیمی",
           "Witness Markerperson", "TESTIMONY-TEXT-MARKER", "evidence-file-marker", "signer.marker@example.org",
           "Signer Markername", "WITHHELD-REASON-MARKER", "Cyrus", "Navabi",
           # accountability: an act not accepted, an official only a restricted source names, a hidden
           # grave, the coordinates of a grave published by city only
           "NOT-ACCEPTED-MARKER", "Hiddenofficial Markerman", "Hiddengrave Marker", "49.61", "37.21")

# Claims: what a public book says (accepted, or not yet), and what a restricted source says.
ACCOUNTABILITY = [
    ("officials", {"official_id": "OF1", "name": "Kamran Testari", "name_fa": "کامران تستاری"}, "public-book"),
    ("officials", {"official_id": "OF2", "name": "Hiddenofficial Markerman"}, "restricted-source-marker"),
    ("acts", {"act_id": "A1", "act_type": "execution", "date": "1367/05/01", "place": "Rasht",
              "victims": "public-list:p1|public-list:p2", "unnamed_victims": "3", "locator": "p. 20"}, "public-book"),
    ("acts", {"act_id": "A2", "act_type": "torture", "date": "1367/04/01", "victims": "public-list:p1",
              "locator": "NOT-ACCEPTED-MARKER"}, "public-book"),
    ("acts", {"act_id": "A3", "act_type": "unfair-trial", "date": "1367/04/20", "victims": "public-list:p1"},
     "restricted-source-marker"),
    ("involvements", {"act_id": "A1", "actor_id": "OF1", "degree": "approved", "likelihood": "certain",
                      "locator": "p. 30"}, "public-book"),
    ("involvements", {"act_id": "A1", "actor_id": "OF2", "degree": "carried out", "likelihood": "likely"},
     "restricted-source-marker"),
    # a public book says an official took part whom only a restricted source names: not named
    ("involvements", {"act_id": "A1", "actor_id": "OF2", "degree": "planned", "likelihood": "maybe"}, "public-book"),
    ("sites", {"site_id": "G-OPEN", "name": "Open Grave", "name_fa": "گور باز", "kind": "mass-grave", "place": "Rasht",
               "latitude": "37.25", "longitude": "49.55", "certainty": "confirmed", "publication": "exact"},
     "public-book"),
    ("sites", {"site_id": "G-CITY", "name": "City Grave", "kind": "mass-grave", "place": "Rasht", "latitude": "37.21",
               "longitude": "49.61", "certainty": "probable", "publication": "city"}, "public-book"),
    ("sites", {"site_id": "G-HID", "name": "Hiddengrave Marker", "kind": "mass-grave", "place": "Rasht",
               "latitude": "37.1", "longitude": "49.6", "certainty": "suspected", "publication": "hidden"}, "public-book"),
    ("site_status", {"site_id": "G-OPEN", "observed_on": "2008", "status": "bulldozed", "method": "satellite image"},
     "public-book"),
    ("burials", {"site_id": "G-OPEN", "victim": "public-list:p1", "likelihood": "likely"}, "public-book"),
    ("burials", {"site_id": "G-CITY", "victim": "public-list:p2", "likelihood": "maybe"}, "public-book"),
    ("burials", {"site_id": "G-HID", "victim": "public-list:p2", "likelihood": "certain"}, "public-book"),
]


def _add_accountability(store) -> None:
    for file, cells, source in ACCOUNTABILITY:
        added = add_claim(store, file, cells, actor=TESTER, source=source)
        if "NOT-ACCEPTED-MARKER" not in str(cells):
            for claim in added["claims"]:
                review_claim(store, claim, status="accepted", reason="checked against the book", actor=TESTER)


def _case(store, tmp_path) -> dict:
    create_keys(store.workspace)
    store.workspace = store.workspace.reloaded()
    keys = load_keys(store.workspace)
    import_file(store, write(tmp_path / "public.csv", HEAD + PUBLIC_ROWS), source="public-list", actor=TESTER,
                incident="Synthetic summer killings")
    import_file(store, write(tmp_path / "restricted.csv", HEAD + RESTRICTED_ROWS), source="restricted-source-marker",
                actor=TESTER)
    with store.session() as session:
        ids = dict(session.execute(sa.select(Source.name, Source.id)).all())
        run_row = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={}, run_by="t",
                             software_version="0")
        session.add(run_row)
        session.flush()
        public, restricted = ids["public-list"], ids["restricted-source-marker"]
        assign_persons(session, run_row.id, {(public, "p1"): 1, (restricted, "r1"): 1, (public, "p2"): 2,
                                             (public, "p3"): 3, (restricted, "r9"): 4})
    _add_accountability(store)
    set_release(store, "public-list", "public", actor=TESTER)
    set_release(store, "public-book", "public", actor=TESTER)
    withhold_person(store, "P-000003", actor=TESTER, reason="WITHHELD-REASON-MARKER")
    add_testimony(store, keys, actor=TESTER, witness_name="Witness Markerperson",
                  transcript=b"TESTIMONY-TEXT-MARKER about P-000001", language="en", consent="investigators",
                  about=["P-000001"])
    add_evidence(store, keys, [write(tmp_path / "evidence-file-marker.txt", "evidence-file-marker")], actor=TESTER,
                 about=["P-000001"])
    create_appeal(store, actor=TESTER, slug="a", title="T", text="Text.", addressee="X")
    publish_appeal(store, "a", actor=TESTER)
    sign(store, keys, "a", name="Signer Markername", email="signer.marker@example.org", base_url="http://x",
         public_name=False)
    return {"keys": keys}


def test_only_public_sources_fields_of_unwithheld_persons_are_published(store, tmp_path):
    _case(store, tmp_path)
    with store.session() as session:
        published = list(published_persons(session))
    assert [p["person_id"] for p in published] == ["P-000001", "P-000002"]
    first = published[0]
    assert first["sources"] == ["public-list"] and len(first["records"]) == 1, "the restricted list's record stays out"
    record = first["records"][0]
    assert (record["given_name"], record["family_name"], record["city"]["name"]) == ("Ava", "Rahimi", "Rasht")
    assert record["incident"] == "Synthetic summer killings"
    assert "notes" not in record and "raw" not in record
    text = json.dumps(published, ensure_ascii=False)
    for marker in MARKERS:
        assert marker not in text, marker


def test_nothing_is_published_until_a_source_is_public(store, tmp_path):
    _case(store, tmp_path)
    set_release(store, "public-list", "restricted", actor=TESTER)
    with store.session() as session:
        assert list(published_persons(session)) == []
