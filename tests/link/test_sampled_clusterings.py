"""Clusterings drawn from what a linkage run was unsure of (linkage uncertainty in estimates)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from dadkhah.link.review import decide
from dadkhah.link.run import kept_pairs, load_run_pairs, run_folder, sample_clusterings
from dadkhah.model import LinkageRun, Source
from tests.conftest import TESTER


def test_pairs_in_the_band_are_linked_with_their_probability_and_decisions_bind(copy_of_linked):
    store = copy_of_linked
    with store.session() as session:
        run = session.scalar(sa.select(LinkageRun).order_by(LinkageRun.id.desc()))
        run_id, (low, high) = run.id, (run.review_low, run.review_high)
        names = dict(session.execute(sa.select(Source.id, Source.name)).all())
    assert kept_pairs(store, run_id)
    pairs, _, records = load_run_pairs(store.workspace.path, run_id)
    # Make the run unsure of every pair it scored: a probability of one half, inside the band.
    folder = run_folder(store.workspace.path, run_id)
    unsure = pairs.set_column(pairs.schema.get_field_index("match_probability"), "match_probability",
                              pa.array(np.full(pairs.num_rows, 0.5)))
    sure_left, sure_right = unsure["unique_id_l"][0].as_py(), unsure["unique_id_r"][0].as_py()
    probability = np.full(pairs.num_rows, 0.5)
    probability[0] = (high + 1) / 2  # one pair above the band: linked in every draw
    pq.write_table(unsure.set_column(unsure.schema.get_field_index("match_probability"), "match_probability",
                                     pa.array(probability)), folder / "pairs.parquet")
    key_of = dict(zip(records["unique_id"].to_pylist(),
                      zip(records["source_id"].to_pylist(), records["record_id"].to_pylist(), strict=True), strict=True))
    # Reviewers decided another pair: the same person. Every draw must keep them together.
    left, right = unsure["unique_id_l"][1].as_py(), unsure["unique_id_r"][1].as_py()
    decided = [key_of[left], key_of[right]]
    decide(store, "same", actor=TESTER, reason="seen in the archive",
           records=tuple(f"{names[s]}:{r}" for s, r in decided))
    draws = list(sample_clusterings(store, run_id, 40, np.random.default_rng(7)))
    persons = [len(set(d.values())) for d in draws]
    assert len(set(persons)) > 5  # the draws differ
    assert all(d[key_of[sure_left]] == d[key_of[sure_right]] for d in draws)
    assert all(d[decided[0]] == d[decided[1]] for d in draws)
    # A pair with nothing else joining its two records is linked in about half the draws.
    others = [(a, b) for a, b in zip(unsure["unique_id_l"].to_pylist()[2:], unsure["unique_id_r"].to_pylist()[2:], strict=True)]
    together = np.mean([[d[key_of[a]] == d[key_of[b]] for a, b in others[:200]] for d in draws])
    assert 0.45 < together < 0.75  # at least its own probability; more when other links join them
    # The same generator seed draws the same clusterings.
    assert draws[:3] == list(sample_clusterings(store, run_id, 3, np.random.default_rng(7)))
    assert low < 0.5 < high


def test_the_same_seed_draws_the_same_clusterings_whatever_order_the_pairs_were_written_in(copy_of_linked):
    """The engine writes a run's pairs in an order that differs from build to build (DuckDB works
    in parallel); the draws go by position, so the same seed, records and pairs drew other
    clusterings and the demo's estimate moved between builds (4,733 / 4,738 / 4,748)."""
    store = copy_of_linked
    with store.session() as session:
        run = session.scalar(sa.select(LinkageRun).order_by(LinkageRun.id.desc()))
        run_id, (low, high) = run.id, (run.review_low, run.review_high)
    pairs, _, _ = load_run_pairs(store.workspace.path, run_id)
    folder = run_folder(store.workspace.path, run_id)
    # Every pair unsure, so that every draw depends on every pair's position.
    unsure = pairs.set_column(pairs.schema.get_field_index("match_probability"), "match_probability",
                              pa.array(np.linspace(low, high, pairs.num_rows, endpoint=False)))
    pq.write_table(unsure, folder / "pairs.parquet")
    before = list(sample_clusterings(store, run_id, 3, np.random.default_rng(11)))
    shuffled = unsure.take(np.random.default_rng(0).permutation(unsure.num_rows))
    pq.write_table(shuffled, folder / "pairs.parquet")
    after = list(sample_clusterings(store, run_id, 3, np.random.default_rng(11)))
    assert len({len(set(d.values())) for d in before}) > 1  # (the draws differ from each other)
    assert after == before
