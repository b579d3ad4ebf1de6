"""Speed of the LCMCR Gibbs sampler, in microseconds per iteration (one sweep of one chain).

Prints one JSON line. Targets: at most 15 µs per iteration on a 4-list table with K = 10, and at
most 140 µs on the 20-list Colombia table with K = 15 (the R package LCMCR's C++ sampler takes
about 14-17 µs and 138 µs on this kind of machine). Each figure is the best of three timed single
chains after compilation; the several chains of a real run share the cores on top of this.

    python benchmarks/lcmcr_bench.py [--iterations 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

DATA = Path(os.environ.get("DADKHAH_MSE_DATA", Path(__file__).resolve().parents[1] / "tests" / "data" / "mse"))


def per_iteration(table, k: int, iterations: int) -> float:
    from dadkhah.estimate.lcmcr import WARMUP, sample_lcmcr

    sample_lcmcr(table, latent_classes=k, iterations=100, burn_in=0, thin=1, seeds=[0])  # compile
    best = float("inf")
    for seed in (1, 2, 3):
        started = time.perf_counter()
        sample_lcmcr(table, latent_classes=k, iterations=iterations, burn_in=0, thin=10, seeds=[seed])
        best = min(best, (time.perf_counter() - started) / (iterations + WARMUP))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=50_000)
    parser.add_argument("--data", default=str(DATA), help="folder holding the published tables")
    args = parser.parse_args()
    from dadkhah.estimate import read_table

    four = read_table(Path(args.data) / "australia_trafficking.csv")
    colombia = read_table(Path(args.data) / "colombia_recruitment_hombre_1999_R1.csv")
    four_us = per_iteration(four, 10, args.iterations)
    colombia_us = per_iteration(colombia, 15, args.iterations // 5)
    print(json.dumps({
        "benchmark": "lcmcr",
        "cores": os.cpu_count(),
        "four_list_table": "australia_trafficking (4 lists, K=10)",
        "four_list_us_per_iteration": round(four_us, 2),
        "colombia_us_per_iteration": round(colombia_us, 2),
        "target_four_list_us": 15,
        "target_colombia_us": 140,
        "r_lcmcr_reference_us": {"four_list": "14-17", "colombia": 138},
        "meets_target": four_us <= 15 and colombia_us <= 140,
    }))


if __name__ == "__main__":
    main()
