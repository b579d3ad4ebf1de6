"""What each review band costs and gains: pairs queued, and pairwise F1 once every queued pair is decided.

Generates a synthetic case (by default the 31,500-victim, six-list case of ``link_compare_bench``:
about 56,000 records, seed 55), imports it, runs ``link run`` once, and then, for each band, takes
the pairs a run with that band would queue, decides each as the generator's truth says, and
clusters the run's kept pairs again under those decisions (what the next ``link run`` does with the
same model). Prints one JSON line with, for each band, the pairs queued and the F1 after review,
and which band the default is.

Example:
    python benchmarks/review_band_bench.py --difficulty realistic
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

BANDS = [(0.45, 0.6), (0.4, 0.6), (0.4, 0.62), (0.38, 0.62), (0.4, 0.65), (0.35, 0.65), (0.42, 0.68), (0.45, 0.7),
         (0.4, 0.7), (0.3, 0.8), (0.2, 0.9)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--victims", type=int, default=31_500)
    parser.add_argument("--difficulty", default="realistic")
    parser.add_argument("--seed", type=int, default=55)
    parser.add_argument("--keep", help="a folder to keep the case and workspace in (reused when it holds them)")
    args = parser.parse_args()
    os.environ.pop("DADKHAH_DATABASE_URL", None)

    import numpy as np
    import sqlalchemy as sa

    from dadkhah.audit import Actor
    from dadkhah.ingest.importer import import_file
    from dadkhah.link import DEFAULT_REVIEW_BAND
    from dadkhah.link.evaluate import evaluate_clusters
    from dadkhah.link.run import _KeptPairs, read_truth, run_linkage
    from dadkhah.model import Source
    from dadkhah.store import open_store
    from dadkhah.synth import generate_case
    from dadkhah.workspace import create_workspace

    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dadkhah-review-band-"))
    case = folder / f"case-{args.victims}-{args.difficulty}-{args.seed}"
    workspace = folder / f"ws-{args.victims}-{args.difficulty}-{args.seed}"
    try:
        if not case.exists():
            generate_case(case, victims=args.victims, lists=6, seed=args.seed, difficulty=args.difficulty)
        shutil.rmtree(workspace, ignore_errors=True)
        actor = Actor("benchmark", "cli")
        with open_store(create_workspace(workspace)) as store:
            records = sum(import_file(store, p, source=p.stem, actor=actor).imported for p in sorted(case.glob("list-*.csv")))
            summary = run_linkage(store, actor=actor)
            kept = _KeptPairs(store, summary.run_id)
            with store.session() as session:
                source_name = dict(session.execute(sa.select(Source.id, Source.name)).all())
        truth = read_truth(case / "truth.csv")
        person_of = {uid: truth[(source_name[source], record)] for (source, record), uid in kept.uid_of.items()}
        same_person = np.array([person_of[a] == person_of[b] for a, b in zip(kept.left.tolist(), kept.right.tolist(), strict=True)])

        def f1_after(queued: np.ndarray) -> float:
            kept.same = [(int(a), int(b)) for a, b in zip(kept.left[queued & same_person], kept.right[queued & same_person], strict=True)]
            kept.different = [(int(a), int(b)) for a, b in zip(kept.left[queued & ~same_person], kept.right[queued & ~same_person], strict=True)]
            predicted = kept.cluster(kept.probability, summary.threshold)
            named = {(source_name[s], r): label for (s, r), label in predicted.items()}
            return round(evaluate_clusters(named, truth)["pairwise"]["f1"], 4)

        bands = []
        for low, high in BANDS:
            queued = (kept.probability >= low) & (kept.probability <= high)
            wrong = np.where(kept.probability >= summary.threshold, ~same_person, same_person)
            bands.append({"band": [low, high], "pairs": int(queued.sum()), "answers_wrong_in_band": int((queued & wrong).sum()),
                          "f1_after_review": f1_after(queued), "default": (low, high) == tuple(DEFAULT_REVIEW_BAND)})
        print(json.dumps({
            "benchmark": "review_band", "cores": os.cpu_count(), "difficulty": args.difficulty, "victims": args.victims,
            "seed": args.seed, "records": records, "f1_no_review": f1_after(np.zeros_like(same_person)),
            "run_review_pairs": summary.pairs_for_review, "bands": bands,
            "target_pairs": 1500,
            "default_meets_target": next(b["pairs"] for b in bands if b["default"]) <= 1500 if any(b["default"] for b in bands) else None,
        }))
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
