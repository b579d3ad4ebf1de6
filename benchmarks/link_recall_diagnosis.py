"""Where linkage loses recall: for every true same-person pair the latest run did not link, why.

Reads a linked workspace and the synthetic truth, and sorts the missed pairs (two records of one
person that ended in different persons) into:

* ``never_compared``: the pair meets no blocking rule, so it was never scored;
* ``scored_below_kept_floor``: compared, but scored below the lowest probability the run keeps
  (0.2): the model saw strong evidence against, or too little for;
* ``in_band_not_linked``: scored in the uncertain band but below the threshold;
* ``linked_but_held_apart``: scored above the threshold, yet kept apart by a decision or a strong
  negative elsewhere in the chain;

and, for the pairs never compared, which fields the two records have at all (a father's name on
both? a city?) so the next blocking rule can be chosen on evidence. Prints one JSON line.

    python benchmarks/link_recall_diagnosis.py WORKSPACE TRUTH.csv [--sample 200000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from collections import Counter
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspace")
    parser.add_argument("truth")
    parser.add_argument("--sample", type=int, default=200_000, help="At most this many missed pairs are examined.")
    args = parser.parse_args()
    os.environ.pop("DADKHAH_DATABASE_URL", None)
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq
    import sqlalchemy as sa

    from dadkhah.link.features import record_features
    from dadkhah.link.model import DEFAULT_MODEL
    from dadkhah.link.run import run_folder
    from dadkhah.model import LinkageRun
    from dadkhah.registry.persons import iter_memberships
    from dadkhah.store import open_store
    from dadkhah.workspace import load_workspace

    started = time.perf_counter()
    workspace = load_workspace(args.workspace)
    with open_store(workspace) as store, store.session() as session:
        features = record_features(session)
        person = {(s, r): p for s, r, p in iter_memberships(session)}
        run = session.scalar(sa.select(LinkageRun).where(LinkageRun.finished_at.is_not(None)).order_by(LinkageRun.id.desc()).limit(1))
        threshold = run.threshold
    truth: dict[tuple[str, str], str] = {}
    with open(args.truth, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            truth[(row["source"], row["record_id"])] = row["person_id"]
    uid = {(s, r): u for s, r, u in zip(features["source"].to_pylist(), features["record_id"].to_pylist(),
                                         features["unique_id"].to_pylist(), strict=True)}
    predicted = person  # keyed by (source name, record id), as the truth is
    by_person: dict[str, list[tuple[str, str]]] = {}
    for key, p in truth.items():
        if key in uid:
            by_person.setdefault(p, []).append(key)
    true_pairs = missed = 0
    missed_pairs = []
    for keys in by_person.values():
        for a, b in combinations(keys, 2):
            true_pairs += 1
            if predicted.get(a) != predicted.get(b):
                missed += 1
                missed_pairs.append((min(uid[a], uid[b]), max(uid[a], uid[b])))
    random.Random(1).shuffle(missed_pairs)
    examined = missed_pairs[:args.sample]
    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    connection.register("records", features)
    connection.register("missed", pa.table({"l_id": [a for a, _ in examined], "r_id": [b for _, b in examined]}))
    kept = pq.read_table(run_folder(workspace.path, run.id) / "pairs.parquet")
    connection.register("kept", kept)

    def matches(rule) -> str:
        condition = rule.sql
        for column in rule.explode:  # an exploded list matches when the two lists share an element
            condition = condition.replace(f"l.{column} = r.{column}", f"len(list_intersect(l.{column}, r.{column})) > 0")
        return f"coalesce({condition}, false)"

    blocked = " OR ".join(f"({matches(rule)})" for rule in DEFAULT_MODEL.blocking_rules)
    fields = ["father_key", "birth_lo", "death_lo", "city_id", "prison_id", "given_key", "family_key"]
    both = ", ".join(f"(l.{f} IS NOT NULL AND r.{f} IS NOT NULL) AS both_{f}" for f in fields)
    rows = connection.execute(f"""
        SELECT ({blocked}) AS blocked, k.match_probability AS p, {both},
               l.given_key = r.given_key AS same_given, l.family_key = r.family_key AS same_family
        FROM missed m JOIN records l ON l.unique_id = m.l_id JOIN records r ON r.unique_id = m.r_id
        LEFT JOIN kept k ON k.unique_id_l = m.l_id AND k.unique_id_r = m.r_id
    """).fetchall()  # noqa: S608 (the model's own rules and columns)
    reasons: Counter = Counter()
    unblocked_fields: Counter = Counter()
    unblocked_names: Counter = Counter()
    for blocked_pair, p, *rest in rows:
        present, same_given, same_family = rest[:len(fields)], rest[-2], rest[-1]
        if not blocked_pair:
            reasons["never_compared"] += 1
            for name, has in zip(fields, present, strict=True):
                unblocked_fields[name] += bool(has)
            unblocked_names["same given key" if same_given else "different given key"] += 1
            unblocked_names["same family key" if same_family else "different family key"] += 1
        elif p is None:
            reasons["scored_below_kept_floor"] += 1
        elif p < threshold:
            reasons["in_band_not_linked"] += 1
        else:
            reasons["linked_but_held_apart"] += 1
    n = max(1, len(rows))
    print(json.dumps({
        "benchmark": "link_recall_diagnosis", "records": features.num_rows, "run_id": run.id,
        "true_pairs": true_pairs, "missed_pairs": missed, "recall": round(1 - missed / max(1, true_pairs), 4),
        "examined": len(rows),
        "share_of_missed": {k: round(v / n, 3) for k, v in reasons.most_common()},
        "never_compared_have_on_both_sides": {k: round(v / max(1, reasons["never_compared"]), 3)
                                              for k, v in unblocked_fields.items()},
        "never_compared_names": {k: round(v / max(1, reasons["never_compared"]), 3) for k, v in unblocked_names.items()},
        "seconds": round(time.perf_counter() - started, 1),
    }))


if __name__ == "__main__":
    main()
