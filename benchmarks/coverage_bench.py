"""Coverage of the default estimate's 95% intervals, on synthetic cases run through the real pipeline.

Each scenario generates a population and its lists with the project's generator (capture that
differs between people and between cities, a list that depends on another, records that lose
their city, names written with errors), imports the lists, links them with the real linkage, and
estimates with the defaults (``method="auto"``, linkage uncertainty and imputation of missing
strata on) overall and by city. An interval *covers* when the true number (from the generator's
population, the unseen included) lies inside it.

Scenarios vary what the code was not tuned on: the number of lists (4 to 6), the difficulty of
the names, the population's size and the number of cities, and the seed.

Prints one JSON line: overall and per-city coverage, the worst scenario beside the typical one,
and each scenario's figures. Target: at least 90% of intervals cover.

    python benchmarks/coverage_bench.py [--scenarios 12] [--first-seed 101] [--replicates 10]
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


def run_scenario(folder: Path, *, lists: int, difficulty: str, victims: int, cities: int, seed: int,
                 replicates: int, method: str = "auto") -> dict:
    from dadkhah.audit import Actor
    from dadkhah.estimate.registry import run_registry_estimate
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.run import run_linkage
    from dadkhah.store import open_store
    from dadkhah.synth import generate_case
    from dadkhah.workspace import create_workspace

    actor = Actor("coverage-bench", "cli")
    workspace = create_workspace(folder / "workspace")
    case = generate_case(folder / "case", victims=victims, lists=lists, seed=seed, difficulty=difficulty, cities=cities)
    store = open_store(workspace)
    try:
        for path in sorted((folder / "case").glob("list-*.csv")):
            import_file(store, path, actor=actor, source=path.stem)
        run_linkage(store, actor=actor, seed=seed)
        started = time.perf_counter()
        document = run_registry_estimate(store, actor=actor, method=method, by="city", seed=seed,
                                         replicates=replicates)
        seconds = time.perf_counter() - started
    finally:
        store.close()
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
            "method": document["method"], "observed": document["observed"], "estimate": document["estimate"],
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
    args = parser.parse_args()
    started = time.perf_counter()
    results = []
    for i in range(args.scenarios):
        lists, difficulty, victims, cities = GRID[i % len(GRID)]
        with tempfile.TemporaryDirectory(prefix="dadkhah-coverage-") as folder:
            results.append(run_scenario(Path(folder), lists=lists, difficulty=difficulty, victims=victims,
                                        cities=cities, seed=args.first_seed + i, replicates=args.replicates,
                                        method=args.method))
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
        "cores": os.cpu_count(), "seconds": round(time.perf_counter() - started, 1), "scenarios": len(results),
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
