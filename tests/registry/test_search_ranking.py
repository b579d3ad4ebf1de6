"""Registry search by relevance: the whole query as a person's own full name first, then a whole
given or family name, part of one, another name, and the father's name last; ties in person-id
order; each hit says what matched. The expected order is computed independently, by a plain scan of
the records in Python, on SQLite and PostgreSQL; the command line and the web show the same."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from dadkhah.model import LinkageRun, Person, PersonRecord, Record, Source
from dadkhah.registry import search
from dadkhah.registry.search import MATCH_FIELDS, build_search_index, query_terms, search_persons
from tests.conftest import TESTER

HEAD = "id,given_name,family_name,father_name,city\n"
# The query "Mohammad" meets each of these in another place; the first by id only through the father.
ROWS = {
    "r1": "Ali,Karimi,Mohammad,Tabriz",  # father's name
    "r2": "Mohammad,Rezaei,Hasan,Rasht",  # given name; the whole of "Mohammad Rezaei"
    "r3": "Reza,Sadat Mohammad,Ali,Rasht",  # part of the family name (a given name of two words is joined)
    "r4": "Hossein,Mohammad,Ali,Tabriz",  # family name
    "r5": "Reza,Mohammadi,Ali,Rasht",  # another name (Mohammadi), not a match
    "r6": "Mohammad,Karimi,Rezaei,Tabriz",  # given name; "Rezaei" only as the father
    "r7": "Zahra,Rezaei,Mohammad,Rasht",  # "Mohammad Rezaei": the father and the family name
}


def _build(store, tmp_path: Path) -> dict[str, str]:
    """The rows above imported, one person each (numbered in the rows' order), and indexed: record -> person id."""
    from dadkhah import __version__
    from dadkhah.ingest.importer import import_file
    from dadkhah.registry.persons import assign_persons

    path = tmp_path / "ranking.csv"
    path.write_text(HEAD + "".join(f"{rid},{row}\n" for rid, row in ROWS.items()), encoding="utf-8")
    import_file(store, path, source="ranking", actor=TESTER)
    with store.session() as session:
        source_id = session.scalar(sa.select(Source.id).where(Source.name == "ranking"))
        run = LinkageRun(engine="test", threshold=0.5, review_low=0.2, review_high=0.9, parameters={},
                         records=len(ROWS), run_by="test", software_version=__version__)
        session.add(run)
        session.flush()
        assign_persons(session, run.id, {(source_id, rid): n for n, rid in enumerate(ROWS)})
        build_search_index(session)
        return dict(session.execute(sa.select(PersonRecord.record_id, Person.person_id)
                                    .join(Person, Person.id == PersonRecord.person_pk)).all())


def _ranked(store, query: str, **filters) -> list[tuple[str, str]]:
    with store.session() as session:
        hits = search_persons(session, query=query, limit=50, **filters)["hits"]
    return [(h["person_id"], h["matched"]) for h in hits]


def test_a_name_in_a_persons_own_names_comes_before_the_fathers_and_says_where_it_matched(store, tmp_path):
    person = _build(store, tmp_path)
    assert person["r1"] < person["r2"], "the father-only match has the lowest id, as in the report"
    assert _ranked(store, "Mohammad") == [
        (person["r2"], "given name"), (person["r6"], "given name"), (person["r4"], "family name"),
        (person["r3"], "part of the family name"), (person["r1"], "father's name"), (person["r7"], "father's name")]
    assert _ranked(store, "محمد") == _ranked(store, "Mohammad"), "either script"
    assert _ranked(store, "Mohammad Rezaei") == [
        (person["r2"], "full name"), (person["r6"], "father's name"), (person["r7"], "father's name")]
    assert _ranked(store, "Rezaei Mohammad") == [
        (person["r2"], "family name"), (person["r6"], "father's name"), (person["r7"], "father's name")], \
        "the words in another order are not the full name"
    # A filter narrows without changing the order; a page goes on where the last one stopped.
    assert _ranked(store, "Mohammad", city="city:tabriz") == [
        (person["r6"], "given name"), (person["r4"], "family name"), (person["r1"], "father's name")]
    with store.session() as session:
        pages = [search_persons(session, query="Mohammad", limit=2, offset=offset)["hits"] for offset in (0, 2, 4)]
    assert [h["person_id"] for page in pages for h in page] == [p for p, _ in _ranked(store, "Mohammad")]
    # Without a name: person-id order, and nothing matched by name.
    listed = _ranked(store, "", city="city:rasht")
    assert [p for p, _ in listed] == sorted(p for p, _ in listed) and {m for _, m in listed} == {None}
    assert _ranked(store, person["r3"]) == [(person["r3"], "person id")]


# ----- the order on a realistic case, computed independently --------------------------------------


def _fields(records: list[Record]) -> tuple[dict[str, int], set[str]]:
    """Each name key word of the person -> its best place (1 whole given name ... 6 father's name),
    and the person's whole full-name keys: read from the records as kept, without the index."""
    best: dict[str, int] = defaultdict(lambda: 99)
    for r in records:
        for key, whole, part in ((r.given_name_key, 1, 3), (r.family_name_key, 2, 4), (r.full_name_key, 5, 5),
                                 (r.father_name_key, 6, 6)):
            words = (key or "").split()
            for word in words:
                best[word] = min(best[word], whole if len(words) == 1 else part)
    return best, {r.full_name_key for r in records if r.full_name_key}


def _expected_ranking(session, query: str, keep=lambda records: True) -> list[tuple[str, str]]:
    rows = session.execute(
        sa.select(Person.id, Person.person_id, Record)
        .join(PersonRecord, PersonRecord.person_pk == Person.id)
        .join(Record, sa.and_(Record.source_id == PersonRecord.source_id, Record.record_id == PersonRecord.record_id,
                              Record.superseded_by.is_(None)))
        .where(Person.status == "active"))
    persons: dict[tuple[int, str], list[Record]] = defaultdict(list)
    for pk, person_id, record in rows:
        persons[(pk, person_id)].append(record)
    terms = query_terms(query)
    whole = " ".join(term[0] for term in terms)
    ranked = []
    for (pk, person_id), records in persons.items():
        best, full_names = _fields(records)
        places = [min(best.get(k, 99) for k in term) for term in terms]
        if max(places) == 99 or not keep(records):
            continue
        rank = 0 if len(terms) > 1 and whole in full_names else max(places)
        ranked.append((rank, pk, person_id))
    return [(person_id, MATCH_FIELDS[rank]) for rank, _, person_id in sorted(ranked)]


def _all_ranked(session, per_page: int = 23, **search_args) -> list[tuple[str, str]]:
    found, offset = [], 0
    while True:
        page = search_persons(session, limit=per_page, offset=offset, **search_args)
        found += [(h["person_id"], h["matched"]) for h in page["hits"]]
        if not page["has_next"]:
            return found
        offset += per_page


@pytest.mark.parametrize("query", ["Mohammad", "Ali", "علی", "حسینی", "Rezaei", "Mohammad Rezaei", "Ali Mohammad",
                                   "Hossein Zadeh", "Zahra Ahmadi"])
def test_hits_come_in_the_order_a_scan_of_the_records_gives(copy_of_linked, query):
    with copy_of_linked.session() as session:
        expected = _expected_ranking(session, query)
        assert _all_ranked(session, query=query) == expected
    if query in ("Mohammad", "Ali"):
        assert {"given name", "father's name"} <= {m for _, m in expected}, "common names meet fathers too"
        assert [m for _, m in expected].index("father's name") > 0


@pytest.mark.parametrize("cheaper", [True, False], ids=["from the filter", "walking the name"])
def test_a_name_with_a_filter_ranks_the_same_whichever_term_the_search_starts_from(copy_of_linked, monkeypatch,
                                                                                    cheaper):
    monkeypatch.setattr(search, "_filter_is_cheaper", lambda *args: cheaper)
    with copy_of_linked.session() as session:
        source_id = session.scalar(sa.select(Source.id).where(Source.name == "list-2"))
        start = date(1988, 8, 1)
        for query, filters, keep in (
                ("Ali", {"city": "city:tehran"}, lambda rs: any(r.city_place_id == "city:tehran" for r in rs)),
                ("Mohammad", {"source": "list-2"}, lambda rs: any(r.source_id == source_id for r in rs)),
                ("Ali", {"death_from": start, "city": "city:tabriz"},
                 lambda rs: any(r.city_place_id == "city:tabriz" for r in rs)
                 and any(r.death_latest and r.death_latest >= start for r in rs))):
            expected = _expected_ranking(session, query, keep)
            assert expected, (query, filters)
            assert _all_ranked(session, query=query, **filters) == expected, (query, filters)


def test_ranking_holds_on_sqlite_and_postgresql(store, tmp_path):
    person = _build(store, tmp_path)
    with store.session() as session:
        for query in ("Mohammad", "Mohammad Rezaei", "Ali", "Rezaei", "Karimi Ali"):
            assert _all_ranked(session, per_page=3, query=query) == _expected_ranking(session, query), query
    assert _ranked(store, "Mohammad")[0] == (person["r2"], "given name")


def test_query_terms_are_unchanged_for_the_memorial_sites_search():
    """The memorial's JavaScript port is held to query_terms; ranking added nothing to its output."""
    assert query_terms("Mohammad Rezaei") == query_terms("محمد رضایی") == [["MHMD", "MHMDRZI"], ["RZI", "MHMDRZI"]]
    assert query_terms("Ali Mohammad") == [["LI", "LYMHMD"], ["MHMD", "LYMHMD"]]


# ----- the shells ---------------------------------------------------------------------------------


def test_the_command_line_shows_what_matched(copy_of_linked):
    from tests.cli.test_cli import run

    folder = copy_of_linked.workspace.path
    with copy_of_linked.session() as session:
        expected = _expected_ranking(session, "Mohammad")[:5]
    result = run("persons", "search", "Mohammad", "--limit", "5", "--json", workspace=folder)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [(h["person_id"], h["matched"]) for h in document["hits"]] == expected and document["has_next"]
    table = run("persons", "search", "Mohammad", "--limit", "5", workspace=folder)
    assert table.exit_code == 0 and "matched" in table.stdout and expected[0][1] in table.stdout
    assert "--offset 5" in table.stdout


def test_the_web_list_says_what_matched_in_persian(copy_of_linked):
    from bs4 import BeautifulSoup
    from fastapi.testclient import TestClient

    from dadkhah.users import add_user
    from dadkhah.web import WebSettings, create_app
    from tests.web.conftest import PASSWORD, login

    add_user(copy_of_linked, "reader", actor=TESTER, role="viewer", password=PASSWORD)
    with copy_of_linked.session() as session:
        expected = _expected_ranking(session, "Mohammad")[:10]
    app = create_app(WebSettings(workspace=copy_of_linked.workspace.path))
    try:
        client: TestClient = login(app, "reader")
        api = client.get("/api/v1/persons", params={"q": "Mohammad", "per_page": 10}).json()
        assert [(p["person_id"], p["matched"]) for p in api["persons"]] == expected
        page = BeautifulSoup(client.get("/persons", params={"q": "Mohammad", "per_page": 10, "lang": "fa"}).text,
                             "html.parser")
        cells = page.select("#hits tr.hit td.matched")
        assert [c["data-matched"] for c in cells] == [m for _, m in expected]
        persian = {"given name": "نام", "family name": "نام خانوادگی", "part of the given name": "بخشی از نام",
                   "part of the family name": "بخشی از نام خانوادگی", "other name": "نام دیگر",
                   "father's name": "نام پدر", "full name": "نام کامل"}
        assert [c.get_text(strip=True) for c in cells] == [persian[m] for _, m in expected]
        listed = BeautifulSoup(client.get("/persons", params={"city": "city:tehran"}).text, "html.parser")
        assert listed.select("#hits tr.hit") and not listed.select("td.matched"), "no column without a name"
    finally:
        app.state.store.close()
