"""Linkage at scale: about 1,000,000 synthetic records, on this machine.

Prints one JSON line: seconds and peak memory of the linkage run, and pairwise F1 against the
synthetic truth. Targets: under 5 minutes and under 8 GB on 2 cores, pairwise F1 at least 0.95 with
recall at least 0.93, on the realistic and the hard setting.

    python benchmarks/link_bench.py [--victims 570000] [--difficulty hard] [--keep DIR]

The case is generated and imported once (kept with --keep); the linkage itself runs in a child
process so its peak memory (VmHWM, which includes DuckDB's native memory) is its own. Then, on a
freshly imported case, a list of 1,000 records is added and `link run` timed again
(``second_run_*``: it reuses the first run's model, features and pairs; its pairwise F1 and recall,
against the truth with the new list, should be those of the first run). Last, what a reviewer waits
for on the queue (``review_*``): its first page, and 30 decisions each with the finding of the next
pair, before and after the team's decisions calibrate the queue (20 or more).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(workspace: str) -> None:
    from dadkhah.audit import Actor
    from dadkhah.link.run import run_linkage
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    started = time.perf_counter()
    with open_store(load_workspace(workspace)) as store:
        summary = run_linkage(store, actor=Actor("benchmark", "cli"))
    print(json.dumps(summary.to_dict() | {"wall_seconds": time.perf_counter() - started, "peak_rss_mb": peak_rss_mb()}))


def _linked(workspace: Path) -> dict:
    """`link run` in a child process: its summary, wall seconds and peak memory."""
    done = subprocess.run([sys.executable, __file__, "--child", str(workspace)], capture_output=True, text=True, check=False)
    if done.returncode:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(done.returncode)
    return json.loads(done.stdout.strip().splitlines()[-1])


def review_timings(workspace: Path, truth_path: Path, decisions: int = 30) -> dict:
    """What a reviewer waits for on this queue: its first page, and each decision (taken as the truth
    says, on the pair the queue puts first) with the finding of the next pair, as the web does it.
    Run last: the decisions stay in the workspace."""
    import statistics

    from dadkhah.audit import Actor
    from dadkhah.link.review import decide, next_pair, review_pair, review_queue
    from dadkhah.link.run import read_truth
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    truth = read_truth(truth_path)
    reviewer = Actor("benchmark", "web")
    with open_store(load_workspace(workspace)) as store:
        with store.session() as session:
            started = time.perf_counter()
            first_page = review_queue(session, limit=50)
            page_ms = (time.perf_counter() - started) * 1000
            pair_id = next_pair(session)
        waits, shown = [], []
        for _ in range(decisions):
            if pair_id is None:
                break
            with store.session() as session:
                started = time.perf_counter()
                pair = review_pair(session, pair_id)
                shown.append((time.perf_counter() - started) * 1000)
            a, b = pair["record_a"], pair["record_b"]
            same = truth.get((a["source"], a["record_id"])) == truth.get((b["source"], b["record_id"]))
            started = time.perf_counter()
            decide(store, "same" if same else "different", actor=reviewer, reason="benchmark", pair_id=pair_id)
            with store.session() as session:  # (the web finds the next pair in the same request)
                pair_id = next_pair(session)
            waits.append((time.perf_counter() - started) * 1000)
        with store.session() as session:
            started = time.perf_counter()
            review_queue(session, limit=50)
            calibrated_page_ms = (time.perf_counter() - started) * 1000
    return {"review_queue": first_page["total"], "review_first_page_ms": round(page_ms),
            "review_pair_ms_median": round(statistics.median(shown)) if shown else None,
            "review_decide_and_next_ms_median": round(statistics.median(waits)) if waits else None,
            "review_decide_and_next_ms_max": round(max(waits)) if waits else None,
            "review_decisions_timed": len(waits), "review_first_page_calibrated_ms": round(calibrated_page_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--victims", type=int, default=570_000)
    parser.add_argument("--difficulty", default="hard")
    parser.add_argument("--keep")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.run import evaluate_linkage
    from dadkhah.store import open_store
    from dadkhah.synth import generate_case
    from dadkhah.workspace import create_workspace, load_workspace

    os.environ.pop("DADKHAH_DATABASE_URL", None)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dadkhah-link-bench-"))
    case = folder / f"case-{args.victims}-{args.difficulty}"
    workspace = folder / f"ws-{args.victims}-{args.difficulty}"
    try:
        if not (case / "truth.csv").exists():
            generate_case(case, victims=args.victims, lists=6, seed=2026, difficulty=args.difficulty)
        if not (workspace / "imported").exists():
            shutil.rmtree(workspace, ignore_errors=True)
            with open_store(create_workspace(workspace)) as store:
                for path in sorted(case.glob("list-*.csv")):
                    import_file(store, path, source=path.stem, actor=Actor("benchmark", "cli"))
            (workspace / "imported").touch()
        second_list = not (workspace / "second-list").exists()
        # The small list and the truth with it, kept per case: one --keep folder may hold several.
        extra = folder / f"list-7-{args.victims}-{args.difficulty}"
        truth = case / "truth.csv" if second_list else extra / "truth-with-list-7.csv"  # (the workspace holds it)
        run = _linked(workspace)
        with open_store(load_workspace(workspace)) as store:
            quality = evaluate_linkage(store, truth)
        second = second_quality = None
        if second_list:  # the first run on this workspace: add a small list and link again
            sys.path.insert(0, str(Path(__file__).parent))
            from link_compare_bench import _small_list

            extra.mkdir(exist_ok=True)
            truth = _small_list(case, extra / "list-7.csv")
            with open_store(load_workspace(workspace)) as store:
                import_file(store, extra / "list-7.csv", source="list-7", actor=Actor("benchmark", "cli"))
            (workspace / "second-list").touch()
            second = _linked(workspace)
            with open_store(load_workspace(workspace)) as store:  # the second run links as well as a first would
                second_quality = evaluate_linkage(store, truth)["pairwise"]
        result = {
            "benchmark": "link",
            "cores": os.cpu_count(),
            "records": run["records"],
            "persons": run["persons"],
            "true_persons": quality["persons"],
            "difficulty": args.difficulty,
            "seconds": round(run["wall_seconds"], 1),
            "peak_rss_mb": round(run["peak_rss_mb"]),
            "pairs_planned": run["pairs_planned"],
            "review_pairs": run.get("pairs_for_review"),
            "pairwise_precision": quality["pairwise"]["precision"],
            "pairwise_recall": quality["pairwise"]["recall"],
            "pairwise_f1": quality["pairwise"]["f1"],
            "bcubed_f1": quality["bcubed"]["f1"],
            "stage_seconds": run["stage_seconds"],
            "target_seconds": 300,
            "target_peak_rss_mb": 8 * 1024,
            "target_f1": 0.95,
            "target_recall": 0.93,
            "load_average": list(os.getloadavg()),
        }
        if second is not None:
            result |= {"second_run_records_added": second["records"] - run["records"],
                       "second_run_seconds": round(second["wall_seconds"], 1),
                       "second_run_ratio": round(second["wall_seconds"] / run["wall_seconds"], 2),
                       "second_run_stage_seconds": second["stage_seconds"], "second_run_reused": second["reused"],
                       "second_run_peak_rss_mb": round(second["peak_rss_mb"]),
                       "second_run_pairwise_f1": second_quality["f1"], "second_run_pairwise_recall": second_quality["recall"]}
        result |= review_timings(workspace, truth)
        result["meets_target"] = (result["seconds"] < 300 and result["peak_rss_mb"] < 8 * 1024
                                  and result["pairwise_f1"] >= 0.95 and result["pairwise_recall"] >= 0.93)
        print(json.dumps(result))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
