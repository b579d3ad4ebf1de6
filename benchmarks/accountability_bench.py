"""Accountability at scale: import speed, and the two questions investigators ask most, on SQLite.

Prints one JSON line. Targets (issue 12): with 100,000 posts and 1,000,000 acts, the import runs at
at least 20,000 rows/s, and ``institutions chart`` and ``officials show`` answer in under 50 ms at
the 95th percentile. Charts are asked of institutions drawn at random (most are small units) and,
separately, of the national body at the top of the tree (every unit below it, and the first page
of its posts).

    python benchmarks/accountability_bench.py [--acts 1000000] [--posts 100000] [--queries 200] [--keep DIR]

The files are generated here, seeded: 1,000 institutions in a tree four levels deep (a national
body, provincial bodies, units, sub-units), one official per five posts, acts each naming one or
two victims (records of one list of 200,000) and some unnamed ones, each act with two involvements
(an official and an institution). Every row has a locator. The victims' list is imported first
(not timed); the accountability import is timed in its own process, for its peak memory.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from import_bench import peak_rss_mb  # this folder's: the process's own peak resident memory

from dadkhah.spreadsheet import SafeWriter

INSTITUTIONS = 1_000
RECORDS = 200_000


def _write(path: Path, header: list[str], rows) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def generate(folder: Path, *, acts: int, posts: int, seed: int = 12) -> dict:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "victims.csv", ["record_id", "given_name", "family_name", "death_date", "city"],
           ([f"R{i}", f"Given{i % 997}", f"Family{i % 1999}", "1367/05/10", "Tehran"] for i in range(RECORDS)))
    acc = folder / "accountability"
    acc.mkdir()
    parents = {0: None}
    for i in range(1, INSTITUTIONS):
        parents[i] = 0 if i < 30 else rng.randrange(1, min(i, 300)) if i < 300 else rng.randrange(30, 300)
    counts = {}
    counts["institutions"] = _write(acc / "institutions.csv", ["institution_id", "name", "kind", "parent_id", "relation",
                                                                "from", "to", "locator"],
                                    ([f"I{i}", f"Body {i}", "unit" if i else "ministry",
                                      "" if parents[i] is None else f"I{parents[i]}",
                                      "" if parents[i] is None else "child-of", "1980" if parents[i] is not None else "",
                                      "", f"p. {i}"] for i in range(INSTITUTIONS)))
    officials = max(1, posts // 5)
    counts["officials"] = _write(acc / "officials.csv", ["official_id", "name", "name_fa", "gender", "locator"],
                                 ([f"O{i}", f"Official{i} Family{i % 3001}", "", "male", "p. 1"]
                                  for i in range(officials)))
    start = date(1980, 1, 1)

    def post(i):
        begin = start + timedelta(days=rng.randrange(0, 12_000))
        end = begin + timedelta(days=rng.randrange(30, 3_000))
        return [f"O{i % officials}", f"I{rng.randrange(INSTITUTIONS)}", rng.choice(("judge", "prosecutor", "head")),
                begin.isoformat(), end.isoformat(), f"p. {i}"]

    counts["posts"] = _write(acc / "posts.csv", ["official_id", "institution_id", "role", "from", "to", "locator"],
                             (post(i) for i in range(posts)))

    def act(i):
        day = date(1988, 7, 20) + timedelta(days=rng.randrange(0, 60))
        victims = "|".join(f"victims:R{rng.randrange(RECORDS)}" for _ in range(rng.choice((1, 1, 2))))
        return [f"A{i}", "execution", day.isoformat(), "Tehran", victims, str(rng.choice((0, 0, 1, 3))), f"p. {i}"]

    counts["acts"] = _write(acc / "acts.csv", ["act_id", "act_type", "date", "place", "victims", "unnamed_victims",
                                               "locator"], (act(i) for i in range(acts)))

    def involvements():
        for i in range(acts):
            yield [f"A{i}", f"O{rng.randrange(officials)}", "approved", rng.choice(("maybe", "likely", "certain")),
                   f"p. {i}"]
            yield [f"A{i}", f"I{rng.randrange(INSTITUTIONS)}", "carried-out", "likely", f"p. {i}"]

    counts["involvements"] = _write(acc / "involvements.csv", ["act_id", "actor_id", "degree", "likelihood", "locator"],
                                    involvements())
    return {"officials": officials, "rows": sum(counts.values()), "files": counts}


def child(folder: str, workspace: str) -> None:
    """Import the accountability files into the prepared workspace; print seconds and peak memory."""
    from dadkhah.accountability import import_accountability
    from dadkhah.audit import Actor
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    store = open_store(load_workspace(workspace))
    started = time.perf_counter()
    summary = import_accountability(store, Path(folder) / "accountability", actor=Actor("benchmark", "cli"),
                                    source="bench-report")
    seconds = time.perf_counter() - started
    store.close()
    print(json.dumps({"rows": summary.rows, "rejected": summary.rejected, "claims": summary.claims["added"],
                      "seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 20 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--acts", type=int, default=1_000_000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--keep")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from dadkhah.accountability import institution_chart, show_official
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace, load_workspace

    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dadkhah-acc-bench-"))
    try:
        generated = generate(root / "files", acts=args.acts, posts=args.posts)
        workspace = root / "ws"
        with open_store(create_workspace(workspace)) as store:
            import_file(store, root / "files" / "victims.csv", source="victims", actor=Actor("benchmark", "cli"))
        result = subprocess.run([sys.executable, __file__, "--child", str(root / "files"), str(workspace)],
                                check=True, capture_output=True, text=True)
        imported = json.loads(result.stdout.strip().splitlines()[-1])
        rng = random.Random(5)
        chart, root, dossier = [], [], []
        with open_store(load_workspace(workspace)) as store:
            for number in range(args.queries):
                on = date(1980, 1, 1) + timedelta(days=rng.randrange(0, 14_000))
                with store.session() as session:
                    started = time.perf_counter()
                    institution_chart(session, f"I{rng.randrange(INSTITUTIONS)}", on=on)
                    chart.append(time.perf_counter() - started)
                if number % 5 == 0:  # the national body: every unit below it, a page of its posts
                    with store.session() as session:
                        started = time.perf_counter()
                        institution_chart(session, "I0", on=on)
                        root.append(time.perf_counter() - started)
                with store.session() as session:
                    started = time.perf_counter()
                    show_official(session, f"O{rng.randrange(generated['officials'])}")
                    dossier.append(time.perf_counter() - started)
        import os

        print(json.dumps({
            "benchmark": "accountability", "cores": os.cpu_count(), "acts": args.acts, "posts": args.posts,
            "rows": imported["rows"], "rejected": imported["rejected"], "claims": imported["claims"],
            "import_seconds": round(imported["seconds"], 1),
            "import_rows_per_second": round(imported["rows"] / imported["seconds"]),
            "import_peak_rss_mb": round(imported["peak_rss_mb"]),
            "chart_p50_ms": round(statistics.median(chart) * 1000, 1), "chart_p95_ms": round(p95(chart) * 1000, 1),
            "chart_national_p50_ms": round(statistics.median(root) * 1000, 1),
            "chart_national_p95_ms": round(p95(root) * 1000, 1),
            "official_p50_ms": round(statistics.median(dossier) * 1000, 1),
            "official_p95_ms": round(p95(dossier) * 1000, 1),
            "targets": {"import_rows_per_second": 20_000, "chart_p95_ms": 50, "official_p95_ms": 50},
        }))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
