"""The quick bound on the pairs each blocking rule makes: never below the pairs the rule really makes."""

from __future__ import annotations

import duckdb

from dadkhah.link.engine import pairs_at_most
from dadkhah.link.features import record_features
from dadkhah.link.model import DEFAULT_MODEL, Blocking


def _exact(connection, rule: Blocking) -> int:
    """The pairs the rule makes, counted the slow way: every pair of records, each once."""
    condition = rule.sql
    for column in rule.explode:  # exploded lists match when they share an element
        condition = condition.replace(f"l.{column} = r.{column}", f"len(list_intersect(l.{column}, r.{column})) > 0")
    return connection.execute(
        f"SELECT count(*) FROM records l JOIN records r ON l.unique_id < r.unique_id "  # noqa: S608 (the model's rules)
        f"WHERE coalesce(({condition}) OR ({condition.replace('l.', 'x.').replace('r.', 'l.').replace('x.', 'r.')}), false)"
    ).fetchall()[0][0]


def test_every_rule_s_bound_holds_on_a_real_case(linked):
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    with open_store(load_workspace(linked[0])) as store, store.session() as session:
        features = record_features(session)
    connection = duckdb.connect()
    connection.register("records", features)
    rules = list(DEFAULT_MODEL.blocking_rules)
    assert any("IS NULL" in rule.sql for rule in rules), "the model has rules with conditions beyond equalities"
    for rule in rules:
        bound = pairs_at_most(connection, "records", rule, features.column_names)
        assert bound is not None, rule.sql
        assert bound >= _exact(connection, rule), rule.sql
    plain = Blocking("l.family_key = r.family_key AND l.city_id = r.city_id")
    assert pairs_at_most(connection, "records", plain, features.column_names) == _exact(connection, plain)
    # A condition that one of the two records lacks a field is counted block by block, not ignored.
    one_missing = Blocking("l.family_key = r.family_key AND (l.city_id IS NULL OR r.city_id IS NULL)")
    bound = pairs_at_most(connection, "records", one_missing, features.column_names)
    assert bound == _exact(connection, one_missing) > 0
    assert bound < pairs_at_most(connection, "records", Blocking("l.family_key = r.family_key"), features.column_names)
    # A rule with no equality between columns at its top level gives no bound (the engine then counts).
    assert pairs_at_most(connection, "records", Blocking("(l.city_id IS NULL OR r.city_id IS NULL)"),
                         features.column_names) is None


def test_a_compound_name_split_differently_meets_on_the_whole_name_s_letters():
    from dadkhah.link.features import _skeleton
    from dadkhah.normalize.names import coarse_key, name_key

    split_one_way = coarse_key(name_key("aliasgar") + " " + name_key("taqinia"))
    split_the_other = coarse_key(name_key("ali") + " " + name_key("asgartaghinia"))
    assert split_one_way != split_the_other
    assert _skeleton(split_one_way) == _skeleton(split_the_other)
    assert _skeleton(coarse_key(name_key("ali") + " " + name_key("rezaei"))) != _skeleton(split_one_way)
    assert _skeleton(None) is None
