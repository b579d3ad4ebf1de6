"""From scored pairs to clusters of records (persons), obeying reviewers' decisions.

Pairs at or above the threshold join their records, strongest first (single linkage over a
union-find). A reviewer's "same" joins two records whatever their score; a "different" keeps them
apart whatever path of other links would join them: an edge that would bring two "different"
records into one cluster is skipped, and since edges are taken strongest first, the weakest link
on the way is the one left out.

The model's own strong negatives work the same way, after the reviewers' "same": two records it
scored as very unlikely to be one person (different fathers, say) are not joined through a chain
of namesakes (A like B, B like C). Only negatives inside one connected group of links can ever
bind, so only those are kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Clustering:
    labels: dict[int, int]  # record -> cluster, the smallest record id in the cluster
    linked_pairs: int
    held_apart: int  # edges skipped because a "different" decision or a strong negative forbade them
    conflicts: list[tuple[int, int]] = field(default_factory=list)  # "same" decisions a "different" overrode


class _Forest:
    def __init__(self, ids: Sequence[int]):
        self.parent = {i: i for i in ids}
        self.size = dict.fromkeys(ids, 1)
        self.apart: dict[int, set[int]] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def forbidden(self, a: int, b: int) -> bool:
        """Would joining roots ``a`` and ``b`` put a "different" pair in one cluster?"""
        small, large = (a, b) if len(self.apart.get(a, ())) <= len(self.apart.get(b, ())) else (b, a)
        return any(self.find(x) == large for x in self.apart.get(small, ()))

    def union(self, a: int, b: int) -> None:
        if self.size[a] < self.size[b]:
            a, b = b, a
        self.parent[b] = a
        self.size[a] += self.size[b]
        moved = self.apart.pop(b, None)
        if moved:
            self.apart.setdefault(a, set()).update(moved)


def cluster_records(
    record_ids: Iterable[int],
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    *,
    threshold: float,
    same: Iterable[tuple[int, int]] = (),
    different: Iterable[tuple[int, int]] = (),
    negatives: tuple[np.ndarray, np.ndarray] | None = None,
) -> Clustering:
    """Cluster ``record_ids`` from pairs (``left[i]``, ``right[i]``) scored ``probability[i]``.

    ``negatives`` are pairs the model scored as strongly different: kept apart like "different"
    decisions, but only after the reviewers' "same" decisions have been applied.
    """
    ids = list(record_ids)
    forest = _Forest(ids)
    known = forest.parent.keys()

    def keep_apart(pairs) -> None:
        for a, b in pairs:
            if a in known and b in known:
                forest.apart.setdefault(a, set()).add(b)
                forest.apart.setdefault(b, set()).add(a)

    keep_apart(different)
    conflicts = []
    for a, b in same:
        if a not in known or b not in known:
            continue
        ra, rb = forest.find(a), forest.find(b)
        if ra == rb:
            continue
        if forest.forbidden(ra, rb):
            conflicts.append((a, b))
            continue
        forest.union(ra, rb)
    keep = probability >= threshold
    if negatives is not None and len(negatives[0]):
        keep_apart(_within_components(ids, left[keep], right[keep], *negatives, forest))
    order = np.lexsort((right[keep], left[keep], -probability[keep]))  # strongest first, ties by id
    linked = held = 0
    for a, b in zip(left[keep][order].tolist(), right[keep][order].tolist(), strict=True):
        ra, rb = forest.find(a), forest.find(b)
        if ra == rb:
            continue
        if forest.apart and forest.forbidden(ra, rb):
            held += 1
            continue
        forest.union(ra, rb)
        linked += 1
    smallest: dict[int, int] = {}
    for record in ids:
        root = forest.find(record)
        if root not in smallest or record < smallest[root]:
            smallest[root] = record
    labels = {record: smallest[forest.find(record)] for record in ids}
    return Clustering(labels=labels, linked_pairs=linked, held_apart=held, conflicts=conflicts)


def components(ids: Sequence[int], left: np.ndarray, right: np.ndarray, same: Iterable[tuple[int, int]] = ()) -> dict[int, int]:
    """record -> component of the graph of links and "same" decisions (before any constraint).

    Strong negatives can only bind inside a component, so only those need fetching.
    """
    forest = _Forest(ids)
    known = forest.parent.keys()
    for a, b in [*zip(left.tolist(), right.tolist(), strict=True), *same]:
        if a in known and b in known:
            ra, rb = forest.find(a), forest.find(b)
            if ra != rb:
                forest.union(ra, rb)
    return {record: forest.find(record) for record in ids}


def _within_components(ids, left, right, neg_left, neg_right, forest: _Forest) -> list[tuple[int, int]]:
    """The negatives whose two records the links (and "same" decisions) would otherwise connect."""
    probe = _Forest(ids)
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        ra, rb = probe.find(a), probe.find(b)
        if ra != rb:
            probe.union(ra, rb)
    for record, parent in forest.parent.items():  # decisions already joined these
        if parent != record:
            ra, rb = probe.find(record), probe.find(forest.find(record))
            if ra != rb:
                probe.union(ra, rb)
    kept = []
    for a, b in zip(neg_left.tolist(), neg_right.tolist(), strict=True):
        if a in probe.parent and b in probe.parent and probe.find(a) == probe.find(b):
            kept.append((a, b))
    return kept


def other_paths(
    labels: dict[int, int],
    left: np.ndarray,
    right: np.ndarray,
    probability: np.ndarray,
    *,
    threshold: float,
    same: Iterable[tuple[int, int]] = (),
    pairs: Sequence[tuple[int, int]],
) -> list[float | None]:
    """For each of ``pairs`` that the clustering joined (``labels``), the chance that the best chain
    of the cluster's *other* links between its two records is right: the largest product of the
    links' probabilities along a path (a "same" decision counts 1), not using the pair's own link;
    0.0 when there is no other path. None for a pair the clustering kept apart.

    If every link of such a chain is right, the two records are one person, whatever their own
    score: so a joined pair is one person with at least about this chance, besides its own.
    """
    wanted = {labels[a] for a, b in pairs if labels.get(a) is not None and labels.get(a) == labels.get(b)}
    graph: dict[int, dict[int, float]] = {}

    def link(a: int, b: int, p: float) -> None:
        if labels.get(a) in wanted and labels.get(a) == labels.get(b):
            for x, y in ((a, b), (b, a)):
                edges = graph.setdefault(x, {})
                edges[y] = max(edges.get(y, 0.0), p)

    keep = probability >= threshold
    for a, b, p in zip(left[keep].tolist(), right[keep].tolist(), probability[keep].tolist(), strict=True):
        link(a, b, p)
    for a, b in same:
        link(a, b, 1.0)
    found: list[float | None] = []
    for a, b in pairs:
        if labels.get(a) is None or labels.get(a) != labels.get(b):
            found.append(None)
            continue
        # Dijkstra on -log p: the most probable chain, every step a link other than (a, b) itself.
        best = {a: 1.0}
        heap = [(-1.0, a)]
        result = 0.0
        while heap:
            chance, node = heapq.heappop(heap)
            chance = -chance
            if node == b:
                result = chance
                break
            if chance < best.get(node, 0.0):
                continue
            for other, p in graph.get(node, {}).items():
                if (node == a and other == b) or (node == b and other == a):
                    continue
                reach = chance * p
                if reach > best.get(other, 0.0):
                    best[other] = reach
                    heapq.heappush(heap, (-reach, other))
        found.append(result)
    return found
