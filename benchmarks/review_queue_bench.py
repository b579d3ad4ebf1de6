"""Whether the review queue's chances hold while a team works through it in its order.

Generates a synthetic case (by default the 31,500-victim, six-list case of ``link_compare_bench``:
about 56,000 records, seed 55), imports it, runs ``link run`` once, and then decides the queue's
pairs one at a time in the order the queue gives (as the web does: the next pair after each
decision), each as the generator's truth says. Before the first decision, and after 20, 50, 100 and
200, it compares what the queue says of the pairs left with what the truth says of them:

* ``expected_changes`` (the queue's sum of the chances that the run's answer is wrong) against
  ``actual_changes`` (how many of the pairs left the truth says the run has wrong);
* ``brier``: the mean squared difference between each pair's chance and the truth (0 is perfect;
  0.25 is what "every chance one half" scores);
* ``changed_so_far``: how many of the decisions taken contradicted the run (were worth taking).

Prints one JSON line. Example:
    python benchmarks/review_queue_bench.py --difficulty hard
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

CHECKPOINTS = (0, 20, 50, 100, 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--victims", type=int, default=31_500)
    parser.add_argument("--difficulty", default="realistic")
    parser.add_argument("--seed", type=int, default=55)
    parser.add_argument("--keep", help="a folder to keep the case in (reused when it holds it)")
    args = parser.parse_args()
    os.environ.pop("DADKHAH_DATABASE_URL", None)

    import numpy as np

    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.link.review import decide, next_pair, review_pair, review_queue
    from dadkhah.link.run import read_truth, run_linkage
    from dadkhah.store import open_store
    from dadkhah.synth import generate_case
    from dadkhah.workspace import create_workspace

    started = time.perf_counter()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dadkhah-review-queue-"))
    case = folder / f"case-{args.victims}-{args.difficulty}-{args.seed}"
    workspace = folder / f"ws-queue-{args.victims}-{args.difficulty}-{args.seed}"
    try:
        if not case.exists():
            generate_case(case, victims=args.victims, lists=6, seed=args.seed, difficulty=args.difficulty)
        shutil.rmtree(workspace, ignore_errors=True)
        actor = Actor("benchmark", "web")
        truth = read_truth(case / "truth.csv")

        def same(pair: dict) -> bool:
            a, b = pair["record_a"], pair["record_b"]
            return truth.get((a["source"], a["record_id"])) == truth.get((b["source"], b["record_id"]))

        checkpoints = []
        with open_store(create_workspace(workspace)) as store:
            records = sum(import_file(store, p, source=p.stem, actor=Actor("benchmark", "cli")).imported
                          for p in sorted(case.glob("list-*.csv")))
            run_linkage(store, actor=Actor("benchmark", "cli"))
            with store.session() as session:
                queue = review_queue(session, limit=None)
            together = {pair["id"]: pair["together"] for pair in queue["pairs"]}
            queued, changed, decided = queue["total"], 0, 0
            while True:
                if decided in CHECKPOINTS:
                    with store.session() as session:
                        left = review_queue(session, limit=None)
                    chance = np.array([p["chance_wrong"] for p in left["pairs"]])
                    wrong = np.array([same(p) != p["together"] for p in left["pairs"]])
                    checkpoints.append({
                        "decisions": decided, "changed_so_far": changed, "pairs_left": left["total"],
                        "expected_changes": left["expected_changes"], "actual_changes": int(wrong.sum()),
                        "brier": round(float(np.mean((chance - wrong) ** 2)), 3) if wrong.size else None,
                        "calibrated": left["calibration"] is not None,
                    })
                if decided >= CHECKPOINTS[-1]:
                    break
                with store.session() as session:
                    pair_id = next_pair(session)
                    if pair_id is None:
                        break
                    pair = review_pair(session, pair_id)
                answer = same(pair)
                changed += answer != together[pair_id]
                decide(store, "same" if answer else "different", actor=actor, reason="benchmark", pair_id=pair_id)
                decided += 1
        print(json.dumps({"benchmark": "review_queue", "cores": os.cpu_count(), "records": records,
                          "difficulty": args.difficulty, "queued": queued, "checkpoints": checkpoints,
                          "seconds": round(time.perf_counter() - started, 1)}))
    finally:
        if args.keep:
            shutil.rmtree(workspace, ignore_errors=True)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
