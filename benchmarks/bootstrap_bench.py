"""Speed of the log-linear interval with model uncertainty: the parametric bootstrap that re-runs
the exhaustive BIC selection (1,024 models) on every replicate, on the UK 2013 five-list table.

Prints one JSON line: seconds, cores used, replicates, the estimate and its interval. Target:
under 15 s on 2 cores for 1,000 replicates (about 300 s before the batched fits and workers).

With ``--by city`` (or gender, province, month) it times instead what a user runs on a small
registry: a synthetic case (``--victims``, four lists) imported and linked, then ``estimate run
--method loglinear --by city`` (each stratum's bootstrap, each of three imputation replicates).
The strata's tables are small and sparse, so there most of the time went to deciding which models
can be fitted at all (614 s by city on 600 victims before that was made quick; 34 s after).
``--method auto --lists 5`` times the default instead (model averaging on five lists): 42 s by city
on 3,000 victims before small posteriors were computed on both cores and remembered across
replicates, 18 s after.

    python benchmarks/bootstrap_bench.py [--replicates 1000] [--workers 2] [--seed 1]
    python benchmarks/bootstrap_bench.py --by city [--victims 600] [--seed 7]
    python benchmarks/bootstrap_bench.py --by city --method auto --lists 5 --victims 3000
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
    parser.add_argument("--by", choices=("city", "province", "month", "gender"), help="time a registry estimate by stratum")
    parser.add_argument("--victims", type=int, default=600, help="with --by: the synthetic case's victims")
    parser.add_argument("--lists", type=int, default=4, help="with --by: the synthetic case's lists")
    parser.add_argument("--method", default="loglinear", help="with --by: the method (auto: the default)")
    args = parser.parse_args()
    if args.by:
        by_stratum(args)
        return
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


def by_stratum(args) -> None:
    import tempfile

    from dadkhah.audit import Actor
    from dadkhah.estimate.registry import run_registry_estimate
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.run import run_linkage
    from dadkhah.store import open_store
    from dadkhah.synth import generate_case
    from dadkhah.workspace import create_workspace

    actor = Actor("bootstrap-bench", "cli")
    with tempfile.TemporaryDirectory(prefix="bootstrap-bench-") as folder:
        case = Path(folder) / "case"
        generate_case(case, victims=args.victims, lists=args.lists, seed=42, difficulty="realistic")
        with open_store(create_workspace(Path(folder) / "ws")) as store:
            for path in sorted(case.glob("list-*.csv")):
                import_file(store, path, actor=actor, source=path.stem)
            run_linkage(store, actor=actor, seed=args.seed)
            started, cpu = time.perf_counter(), time.process_time()
            document = run_registry_estimate(store, actor=actor, method=args.method, by=args.by, seed=args.seed)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    methods = sorted({s.get("method") for s in document["strata"] if s.get("method")})
    what = "loglinear with model uncertainty" if args.method == "loglinear" else f"{args.method} ({', '.join(methods)})"
    print(json.dumps({"benchmark": f"registry estimate by {args.by}, {what}", "lists": args.lists,
                      "seconds": round(seconds, 2), "available_cores": os.cpu_count(),
                      "cpu_seconds_this_process": round(cpu, 2), "load_average": round(os.getloadavg()[0], 2),
                      "victims": args.victims, "observed": document["observed"], "strata": len(document["strata"]),
                      "replicates": document["parameters"]["uncertainty"]["replicates"],
                      "estimate": document["estimate"], "interval": document["interval"], "seed": args.seed}))


if __name__ == "__main__":
    main()
