"""Stable person ids: unchanged, merged, split; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dadkhah.ingest.importer import import_file
from dadkhah.model import LinkageRun, Person, RegistryEvent, Source
from dadkhah.registry.persons import assign_persons, describe_person, iter_memberships
from tests.conftest import TESTER, write


def setup_records(store, tmp_path):
    text = "id,given_name,family_name,father_name,death_date,city\n" + "".join(
        f"{i},Reza,Karimi,Ali,1367/05/0{i % 9 + 1},Rasht\n" for i in range(1, 7)
    )
    import_file(store, write(tmp_path / "l.csv", text), source="s", actor=TESTER)
    with store.session() as session:
        source_id = session.scalar(sa.select(Source.id))
    return [(source_id, str(i)) for i in range(1, 7)]


def run(store, clusters):
    with store.session() as session:
        row = LinkageRun(engine="test", threshold=0.5, review_low=0.2, review_high=0.9, parameters={}, run_by="t", software_version="0")
        session.add(row)
        session.flush()
        result = assign_persons(session, row.id, clusters)
        members = {(s, r): p for s, r, p in iter_memberships(session)}
    return result, {key[1]: members[("s", key[1])] for key in clusters}


def events(store, kind):
    with store.session() as session:
        return session.execute(sa.select(RegistryEvent.person_id, RegistryEvent.other_person_id)
                               .where(RegistryEvent.kind == kind).order_by(RegistryEvent.id)).all()


def test_ids_are_kept_merged_and_split(store, tmp_path):
    keys = setup_records(store, tmp_path)
    first, ids = run(store, {keys[0]: 1, keys[1]: 1, keys[2]: 3, keys[3]: 4, keys[4]: 4, keys[5]: 4})
    assert (first.created, first.persons) == (3, 3)
    assert ids == {"1": "P-000001", "2": "P-000001", "3": "P-000002", "4": "P-000003", "5": "P-000003", "6": "P-000003"}

    again, same_ids = run(store, {keys[0]: 1, keys[1]: 1, keys[2]: 3, keys[3]: 4, keys[4]: 4, keys[5]: 4})
    assert same_ids == ids and again.unchanged == 3 and (again.created, again.merged, again.split) == (0, 0, 0)
    assert again.records_moved == 0 and len(events(store, "created")) == 3

    # P-000001 and P-000002 are one person: the older id stays, the other is merged into it.
    merged, merged_ids = run(store, {keys[0]: 1, keys[1]: 1, keys[2]: 1, keys[3]: 4, keys[4]: 4, keys[5]: 4})
    assert merged.merged == 1 and set(merged_ids.values()) == {"P-000001", "P-000003"}
    assert events(store, "merged") == [("P-000002", "P-000001")]
    with store.session() as session:
        gone = session.scalar(sa.select(Person).where(Person.person_id == "P-000002"))
        assert (gone.status, gone.merged_into) == ("merged", "P-000001")
        assert describe_person(session, "P-000002") | {"events": None} == {"person_id": "P-000002", "status": "merged", "merged_into": "P-000001", "events": None}

    # P-000003 is two people: the larger part keeps the id, the smaller gets a new one.
    split, split_ids = run(store, {keys[0]: 1, keys[1]: 1, keys[2]: 1, keys[3]: 4, keys[4]: 4, keys[5]: 6})
    assert split.split == 1 and split_ids["4"] == split_ids["5"] == "P-000003" and split_ids["6"] == "P-000004"
    assert events(store, "split") == [("P-000003", "P-000004")]


def test_records_moving_between_existing_persons_are_recorded(store, tmp_path):
    keys = setup_records(store, tmp_path)
    run(store, {keys[0]: 1, keys[1]: 1, keys[2]: 1, keys[3]: 4, keys[4]: 4, keys[5]: 4})
    moved, ids = run(store, {keys[0]: 1, keys[1]: 1, keys[2]: 4, keys[3]: 4, keys[4]: 4, keys[5]: 4})
    assert ids["3"] == "P-000002" and ids["1"] == "P-000001" and moved.records_moved == 1
    assert events(store, "split") == [("P-000001", "P-000002")]


def test_persons_untouched_by_a_run_are_kept_beside_those_it_changes(store, tmp_path):
    """Most persons of a run that adds a list keep exactly their records: they are found all at once,
    while the few that change are decided as ever (kept, merged, split, given new records)."""
    text = "id,given_name,family_name,death_date,city\n" + "".join(
        f"{i},Name{i},Family{i},1367/05/0{i % 9 + 1},Rasht\n" for i in range(1, 15))
    import_file(store, write(tmp_path / "l.csv", text), source="s", actor=TESTER)
    with store.session() as session:
        source = session.scalar(sa.select(Source.id))
    key = {i: (source, str(i)) for i in range(1, 15)}
    first, ids = run(store, {key[i]: label for i, label in
                             {1: 1, 2: 1, 3: 3, 4: 4, 5: 4, 6: 6, 7: 7, 8: 7, 9: 9, 10: 9, 11: 9}.items()})
    assert first.created == 6 and len(set(ids.values())) == 6
    # 1-2 and 3 untouched; 4-5 and 6 merged; 7-8 split; 9-10-11 loses 11, which joins a new record
    # (12); 13 and 14 are new, each alone.
    second, ids2 = run(store, {key[i]: label for i, label in
                               {1: 1, 2: 1, 3: 3, 4: 4, 5: 4, 6: 4, 7: 7, 8: 8, 9: 9, 10: 9, 11: 11, 12: 11,
                                13: 13, 14: 14}.items()})
    assert second.unchanged == 2  # 1-2 and 3: nothing decided or written for them
    assert (ids2["1"], ids2["2"], ids2["3"]) == (ids["1"], ids["2"], ids["3"])
    assert ids2["4"] == ids2["5"] == ids2["6"] == ids["4"] and second.merged == 1
    assert ids2["7"] == ids["7"] and ids2["8"] != ids["7"]
    assert ids2["9"] == ids2["10"] == ids["9"] and ids2["11"] == ids2["12"] != ids["9"]
    assert second.split == 2 and second.created == 2 and second.persons == 9
    assert events(store, "merged") == [(ids["6"], ids["4"])]
    assert sorted(events(store, "split")) == sorted([(ids["7"], ids2["8"]), (ids["9"], ids2["11"])])


@pytest.mark.parametrize("database", ["sqlite"])  # SQLite's plans: PostgreSQL plans with statistics
def test_reading_one_person_reads_no_table_whole(store, tmp_path):
    """A person's page and each person a case file describes read that person's rows through indexes:
    no statement scans records, person records or registry events whole. SQLite plans without
    statistics, as it does for a workspace of any size, so the plans here are those of a large one
    (reading one person at 215,172 records took 146 ms and 302 ms before, 1.6 and 2.6 ms after)."""
    from dadkhah.accountability.queries import _add_names, person_accountability
    from dadkhah.registry.dossier import person_details
    from dadkhah.registry.search import build_search_index

    keys = setup_records(store, tmp_path)
    import_file(store, write(tmp_path / "c.csv", "id,given_name,family_name,father_name,death_date,city\n"
                             "1,Reza,Karimi-Rashti,Ali,1367/05/02,Rasht\n"), source="s", actor=TESTER)  # a correction
    run(store, {keys[0]: 1, keys[1]: 1, keys[2]: 3, keys[3]: 4, keys[4]: 4, keys[5]: 4})
    run(store, {keys[0]: 1, keys[1]: 1, keys[2]: 1, keys[3]: 4, keys[4]: 4, keys[5]: 4})  # P-000002 merged
    with store.session() as session:
        build_search_index(session)
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        with store.session() as session:
            described = describe_person(session, "P-000001")
            details = person_details(session, "P-000001", include_vault=True)
            accountability = person_accountability(session, "P-000001")
            victims = [{"person": "P-000001"}, {"person": "P-000003"}]
            _add_names(session, victims)  # the names beside a list of victims (an official's, an act's)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)
    assert len(described["records"]) == 3 and {e["kind"] for e in described["events"]} == {"created", "merged"}
    assert details["person_id"] == "P-000001" and accountability["acts_total"] == 0
    assert all(v.get("name") for v in victims), victims
    scans = []
    with store.engine.connect() as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters):
                detail = row[-1]
                if any(f"SCAN {table}" in detail for table in ("records", "person_records", "registry_events", "persons", "person_search")) or \
                        "ix_records_superseded_by" in detail:
                    scans.append((detail, statement.split("FROM")[1][:120]))
    assert scans == []
