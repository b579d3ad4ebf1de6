"""Do the 95% intervals cover the truth? 200 synthetic populations whose people differ in findability.

Each population is a mixture of groups ("latent classes") of people who are harder or easier to
find, every list with its own probabilities: the kind of heterogeneity LCMCR is built for. The
truth is known, so coverage is counted, not assumed.

Heterogeneity the lists cannot reveal (say, a continuous "findability" shared by every list, with
only four or five lists) makes the total unidentifiable (Link 2003, Biometrics 59:1123); no method
covers it reliably, and docs/methods.md says so.
"""

from __future__ import annotations

import numpy as np
import pytest

from dadkhah.estimate import CaptureTable, lcmcr

POPULATIONS = 200


def heterogeneous_population(rng: np.random.Generator) -> tuple[int, CaptureTable]:
    total = int(rng.integers(1_000, 4_000))
    lists = int(rng.integers(4, 7))
    classes = int(rng.integers(2, 4))
    shares = rng.dirichlet(np.full(classes, 2.0))
    # Class c's capture probabilities: harder classes first, each list different.
    low = np.linspace(0.12, 0.4, classes)
    probabilities = np.stack([rng.uniform(lo, lo + 0.3, lists) for lo in low])
    group = rng.choice(classes, size=total, p=shares)
    seen = rng.random((total, lists)) < probabilities[group]
    seen = seen[seen.any(axis=1)]
    patterns, counts = np.unique(seen.astype(np.int8), axis=0, return_counts=True)
    return total, CaptureTable.from_patterns(tuple(f"list{j + 1}" for j in range(lists)), patterns, counts)


@pytest.mark.slow
def test_lcmcr_intervals_cover_the_true_total():
    rng = np.random.default_rng(1988)
    covered, shortfall = 0, []
    for i in range(POPULATIONS):
        total, table = heterogeneous_population(rng)
        result = lcmcr(table, iterations=5_000, burn_in=5_000, thin=10, chains=2, random_state=i)
        lo, hi = result.interval
        covered += lo <= total <= hi
        shortfall.append(result.estimate / total - 1)
    assert covered / POPULATIONS >= 0.85, f"coverage {covered / POPULATIONS:.1%}"
    assert abs(np.median(shortfall)) < 0.03  # median relative error, not just wide intervals


def _coverage_bench():
    """benchmarks/coverage_bench.py, loaded as a module: the slow test runs its scenarios."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "coverage_bench.py"
    spec = importlib.util.spec_from_file_location("coverage_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured below the 90% target: on the generator's shared 'visibility' every "
                                       "method is too low by city (benchmarks/coverage_bench.py; docs/methods.md)")
def test_the_default_pipeline_covers_the_truth_by_city(tmp_path):
    bench = _coverage_bench()
    covered = total = 0
    for i, (lists, difficulty, victims, cities) in enumerate([(6, "realistic", 2000, 6), (5, "realistic", 2500, 4)]):
        result = bench.run_scenario(tmp_path / str(i), lists=lists, difficulty=difficulty, victims=victims,
                                    cities=cities, seed=500 + i, replicates=10)
        assert not result["unknown_stratum"] and result["cities_estimated"] == cities
        assert result["observed"] <= result["estimate"] and result["share_of_width_from_linkage"] is not None
        covered += result["cities_covered"] + result["covers"]
        total += result["cities_estimated"] + 1
    assert covered / total >= 0.9, f"{covered} of {total} intervals cover the truth"


@pytest.mark.slow
def test_the_default_method_covers_the_truth_when_the_lists_can_show_who_is_missed(tmp_path):
    # The generator's true persons and cities (no linkage, no missing cities), and no shared
    # "visibility": people still differ by city and affiliation, list by list, and one list follows
    # another. The default method must then hold the truth at the promised rate, overall and by city.
    bench = _coverage_bench()
    covered = total = 0
    for i, (lists, difficulty, victims, cities) in enumerate(bench.GRID[:6]):
        result = bench.run_scenario(tmp_path / str(i), lists=lists, difficulty=difficulty, victims=victims,
                                    cities=cities, seed=101 + i, replicates=1, oracle=True, heterogeneity=0.0)
        covered += result["cities_covered"] + result["covers"]
        total += result["cities_estimated"] + 1
    assert covered / total >= 0.9, f"{covered} of {total} intervals cover the truth"
