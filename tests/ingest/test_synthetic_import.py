"""Known answers: import whole synthetic cases and compare with the population they were drawn from."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from dadkhah.ingest.importer import import_file
from dadkhah.registry.records import iter_records
from dadkhah.store import open_store
from dadkhah.synth import generate_case
from dadkhah.workspace import create_workspace
from tests.conftest import TESTER


def read(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def import_case(case_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("DADKHAH_DATABASE_URL", raising=False)
    store = open_store(create_workspace(tmp_path / "ws"))
    summaries = [import_file(store, path, source=path.stem, actor=TESTER) for path in sorted(case_dir.glob("list-*.csv"))]
    truth = {(t["source"], t["record_id"]): t["person_id"] for t in read(case_dir / "truth.csv")}
    people = {p["person_id"]: p for p in read(case_dir / "population.csv")}
    with store.session() as session:
        records = list(iter_records(session))
    store.close()
    return summaries, records, [people[truth[(r["source"], r["record_id"])]] for r in records]


@pytest.fixture(scope="module")
def easy_case(tmp_path_factory):
    out = tmp_path_factory.mktemp("easy")
    generate_case(out, victims=1500, lists=6, seed=19, difficulty="easy")
    return out


def test_an_easy_case_imports_exactly(easy_case, tmp_path, monkeypatch):
    summaries, records, people = import_case(easy_case, tmp_path, monkeypatch)
    assert all(s.rejected == 0 for s in summaries)
    assert sum(s.imported for s in summaries) == len(records) == len(read(easy_case / "truth.csv"))
    day_dates = cities = 0
    for record, person in zip(records, people, strict=True):
        death = record["death_date"]
        if death:
            assert death["earliest"] is not None, death  # no noise in the easy case: every date reads
            truth = dt.date.fromisoformat(person["death_date"])
            assert dt.date.fromisoformat(death["earliest"]) <= truth <= dt.date.fromisoformat(death["latest"]), (death, truth)
            if death["precision"] == "day":
                day_dates += 1
                assert death["earliest"] == death["latest"] == person["death_date"], (death, person["death_date_jalali"])
        birth = record["birth_date"]
        if birth and birth["earliest"]:
            assert birth["earliest"] <= person["birth_date"] <= birth["latest"], (birth, person["birth_date"])
        city = record["city"]
        if city and city["place_id"]:
            cities += 1
            assert city["place_id"] == person["city_id"], (city, person["city_id"])
        prison = record["prison"]
        if prison and prison["place_id"]:
            assert prison["place_id"] == person["prison_id"], (prison, person["prison_id"])
    given_cities = sum(1 for r in records if r["city"])
    assert day_dates > len(records) / 3
    assert cities >= 0.99 * given_cities  # the rest are deliberate typos


def test_a_realistic_case_imports_with_no_row_refused_and_no_place_misresolved(small_case, tmp_path, monkeypatch):
    summaries, records, people = import_case(small_case, tmp_path, monkeypatch)
    assert all(s.rejected == 0 for s in summaries)
    wrong_places = [(r["city"], p["city_id"]) for r, p in zip(records, people, strict=True)
                    if r["city"] and r["city"]["place_id"] and r["city"]["place_id"] != p["city_id"]]
    assert wrong_places == []
    resolved = sum(1 for r in records if r["city"] and r["city"]["place_id"])
    assert resolved >= 0.97 * sum(1 for r in records if r["city"])
    exact = sum(1 for r, p in zip(records, people, strict=True)
                if r["death_date"] and r["death_date"]["precision"] == "day" and r["death_date"]["earliest"] == p["death_date"])
    days = sum(1 for r in records if r["death_date"] and r["death_date"]["precision"] == "day")
    assert exact >= 0.9 * days  # the rest were shifted on purpose by the generator
