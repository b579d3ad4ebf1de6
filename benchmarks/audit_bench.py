"""The audit log's cost: appending signed events in their actions' transactions, and verifying the
whole chain (hashes, links, Ed25519 signatures, the head beside the key file).

Prints one JSON line: events appended per second (one transaction each, as actions write them, and
many in one transaction), and events verified per second, on the embedded SQLite database. There is
no target in the design; the figures say what a year of heavy use costs to check.

    python benchmarks/audit_bench.py [--events 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=2_000, help="events appended one transaction each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.environ["XDG_CONFIG_HOME"] = str(root / "config")
        from dadkhah.audit import Actor, record_audit, verify_audit
        from dadkhah.store import open_store
        from dadkhah.vault.keys import create_keys, load_keys
        from dadkhah.workspace import create_workspace

        workspace = create_workspace(root / "ws")
        create_keys(workspace, key_file=root / "keys" / "bench.key")
        workspace = workspace.reloaded()
        store = open_store(workspace, keys=load_keys(workspace))
        actor = Actor("benchmark", "web", "127.0.0.1")
        details = {"what": "transcript", "testimony": "T-0001"}

        started = time.perf_counter()
        for n in range(args.single):
            with store.session() as session:
                record_audit(session, store, actor, action="testimony read", object_kind="testimony",
                             object_id=f"T-{n:04d}", details=details)
        single = time.perf_counter() - started

        started = time.perf_counter()
        with store.session() as session:
            for n in range(args.events - args.single):
                record_audit(session, store, actor, action="testimony read", object_kind="testimony",
                             object_id=f"T-{n:04d}", details=details)
        batched = time.perf_counter() - started

        started = time.perf_counter()
        report = verify_audit(store)
        verified = time.perf_counter() - started
        store.close()
    assert report["intact"] and report["events"] == args.events and not report["unsigned"], report
    print(json.dumps({
        "benchmark": "audit", "events": args.events, "cores": os.cpu_count(),
        "appends_per_second_one_transaction_each": round(args.single / single),
        "appends_per_second_in_one_transaction": round((args.events - args.single) / batched),
        "verified_per_second": round(args.events / verified), "verify_seconds": round(verified, 2),
    }))


if __name__ == "__main__":
    main()
