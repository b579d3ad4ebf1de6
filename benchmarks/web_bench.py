"""Person search under load: 1,000,000 synthetic persons on SQLite, 20 clients, the real server.

Prints one JSON line. Target: 95 % of searches answered within 100 ms.

    python benchmarks/web_bench.py [--persons 1000000] [--clients 20] [--seconds 30]
                                   [--workspace DIR] [--keep] [--workers N]

Building the workspace: a synthetic case (two lists, one in Persian script and one in Latin
script, each recording about three victims in four) is generated and imported with the real
importer; persons are assigned with the API the linkage uses (:func:`dadkhah.registry.persons.assign_persons`)
from the case's known truth instead of a linkage run (linking 1.5 million records is the linkage
benchmark's business, not this one's); then :func:`dadkhah.registry.search.build_search_index`. With
``--keep`` a workspace already built in the folder is reused.

The server is the real application: ``dadkhah serve --workers N`` in a child process. One
user logs in; every client shares that session. Each client is a thread with its own keep-alive
connection (http.client), issuing searches back to back (no think time) for ``--seconds`` after a short
warm-up: rare full names and common names in both scripts, with and without city, source and
death-date filters (ISO and Jalali), and person ids. The clients run on the same machine as the
server and take part of its CPU: the ``cores`` figure is the whole machine's.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

from web_common import free_port, log_in, searches, start_server, stop_server

BENCH_USER, BENCH_PASSWORD = "bench", "synthetic benchmark password, not secret"


# --- building the workspace ----------------------------------------------------------------------

def build(folder: Path, persons: int, seed: int) -> dict:
    import sqlalchemy as sa

    from dadkhah import __version__
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.model import LinkageRun, Source
    from dadkhah.registry.persons import assign_persons
    from dadkhah.registry.search import build_search_index
    from dadkhah.store import open_store
    from dadkhah.synth import generate_case
    from dadkhah.users import add_user
    from dadkhah.workspace import create_workspace

    shutil.rmtree(folder / "ws", ignore_errors=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    victims = math.ceil(persons / 0.9193)  # two lists at coverage 0.75 observe about 91.9 % of the victims
    case = folder / f"case-{victims}-{seed}"
    if not (case / "truth.csv").exists():
        generate_case(case, victims=victims, lists=2, seed=seed, difficulty="realistic", coverage=0.75)
    timings["generate"] = time.perf_counter() - started

    step = time.perf_counter()
    store = open_store(create_workspace(folder / "ws"))
    for path in sorted(case.glob("list-*.csv")):
        import_file(store, path, source=path.stem, actor=Actor("benchmark", "cli"))
    timings["import"] = time.perf_counter() - step

    step = time.perf_counter()
    with store.session() as session:
        source_ids = dict(session.execute(sa.select(Source.name, Source.id)).all())
        clusters: dict[tuple[int, str], int] = {}
        with open(case / "truth.csv", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                clusters[(source_ids[row["source"]], row["record_id"])] = int(row["person_id"].split("-")[1])
        run = LinkageRun(engine="truth", threshold=0.5, review_low=0.2, review_high=0.9,
                         parameters={"benchmark": "persons assigned from the synthetic truth, not linked"},
                         records=len(clusters), run_by="web_bench", software_version=__version__)
        session.add(run)
        session.flush()
        assignment = assign_persons(session, run.id, clusters)
        run.persons = assignment.persons
    timings["assign_persons"] = time.perf_counter() - step

    step = time.perf_counter()
    with store.session() as session:
        index = build_search_index(session)
    timings["search_index"] = time.perf_counter() - step
    add_user(store, BENCH_USER, actor=Actor("benchmark", "cli"), role="viewer", password=BENCH_PASSWORD)
    store.close()
    built = {"case": str(case), "persons": index["persons"], "records": len(clusters), "keys": index["keys"],
             "build_seconds": {k: round(v, 1) for k, v in timings.items()}}
    (folder / "built.json").write_text(json.dumps(built), encoding="utf-8")
    return built


# --- the clients ------------------------------------------------------------------------------------

def load(base: str, cookies: dict, queries: list[dict], *, clients: int, seconds: float, warmup: float) -> dict:
    """Clients are threads with one keep-alive connection each (the standard library's http.client,
    which costs the shared CPU far less than httpx: the clients run on the server's machine)."""
    import http.client
    from urllib.parse import urlencode, urlsplit

    address = urlsplit(base)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    latencies: list[float] = []
    errors: Counter = Counter()
    lock = threading.Lock()
    start = time.monotonic() + warmup
    stop = start + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        mine: list[float] = []
        failed: Counter = Counter()
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        while True:
            params = rng.choice(queries)
            began = time.monotonic()
            if began >= stop:
                break
            try:
                connection.request("GET", "/api/v1/persons?" + urlencode(params), headers={"cookie": cookie})
                answer = connection.getresponse()
                body = answer.read()
                ok = answer.status == 200
                if ok:
                    json.loads(body)
                else:
                    failed[f"http {answer.status}"] += 1
            except (OSError, http.client.HTTPException) as exc:
                ok = False
                failed[type(exc).__name__] += 1
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
            if began >= start and ok:
                mine.append(time.monotonic() - began)
        connection.close()
        with lock:
            latencies.extend(mine)
            errors.update(failed)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()

    def percentile(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else float("nan")

    return {"requests": len(latencies), "requests_per_s": round(len(latencies) / seconds, 1), "p50_ms": percentile(0.50),
            "p95_ms": percentile(0.95), "p99_ms": percentile(0.99), "max_ms": percentile(1.0),
            "errors": sum(errors.values()), "error_kinds": dict(errors)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2, help="server processes (dadkhah serve --workers; 2 on 2 cores)")
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/dadkhah-web-bench"), help="folder for the case and workspace")
    parser.add_argument("--keep", action="store_true", help="reuse the workspace already built in the folder")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    folder = args.workspace
    folder.mkdir(parents=True, exist_ok=True)
    built_file = folder / "built.json"
    built = json.loads(built_file.read_text(encoding="utf-8")) if args.keep and built_file.exists() else None
    if built is None or built.get("persons_asked") != args.persons:
        built = build(folder, args.persons, args.seed) | {"persons_asked": args.persons}
        built_file.write_text(json.dumps(built), encoding="utf-8")
    queries = searches(Path(built["case"]), random.Random(args.seed))

    port = free_port()
    server = start_server(folder / "ws", port, args.workers, log=folder / "server.log")
    try:
        base = f"http://127.0.0.1:{port}"
        cookies = log_in(base, BENCH_USER, BENCH_PASSWORD)
        result = load(base, cookies, queries, clients=args.clients, seconds=args.seconds, warmup=args.warmup)
    finally:
        stop_server(server)
    print(json.dumps({
        "benchmark": "web_search", "database": "sqlite", "persons": built["persons"], "records": built["records"],
        "clients": args.clients, **{k: result[k] for k in ("requests", "requests_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms",
                                                           "errors")},
        "error_kinds": result["error_kinds"], "seconds": args.seconds, "server_workers": args.workers,
        "server": f"dadkhah serve --workers {args.workers}", "cores": os.cpu_count(),
        "target_p95_ms": 100, "meets_target": result["p95_ms"] < 100 and result["errors"] == 0,
        "build_seconds": built["build_seconds"],
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
