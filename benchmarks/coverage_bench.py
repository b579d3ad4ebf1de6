"""Coverage of the default estimate's 95% intervals, on synthetic cases run through the real pipeline.

Each scenario generates a population and its lists with the project's generator (capture that
differs between people and between cities, a list that depends on another, records that lose
their city, names written with errors), imports the lists, links them with the real linkage, and
estimates with the defaults (``method="auto"``, linkage uncertainty and imputation of missing
strata on) overall and by city. An interval *covers* when the true number (from the generator's
population, the unseen included) lies inside it.

Scenarios vary what the code was not tuned on: the number of lists (4 to 6), the difficulty of
the names, the population's size and the number of cities, and the seed.

``--oracle`` skips the pipeline: it estimates from the generator's own answer (who each person is,
which lists recorded them, their true city). What the oracle misses, the method misses on perfect
data; what the pipeline misses beyond that comes from linkage and missing cities.
``--heterogeneity H`` sets how much people differ in how findable they are on every list (the
generator's default is 0.9; see ``dadkhah synth --heterogeneity``).

Prints one JSON line: overall and per-city coverage, the worst scenario beside the typical one,
and each scenario's figures. Target: at least 90% of intervals cover.

    python benchmarks/coverage_bench.py [--scenarios 12] [--first-seed 101] [--replicates 10]
        [--method auto] [--oracle] [--heterogeneity 0.9]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

GRID = [  # (lists, difficulty, victims, cities)
    (5, "realistic", 3000, 8), (4, "easy", 2000, 6), (6, "realistic", 3000, 8), (5, "hard", 2500, 6),
    (4, "realistic", 4000, 12), (6, "hard", 3000, 10), (5, "easy", 1500, 4), (6, "easy", 5000, 12),
    (4, "hard", 3000, 8), (5, "realistic", 5000, 16), (6, "realistic", 2000, 6), (4, "realistic", 2500, 4),
]


def oracle_estimate(case, *, lists: int, method: str, seed: int) -> dict:
    """Estimate as the registry path does (overall and by city, lists absent from a city left out,
    a city that fewer than two lists name not estimated), from the generator's true persons."""
    import numpy as np

    from dadkhah.estimate import estimate_table, method_parameters
    from dadkhah.estimate.core import CaptureTable

    names = [f"list-{j + 1}" for j in range(lists)]
    by_city: dict[str, Counter] = {}
    whole: Counter = Counter()
    with open(case.population, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            on = set(row["lists"].split(";")) - {""}
            if on:
                pattern = tuple(int(name in on) for name in names)
                whole[pattern] += 1
                by_city.setdefault(row["city_id"], Counter())[pattern] += 1
    parameters = method_parameters(method, seed=seed)

    def estimate(counted: Counter) -> dict | None:
        rows = np.array(list(counted))
        present = rows.sum(axis=0) > 0
        if present.sum() < 2:
            return None
        kept = tuple(name for name, keep in zip(names, present, strict=True) if keep)
        result = estimate_table(CaptureTable.from_patterns(kept, rows[:, present], list(counted.values())), method,
                                **parameters)
        return {"estimate": result.estimate, "interval": list(result.interval), "method": result.method}

    overall = estimate(whole)
    strata = [{"stratum": city, "observed": sum(counted.values()), **(estimate(counted) or {"estimate": None})}
              for city, counted in sorted(by_city.items())]
    return {"method": overall["method"], "observed": sum(whole.values()), "estimate": overall["estimate"],
            "interval": overall["interval"], "strata": strata}


def _pipeline(folder: Path, *, seed: int, method: str, replicates: int) -> tuple[dict, float]:
    """Import the case's lists, link them and estimate by city with the real code; the stored
    estimate's document and the seconds the estimate took."""
    from dadkhah.audit import Actor
    from dadkhah.estimate.registry import run_registry_estimate
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.run import run_linkage
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    actor = Actor("coverage-bench", "cli")
    store = open_store(create_workspace(folder / "workspace"))
    try:
        for path in sorted((folder / "case").glob("list-*.csv")):
            import_file(store, path, actor=actor, source=path.stem)
        run_linkage(store, actor=actor, seed=seed)
        started = time.perf_counter()
        document = run_registry_estimate(store, actor=actor, method=method, by="city", seed=seed,
                                         replicates=replicates)
        return document, time.perf_counter() - started
    finally:
        store.close()


def run_scenario(folder: Path, *, lists: int, difficulty: str, victims: int, cities: int, seed: int,
                 replicates: int, method: str = "auto", oracle: bool = False, heterogeneity: float = 0.9) -> dict:
    from dadkhah.synth import generate_case

    case = generate_case(folder / "case", victims=victims, lists=lists, seed=seed, difficulty=difficulty, cities=cities,
                         heterogeneity=heterogeneity)
    started = time.perf_counter()
    if oracle:
        document = oracle_estimate(case, lists=lists, method=method, seed=seed)
        seconds = time.perf_counter() - started
    else:
        document, seconds = _pipeline(folder, seed=seed, method=method, replicates=replicates)
    with open(case.population, encoding="utf-8", newline="") as handle:
        truth = Counter(row["city_id"] for row in csv.DictReader(handle))
    overall_low, overall_high = document["interval"]
    strata = []
    for stratum in document["strata"]:
        if stratum["estimate"] is None:
            continue
        low, high = stratum["interval"]
        true = truth.get(stratum["stratum"], 0)
        strata.append({"city": stratum["stratum"], "observed": stratum["observed"], "true": true,
                       "estimate": stratum["estimate"], "interval": [low, high], "method": stratum.get("method"),
                       "covers": low <= true <= high})
    return {"lists": lists, "difficulty": difficulty, "victims": victims, "cities": cities, "seed": seed,
            "heterogeneity": heterogeneity, "method": document["method"], "observed": document["observed"], "estimate": document["estimate"],
            "interval": [overall_low, overall_high], "covers": overall_low <= victims <= overall_high,
            "cities_covered": sum(s["covers"] for s in strata), "cities_estimated": len(strata),
            "unknown_stratum": any(s["stratum"] == "unknown" for s in document["strata"]),
            "share_of_width_from_linkage": (document.get("uncertainty") or {}).get("share_of_width_from_linkage"),
            "estimate_seconds": round(seconds, 1), "strata": strata}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", type=int, default=len(GRID))
    parser.add_argument("--first-seed", type=int, default=101)
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--method", default="auto", help="the method to check (default: auto, as a user gets)")
    parser.add_argument("--oracle", action="store_true",
                        help="estimate from the generator's true persons and cities (no import, linkage or imputation)")
    parser.add_argument("--heterogeneity", type=float, default=0.9,
                        help="how much people differ in how findable they are on every list (generator default 0.9)")
    args = parser.parse_args()
    started = time.perf_counter()
    results = []
    for i in range(args.scenarios):
        lists, difficulty, victims, cities = GRID[i % len(GRID)]
        with tempfile.TemporaryDirectory(prefix="dadkhah-coverage-") as folder:
            results.append(run_scenario(Path(folder), lists=lists, difficulty=difficulty, victims=victims,
                                        cities=cities, seed=args.first_seed + i, replicates=args.replicates,
                                        method=args.method, oracle=args.oracle,
                                        heterogeneity=args.heterogeneity))
    covered = sum(r["covers"] for r in results)
    city_covered = sum(r["cities_covered"] for r in results)
    city_total = sum(r["cities_estimated"] for r in results)
    shares = [r["cities_covered"] / r["cities_estimated"] for r in results if r["cities_estimated"]]
    by_method: dict = {}
    for r in results:
        entry = by_method.setdefault(r["method"], {"overall": [0, 0], "cities": [0, 0]})
        entry["overall"][0] += r["covers"]
        entry["overall"][1] += 1
    for r in results:
        for s in r["strata"]:
            entry = by_method.setdefault(s["method"], {"overall": [0, 0], "cities": [0, 0]})
            entry["cities"][0] += s["covers"]
            entry["cities"][1] += 1
    print(json.dumps({
        "benchmark": "coverage of the default 95% intervals (linkage uncertainty, imputed strata)", "method": args.method,
        "pipeline": "oracle (true persons and cities)" if args.oracle else "import, linkage, imputation",
        "heterogeneity": args.heterogeneity, "cores": os.cpu_count(), "seconds": round(time.perf_counter() - started, 1), "scenarios": len(results),
        "overall_covered": covered, "overall_coverage": round(covered / len(results), 3),
        "city_covered": city_covered, "city_intervals": city_total,
        "city_coverage": round(city_covered / city_total, 3) if city_total else None,
        "worst_scenario_city_coverage": round(min(shares), 3) if shares else None,
        "median_scenario_city_coverage": round(sorted(shares)[len(shares) // 2], 3) if shares else None,
        "target": 0.9, "covered_of_by_method": by_method,
        "below_truth": sum(s["interval"][1] < s["true"] for r in results for s in r["strata"]),
        "above_truth": sum(s["interval"][0] > s["true"] for r in results for s in r["strata"]),
        "scenarios_detail": [{k: v for k, v in r.items() if k != "strata"} for r in results],
        "missed_cities": [{"scenario": i, **s} for i, r in enumerate(results) for s in r["strata"] if not s["covers"]],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
