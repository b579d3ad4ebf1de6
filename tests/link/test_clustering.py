"""Clustering obeys decisions and the model's strong negatives; labels are deterministic."""

import numpy as np
import pytest

from dadkhah.link.clustering import cluster_records, other_paths


def pairs(*scored):
    left = np.array([a for a, _, _ in scored], dtype=np.int64)
    right = np.array([b for _, b, _ in scored], dtype=np.int64)
    probability = np.array([p for _, _, p in scored], dtype=float)
    return left, right, probability


def groups(labels):
    found = {}
    for record, label in labels.items():
        found.setdefault(label, set()).add(record)
    return sorted(sorted(g) for g in found.values())


def test_links_at_the_threshold_join_records_transitively():
    result = cluster_records([1, 2, 3, 4, 5], *pairs((1, 2, 0.9), (2, 3, 0.6), (4, 5, 0.4)), threshold=0.5)
    assert groups(result.labels) == [[1, 2, 3], [4], [5]]
    assert result.labels[3] == 1  # a cluster is labelled by its smallest record
    assert result.linked_pairs == 2


def test_a_different_decision_breaks_the_weakest_link_of_a_chain():
    scored = pairs((1, 2, 0.99), (2, 3, 0.7), (3, 4, 0.95))
    result = cluster_records([1, 2, 3, 4], *scored, threshold=0.5, different=[(1, 4)])
    assert groups(result.labels) == [[1, 2], [3, 4]]
    assert result.held_apart == 1


def test_a_same_decision_joins_records_whatever_their_score():
    result = cluster_records([1, 2, 3], *pairs((1, 2, 0.1)), threshold=0.5, same=[(1, 3)])
    assert groups(result.labels) == [[1, 3], [2]]


def test_a_same_decision_contradicted_by_a_different_one_is_reported_not_applied():
    result = cluster_records([1, 2, 3], *pairs(), threshold=0.5, same=[(1, 2), (2, 3)], different=[(1, 3)])
    assert result.conflicts == [(2, 3)]
    assert groups(result.labels) == [[1, 2], [3]]


def test_strong_negatives_stop_a_chain_of_namesakes():
    scored = pairs((1, 2, 0.9), (2, 3, 0.8))
    plain = cluster_records([1, 2, 3], *scored, threshold=0.5)
    assert groups(plain.labels) == [[1, 2, 3]]
    negatives = (np.array([1]), np.array([3]))
    kept = cluster_records([1, 2, 3], *scored, threshold=0.5, negatives=negatives)
    assert groups(kept.labels) == [[1, 2], [3]]


def test_reviewers_same_overrides_the_models_negative():
    negatives = (np.array([1]), np.array([2]))
    result = cluster_records([1, 2], *pairs(), threshold=0.5, same=[(1, 2)], negatives=negatives)
    assert groups(result.labels) == [[1, 2]]


def test_records_with_no_pair_stay_alone_and_unknown_ids_in_decisions_are_ignored():
    result = cluster_records([7, 8], *pairs(), threshold=0.5, same=[(7, 99)], different=[(8, 98)])
    assert groups(result.labels) == [[7], [8]]


def test_other_paths_are_the_best_chain_of_the_persons_other_links():
    """A joined pair's other path is the most probable chain of the cluster's other links between its
    records (never its own link); a pair kept apart has none; a "same" decision is a sure link."""
    left = np.array([1, 2, 1, 4, 1, 5, 6])
    right = np.array([2, 3, 3, 3, 4, 6, 7])
    probability = np.array([0.9, 0.8, 0.55, 0.95, 0.6, 0.3, 0.7])
    clustering = cluster_records([1, 2, 3, 4, 5, 6, 7], left, right, probability, threshold=0.5, same=[(5, 6)])
    assert len({clustering.labels[r] for r in (1, 2, 3, 4)}) == 1 and clustering.labels[5] == clustering.labels[7]
    paths = other_paths(clustering.labels, left, right, probability, threshold=0.5, same=[(5, 6)],
                        pairs=[(1, 3), (1, 2), (5, 7), (6, 7), (1, 5), (2, 4)])
    # 1-3: through 2 (0.72) or through 4 (0.57): the better; never 1-3's own 0.55.
    assert paths[0] == pytest.approx(0.9 * 0.8)
    # 1-2: through 3 (0.55 x 0.8 = 0.44) or through 4 and 3 (0.6 x 0.95 x 0.8 = 0.456).
    assert paths[1] == pytest.approx(0.6 * 0.95 * 0.8)
    assert paths[2] == pytest.approx(1.0 * 0.7)  # 5-7 through the decision 5-6, then 6-7
    assert paths[3] == 0.0  # 6-7 has no other path
    assert paths[4] is None  # kept apart
    assert paths[5] == pytest.approx(0.8 * 0.95)  # a pair with no link of its own


@pytest.mark.parametrize("seed", range(25))
def test_drawn_clusterings_are_what_clustering_each_draw_whole_gives(seed):
    """ClusteringDraws does the sure links once; each draw must equal cluster_records on that draw's
    links (decisions, conflicting ones too, and strong negatives included), with namesake chains."""
    from dadkhah.link.clustering import ClusteringDraws

    rng = np.random.default_rng(seed)
    ids = list(range(1, 61))
    n = 150
    left = rng.integers(1, 61, n)
    right = rng.integers(1, 61, n)
    left, right = np.minimum(left, right)[left != right], np.maximum(left, right)[left != right]
    probability = rng.choice([0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99], size=len(left))
    same = [tuple(int(x) for x in rng.choice(ids, 2, replace=False)) for _ in range(4)]
    different = [tuple(int(x) for x in rng.choice(ids, 2, replace=False)) for _ in range(4)] + [same[0]]
    negatives = (rng.integers(1, 61, 25), rng.integers(1, 61, 25))
    draws = ClusteringDraws(ids, left, right, probability, sure=0.9, unsure=0.05, same=same, different=different,
                            negatives=negatives)
    for _ in range(5):
        picked = rng.random(len(left)) < probability
        linked = (probability >= 0.9) | ((probability >= 0.05) & picked)
        whole = cluster_records(ids, left, right, np.where(linked, probability, 0.0), threshold=np.nextafter(0.0, 1.0),
                                same=same, different=different, negatives=negatives)
        assert draws.draw(picked) == whole.labels


def test_a_strong_negative_binds_on_a_record_a_same_decision_joined():
    """1 and 2 are one person by decision; the model is sure 2 and 4 are not. The chain 2-3-4 must
    stop before 4 (it went through when the negative was filed under 2, no longer a cluster's root)."""
    left, right, probability = pairs((2, 3, 0.95), (3, 4, 0.9))
    clustering = cluster_records([1, 2, 3, 4], left, right, probability, threshold=0.5, same=[(1, 2)],
                                 negatives=(np.array([2]), np.array([4])))
    assert groups(clustering.labels) == [[1, 2, 3], [4]] and clustering.held_apart == 1
