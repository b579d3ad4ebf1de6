"""The questions answered on the synthetic set agree with its truth (on SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import json

import pytest

from dadkhah.accountability import (
    import_accountability,
    institution_chart,
    show_official,
    show_site,
)
from dadkhah.accountability.queries import list_sites
from dadkhah.ingest.importer import import_file
from dadkhah.synth import generate_case
from dadkhah.synth.accountability import CHART_DATE
from tests.conftest import TESTER


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic-accountability")
    generate_case(out, victims=300, lists=3, seed=7, cities=8)
    return out


@pytest.fixture
def imported(store, synthetic):
    for path in sorted(synthetic.glob("list-*.csv")):
        import_file(store, path, source=path.stem, actor=TESTER)
    summary = import_accountability(store, synthetic / "accountability", actor=TESTER, source="synthetic-report")
    truth = json.loads((synthetic / "accountability" / "truth.json").read_text(encoding="utf-8"))
    with open(synthetic / "truth.csv", encoding="utf-8") as handle:
        who = {f"{row['source']}:{row['record_id']}": row["person_id"] for row in csv.DictReader(handle)}
    return store, summary, truth, who


def test_everything_imports_and_the_conflicts_are_found(imported):
    _store, summary, truth, _who = imported
    assert summary.rejected == 0 and summary.rows == sum(truth["counts"].values())
    assert summary.claims["conflicts"] == len(truth["conflicts"])


def test_charts_on_the_day_agree_with_the_truth(imported):
    store, _summary, truth, _ = imported
    with store.session() as session:
        for external_id, institution in truth["institutions"].items():
            chart = institution_chart(session, external_id, on=CHART_DATE)
            posts = [p for u in chart["units"] for p in u["posts"]]
            certain = {p["official"]["external_id"] for p in posts if p["on_date"] == "certain"}
            possible = {p["official"]["external_id"] for p in posts} - certain
            units = {u["external_id"] for u in chart["units"]} - {external_id}  # the truth lists the sub-units
            assert units == set(institution["chart"]["units"]) - {external_id}, external_id
            assert certain == set(institution["chart"]["officials"]), external_id
            assert possible == set(institution["chart"]["maybe"]) - certain, external_id


def test_each_officials_acts_victims_and_later_posts_agree_with_the_truth(imported):
    store, _summary, truth, who = imported
    with store.session() as session:
        for external_id, official in truth["officials"].items():
            dossier = show_official(session, external_id, acts_limit=500, victims_limit=100_000)
            assert dossier["acts_total"] == len(official["acts"]), external_id
            assert dossier["victims"]["unnamed_total"] == official["unnamed"], external_id
            # before linkage a victim is a record: each is one of the persons the truth names
            assert {who[r] for r in dossier["victims"]["named"]} == set(official["victims"]), external_id
            # "later" is after the official's own acts: an official with none has no later posts
            later = sorted(p[1] for p in official["later_posts"]) if official["acts"] else []
            assert sorted(p["role"] for p in dossier["later_posts"]) == later, external_id


def test_sites_keep_their_policy(imported):
    store, _summary, truth, _ = imported
    with store.session() as session:
        shown = {s["external_id"]: s["location"] for s in list_sites(session, audience="public")}
        for external_id, site in truth["sites"].items():
            location = shown[external_id]
            assert location["publication"] == site["publication"]
            assert ("latitude" in location) == (site["publication"] == "exact"), external_id
            full = show_site(session, external_id, audience="investigators")
            assert full["certainty"] == [site["certainty"]] or site["certainty"] in full["certainty"]
