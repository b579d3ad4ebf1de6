"""Import speed and memory: 1,000,000 synthetic rows into a SQLite and a PostgreSQL workspace.

Prints one JSON line with both databases. Target: at least 50,000 rows/s on each, and peak memory
that does not grow with the file: the same import of half the rows peaks at about the same
resident memory. (Its caches are bounded: SQLite's page cache at 64 MB, each value cache at
65,536 entries; all fill early, and rows stream through in batches of a few thousand.)

    python benchmarks/import_bench.py [--rows 1000000] [--keep DIR] [--databases sqlite,sqlite-thread,postgres]
                                      [--postgres-url URL] [--postgres-setting NAME=VALUE ...]

The list is generated once (a synthetic case whose one list records every victim), then damaged
on purpose so that every path of the importer runs: about 0.5% of the rows are refused (a missing
cell, no name, a record_id an earlier row used) and about 0.4% keep a warning (an impossible date,
an unknown place or gender); a few cells hold quotes. Each import runs in a fresh child process so
that its peak resident memory is its own. PostgreSQL (the machine's server, by default
postgresql://postgres@127.0.0.1:5432/test) gets a fresh schema per import, dropped afterwards; when
it does not answer, its entry says why. ``sqlite-thread`` is SQLite imported from another thread, as
the web server imports an upload (its second part is then read by a fresh interpreter, not a fork).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

TARGET_ROWS_PER_S = 50_000
POSTGRES_URL = os.environ.get("DADKHAH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def child(list_path: str, workspace: str, database_url: str, how: str = "main") -> None:
    """Import ``list_path`` into a new workspace and print seconds and peak memory; ``how``: "thread" imports
    from another thread, as the web server does with an upload."""
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.store import open_store
    from dadkhah.workspace import create_workspace

    store = open_store(create_workspace(workspace, database_url=database_url or None))
    started, cpu_started = time.perf_counter(), time.process_time() + children_cpu()
    if how == "thread":
        import threading

        done = {}
        reader = threading.Thread(target=lambda: done.update(summary=import_file(
            store, list_path, source="bench", actor=Actor("benchmark", "cli"))))
        reader.start()
        reader.join()
        summary = done["summary"]
    else:
        summary = import_file(store, list_path, source="bench", actor=Actor("benchmark", "cli"))
    # With the CPU of the process that read the second part of a large list (dadkhah.ingest.parallel).
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() + children_cpu() - cpu_started
    store.close()
    print(json.dumps({"rows": summary.rows, "imported": summary.imported, "rejected": summary.rejected,
                      "warnings": summary.warning_count, "seconds": seconds, "cpu_seconds": cpu_seconds,
                      "peak_rss_mb": peak_rss_mb(),
                      # the process that read the second part of a large list, if there was one
                      "peak_rss_mb_second_process": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def children_cpu() -> float:
    """CPU seconds of this process's ended children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


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


def run_child(list_path: Path, workspace: Path, database_url: str = "", how: str = "main") -> dict:
    env = os.environ.copy()
    env.pop("DADKHAH_DATABASE_URL", None)
    done = subprocess.run([sys.executable, __file__, "--child", str(list_path), str(workspace), database_url, how],
                          capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"the import failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def damage(source: Path, out: Path) -> Path:
    """``source`` with refused rows, warnings and awkward cells mixed in, the same way every time."""
    partial = out.with_name(out.name + ".part")  # named only when whole, so an interrupted run is not reused
    with open(source, encoding="utf-8", newline="") as handle, open(partial, "w", encoding="utf-8", newline="") as target:
        reader = csv.reader(handle)
        writer = csv.writer(target, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        col = {name: i for i, name in enumerate(header)}
        seen_ids: list[str] = []
        for number, row in enumerate(reader):
            kind = number % 1000
            if row and "record_id" in col:
                seen_ids.append(row[col["record_id"]])
                del seen_ids[:-20]
            if kind == 7:
                row = row[:-1]  # a missing cell: refused
            elif kind == 99:
                for name in ("given_name", "family_name", "full_name"):
                    if name in col:
                        row[col[name]] = ""  # no name: refused
            elif kind == 500 and len(seen_ids) > 10:
                row[col["record_id"]] = seen_ids[-11]  # an id an earlier row used: refused
            elif kind == 300:
                row[col["death_date"]] = "1367/13/45"  # an impossible date: a warning
            elif kind == 600:
                row[col["city"]] = "Atlantis"  # an unknown place: a warning
            elif kind == 800:
                row[col["gender"]] = "xyz"  # an unknown gender: a warning
            elif kind == 900:
                row[col["affiliation"]] = 'گروه "الف"\\ب'  # quotes and a backslash in a cell
            elif kind == 950:
                row[col["record_id"]] = ""  # no record_id: a generated one
            writer.writerow(row)
            if number % 50_000 == 25_000:
                target.write("\n")  # a blank line: not a data row
    os.replace(partial, out)
    return out


def head(path: Path, out: Path, rows: int) -> Path:
    with open(path, encoding="utf-8") as source, open(out, "w", encoding="utf-8") as target:
        for number, line in enumerate(source):
            if number > rows:
                break
            target.write(line)
    return out


def postgres_schema_url(base: str, settings: tuple[str, ...] = ()) -> tuple[str | None, str | None, object]:
    """A fresh schema on the server: (url, problem, function that drops it); ``settings`` (``name=value``)
    are set for the import's connections."""
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        admin = sa.create_engine(base)
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure to reach the server: reported, not raised
        return None, f"{type(exc).__name__}: {exc}", lambda: None

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in base else "?"
    options = "%20".join(f"-c{quote(setting, safe='')}" for setting in (f"search_path={schema}", *settings))
    return f"{base}{separator}options={options}", None, drop


def measure(database: str, full_list: Path, half_list: Path, folder: Path, postgres_url: str,
            postgres_settings: tuple[str, ...] = ()) -> dict:
    results = {}
    for name, path in (("half", half_list), ("full", full_list)):
        workspace = folder / f"ws-{database}-{name}"
        url, drop = "", (lambda: None)
        if database == "postgres":
            url, problem, drop = postgres_schema_url(postgres_url, postgres_settings)
            if problem:
                return {"database": database, "error": problem}
        try:
            results[name] = run_child(path, workspace, url, "thread" if database == "sqlite-thread" else "main")
        finally:
            drop()
            shutil.rmtree(workspace, ignore_errors=True)
    full, half = results["full"], results["half"]
    rows_per_s = full["rows"] / full["seconds"]
    return {
        "database": database,
        "rows": full["rows"],
        "imported": full["imported"],
        "rejected": full["rejected"],
        "warnings": full["warnings"],
        "seconds": round(full["seconds"], 1),
        "rows_per_s": round(rows_per_s),
        # The importing processes' own CPU time (with the one reading the second part of a large list;
        # not the PostgreSQL server's): less moved by other work.
        "cpu_seconds": round(full["cpu_seconds"], 1),
        "rows_per_cpu_s": round(full["rows"] / full["cpu_seconds"]),
        "half_rows_per_s": round(half["rows"] / half["seconds"]),
        "peak_rss_mb": round(full["peak_rss_mb"]),
        "peak_rss_mb_second_process": round(full["peak_rss_mb_second_process"]),
        "peak_rss_mb_half_of_rows": round(half["peak_rss_mb"]),
        "meets_target": rows_per_s >= TARGET_ROWS_PER_S and full["peak_rss_mb"] < 1.15 * half["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", help="folder to keep the generated list in (reused when present)")
    parser.add_argument("--databases", default="sqlite,sqlite-thread,postgres",
                        help="which to measure (comma-separated; sqlite-thread: SQLite, imported from a thread as the web does)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--postgres-setting", action="append", default=[], metavar="NAME=VALUE",
                        help="a server setting for the import's connections, e.g. session_replication_role=replica "
                             "(a superuser's: the per-row foreign-key checks then do not run) to see what they cost")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
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
    damaged = case / "list-1-damaged.csv"
    if not damaged.exists():
        damage(list_path, damaged)
    generated = time.perf_counter() - started
    half = head(damaged, folder / f"half-{args.rows}.csv", args.rows // 2)
    try:
        databases = [measure(name.strip(), damaged, half, folder, args.postgres_url, tuple(args.postgres_setting))
                     for name in args.databases.split(",") if name.strip()]
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps({
        "benchmark": "import",
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "generate_seconds": round(generated, 1),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "databases": databases,
        "postgres_settings": args.postgres_setting,
        "meets_target": all(d.get("meets_target") for d in databases),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
