"""A run makes afresh only the pairs of records new since the previous run, and scores exactly what a
full run scores: the same pairs, the same probabilities, the same persons."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

import dadkhah.link.engine as engine_module
from dadkhah.ingest.importer import import_file
from dadkhah.link.engine import INCREMENTAL_AT_MOST, EarlierPairs, score
from dadkhah.link.features import features_context
from dadkhah.link.model import DEFAULT_MODEL, Blocking, LinkageModel
from dadkhah.link.run import _blocking_digest, earlier_blocking, run_linkage
from dadkhah.model import LinkageRun, ReviewPair
from dadkhah.registry.persons import iter_memberships
from dadkhah.store import open_store
from dadkhah.workspace import load_workspace
from tests.conftest import TESTER
from tests.link.test_features_reuse import _new_version_of_a_list


def _ids(table: pa.Table) -> set[tuple[int, int]]:
    return set(zip(table["unique_id_l"].to_pylist(), table["unique_id_r"].to_pylist(), strict=True))


def _scores(table: pa.Table) -> dict[tuple[int, int], float]:
    return dict(zip(zip(table["unique_id_l"].to_pylist(), table["unique_id_r"].to_pylist(), strict=True),
                    table["match_probability"].to_pylist(), strict=True))


@pytest.mark.parametrize("share", [0.02, 0.2])
def test_pairs_made_for_new_records_are_those_a_full_blocking_makes(hard_store_features, share):
    """Any records (not only the newest) taken as new: the pairs kept among the others plus those
    made for them are exactly the pairs Splink's blocking makes over all records, scored the same."""
    features, model = hard_store_features
    ids = features["unique_id"]
    rng = np.random.default_rng(11)
    new = pa.array(rng.choice(ids.to_numpy(), size=int(share * len(ids)), replace=False), pa.int64())
    old = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=new)))
    with score(features, DEFAULT_MODEL, trained=model) as full:
        everything = full.pair_ids()
        full_scores = _scores(full.pairs(1e-12))
        assert full.pairs_kept is None
    untouched = everything.filter(pc.invert(pc.or_(pc.is_in(everything["unique_id_l"], value_set=new),
                                                   pc.is_in(everything["unique_id_r"], value_set=new))))
    with score(features, DEFAULT_MODEL, trained=model, earlier=EarlierPairs(untouched, old)) as incremental:
        assert incremental.pairs_kept == untouched.num_rows
        made = everything.num_rows - untouched.num_rows
        assert incremental.pairs_made == made > 0, "the new records meet others"
        assert _ids(incremental.pair_ids()) == _ids(everything)
        assert incremental.comparisons_planned == everything.num_rows
        scores = _scores(incremental.pairs(1e-12))
        assert incremental.model_json["probability_two_random_records_match"] == pytest.approx(
            full.model_json["probability_two_random_records_match"], rel=1e-12)
    assert scores.keys() == full_scores.keys()
    assert max(abs(scores[pair] - full_scores[pair]) for pair in scores) < 1e-12
    # The exploding rules (one name within a typo) find some of the new records' pairs.
    assert len(_ids(everything) - _ids(untouched)) == made


def test_many_new_records_are_blocked_afresh(hard_store_features):
    features, model = hard_store_features
    ids = features["unique_id"]
    old = ids.slice(0, int(len(ids) * (1 - INCREMENTAL_AT_MOST)) - 1)
    nothing = pa.table({"unique_id_l": pa.array([], pa.int64()), "unique_id_r": pa.array([], pa.int64())})
    with score(features, DEFAULT_MODEL, trained=model, earlier=EarlierPairs(nothing, old)) as scoring:
        assert scoring.pairs_kept is None and scoring.comparisons_planned > 0


def test_a_second_run_after_new_lists_decides_as_a_fresh_run(copy_of_linked, small_case, tmp_path, monkeypatch):
    """After a corrected list and a new one, the run that starts from the previous run's pairs and
    the one that blocks everything afresh (the same workspace without the kept pairs) give the same
    pairs, review queue, prior and persons."""
    # A corrected list brings all its rows as new records: on this small case, a third of them.
    monkeypatch.setattr(engine_module, "INCREMENTAL_AT_MOST", 0.5)
    store = copy_of_linked
    corrected, extra = _new_version_of_a_list(small_case, tmp_path)
    import_file(store, corrected, source="list-1", actor=TESTER)
    import_file(store, extra, source="list-extra", actor=TESTER)
    fresh_folder = tmp_path / "fresh"
    shutil.copytree(store.workspace.path, fresh_folder)
    shutil.rmtree(fresh_folder / "linkage")

    def outcome(opened):
        summary = run_linkage(opened, actor=TESTER, review_band=(0.2, 0.9))
        with opened.session() as session:
            members = sorted(iter_memberships(session))
            review = sorted(session.execute(sa.select(ReviewPair.record_l, ReviewPair.record_r, ReviewPair.match_probability)
                                            .where(ReviewPair.run_id == summary.run_id)).all())
        return summary, members, review

    again, members, review = outcome(store)
    with open_store(load_workspace(fresh_folder)) as fresh_store:
        afresh, fresh_members, fresh_review = outcome(fresh_store)
    assert again.reused["pairs"] > 0 and again.reused["pairs_made_for_new_records"] > 0
    assert afresh.reused["pairs"] is None
    assert again.pairs_planned == afresh.pairs_planned and again.pairs_scored == afresh.pairs_scored
    assert again.prior == pytest.approx(afresh.prior, rel=1e-12)
    assert members == fresh_members
    assert [r[:2] for r in review] == [r[:2] for r in fresh_review]
    assert all(abs(a[2] - b[2]) < 1e-9 for a, b in zip(review, fresh_review, strict=True))
    with store.session() as session:
        assert session.get(LinkageRun, again.run_id).parameters["pairs_reused"] == again.reused["pairs"]


def test_pairs_made_under_other_rules_are_not_reused(copy_of_linked):
    store = copy_of_linked
    other = LinkageModel(comparisons=DEFAULT_MODEL.comparisons, training=DEFAULT_MODEL.training,
                         blocking_rules=(*DEFAULT_MODEL.blocking_rules, Blocking("l.gender = r.gender AND l.city_id = r.city_id")))
    with store.session() as session:
        context = features_context(session)
        assert earlier_blocking(store.workspace.path, session, _blocking_digest(DEFAULT_MODEL, context, "duckdb")) is not None
        assert earlier_blocking(store.workspace.path, session, _blocking_digest(other, context, "duckdb")) is None
        assert earlier_blocking(store.workspace.path, session, _blocking_digest(DEFAULT_MODEL, context, "spark")) is None
