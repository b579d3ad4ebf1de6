"""Evaluation arithmetic against hand-counted examples."""

import pytest

from dadkhah.link.evaluate import evaluate_clusters


def test_perfect_clustering_scores_one():
    truth = {"a": 1, "b": 1, "c": 2}
    result = evaluate_clusters({"a": "x", "b": "x", "c": "y"}, truth)
    assert result["pairwise"]["f1"] == result["bcubed"]["f1"] == result["exact_clusters"] == 1.0


def test_pairwise_counts_by_hand():
    # truth: {a,b,c} and {d}; predicted: {a,b} and {c,d}
    truth = {"a": 1, "b": 1, "c": 1, "d": 2}
    result = evaluate_clusters({"a": "x", "b": "x", "c": "y", "d": "y"}, truth)
    pairwise = result["pairwise"]
    assert (pairwise["true_positive"], pairwise["predicted_pairs"], pairwise["true_pairs"]) == (1, 2, 3)
    assert pairwise["precision"] == 0.5 and pairwise["recall"] == pytest.approx(1 / 3, abs=1e-5)
    assert pairwise["f1"] == pytest.approx(0.4)
    # B-cubed precision: a,b: 2/2 each; c,d: 1/2 each -> 3/4. Recall: a,b: 2/3; c: 1/3; d: 1 -> 2/3.
    assert result["bcubed"]["precision"] == 0.75 and result["bcubed"]["recall"] == pytest.approx(2 / 3, abs=1e-5)
    assert result["exact_clusters"] == 0.0


def test_everything_in_one_cluster_has_full_recall_and_poor_precision():
    truth = {r: r for r in "abcd"}
    result = evaluate_clusters(dict.fromkeys("abcd", "x"), truth)
    assert result["pairwise"]["recall"] == 1.0 and result["pairwise"]["precision"] == 0.0
    assert result["clusters"] == 1 and result["persons"] == 4


def test_records_missing_from_either_side_are_counted_not_scored():
    result = evaluate_clusters({"a": "x", "z": "x"}, {"a": 1, "b": 1})
    assert result["records"] == 1 and result["records_not_in_truth"] == 1 and result["truth_records_not_predicted"] == 1
