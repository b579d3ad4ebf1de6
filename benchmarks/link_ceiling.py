"""How far the model's weights are from the best any weighing of the same comparisons could do.

Reads a linked workspace and the synthetic truth, scores every pair the blocking rules make with the
latest run's trained model, and ranks the pairs two ways:

* ``model``: by the model's match weight (what a run links from);
* ``oracle``: by how often pairs with the same outcome of every comparison (each comparison's
  level, and the name-frequency adjustment in 2-bit steps) were truly one person — learnt from the
  truth on half of the people and applied to the other half, and the other way round.

The oracle is the best ranking the comparisons allow, up to the noise of learning it; a model that
ranks nearly as well has no weight left to correct, and what it misses needs evidence the
comparisons do not hold. For each ranking: the best pairwise F1 over all cut-offs and the share of
true pairs found at a precision of 0.97, before any clustering (a run's clustering then joins
records through chains, which is why its own F1 is higher).

It also says whether the model's probabilities mean what they say (``calibration``): the pairs in
bands of match probability, with the number of true pairs the probabilities promise (their sum) and
the number the truth holds. Where these differ, the review queue's chances and the linkage
uncertainty inside an estimate's interval (both read from these probabilities) are off by as much.
Prints one JSON line.

    python benchmarks/link_ceiling.py WORKSPACE TRUTH.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def ranked(scores, truth, true_pairs: int) -> dict:
    """Best F1 over every cut-off of ``scores`` (highest first), and recall at precision 0.97."""
    import numpy as np

    order = np.argsort(-scores, kind="stable")
    found = np.cumsum(truth[order])
    taken = np.arange(1, len(order) + 1)
    precision = found / taken
    f1 = 2 * found / (taken + true_pairs)
    best = int(np.argmax(f1))
    precise = np.nonzero(precision >= 0.97)[0]
    return {"best_f1": round(float(f1[best]), 4), "recall_at_best_f1": round(float(found[best] / true_pairs), 4),
            "precision_at_best_f1": round(float(precision[best]), 4),
            "recall_at_precision_0.97": round(float(found[precise[-1]] / true_pairs), 4) if len(precise) else 0.0}


CALIBRATION_BANDS = (0.0, 1e-4, 1e-3, 0.01, 0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.99, 1.0)


def calibration(probability, truth) -> list[dict]:
    """Per band of match probability: pairs, the true pairs the probabilities promise, the true pairs."""
    import numpy as np

    band = np.clip(np.searchsorted(CALIBRATION_BANDS, probability, side="right") - 1, 0, len(CALIBRATION_BANDS) - 2)
    pairs = np.bincount(band, minlength=len(CALIBRATION_BANDS) - 1)
    promised = np.bincount(band, weights=probability, minlength=len(CALIBRATION_BANDS) - 1)
    found = np.bincount(band, weights=truth.astype(float), minlength=len(CALIBRATION_BANDS) - 1)
    return [{"from": lo, "to": hi, "pairs": int(n), "expected_true": round(float(e), 1), "true": int(t)}
            for lo, hi, n, e, t in zip(CALIBRATION_BANDS, CALIBRATION_BANDS[1:], pairs, promised, found, strict=False) if n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace")
    parser.add_argument("truth")
    args = parser.parse_args()
    os.environ.pop("DADKHAH_DATABASE_URL", None)
    import numpy as np
    import sqlalchemy as sa

    from dadkhah.link.engine import score
    from dadkhah.link.features import record_features
    from dadkhah.link.model import DEFAULT_MODEL
    from dadkhah.model import LinkageRun
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    started = time.perf_counter()
    with open_store(load_workspace(args.workspace)) as store, store.session() as session:
        features = record_features(session)
        trained = session.scalar(sa.select(LinkageRun.model).where(LinkageRun.finished_at.is_not(None))
                                 .order_by(LinkageRun.id.desc()).limit(1))
    if trained is None:
        sys.exit(f"{args.workspace}: no finished linkage run; run `dadkhah link run` first")
    truth: dict[tuple[str, str], str] = {}
    with open(args.truth, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            truth[(row["source"], row["record_id"])] = row["person_id"]
    ids = features["unique_id"].to_numpy()
    person = np.full(int(ids.max()) + 1, -1, dtype=np.int64)  # a number per true person, -1 unknown
    for source, record_id, uid in zip(features["source"].to_pylist(), features["record_id"].to_pylist(), ids.tolist(),
                                      strict=True):
        if (source, record_id) in truth:
            person[uid] = zlib.crc32(truth[(source, record_id)].encode())
    sizes = Counter(person[ids][person[ids] >= 0].tolist())
    true_pairs = sum(n * (n - 1) // 2 for n in sizes.values())
    names = [c.name for c in DEFAULT_MODEL.comparisons]
    with score(features, DEFAULT_MODEL, trained=trained) as scoring:
        details = scoring.details(scoring.pair_ids())
        prior = scoring.model_json["probability_two_random_records_match"]
    left, right = details["unique_id_l"].to_numpy(), details["unique_id_r"].to_numpy()
    same = (person[left] == person[right]) & (person[left] >= 0)

    def column(name: str):
        return (np.nan_to_num(details[name].to_numpy(zero_copy_only=False)) if name in details.column_names
                else np.zeros(len(left)))

    levels = np.stack([column(f"mw_{c}") for c in names], axis=1)
    adjustment = sum(column(f"mw_tf_adj_{c}") for c in names)
    weight = math.log2(prior / (1 - prior)) + levels.sum(axis=1) + adjustment
    # The outcome of every comparison (a level's weight names it), and the name-frequency step.
    outcome = np.zeros(len(left), dtype=np.int64)
    for j in range(len(names)):
        outcome = outcome * 32 + np.unique(np.round(levels[:, j], 6), return_inverse=True)[1]
    outcome = outcome * 32 + np.clip(np.floor(adjustment / 2.0), -10, 10).astype(np.int64) + 10
    cells, cell = np.unique(outcome, return_inverse=True)
    half = (person[left] % 2).astype(bool)  # the pairs of one person fall in one half
    oracle = np.empty(len(left))
    for learnt in (False, True):
        on = half == learnt
        hits = np.bincount(cell[on], weights=same[on].astype(float), minlength=len(cells))
        seen = np.bincount(cell[on], minlength=len(cells))
        rate = (hits + 0.5) / (seen + 1.0)
        oracle[~on] = rate[cell[~on]]
    oracle += 1e-9 * (weight - weight.min()) / (np.ptp(weight) + 1.0)  # ties broken by the model's weight
    print(json.dumps({
        "benchmark": "link_ceiling", "records": features.num_rows, "true_pairs": true_pairs,
        "pairs_scored": len(left), "true_pairs_scored": int(same.sum()), "outcomes": len(cells),
        "model": ranked(weight, same, true_pairs), "oracle": ranked(oracle, same, true_pairs),
        "calibration": calibration(1.0 / (1.0 + np.exp2(-weight)), same),
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
