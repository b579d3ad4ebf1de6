"""The case summary (`report summary`, the dashboard): every count, on SQLite and PostgreSQL."""

from __future__ import annotations

from dadkhah.ingest.importer import import_file
from dadkhah.report.summary import case_summary
from tests.conftest import TESTER, link_by_hand, write


def test_the_summary_counts_current_records_by_source_city_and_incident(store, tmp_path):
    import_file(store, write(tmp_path / "a.csv", "id,given_name,family_name,city,death_date\n"
                             "1,Ali,Rahimi,Rasht,1367/05/08\n2,Reza,Karimi,Rasht,\n3,Sara,Ahmadi,Tehran,\n"
                             "4,Mina,Moradi,Atlantis,\n5,Hassan,Karimi,,\n"), source="a", actor=TESTER,
                incident="Summer executions")
    import_file(store, write(tmp_path / "b.csv", "id,given_name,family_name,city\n1,Ali,Rahimi,رشت\n2,Leila,Nouri,تبریز\n"),
                source="b", actor=TESTER, incident="Autumn executions")
    # a correction of a's record 3: it moves to Tabriz; version 1 no longer counts anywhere
    import_file(store, write(tmp_path / "a2.csv", "id,given_name,family_name,city\n3,Sara,Ahmadi,Tabriz\n"), source="a",
                actor=TESTER, incident="Summer executions")
    link_by_hand(store, {("a", "1"): 1, ("b", "1"): 1, ("a", "2"): 2, ("a", "3"): 3, ("a", "4"): 4, ("a", "5"): 5,
                         ("b", "2"): 6})
    with store.session() as session:
        summary = case_summary(session)
    assert (summary["records"], summary["persons"]) == (7, 6)
    assert [(s["name"], s["records"], s["persons"], s["imports"]) for s in summary["sources"]] == [
        ("a", 5, 5, 2), ("b", 2, 2, 1)]
    assert [(c["place_id"], c["name"], c["records"]) for c in summary["cities"]] == [
        ("city:rasht", "Rasht", 3), ("city:tabriz", "Tabriz", 2),
        (None, "(unresolved or empty)", 2)]  # Atlantis and the empty cell: no place either
    assert summary["distinct_cities"] == 2
    assert summary["incidents"] == [{"name": "Autumn executions", "records": 2}, {"name": "Summer executions", "records": 5}]
