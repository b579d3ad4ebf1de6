"""The linkage-ceiling benchmark still runs on a linked case and says what a reader of docs/methods.md is told it says."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "link_ceiling.py"


def test_the_ceiling_benchmark_ranks_the_compared_pairs_of_a_linked_case(linked, small_case):
    folder, summary = linked
    env = {k: v for k, v in os.environ.items() if not k.startswith("DADKHAH_")}
    done = subprocess.run([sys.executable, str(BENCH), str(folder), str(small_case / "truth.csv")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    [line] = done.stdout.splitlines()  # one JSON line, nothing else
    result = json.loads(line)
    with open(small_case / "truth.csv", encoding="utf-8", newline="") as handle:
        people = Counter(row["person_id"] for row in csv.DictReader(handle))
    assert result["true_pairs"] == sum(n * (n - 1) // 2 for n in people.values())
    assert result["pairs_scored"] == summary.pairs_planned >= result["true_pairs_scored"]
    for ranking in ("model", "oracle"):  # each a ranking of real pairs, the model's a good one on this easy case
        assert 0 < result[ranking]["recall_at_precision_0.97"] <= result["true_pairs_scored"] / result["true_pairs"]
    assert result["model"]["best_f1"] >= 0.95
    # The calibration table accounts for every scored pair and every true pair among them, band by band.
    bands = result["calibration"]
    assert sum(b["pairs"] for b in bands) == result["pairs_scored"]
    assert sum(b["true"] for b in bands) == result["true_pairs_scored"]
    assert all(b["from"] < b["to"] and 0 <= b["true"] <= b["pairs"] and 0 <= b["expected_true"] <= b["pairs"] for b in bands)
    assert [b["from"] for b in bands] == sorted(b["from"] for b in bands)
    assert bands[-1]["true"] > 0.9 * bands[-1]["pairs"]  # pairs the model is sure of are mostly one person
