"""Combining replicate estimates (Rubin's rules on the log scale) and drawing missing strata."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from dadkhah.estimate.combine import combine
from dadkhah.estimate.core import EstimateResult
from dadkhah.estimate.registry import People, impute_strata


def result(estimate, low, high, observed=100):
    return EstimateResult(method="m", observed=observed, estimate=estimate, interval=(low, high), level=0.95,
                          model="", parameters={}, diagnostics={}, input_sha256="", lists=("a", "b"))


def test_replicates_that_agree_give_back_their_own_interval():
    combined = combine([result(200, 150, 300)] * 5)
    assert combined["estimate"] == pytest.approx(200, abs=0.1)
    assert combined["interval"] == pytest.approx((150, 300), abs=0.2)
    assert combined["between_share"] == 0 and combined["replicates"] == 5


def test_replicates_that_disagree_widen_the_interval_and_say_by_how_much():
    parts = [result(e, e * 0.8, e * 1.3) for e in (180, 200, 220, 240, 260)]
    combined = combine(parts)
    low, high = combined["interval"]
    assert low < 180 * 0.8 and high > 260 * 1.3 * 0.9
    assert min(p.estimate for p in parts) < combined["estimate"] < max(p.estimate for p in parts)
    assert 0.2 < combined["between_share"] < 1
    # A skewed interval stays skewed: more room above the centre than below.
    assert high - combined["estimate"] > combined["estimate"] - low


def test_the_lower_end_is_never_below_the_people_seen():
    combined = combine([result(105, 100, 140, observed=100), result(103, 100, 120, observed=101)])
    assert combined["interval"][0] >= 100 and combined["estimate"] >= 100


def test_the_centre_is_never_below_the_people_seen_on_average():
    """A small stratum whose missing members are drawn: 9 named in some replicates, 12 in others, each
    estimated at its own count. The geometric mean (10.4) would lie below the 10.5 named on average."""
    parts = [result(n, n, n + 6, observed=n) for n in (9, 12, 9, 12)]
    combined = combine(parts)
    assert combined["estimate"] == 10.5
    assert combined["interval"][0] == 9
    assert all(isinstance(end, float) for end in combined["interval"])  # shown alike: "9.0 – 16.5", not "9 – 16.5"


def patterns_and_values(groups):
    """groups: (pattern, values Counter or None, how many persons), as :class:`People`."""
    patterns, said = [], []
    for pattern, counted, count in groups:
        for _ in range(count):
            patterns.append(pattern)
            said.append(Counter(counted or {}).items())
    return People.of(np.array(patterns, dtype=np.int8), said)


def test_missing_strata_are_drawn_from_people_on_the_same_lists():
    people = patterns_and_values([
        ((1, 0, 0), {"X": 1}, 900), ((1, 0, 0), {"Y": 1}, 100), ((1, 0, 0), None, 200),  # list a: mostly X
        ((0, 1, 0), {"Z": 2}, 300), ((0, 1, 0), None, 50),  # list b names only Z
        ((1, 0, 1), {"X": 1, "Y": 3}, 1000),  # records that disagree: Y three times as often
    ])
    totals = Counter()
    for seed in range(20):
        drawn, imputed = impute_strata(people, np.random.default_rng(seed))
        assert imputed == 250
        assert sum(sum(c.values()) for c in drawn.values()) == len(people.pattern_of)  # nobody lost or added
        assert drawn["Z"][(1, 0, 0)] == 0 and drawn["Z"][(0, 1, 0)] == 350  # b-only people can only be Z
        totals["a-only X"] += drawn["X"][(1, 0, 0)] - 900
        totals["both Y"] += drawn["Y"][(1, 0, 1)]
    assert 0.8 < totals["a-only X"] / (20 * 200) < 0.97
    assert 0.7 < totals["both Y"] / (20 * 1000) < 0.8
    assert "unknown" not in drawn


def test_with_no_value_anywhere_everyone_stays_unknown():
    people = patterns_and_values([((1, 0), None, 5), ((1, 1), None, 2)])
    drawn, imputed = impute_strata(people, np.random.default_rng(1))
    assert imputed == 0 and dict(drawn) == {"unknown": Counter({(1, 0): 5, (1, 1): 2})}


def test_replicates_warnings_are_said_once_and_few_draws_judged_on_all_their_draws():
    """Ten linkage replicates each warned of few effective draws with its own figure: the combined
    estimate printed ten warnings (the demo did). The combined interval averages the replicates'
    uncertainty, so its Monte Carlo error is that of all their draws together."""
    from dadkhah.estimate.lcmcr import ENOUGH_DRAWS, FEW_DRAWS, lcmcr
    from dadkhah.estimate.registry import _combined
    from tests.estimate.conftest import published

    korea = published("korea_comfort_women")
    judged = set()
    for thin, replicates in ((2, 10), (1, 3)):  # short chains: too few draws in each replicate
        results = [lcmcr(korea, iterations=600, burn_in=200, thin=thin, chains=2, random_state=seed)
                   for seed in range(replicates)]
        each = [r.diagnostics["ess_bulk"] for r in results]
        assert all(any(w.startswith(FEW_DRAWS) for w in r.warnings) for r in results)
        assert len({w for r in results for w in r.warnings if w.startswith(FEW_DRAWS)}) > 1  # their own figures
        combined = _combined(results, observed=korea.observed, linkage=True, impute=False, seed=0)
        warnings = combined.warnings
        assert combined.diagnostics["ess_bulk"] == min(each)  # the worst replicate, as before
        assert combined.diagnostics["ess_bulk_all_replicates"] == pytest.approx(sum(each))
        few = [w for w in warnings if w.startswith(FEW_DRAWS)]
        judged.add(sum(each) < ENOUGH_DRAWS)
        if sum(each) < ENOUGH_DRAWS:
            assert few == [f"{FEW_DRAWS} ({sum(each):.0f} over {replicates} replicates); run more iterations"]
        else:
            assert few == []
        assert len(warnings) == len(set(warnings)) <= 3
    assert judged == {True, False}  # enough draws together in one case, not in the other


def test_a_warning_some_replicates_give_says_in_how_many():
    import dataclasses

    from dadkhah.estimate.registry import _combined

    def warned(*texts):
        return dataclasses.replace(result(100, 90, 110), warnings=texts)

    results = [warned("the chains disagree (R-hat 1.31): run longer"), warned(),
               warned("the chains disagree (R-hat 1.12): run longer", "nearly all of the 10 latent classes are in use"),
               warned("nearly all of the 10 latent classes are in use")]
    warnings = _combined(results, observed=80, linkage=True, impute=False, seed=0).warnings
    assert warnings == ("the chains disagree (R-hat 1.31): run longer (in 2 of 4 replicates; the figures are the first one's)",
                        "nearly all of the 10 latent classes are in use (in 2 of 4 replicates)")
    alone = _combined(results[:1], observed=80, linkage=True, impute=False, seed=0).warnings
    assert alone == ("the chains disagree (R-hat 1.31): run longer",)
    twice = [warned("two peaks, near 10 and 20", "two peaks, near 30 and 40"), warned()]  # one replicate, one kind twice
    assert _combined(twice, observed=8, linkage=True, impute=False, seed=0).warnings == (
        "two peaks, near 10 and 20 (in 1 of 2 replicates; the figures are the first one's)",)
    assert _combined(twice[:1], observed=8, linkage=True, impute=False, seed=0).warnings == twice[0].warnings


def test_people_counted_as_arrays_agree_with_counting_person_by_person():
    """The persons of a replicate are counted as arrays (a Counter per person took most of a by-city
    estimate's time at 95,000 persons). Against the plain way on random persons: the capture table,
    each person's most common value (ties: the first in sorted order), and the tallies, in the order
    the persons come (the order of a table's rows, which the samplers' draws follow)."""
    from dadkhah.estimate.registry import most_common_strata

    rng = np.random.default_rng(7)
    for lists in (3, 70):  # beyond 62 lists, patterns are not packed into one integer
        patterns = (rng.random((400, lists)) < 0.3).astype(np.int8)
        patterns[patterns.sum(axis=1) == 0, 0] = 1
        said = [Counter(rng.choice(["Rasht", "Tabriz", "Qom"], size=rng.integers(0, 4))) for _ in range(400)]
        people = People.of(patterns, [c.items() for c in said])
        rows, counts = np.unique(patterns, axis=0, return_counts=True)
        assert (people.rows == rows).all() and (people.counts == counts).all()
        assert all(people.pattern(people.pattern_of[i]) == tuple(patterns[i].tolist()) for i in range(400))
        best = most_common_strata(people)
        for counted, code in zip(said, best, strict=True):
            top = max(counted.values(), default=0)
            assert (people.names[code] if code >= 0 else None) == min((v for v, n in counted.items() if n == top),
                                                                      default=None)
        tallied, expected = defaultdict(Counter), defaultdict(Counter)
        labels = np.where(best < 0, len(people.names), best)
        people.tally(tallied, np.arange(400), labels, (*people.names, "unknown"))
        for i, label in enumerate(labels):
            expected[(*people.names, "unknown")[label]][tuple(patterns[i].tolist())] += 1
        assert tallied == expected
        assert all(list(tallied[k]) == list(expected[k]) for k in expected)  # the same order, not only counts


def test_a_drawn_clustering_numbers_its_persons_in_the_order_they_come():
    """The drawing of missing strata goes person by person, so the same seed must meet the persons of
    a drawn clustering in the same order: by each label's first record, then those the run did not see."""
    from dadkhah.estimate.registry import Membership

    partition = {(1, "a"): 40, (1, "b"): 7, (2, "c"): 40, (2, "d"): 3, (1, "e"): 7}
    unseen = {("today", 9): [(3, "x"), (3, "y")], ("today", 2): [(3, "z")]}
    members = Membership.drawn(partition, unseen)
    persons: dict[int, list] = defaultdict(list)
    for key, person in zip(members.keys, members.person.tolist(), strict=True):
        persons[person].append(key)
    assert members.persons == 5
    assert dict(persons) == {0: [(1, "a"), (2, "c")], 1: [(1, "b"), (1, "e")], 2: [(2, "d")],
                             3: [(3, "x"), (3, "y")], 4: [(3, "z")]}
