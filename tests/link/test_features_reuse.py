"""A run reuses the features the previous run worked out, and the result is what a fresh start gives."""

from __future__ import annotations

import csv

import pyarrow.compute as pc
import sqlalchemy as sa

import dadkhah.link.features as features_module
from dadkhah.ingest.importer import import_file
from dadkhah.link.features import features_context, features_digest, record_features
from dadkhah.link.run import earlier_features, run_linkage
from dadkhah.model import LinkageRun, Record
from dadkhah.registry.search import build_search_index
from tests.conftest import TESTER, index_rows


def _new_version_of_a_list(small_case, tmp_path):
    """list-1 again with one person's family name corrected, and a small list no run has seen."""
    with open(small_case / "list-1.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    name = "family_name" if "family_name" in rows[0] else "full_name"
    rows[3][name] = rows[3][name] + "i"
    corrected = tmp_path / "list-1.csv"
    with open(corrected, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    extra = tmp_path / "list-extra.csv"
    with open(extra, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for number, row in enumerate(rows[:25]):
            writer.writerow(row | {"record_id": f"X-{number}"})
    return corrected, extra


def test_a_second_run_reuses_the_features_of_unchanged_records(copy_of_linked, small_case, tmp_path):
    store = copy_of_linked
    corrected, extra = _new_version_of_a_list(small_case, tmp_path)
    import_file(store, corrected, source="list-1", actor=TESTER)
    import_file(store, extra, source="list-extra", actor=TESTER)
    with store.session() as session:
        context = features_context(session)
        earlier = earlier_features(store.workspace.path, session, context)
        fresh = record_features(session)
        reused = record_features(session, earlier=earlier)
    assert earlier is not None and earlier.num_rows > 0
    assert reused.equals(fresh), "reusing the earlier features gives the same table as working them out afresh"
    assert features_digest(reused) == features_digest(fresh)
    # The corrected list's records are new records: none of list-1's old rows is reused.
    kept = pc.sum(pc.is_in(fresh["unique_id"], value_set=earlier["unique_id"])).as_py()
    list_1 = pc.sum(pc.equal(fresh["source"], "list-1")).as_py()
    assert 0 < kept == fresh.num_rows - list_1 - 25

    summary = run_linkage(store, actor=TESTER)
    assert summary.reused["features_of_records"] == kept
    # Updated for the persons holding list-1's corrected records and those the run changed, or (they
    # being many) rebuilt: the same index either way.
    assert "search_index_updated_for" in summary.reused
    with store.session() as session:
        updated = index_rows(session)
        build_search_index(session)
        assert index_rows(session) == updated, "the updated index is the one a full rebuild makes"
        run = session.get(LinkageRun, summary.run_id)
        assert run.parameters["features_reused"] == kept
        assert run.features_sha256 == features_digest(fresh)


def test_features_worked_out_otherwise_are_not_reused(copy_of_linked, monkeypatch):
    store = copy_of_linked
    with store.session() as session:
        assert earlier_features(store.workspace.path, session, features_context(session)) is not None
        monkeypatch.setattr(features_module, "FEATURES_VERSION", features_module.FEATURES_VERSION + 1)
        assert earlier_features(store.workspace.path, session, features_context(session)) is None


def test_records_missing_from_the_earlier_features_are_worked_out(copy_of_linked, monkeypatch):
    """Rows the earlier table lacks, older than its newest (a record made current again), are added in
    order; when they are many, everything is worked out afresh; either way the table is the same."""
    store = copy_of_linked
    with store.session() as session:
        fresh = record_features(session)
        gaps = fresh.filter(pc.not_equal(pc.bit_wise_and(fresh["unique_id"], 7), 3))
        assert 20 < fresh.num_rows - gaps.num_rows < features_module._OLDER_AT_MOST
        assert record_features(session, earlier=gaps, batch_size=100).equals(fresh)
        monkeypatch.setattr(features_module, "_OLDER_AT_MOST", 20)
        assert record_features(session, earlier=gaps).equals(fresh)
        current = session.scalar(sa.select(sa.func.count()).select_from(Record).where(Record.superseded_by.is_(None)))
    assert fresh.num_rows == current
