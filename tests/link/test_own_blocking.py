"""A first run makes its pairs itself (on DuckDB), joining the distinct combinations of what a rule
reads rather than every record: the pairs must be exactly those Splink's own blocking makes, whatever
the rule, and scored the same."""

from __future__ import annotations

import logging

import pyarrow as pa
import pytest

from dadkhah.link.engine import _duckdb_api, score
from dadkhah.link.model import DEFAULT_MODEL, Blocking, LinkageModel


def _ids(table: pa.Table) -> set[tuple[int, int]]:
    return set(zip(table["unique_id_l"].to_pylist(), table["unique_id_r"].to_pylist(), strict=True))


def _splink_blocking(features: pa.Table, model_json: dict, rules: tuple[Blocking, ...]) -> dict[tuple[int, int], float]:
    """Every pair Splink's own blocking makes with ``rules``, with its match weight."""
    from splink import Linker

    settings = dict(model_json)
    settings["blocking_rules_to_generate_predictions"] = [
        {"blocking_rule": r.sql, "sql_dialect": "duckdb", **({"arrays_to_explode": list(r.explode)} if r.explode else {})}
        for r in rules
    ]
    db_api, connection = _duckdb_api(None, None, None)
    try:
        linker = Linker(db_api.register(features, dataset_display_name="records"), settings, log_level=logging.WARNING)
        scored = linker.inference.predict().as_duckdbpyrelation().select("unique_id_l", "unique_id_r", "match_weight").fetchall()
    finally:
        connection.close()
    return {(left, right): weight for left, right, weight in scored}


def test_the_default_rules_make_and_score_the_pairs_splink_makes(hard_store_features):
    features, model_json = hard_store_features
    theirs = _splink_blocking(features, model_json, DEFAULT_MODEL.blocking_rules)
    with score(features, DEFAULT_MODEL, trained=model_json) as ours:
        assert _ids(ours.pair_ids()) == theirs.keys()
        assert ours.comparisons_planned == len(theirs)
        # Each rule's count is what it adds to the rules before it, and they add up to every pair.
        added = [entry["new_pairs"] for entry in ours.blocking]
        assert sum(added) == len(theirs) and all(n >= 0 for n in added)
        assert added[0] == sum(1 for _ in theirs) - sum(added[1:]) > 0
        weights = ours._frame(ours._predictions, ["unique_id_l", "unique_id_r", "match_weight"], "1 = 1")
        mine = dict(zip(zip(weights["unique_id_l"].to_pylist(), weights["unique_id_r"].to_pylist(), strict=True),
                        weights["match_weight"].to_pylist(), strict=True))
    assert max(abs(mine[pair] - theirs[pair]) for pair in theirs) < 1e-9
    # The case has pairs found only through a typo in both names (the rules that explode both lists).
    both_typos = [i for i, rule in enumerate(DEFAULT_MODEL.blocking_rules) if len(rule.explode) == 2]
    assert sum(added[i] for i in both_typos) > 0


UNUSUAL_RULES = (
    # One list against another column's list, and a condition that is not an equality.
    Blocking("l.given_del = r.family_del AND l.city_id = r.city_id", explode=("given_del", "family_del")),
    Blocking("l.family_del = r.family_del AND l.death_lo <= r.death_hi + 3 AND r.death_lo <= l.death_hi + 3",
             explode=("family_del",)),
    # Exploded on one side only, a condition on a missing value, and a list exploded but not compared.
    Blocking("l.given_key = r.family_key AND l.family_del = r.given_del AND (l.city_id IS NULL OR r.city_id IS NULL)",
             explode=("family_del", "given_del")),
    Blocking("l.father_key = r.father_key AND l.gender = r.gender", explode=("given_del",)),
    Blocking("l.gender = r.gender AND l.death_month = r.death_month AND l.province_id = r.province_id"),
)


@pytest.mark.parametrize("rule", UNUSUAL_RULES, ids=lambda rule: rule.sql[:40])
def test_any_rule_makes_the_pairs_splink_makes(hard_store_features, rule):
    features, model_json = hard_store_features
    model = LinkageModel(comparisons=DEFAULT_MODEL.comparisons, blocking_rules=(rule,), training=DEFAULT_MODEL.training)
    theirs = _splink_blocking(features, model_json, (rule,))
    assert theirs, "the rule makes pairs on this case"
    with score(features, model, trained=model_json) as ours:
        assert _ids(ours.pair_ids()) == theirs.keys()


def test_the_prior_does_not_depend_on_the_order_of_the_pairs():
    """The engine gives the scored pairs in an order its threads choose; the prior (and so every
    probability and every link) must come out the same, to the last bit, whatever the order."""
    import numpy as np

    from dadkhah.link.engine import estimate_prior

    rng = np.random.default_rng(5)
    # (As many pairs as a million records leave above the floor: fewer often sum alike by chance.)
    weights = np.concatenate([rng.normal(-12, 4, 2_000_000), rng.normal(14, 3, 200_000)])
    first = estimate_prior(weights, 10**11, 1e-6)
    assert first != 1e-6
    orders = [np.sort(weights), np.sort(weights)[::-1], weights[::-1]] + [rng.permutation(weights) for _ in range(5)]
    assert all(estimate_prior(order, 10**11, 1e-6) == first for order in orders)


def test_the_engine_draws_no_progress_bar_of_its_own_on_standard_output():
    """DuckDB turns its progress bar on when Python runs a command given with -c (as it does for a
    notebook); the bar would be printed into the JSON a command writes to standard output."""
    import subprocess
    import sys

    probe = ("from dadkhah.link.engine import _duckdb_api; _, c = _duckdb_api(None, None, None); "
             "print(c.execute(\"SELECT current_setting('enable_progress_bar')\").fetchone()[0])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert done.stdout.strip() == "False"
