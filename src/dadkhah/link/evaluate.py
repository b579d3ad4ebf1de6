"""How good a clustering is, against known truth (``source,record_id,person_id``).

Pairwise scores count pairs of records: a pair is predicted when both records are in one cluster,
true when both are one real person. They are computed from counts (never by listing pairs), so
they cost the same for a million records. B-cubed scores average, per record, how pure its
cluster is and how much of its person it holds; they weigh a large wrong merge less than pairwise
scores do. Exact clusters is the share of real persons reconstructed exactly.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Mapping


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def _ratio(a: float, b: float) -> float:
    return a / b if b else 1.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def evaluate_clusters(predicted: Mapping[Hashable, Hashable], truth: Mapping[Hashable, Hashable]) -> dict:
    """Scores of ``predicted`` (record -> cluster) against ``truth`` (record -> person).

    Only records present in both are scored; how many were left out is reported.
    """
    common = [r for r in predicted if r in truth]
    cells = Counter((predicted[r], truth[r]) for r in common)
    cluster_sizes = Counter(predicted[r] for r in common)
    person_sizes = Counter(truth[r] for r in common)
    true_positive = sum(_pairs(n) for n in cells.values())
    predicted_pairs = sum(_pairs(n) for n in cluster_sizes.values())
    true_pairs = sum(_pairs(n) for n in person_sizes.values())
    precision = _ratio(true_positive, predicted_pairs)
    recall = _ratio(true_positive, true_pairs)

    # B-cubed: for each record, |cluster ∩ person| / |cluster| and / |person|.
    b_precision = b_recall = 0.0
    for (cluster, person), n in cells.items():
        b_precision += n * n / cluster_sizes[cluster]
        b_recall += n * n / person_sizes[person]
    records = len(common)
    clusters_of_person: dict[Hashable, set] = defaultdict(set)
    for cluster, person in cells:
        clusters_of_person[person].add(cluster)
    exact = sum(
        1 for person, clusters in clusters_of_person.items()
        if len(clusters) == 1 and cluster_sizes[next(iter(clusters))] == person_sizes[person]
    )
    bp, br = _ratio(b_precision, records), _ratio(b_recall, records)
    return {
        "records": records,
        "records_not_in_truth": len(predicted) - records,
        "truth_records_not_predicted": sum(1 for r in truth if r not in predicted),
        "clusters": len(cluster_sizes),
        "persons": len(person_sizes),
        "pairwise": {
            "precision": round(precision, 5),
            "recall": round(recall, 5),
            "f1": round(_f1(precision, recall), 5),
            "true_positive": true_positive,
            "predicted_pairs": predicted_pairs,
            "true_pairs": true_pairs,
        },
        "bcubed": {"precision": round(bp, 5), "recall": round(br, 5), "f1": round(_f1(bp, br), 5)},
        "exact_clusters": round(_ratio(exact, len(person_sizes)), 5),
    }
