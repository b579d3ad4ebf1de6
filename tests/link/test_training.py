"""Training: u from pairs of records drawn independently (every pair when there are few), the model's
u priors where a comparison applies to few pairs, and expectation maximisation that knows how common
a name is."""

from __future__ import annotations

import logging
import math

import pytest

from dadkhah.link import engine
from dadkhah.link.engine import _duckdb_api, level_counts, random_pairs, settings_for, u_from_counts
from dadkhah.link.model import DEFAULT_MODEL, Comparison, Level, LinkageModel


def _splink_u_from_every_pair(features, model: LinkageModel) -> dict:
    """Splink's own u estimate when its sample is every record and it does not stop early: exact."""
    from splink import Linker

    n = features.num_rows
    db_api, connection = _duckdb_api(None, None, None)
    try:
        linker = Linker(db_api.register(features, dataset_display_name="records"), settings_for(model), log_level=logging.WARNING)
        linker.training.estimate_u_using_random_sampling(max_pairs=4.0 * n * n, seed=1, min_count_per_level=None)
        return linker.misc.save_model_to_json()
    finally:
        connection.close()


def _ours(features, model: LinkageModel, wanted: int, seed: int = 1) -> tuple[dict, list[dict[int, int]], list[str]]:
    from splink import Linker

    db_api, connection = _duckdb_api(None, None, None)
    try:
        table = db_api.register(features, dataset_display_name="records")
        linker = Linker(table, settings_for(model), log_level=logging.WARNING)
        pairs = random_pairs(features["unique_id"].to_numpy(), wanted, seed)
        counts = level_counts(linker, table.physical_name, pairs, connection, None)
        model_json = linker.misc.save_model_to_json()
        unseen = u_from_counts(model_json, model, counts, floor=1e-6)
        return model_json, counts, unseen
    finally:
        connection.close()


def _u(model_json: dict) -> dict[tuple[str, str], float | None]:
    return {(c["output_column_name"], level["label_for_charts"]): level.get("u_probability")
            for c in model_json["comparisons"] for level in c["comparison_levels"] if not level.get("is_null_level")}


def test_few_records_give_every_pair_and_the_u_splink_finds_in_every_pair(hard_store_features, monkeypatch):
    features, _ = hard_store_features
    n = features.num_rows
    pairs = random_pairs(features["unique_id"].to_numpy(), n * n, seed=3)
    assert pairs.num_rows == n * (n - 1) // 2
    assert len(set(zip(pairs["id_l"].to_pylist(), pairs["id_r"].to_pylist(), strict=True))) == pairs.num_rows
    assert all(left < right for left, right in zip(pairs["id_l"].to_pylist()[:1000], pairs["id_r"].to_pylist()[:1000], strict=True))
    monkeypatch.setattr(engine, "U_PRIOR_PAIRS", 0)  # the counts alone, as Splink has no priors
    ours, _, _ = _ours(features, DEFAULT_MODEL, wanted=n * n)
    theirs = _splink_u_from_every_pair(features, DEFAULT_MODEL)
    compared = 0
    for key, u in _u(theirs).items():
        # (Splink leaves a level no pair showed as it was: untrained, or the model's prior.)
        if _u(ours)[key] != 1e-6:
            assert _u(ours)[key] == pytest.approx(u, rel=1e-12), key
            compared += 1
    assert compared >= 30


def test_sampled_pairs_estimate_u_without_bias(hard_store_features, monkeypatch):
    """Pairs drawn independently: every level's share within five standard errors of its share among
    every pair; 100,000 pairs from the same ~1,400 records, with three seeds."""
    features, _ = hard_store_features
    n = features.num_rows
    monkeypatch.setattr(engine, "U_PRIOR_PAIRS", 0)
    exact, _, _ = _ours(features, DEFAULT_MODEL, wanted=n * n)
    for seed in (1, 2, 3):
        sampled, counts, _ = _ours(features, DEFAULT_MODEL, wanted=100_000, seed=seed)
        assert sum(counts[0].values()) == 100_000
        applies = {c.name: sum(n for value, n in seen.items() if value != -1)
                   for c, seen in zip(DEFAULT_MODEL.comparisons, counts, strict=True)}
        for key, truth in _u(exact).items():
            error = math.sqrt(truth * (1 - truth) / max(1, applies[key[0]]))
            assert abs(_u(sampled)[key] - truth) <= 5 * error + 1e-6, (seed, key)


def test_a_comparison_that_applies_to_few_pairs_leans_on_its_u_priors():
    """Two levels with priors 0.2 and 0.8, counted as U_PRIOR_PAIRS more pairs; a comparison without
    priors takes the counts alone, and a level no pair showed gets the floor and a note."""
    with_priors = Comparison("a", "A", (Level("missing", "null", sql="a_l IS NULL"), Level("same", "exact", column="a", u_prior=0.2),
                                        Level("different", "else", u_prior=0.8)))
    without = Comparison("b", "B", (Level("missing", "null", sql="b_l IS NULL"), Level("same", "exact", column="b"),
                                    Level("close", "exact", column="b2"), Level("different", "else")))
    model = LinkageModel(comparisons=(with_priors, without), blocking_rules=(), training=DEFAULT_MODEL.training)
    model_json = {"comparisons": [
        {"output_column_name": "a", "comparison_levels": [{"is_null_level": True}, {}, {}]},
        {"output_column_name": "b", "comparison_levels": [{"is_null_level": True}, {}, {}, {}]},
    ]}
    # Comparison a applies to 10 pairs (3 the same); b to 400 (100 the same, none close).
    unseen = u_from_counts(model_json, model, [{-1: 990, 1: 3, 0: 7}, {-1: 600, 2: 100, 0: 300}], floor=1e-6)
    prior_pairs = engine.U_PRIOR_PAIRS
    a_same, a_different = (level["u_probability"] for level in model_json["comparisons"][0]["comparison_levels"][1:])
    assert a_same == pytest.approx((3 + 0.2 * prior_pairs) / (10 + prior_pairs))
    assert a_different == pytest.approx((7 + 0.8 * prior_pairs) / (10 + prior_pairs))
    b_same, b_close, b_different = (level["u_probability"] for level in model_json["comparisons"][1]["comparison_levels"][1:])
    assert (b_same, b_close, b_different) == (0.25, 1e-6, 0.75)
    assert unseen == ["Level close on comparison b not observed in dataset, unable to train u value"]
    assert engine.plain_notes(unseen, {"b": "the b"}) == [
        "training met no example of some comparison levels (the b: 'close'); their weights come from smoothing, not "
        "from these records"]


def test_a_date_level_never_weighs_more_against_a_match_than_a_further_one():
    """EM gave deaths within a month -5.03 bits and deaths further apart -4.22 on the demo: records 92
    days apart scored above records 26 days apart. Ordered levels are pooled where they run the wrong
    way; each level keeps its u, and the m-probabilities still sum to one."""
    def level(label, m, u):
        return {"label_for_charts": label, "m_probability": m, "u_probability": u}

    model = {"comparisons": [
        {"output_column_name": "death_date", "comparison_levels": [
            {"label_for_charts": "missing", "is_null_level": True},
            level("same day", 0.50, 0.01), level("within a month", 0.02, 0.30), level("different", 0.48, 0.69)]},
        {"output_column_name": "gender", "comparison_levels": [level("same", 0.10, 0.50), level("different", 0.90, 0.50)]},
    ]}
    smoothed = engine.smooth_model(model, 0.0, 1e-9)
    death = [lv for lv in smoothed["comparisons"][0]["comparison_levels"] if not lv.get("is_null_level")]
    bits = [math.log2(lv["m_probability"] / lv["u_probability"]) for lv in death]
    assert bits[0] > bits[1] == pytest.approx(bits[2]) and bits[1] == pytest.approx(math.log2(0.50 / 0.99))
    assert sum(lv["m_probability"] for lv in death) == pytest.approx(1.0)
    assert [lv["u_probability"] for lv in death] == [0.01, 0.30, 0.69]
    gender = smoothed["comparisons"][1]["comparison_levels"]
    assert gender[1]["m_probability"] == pytest.approx(0.90), "a comparison without order is left as trained"
