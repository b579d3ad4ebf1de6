"""Estimating from the linked registry: capture histories, strata, storage, linkage sensitivity."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dadkhah.errors import InputError
from dadkhah.estimate import EstimationError, estimate_table
from dadkhah.estimate.registry import estimate_registry, run_registry_estimate
from dadkhah.ingest.importer import import_file
from dadkhah.model import Estimate, LinkageRun, Source
from dadkhah.registry.persons import assign_persons
from tests.conftest import TESTER, write

HEADER = "id,given_name,family_name,father_name,death_date,city\n"
# Three lists; list c only searched in Rasht; one record with no city.
LISTS = {
    "a": [("a1", "Rasht"), ("a2", "Rasht"), ("a3", "Rasht"), ("a4", "Rasht"), ("a5", "Tabriz"), ("a6", "Tabriz")],
    "b": [("b1", "Rasht"), ("b2", "Rasht"), ("b3", "Tabriz"), ("b4", "Tabriz"), ("b5", "")],
    "c": [("c1", "Rasht"), ("c2", "Rasht")],
}
PERSONS = [["a1", "b1", "c1"], ["a2", "b2"], ["a3"], ["a4", "c2"], ["a5", "b3"], ["a6"], ["b4"], ["b5"]]


def chao(table):
    return estimate_table(table, "chao")


def hand_linked(store, tmp_path):
    """The registry above, with persons assigned by hand (no linkage model involved)."""
    for name, rows in LISTS.items():
        body = "".join(f"{rid},Name{rid},Family{rid},Father,1367/05/10,{city}\n" for rid, city in rows)
        import_file(store, write(tmp_path / f"{name}.csv", HEADER + body), source=name, actor=TESTER)
    with store.session() as session:
        source_id = dict(session.execute(sa.select(Source.name, Source.id)).all())
        run = LinkageRun(engine="hand", threshold=0.5, review_low=0.2, review_high=0.9, parameters={}, run_by="t",
                         software_version="0")
        session.add(run)
        session.flush()
        clusters = {(source_id[rid[0]], rid): label for label, members in enumerate(PERSONS) for rid in members}
        assign_persons(session, run.id, clusters)
        run.finished_at = sa.func.now()
        return run.id


def test_capture_histories_and_strata_from_the_registry(store, tmp_path):
    run_id = hand_linked(store, tmp_path)
    told = []
    document = estimate_registry(store, estimate=chao, by="city", progress=lambda done, total: told.append((done, total)),
                                 actor=TESTER, keep_unknown=True)
    assert told[0] == (0, 4) and told[-1] == (4, 4)  # overall, then three strata
    assert document["linkage_run_id"] == run_id
    assert document["observed"] == 8 and document["lists"] == ["a", "b", "c"]
    strata = {s["name"]: s for s in document["strata"]}
    assert set(strata) == {"Rasht", "Tabriz", "unknown"}
    assert (strata["Rasht"]["observed"], strata["Rasht"]["lists"]) == (4, ["a", "b", "c"])
    # List c searched only Rasht: in Tabriz it is left out rather than counted as missing everyone.
    assert (strata["Tabriz"]["observed"], strata["Tabriz"]["lists"]) == (3, ["a", "b"])
    assert strata["unknown"]["estimate"] is None and strata["unknown"]["observed"] == 1
    assert "fewer than two lists" in strata["unknown"]["warnings"][0]
    total = document["strata_total"]
    assert total["observed"] == 8 and total["observed_in_unestimated_strata"] == 1
    assert total["estimate"] == pytest.approx(strata["Rasht"]["estimate"] + strata["Tabriz"]["estimate"] + 1)
    # Overall: f1 = 4 (a3, a6, b4, b5), f2 = 3, t = 3 -> 8 + (2/3) * 16 / 6.
    assert document["estimate"] == pytest.approx(8 + (2 / 3) * 16 / 6)


def test_a_month_of_death_only_from_a_date_within_one_gregorian_month(store, tmp_path):
    """'Mordad 1367' runs from 23 July to 22 August 1988: it was counted in July, although most of it
    is August (775 records of the demo). It now gives no month, and is drawn like any missing one."""
    from dadkhah.estimate.registry import _record_attributes

    rows = {"d1": "1367/05/10", "d2": "Mordad 1367", "d3": "July 1988", "d4": "1988-07-25 - 1988-08-03", "d5": ""}
    body = "".join(f"{rid},Name{rid},Family{rid},Father,{date},Rasht\n" for rid, date in rows.items())
    import_file(store, write(tmp_path / "d.csv", HEADER + body), source="d", actor=TESTER)
    with store.session() as session:
        months = {record_id: attributes[2] for (_, record_id), attributes in _record_attributes(session).items()}
    assert months == {"d1": "1988-08", "d2": None, "d3": "1988-07", "d4": None, "d5": None}


def test_estimates_are_stored_with_what_reproduces_them(store, tmp_path):
    run_id = hand_linked(store, tmp_path)
    document = estimate_registry(store, estimate=chao, actor=TESTER)
    with store.session() as session:
        row = session.get(Estimate, document["id"])
        assert (row.source, row.linkage_run_id, row.method, row.stratified_by) == ("registry", run_id, "chao", None)
        assert row.input_sha256 == document["input_sha256"] and len(row.input_sha256) == 64
        assert row.observed == 8 and row.estimate == pytest.approx(document["estimate"])
        assert (row.interval_low, row.interval_high) == tuple(document["interval"])
        assert row.parameters == {"level": 0.95} and "dadkhah" in row.software and row.created_by


def test_estimation_needs_persons_and_a_known_stratum(store, tmp_path):
    with pytest.raises(EstimationError, match="link run"):
        estimate_registry(store, estimate=chao, actor=TESTER)
    hand_linked(store, tmp_path)
    with pytest.raises(InputError, match="stratify by one of") as by:
        estimate_registry(store, estimate=chao, by="weather", actor=TESTER)
    assert by.value.field == "by"
    with pytest.raises(InputError, match="outside what run") as thresholds:
        estimate_registry(store, estimate=chao, thresholds=[0.1], actor=TESTER)
    assert thresholds.value.field == "linkage_thresholds"


def test_linked_case_estimate_covers_the_truth_and_reports_linkage_sensitivity(copy_of_linked, small_case):
    # The synthetic small case has 600 victims on 4 lists (tests/conftest.py); about 380 are named.
    document = estimate_registry(
        copy_of_linked, estimate=lambda t: estimate_table(t, "lcmcr", iterations=5_000, burn_in=5_000, thin=10, random_state=1),
        thresholds=[0.5, 0.9, 0.99], actor=TESTER)
    assert document["observed"] < 600
    assert document["interval"][0] < 600 < document["interval"][1]
    runs = document["linkage_sensitivity"]["runs"]
    assert [r["threshold"] for r in runs] == [0.5, 0.9, 0.99]
    persons = [r["persons"] for r in runs]
    assert persons == sorted(persons)  # a stricter threshold links less, so leaves more persons
    assert runs[0]["persons"] == document["observed"]  # 0.5 is the run's own threshold
    spread = document["linkage_sensitivity"]["spread"]
    assert spread == max(r["estimate"] for r in runs) - min(r["estimate"] for r in runs)


def test_a_missing_stratum_is_drawn_in_each_replicate_and_no_unknown_stratum_is_left(store, tmp_path):
    hand_linked(store, tmp_path)  # b5 has no city; the hand-made run kept no pairs, so no linkage draws
    document = estimate_registry(store, estimate=chao, by="city", actor=TESTER, seed=3)
    strata = {s["name"]: s for s in document["strata"]}
    assert set(strata) == {"Rasht", "Tabriz"}
    assert document["uncertainty"] == {"replicates": 10, "seed": 3, "linkage": False, "missing_strata_imputed": True,
                                       "persons_imputed": 1.0}
    # b5 is on list b only, which named people in both cities: it lands in either, so on average
    # each city holds its own people and part of b5.
    assert 4 <= strata["Rasht"]["observed"] <= 5 and 3 <= strata["Tabriz"]["observed"] <= 4
    assert strata["Rasht"]["replicates"]["replicates"] == 10 and "missing strata" in strata["Rasht"]["replicates"]["drawn"]
    again = estimate_registry(store, estimate=chao, by="city", actor=TESTER, seed=3)
    assert again["strata"] == document["strata"]  # the same seed draws the same
    with store.session() as session:
        stored = session.get(Estimate, document["id"])
        assert stored.parameters["uncertainty"]["seed"] == 3 and {s["stratum"] for s in stored.strata} == {
            s["stratum"] for s in document["strata"]}
    with pytest.raises(InputError, match="kept no scored pairs") as refused:
        estimate_registry(store, estimate=chao, actor=TESTER, linkage_uncertainty=True)
    assert refused.value.field == "linkage_uncertainty"


def test_linkage_uncertainty_is_inside_the_default_interval(copy_of_linked):
    document = run_registry_estimate(copy_of_linked, actor=TESTER, method="lcmcr", seed=5, iterations=20_000,
                                     burn_in=2_000, thin=20, replicates=6)
    uncertainty = document["uncertainty"]
    assert uncertainty["linkage"] is True and uncertainty["replicates"] == 6
    assert 0 <= uncertainty["share_of_width_from_linkage"] < 1
    replicates = document["diagnostics"]["replicates"]
    assert len(replicates["replicate_estimates"]) == 6
    assert len(replicates["replicate_observed"]) == 6  # (this small case leaves few pairs in doubt)
    assert document["interval"][0] < 600 < document["interval"][1]
    # Each replicate ran a sixth of the sweeps asked for, after its own burn-in; what was asked is stored.
    assert replicates["iterations_each"] == 20_000 // 6
    assert (document["parameters"]["iterations"], document["parameters"]["random_state"]) == (20_000, 5)
    without = run_registry_estimate(copy_of_linked, actor=TESTER, method="lcmcr", seed=5, iterations=20_000,
                                    burn_in=2_000, thin=20, linkage_uncertainty=False)
    assert "uncertainty" not in without and "replicates" not in without["diagnostics"]


def test_drawn_linkages_far_from_the_registry_are_said(copy_of_linked):
    """A run at a threshold of 0.999 leaves more persons than the draws, which link each pair by its
    probability: the estimate said "N named" of the registry while it estimated other lists."""
    from dadkhah.link.run import run_linkage

    plain = run_registry_estimate(copy_of_linked, actor=TESTER, method="chao", seed=3, replicates=4)
    assert not [w for w in plain["warnings"] if "linkages drawn" in w]
    run_linkage(copy_of_linked, actor=TESTER, threshold=0.999, review_band=(0.2, 0.9))
    strict = run_registry_estimate(copy_of_linked, actor=TESTER, method="chao", seed=3, replicates=4)
    drawn = sum(strict["diagnostics"]["replicates"]["replicate_observed"]) / 4
    assert strict["observed"] - drawn > 0.01 * strict["observed"]
    [said] = [w for w in strict["warnings"] if "linkages drawn" in w]
    assert f"{drawn:,.0f} persons on average, the registry {strict['observed']:,}" in said and "0.999" in said


def test_persons_are_read_in_a_fixed_order_however_the_database_stores_them(copy_of_linked):
    """Missing strata are drawn person by person from one seed: the persons must come in the same
    order whatever order the database returns rows in (PostgreSQL returns rows moved by an update
    last; here a person's rows are written again, so that they lie last)."""
    from dadkhah.estimate.registry import clusters_from_registry
    from dadkhah.model import PersonRecord

    store = copy_of_linked
    table = PersonRecord.__table__
    with store.session() as session:
        first = session.scalar(sa.select(sa.func.min(table.c.person_pk)))
        rows = [dict(r._mapping) for r in session.execute(sa.select(table).where(table.c.person_pk == first))]
        session.execute(table.delete().where(table.c.person_pk == first))
        session.execute(table.insert(), rows)
    with store.session() as session:
        clusters = clusters_from_registry(session)
    assert list(clusters) == sorted(clusters) and next(iter(clusters)) == first
    assert all(keys == sorted(keys) for keys in clusters.values())


def test_records_no_linkage_run_has_placed_are_named_in_the_estimates_warnings(copy_of_linked, tmp_path):
    """Imported after the last linkage run, a list's records are in no person, and an estimate from the
    registry left them out without a word."""
    quick = dict(method="chao", linkage_uncertainty=False)
    before = run_registry_estimate(copy_of_linked, actor=TESTER, **quick)
    assert not [w for w in before["warnings"] if "since linkage run" in w]
    import_file(copy_of_linked, write(tmp_path / "late.csv", "id,name,city\n1,Late Arrival,Rasht\n2,Later Still,Qom\n"),
                source="late-list", actor=TESTER)
    after = run_registry_estimate(copy_of_linked, actor=TESTER, **quick)
    [said] = [w for w in after["warnings"] if "since linkage run" in w]
    assert said.startswith("2 records imported since linkage run 1") and "link run" in said
    assert after["observed"] == before["observed"], "they are not counted: the warning says so"
