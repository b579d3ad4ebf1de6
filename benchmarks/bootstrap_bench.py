"""Speed of the log-linear interval with model uncertainty: the parametric bootstrap that re-runs
the exhaustive BIC selection (1,024 models) on every replicate, on the UK 2013 five-list table.

Prints one JSON line: seconds, cores used, replicates, the estimate and its interval. Target:
under 15 s on 2 cores for 1,000 replicates (about 300 s before the batched fits and workers).

    python benchmarks/bootstrap_bench.py [--replicates 1000] [--workers 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

DATA = Path(os.environ.get("DADKHAH_MSE_DATA", Path(__file__).resolve().parents[1] / "tests" / "data" / "mse"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: every core)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--interval", default="bootstrap", choices=("bootstrap", "bca"))
    args = parser.parse_args()
    from dadkhah.estimate import read_table
    from dadkhah.estimate.loglinear import LogLinear

    table = read_table(DATA / "uk_modern_slavery_5list.csv")
    params = {"selection": "bic", "interval": args.interval, "model_uncertainty": True,
              "n_bootstrap": args.replicates, "random_state": args.seed}
    if args.workers is not None:
        params["workers"] = args.workers
    started, cpu = time.perf_counter(), time.process_time()
    try:
        result = LogLinear(**params).fit(table).result_
    except TypeError:  # code without the workers parameter
        params.pop("workers")
        result = LogLinear(**params).fit(table).result_
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    info = result.diagnostics["interval"]
    print(json.dumps({"benchmark": "loglinear bootstrap with re-selection, UK 5 lists", "seconds": round(seconds, 2),
                      "cores": info.get("workers", 1), "available_cores": os.cpu_count(),
                      "cpu_seconds_this_process": round(cpu, 2), "load_average": round(os.getloadavg()[0], 2),
                      "replicates": args.replicates, "interval_kind": args.interval, "estimate": round(result.estimate, 1),
                      "interval": [round(result.interval[0], 1), round(result.interval[1], 1)],
                      "failed": info.get("failed"), "seed": args.seed}))


if __name__ == "__main__":
    main()
