"""Import speed and memory: 1,000,000 synthetic rows into a SQLite workspace.

Prints one JSON line. Target: at least 20,000 rows/s, and peak memory that does not grow with the
file: the same import of half the rows peaks at about the same resident memory. (Its caches
are bounded: SQLite's page cache at 64 MB, each value cache at 65,536 entries; both fill early.)

    python benchmarks/import_bench.py [--rows 1000000] [--keep DIR]

The list is generated once (a synthetic case whose one list records every victim), then each
import runs in a fresh child process so that its peak resident memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(list_path: str, workspace: str) -> None:
    """Import ``list_path`` into a new workspace and print seconds and peak memory."""
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    store = open_store(create_workspace(workspace))
    started = time.perf_counter()
    summary = import_file(store, list_path, source="bench", actor=Actor("benchmark", "cli"))
    seconds = time.perf_counter() - started
    store.close()
    print(json.dumps({"rows": summary.rows, "imported": summary.imported, "rejected": summary.rejected,
                      "warnings": summary.warning_count, "seconds": seconds, "peak_rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's own peak resident memory.

    Not ``getrusage``: on Linux its ``ru_maxrss`` survives ``exec``, so a child would report the
    parent's peak (here, the generator's). ``VmHWM`` is the high-water mark of this address space.
    """
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(list_path: Path, workspace: Path) -> dict:
    env = os.environ.copy()
    env.pop("DADKHAH_DATABASE_URL", None)
    done = subprocess.run([sys.executable, __file__, "--child", str(list_path), str(workspace)],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def head(path: Path, out: Path, rows: int) -> Path:
    with open(path, encoding="utf-8") as source, open(out, "w", encoding="utf-8") as target:
        for number, line in enumerate(source):
            if number > rows:
                break
            target.write(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", help="folder to keep the generated list in (reused when present)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from dadkhah.synth import generate_case

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dadkhah-import-bench-"))
    case = folder / f"case-{args.rows}"
    list_path = case / "list-1.csv"
    started = time.perf_counter()
    if not list_path.exists():
        # Every victim recorded once; duplicates within the list add a few per cent of rows.
        generate_case(case, victims=int(args.rows / 1.02), lists=1, seed=2026, difficulty="realistic", coverage=1.0)
    generated = time.perf_counter() - started
    try:
        small = run_child(head(list_path, folder / "half.csv", args.rows // 2), folder / "ws-half")
        full = run_child(list_path, folder / "ws-full")
    finally:
        for name in ("ws-half", "ws-full"):
            shutil.rmtree(folder / name, ignore_errors=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    rows_per_s = full["rows"] / full["seconds"]
    print(json.dumps({
        "benchmark": "import",
        "database": "sqlite",
        "cores": os.cpu_count(),
        "rows": full["rows"],
        "imported": full["imported"],
        "rejected": full["rejected"],
        "warnings": full["warnings"],
        "seconds": round(full["seconds"], 1),
        "rows_per_s": round(rows_per_s),
        "peak_rss_mb": round(full["peak_rss_mb"]),
        "peak_rss_mb_half_of_rows": round(small["peak_rss_mb"]),
        "generate_seconds": round(generated, 1),
        "target_rows_per_s": 20000,
        "meets_target": rows_per_s >= 20000 and full["peak_rss_mb"] < 1.15 * small["peak_rss_mb"],
    }))


if __name__ == "__main__":
    main()
