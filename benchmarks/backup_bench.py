"""Backing up and restoring a generated workspace: seconds, the backup's size, rows.

Prints one JSON line per database (SQLite, and PostgreSQL when it answers). The workspace is a
synthetic case (``dadkhah.synth.generate_case``, its lists imported as `dadkhah import` does),
plus testimonies and evidence files sealed in the vault. For each database: the backup
(``make_backup``: the snapshot, every sealed file, the signed manifest), then the restore into a
new folder (``restore_backup``: every member checked, then written; PostgreSQL into a fresh
database made for it and dropped afterwards), and a check that the restored workspace's summary is
the original's and its chains verify.

    python benchmarks/backup_bench.py [--victims 20000] [--evidence-mb 200] [--databases sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

POSTGRES_URL = os.environ.get("DADKHAH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def build(folder: Path, case: Path, database_url: str | None, evidence_mb: int) -> dict:
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.store import open_store
    from dadkhah.vault.evidence import add_evidence
    from dadkhah.vault.keys import create_keys, load_keys
    from dadkhah.vault.testimony import add_testimony
    from dadkhah.workspace import create_workspace

    actor = Actor("benchmark", "cli")
    workspace = create_workspace(folder, database_url=database_url)
    create_keys(workspace, key_file=folder.parent / f"{folder.name}.key")
    workspace = workspace.reloaded()
    keys = load_keys(workspace)
    with open_store(workspace, keys=keys) as store:
        for path in sorted(case.glob("list-*.csv")):
            import_file(store, path, source=path.stem, actor=actor)
        transcript = folder.parent / "transcript.txt"
        transcript.write_text("A synthetic testimony, repeated.\n" * 200, encoding="utf-8")
        for number in range(50):
            add_testimony(store, keys, actor=actor, witness_name=f"Synthetic Witness {number}", transcript=transcript,
                          language="en", consent="investigators")
        files = []
        for number in range(10):
            path = folder.parent / f"evidence-{number}.bin"
            with open(path, "wb") as handle:
                handle.write(os.urandom(evidence_mb * 2**20 // 10))
            files.append(path)
        add_evidence(store, keys, files, actor=actor)
    return {"workspace": workspace, "keys": keys}


def run(database: str, case: Path, evidence_mb: int) -> dict:
    import sqlalchemy as sa

    from dadkhah.audit import Actor
    from dadkhah.report.summary import case_summary
    from dadkhah.store import open_store
    from dadkhah.vault.backup import make_backup, restore_backup
    from dadkhah.workspace import load_workspace

    actor = Actor("benchmark", "cli")
    root = Path(tempfile.mkdtemp(prefix=f"backup-bench-{database}-"))
    admin = target = schema = None
    try:
        source_url = None
        if database == "postgres":
            admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            name = f"bench_restore_{uuid.uuid4().hex[:10]}"
            with admin.connect() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
            source_url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
            target = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        built = build(root / "ws", case, source_url, evidence_mb)
        workspace, keys = built["workspace"], built["keys"]
        with open_store(workspace, keys=keys) as store:
            with store.session() as session:
                summary = case_summary(session)
            started = time.perf_counter()
            made = make_backup(store, keys, root / "case.backup", actor=actor)
            backup_seconds = time.perf_counter() - started
        started = time.perf_counter()
        restored = restore_backup(root / "case.backup", root / "restored", actor=actor, database_url=target,
                                  key_file=root / "ws.key")
        restore_seconds = time.perf_counter() - started
        with open_store(load_workspace(root / "restored", database_url=target)) as store, store.session() as session:
            same = case_summary(session) == summary
        rows = made["rows"]
        return {"database": database, "method": made["method"], "backup_seconds": round(backup_seconds, 2),
                "restore_seconds": round(restore_seconds, 2), "size_mb": round(made["size_bytes"] / 2**20, 1),
                "rows": rows, "records": made["counts"]["records"], "files": made["files"],
                "summary_equal": same, "custody_intact": restored["custody_intact"],
                "audit_intact": restored["audit_intact"]}
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if admin is not None:
            with admin.connect() as connection:
                if schema:
                    connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                if target:
                    connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.make_url(target).database}" WITH (FORCE)'))
            admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--victims", type=int, default=20_000)
    parser.add_argument("--evidence-mb", type=int, default=200)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="backup-bench-config-"))
    from dadkhah.synth import generate_case

    case = Path(tempfile.mkdtemp(prefix="backup-bench-case-"))
    try:
        generate_case(case, victims=args.victims, lists=4, seed=2026, difficulty="realistic")
        results = []
        for database in args.databases.split(","):
            try:
                results.append(run(database.strip(), case, args.evidence_mb))
            except Exception as exc:  # a database that does not answer: say why, go on
                results.append({"database": database.strip(), "error": f"{type(exc).__name__}: {exc}"})
        print(json.dumps({"benchmark": "backup", "victims": args.victims, "evidence_mb": args.evidence_mb,
                          "cores": os.cpu_count(), "results": results}))
    finally:
        shutil.rmtree(case, ignore_errors=True)


if __name__ == "__main__":
    main()
