"""The person search index and searches: cross-script names, filters, pages, ids, staleness.

Expected answers are computed independently, by a plain scan of the records in Python, and
compared with what the index finds.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date

import pytest
import sqlalchemy as sa

from dadkhah.errors import InputError
from dadkhah.model import Person, PersonRecord, PersonSearch, Record, Source
from dadkhah.normalize.names import token_key
from dadkhah.registry.search import (
    build_search_index,
    ensure_search_index,
    parse_search_date,
    query_terms,
    search_index_is_current,
    search_persons,
)
from tests.conftest import TESTER, index_rows


def _number(person_id: str) -> int:
    return int(person_id.split("-")[1])


def _registry(session) -> dict[str, list[Record]]:
    """Active person id -> its current records, read straight from the tables."""
    rows = session.execute(
        sa.select(Person.person_id, Record)
        .join(PersonRecord, PersonRecord.person_pk == Person.id)
        .join(Record, sa.and_(Record.source_id == PersonRecord.source_id, Record.record_id == PersonRecord.record_id,
                              Record.superseded_by.is_(None)))
        .where(Person.status == "active"))
    persons: dict[str, list[Record]] = defaultdict(list)
    for person_id, record in rows:
        persons[person_id].append(record)
    return persons


def _name_keys(records: list[Record]) -> set[str]:
    keys = set()
    for r in records:
        for key in (r.given_name_key, r.family_name_key, r.full_name_key, r.father_name_key):
            keys.update((key or "").split())
    return keys


def _all_pages(session, per_page: int = 37, **filters) -> list[str]:
    found, offset = [], 0
    while True:
        page = search_persons(session, limit=per_page, offset=offset, **filters)
        found += [h["person_id"] for h in page["hits"]]
        assert len(page["hits"]) <= per_page
        if not page["has_next"]:
            return found
        assert len(page["hits"]) == per_page
        offset += per_page


def _expected(persons: dict[str, list[Record]], keep) -> list[str]:
    return sorted((pid for pid, records in persons.items() if keep(records)), key=_number)


def _found(hits: list[str]) -> list[str]:
    """The persons a search found, in person-id order (a name search ranks them by relevance, which
    tests/registry/test_search_ranking.py checks), each once."""
    assert len(set(hits)) == len(hits), "no person twice across pages"
    return sorted(hits, key=_number)


def _victims(case_folder) -> tuple[dict[str, dict], dict[tuple[str, str], str]]:
    with open(case_folder / "population.csv", encoding="utf-8") as handle:
        population = {row["person_id"]: row for row in csv.DictReader(handle)}
    with open(case_folder / "truth.csv", encoding="utf-8") as handle:
        truth = {(row["source"], row["record_id"]): row["person_id"] for row in csv.DictReader(handle)}
    return population, truth


def test_the_index_has_one_row_per_active_person_with_names_city_dates_and_sources(copy_of_linked):
    with copy_of_linked.session() as session:
        persons = _registry(session)
        source_names = dict(session.execute(sa.select(Source.id, Source.name)).all())
        rows = {row.person_id: row for row in session.scalars(sa.select(PersonSearch))}
        assert set(rows) == set(persons), "built by the linkage run: every active person, nothing else"
        for person_id, records in persons.items():
            row = rows[person_id]
            assert row.records == len(records)
            assert sorted(row.sources.split("\x1f")) == sorted({source_names[r.source_id] for r in records})
            deaths = [r for r in records if r.death_earliest]
            assert row.death_earliest == (min(r.death_earliest for r in deaths) if deaths else None)
            assert row.death_latest == (max(r.death_latest for r in deaths) if deaths else None)
            cities = [r.city_place_id for r in records if r.city_place_id]
            if cities:
                assert cities.count(row.city_place_id) == max(cities.count(c) for c in cities)
            assert (row.name_fa is not None) == any(r.name_script == "fa" for r in records)
            assert (row.name_latin is not None) == any(r.name_script == "latin" for r in records)


def test_a_query_gives_the_same_keys_in_either_script():
    assert query_terms("Mohammad Rezaei") == query_terms("محمد رضایی")
    assert query_terms("Hossein Zadeh") == query_terms("حسین زاده") == [[token_key("hosseinzadeh")]]
    assert query_terms("Seyyed Ali Mousavi") == query_terms("سید علی موسوی"), "titles are dropped, as on import"
    assert query_terms("   ") == [] and query_terms("???") == []
    # Two long vowels written together, kept in order: "Dariush" finds داریوش (it gave DRYW, not DRYUW).
    assert query_terms("Dariush Oskouei") == query_terms("داریوش اسکویی") == query_terms("Daryoush Oskoui")
    assert query_terms("Pouya") == query_terms("پویا") and query_terms("Kiumars") == query_terms("کیومرث")


def test_a_latin_query_finds_persons_known_only_in_persian_script_and_back(copy_of_linked, small_case):
    population, truth = _victims(small_case)
    checked = {"fa": 0, "latin": 0}
    with copy_of_linked.session() as session:
        persons = _registry(session)
        source_names = dict(session.execute(sa.select(Source.id, Source.name)).all())
        for person_id, records in persons.items():
            scripts = {r.name_script for r in records}
            victims = {truth[(source_names[r.source_id], r.record_id)] for r in records}
            if len(scripts) != 1 or len(victims) != 1 or scripts <= {None, "mixed"}:
                continue
            script = scripts.pop()
            victim = population[victims.pop()]
            # The other script's spelling, from the synthetic population (not from any record).
            if script == "fa":
                given, family = victim["given_name_latin"], victim["family_name_latin"]
            else:
                given, family = victim["given_name"], victim["family_name"]
            # Only where the records carry no typo, so the keys can meet.
            if not all(r.given_name_key == token_key(given) and r.family_name_key == token_key(family) for r in records):
                continue
            if checked[script] >= 15:
                continue
            hits = _all_pages(session, per_page=200, query=f"{given} {family}")
            wanted = _expected(persons, lambda rs, q=f"{given} {family}": all(
                set(t) & _name_keys(rs) for t in query_terms(q)))
            assert person_id in hits, f"{given} {family} should find {person_id}, written in {script} script"
            assert _found(hits) == wanted
            checked[script] += 1
    assert checked["fa"] >= 10 and checked["latin"] >= 10, checked


@pytest.mark.parametrize("query", ["Ali", "علی", "Mohammad", "حسینی", "Rezaei", "Ali Mohammad", "Zahra", "zzzz qqqq"])
def test_name_searches_find_exactly_the_persons_a_scan_of_the_records_finds(copy_of_linked, query):
    with copy_of_linked.session() as session:
        persons = _registry(session)
        terms = query_terms(query)
        wanted = _expected(persons, lambda records: all(set(t) & _name_keys(records) for t in terms))
        assert _found(_all_pages(session, per_page=10, query=query)) == wanted
        if query == "Ali":
            assert len(wanted) > 20, "the common name spans several pages"


def test_filters_find_exactly_the_persons_a_scan_of_the_records_finds(copy_of_linked):
    with copy_of_linked.session() as session:
        persons = _registry(session)
        source = session.scalar(sa.select(Source).where(Source.name == "list-2"))
        start, end = date(1988, 8, 1), date(1988, 8, 10)

        def died_within(records):
            deaths = [r for r in records if r.death_earliest]
            return bool(deaths) and max(r.death_latest for r in deaths) >= start and min(r.death_earliest for r in deaths) <= end

        def in_tehran(records):
            return any(r.city_place_id == "city:tehran" for r in records)

        def from_list_2(records):
            return any(r.source_id == source.id for r in records)

        def named_ali(records):
            return bool({"LI"} & _name_keys(records))

        cases = [
            ({"city": "city:tehran"}, in_tehran),
            ({"source": "list-2"}, from_list_2),
            ({"death_from": start, "death_to": end}, died_within),
            ({"query": "Ali", "city": "city:tehran", "source": "list-2"},
             lambda rs: named_ali(rs) and in_tehran(rs) and from_list_2(rs)),
            ({"query": "علی", "death_from": start}, lambda rs: named_ali(rs) and any(
                r.death_latest and r.death_latest >= start for r in rs)),
            ({}, lambda rs: True),
        ]
        for filters, keep in cases:
            wanted = _expected(persons, keep)
            assert wanted, filters
            assert _found(_all_pages(session, **filters)) == wanted, filters


def test_pages_follow_person_ids_without_gaps_or_repeats(copy_of_linked):
    with copy_of_linked.session() as session:
        everyone = _all_pages(session, per_page=50)
        assert everyone == sorted(everyone, key=_number) and len(set(everyone)) == len(everyone)
        first = search_persons(session, limit=10, offset=0)
        second = search_persons(session, limit=10, offset=10)
        assert first["has_next"] and [h["person_id"] for h in first["hits"] + second["hits"]] == everyone[:20]
        last = search_persons(session, limit=10, offset=len(everyone) - 3)
        assert len(last["hits"]) == 3 and not last["has_next"]


def test_a_person_id_finds_that_person_and_a_merged_id_its_survivor(copy_of_linked):
    from dadkhah.link.review import decide
    from dadkhah.link.run import run_linkage

    with copy_of_linked.session() as session:
        for written in ("P-000003", "p3", "P3", "P-۰۰۰۰۰۳"):
            assert [h["person_id"] for h in search_persons(session, query=written)["hits"]] == ["P-000003"]
        assert search_persons(session, query="P-999999")["hits"] == []
        refs = {}
        for person_id in ("P-000001", "P-000002"):
            source, record_id = session.execute(
                sa.select(Source.name, PersonRecord.record_id).join(Source, Source.id == PersonRecord.source_id)
                .join(Person, Person.id == PersonRecord.person_pk).where(Person.person_id == person_id)
                .order_by(PersonRecord.record_id).limit(1)).one()
            refs[person_id] = f"{source}:{record_id}"
        decide(copy_of_linked, "same", actor=TESTER, reason="synthetic test: one person", records=(refs["P-000001"], refs["P-000002"]))
    run_linkage(copy_of_linked, actor=TESTER)
    with copy_of_linked.session() as session:
        merged = session.scalar(sa.select(Person).where(Person.person_id == "P-000002"))
        assert merged.status == "merged" and merged.merged_into == "P-000001"
        assert [h["person_id"] for h in search_persons(session, query="P-000002")["hits"]] == ["P-000001"]
        assert "P-000002" not in _all_pages(session, per_page=200)


def test_the_index_is_rebuilt_when_an_import_made_it_stale(copy_of_linked, small_case, tmp_path, monkeypatch):
    """A list of new records leaves the index as it is (no person holds them until the next run); a
    corrected version of records persons hold makes it stale, and the next search updates the rows
    of the persons holding them, to what a full rebuild makes."""
    import dadkhah.registry.search as search
    from dadkhah.ingest.importer import import_file

    assert ensure_search_index(copy_of_linked) is False, "the linkage run left it current"
    extra = tmp_path / "extra.csv"
    extra.write_text("record_id,given_name,family_name,city\nX-1,Qobad,Zarrinkelk,Rasht\n", encoding="utf-8")
    import_file(copy_of_linked, extra, source="late-list", actor=TESTER)
    with copy_of_linked.session() as session:
        assert search_index_is_current(session), "new records change no person: the index stands"
        assert search_persons(session, query="Zarrinkelk")["hits"] == [], "not linked yet: no person holds it"
    assert ensure_search_index(copy_of_linked) is False

    with open(small_case / "list-1.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    name_column = "family_name" if "family_name" in rows[0] else "full_name"
    rows[0][name_column] = "Zarrinkelk"
    corrected = tmp_path / "list-1-corrected.csv"
    with open(corrected, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import_file(copy_of_linked, corrected, source="list-1", actor=TESTER)
    with copy_of_linked.session() as session:
        assert not search_index_is_current(session), "a person's record has a new version"
        holders = search.changed_since_built(session)
        assert holders and len(holders) <= len(rows), "list-1's persons, no others"

    def no_rebuild(session):
        raise AssertionError("made for the latest run: the index is updated, not rebuilt")

    with monkeypatch.context() as patched:
        patched.setattr(search, "build_search_index", no_rebuild)
        patched.setattr(search, "_UPDATE_AT_MOST", 1.0)  # (a quarter of the persons or more: rebuilt, as is quicker)
        assert ensure_search_index(copy_of_linked) is True
    with copy_of_linked.session() as session:
        assert search_index_is_current(session)
        assert len(search_persons(session, query="Zarrinkelk")["hits"]) == 1, "the corrected record's person"
        updated = index_rows(session)
        build_search_index(session)
        assert index_rows(session) == updated
        session.rollback()


def test_dates_may_be_iso_or_jalali_and_bad_filters_are_refused(copy_of_linked):
    assert parse_search_date("1988-08-06", field="death_from", end=False) == date(1988, 8, 6)
    assert parse_search_date("1367/05/15", field="death_from", end=False) == date(1988, 8, 6)
    assert parse_search_date("1367/05", field="death_to", end=True) == date(1988, 8, 22)
    assert parse_search_date("", field="death_to", end=True) is None
    with pytest.raises(InputError) as refused:
        parse_search_date("soon", field="death_from", end=False)
    assert refused.value.field == "death_from"
    with copy_of_linked.session() as session:
        iso = _all_pages(session, death_from=date(1988, 8, 6), death_to=date(1988, 8, 6))
        jalali = _all_pages(session, death_from=parse_search_date("1367/05/15", field="f", end=False),
                            death_to=parse_search_date("1367/05/15", field="t", end=True))
        assert iso == jalali and iso
        for bad, field in (({"city": "city:atlantis"}, "city"), ({"city": "prison:evin"}, "city"),
                           ({"source": "no such list"}, "source"),
                           ({"death_from": date(1988, 9, 1), "death_to": date(1988, 8, 1)}, "death_to")):
            with pytest.raises(InputError) as refused:
                search_persons(session, **bad)
            assert refused.value.field == field


def test_index_build_and_cross_script_search_on_sqlite_and_postgresql(store, small_case):
    """On both databases: import, link (which builds the index), and find a Persian record by its Latin name."""
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.run import run_linkage

    for path in sorted(small_case.glob("list-*.csv"))[:2]:
        import_file(store, path, source=path.stem, actor=TESTER)
    run_linkage(store, actor=TESTER)
    population, truth = _victims(small_case)
    with store.session() as session:
        persons = _registry(session)
        assert session.scalar(sa.select(sa.func.count()).select_from(PersonSearch)) == len(persons)
        assert build_search_index(session)["persons"] == len(persons), "a rebuild gives the same"
        source_names = dict(session.execute(sa.select(Source.id, Source.name)).all())
        found = 0
        for person_id, records in sorted(persons.items()):
            if {r.name_script for r in records} != {"fa"}:
                continue
            victim = population[truth[(source_names[records[0].source_id], records[0].record_id)]]
            if records[0].family_name_key != token_key(victim["family_name_latin"]):
                continue
            hits = search_persons(session, query=victim["family_name_latin"], limit=200)["hits"]
            assert person_id in [h["person_id"] for h in hits]
            hit = next(h for h in hits if h["person_id"] == person_id)
            assert hit["name_fa"] and hit["sources"] and hit["records"] == len(records)
            found += 1
            if found == 5:
                break
        assert found == 5
        tehran = _all_pages(session, city="city:tehran", death_from=date(1988, 7, 1))
        assert tehran == _expected(persons, lambda rs: any(r.city_place_id == "city:tehran" for r in rs) and any(
            r.death_latest and r.death_latest >= date(1988, 7, 1) for r in rs))


def test_a_run_rewrites_the_rows_of_the_persons_it_changed_and_the_index_is_what_a_rebuild_makes(store, small_case, monkeypatch):
    """On both databases: new lists, a split and a merge decided; the next run updates the index for
    the persons it changed only, and the index equals a full rebuild's."""
    import dadkhah.link.run as link_run
    import dadkhah.registry.search as search
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.review import decide

    lists = sorted(small_case.glob("list-*.csv"))
    for path in lists[:2]:
        import_file(store, path, source=path.stem, actor=TESTER)
    link_run.run_linkage(store, actor=TESTER)
    for path in lists[2:]:
        import_file(store, path, source=path.stem, actor=TESTER)
    with store.session() as session:
        assert search_index_is_current(session), "new lists change no person until the next run"
        persons = _registry(session)
        names = dict(session.execute(sa.select(Source.id, Source.name)).all())
    ref = {person: [f"{names[r.source_id]}:{r.record_id}" for r in records] for person, records in persons.items()}
    split = next(p for p, refs in sorted(ref.items()) if len(refs) >= 2)
    alone = [p for p, refs in sorted(ref.items()) if len(refs) == 1][:2]
    decide(store, "different", actor=TESTER, reason="test: a split", records=(ref[split][0], ref[split][1]))
    decide(store, "same", actor=TESTER, reason="test: a merge", records=(ref[alone[0]][0], ref[alone[1]][0]))

    def no_rebuild(session):
        raise AssertionError("the index was current: the run should update it, not rebuild it")

    monkeypatch.setattr(search, "build_search_index", no_rebuild)
    monkeypatch.setattr(search, "_UPDATE_AT_MOST", 1.0)  # two new lists change most persons: updated all the same
    summary = link_run.run_linkage(store, actor=TESTER)
    assert summary.merged >= 1 and summary.split >= 1 and summary.records_moved >= 1
    assert 0 < summary.reused["search_index_updated_for"] < summary.persons
    with store.session() as session:
        assert search_index_is_current(session)
        updated = index_rows(session)
        after = _registry(session)
        assert len(updated["person_search"]) == len(after)
        build_search_index(session)
        assert index_rows(session) == updated, "the updated index is the one a full rebuild makes"
        session.rollback()


def test_many_changed_persons_rebuild_the_index_few_update_it(copy_of_linked):
    from dadkhah.registry.search import refresh_search_index

    with copy_of_linked.session() as session:
        persons = session.scalars(sa.select(PersonSearch.person_pk).order_by(PersonSearch.person_pk)).all()
        before = index_rows(session)
        assert refresh_search_index(session, set(persons[:3])) == 3
        assert refresh_search_index(session, set(persons[: len(persons) // 2])) is None, "half of them: rebuilt"
        assert refresh_search_index(session, None) is None
        assert index_rows(session) == before, "nothing had changed: the same index every way"
