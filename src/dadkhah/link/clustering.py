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

    def copy(self) -> _Forest:
        """An independent copy (unions on it leave this one as it is)."""
        other = _Forest(())
        other.parent, other.size = dict(self.parent), dict(self.size)
        other.apart = {root: set(records) for root, records in self.apart.items()}
        return other

    def join_in_order(self, left: list[int], right: list[int], joined: list[int] | None = None) -> tuple[int, int]:
        """Join each pair in turn unless it is joined already or forbidden: (joined, held apart).
        ``joined``, when given, gets the two roots of every join."""
        linked = held = 0
        for a, b in zip(left, right, strict=True):
            ra, rb = self.find(a), self.find(b)
            if ra == rb:
                continue
            if self.apart and self.forbidden(ra, rb):
                held += 1
                continue
            self.union(ra, rb)
            linked += 1
            if joined is not None:
                joined += (ra, rb)
        return linked, held

    def labels(self, ids: Sequence[int]) -> dict[int, int]:
        """record -> the smallest record id in its cluster."""
        smallest: dict[int, int] = {}
        roots = [self.find(record) for record in ids]
        for record, root in zip(ids, roots, strict=True):
            if root not in smallest or record < smallest[root]:
                smallest[root] = record
        return {record: smallest[root] for record, root in zip(ids, roots, strict=True)}

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
    keep = probability >= threshold
    forest, conflicts = _decided(ids, left[keep], right[keep], same, different, negatives)
    order = _strongest_first(left[keep], right[keep], probability[keep])
    linked, held = forest.join_in_order(left[keep][order].tolist(), right[keep][order].tolist())
    return Clustering(labels=forest.labels(ids), linked_pairs=linked, held_apart=held, conflicts=conflicts)


def _strongest_first(left: np.ndarray, right: np.ndarray, probability: np.ndarray) -> np.ndarray:
    return np.lexsort((right, left, -probability))  # ties by id


def _decided(ids: list[int], left: np.ndarray, right: np.ndarray, same, different, negatives) -> tuple[_Forest, list]:
    """The forest before any scored link: reviewers' decisions applied, and the "different" pairs and
    the model's strong negatives (those within a component of the links given) kept apart."""
    forest = _Forest(ids)
    known = forest.parent.keys()

    def keep_apart(pairs) -> None:
        # Filed under each record's root: forbidden() reads the roots' sets only, so a pair filed
        # under a record that a "same" decision had already joined to another was seen from one
        # side only, and bound or not depending on which cluster had fewer such pairs.
        for a, b in pairs:
            if a in known and b in known:
                forest.apart.setdefault(forest.find(a), set()).add(b)
                forest.apart.setdefault(forest.find(b), set()).add(a)

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
    if negatives is not None and len(negatives[0]):
        keep_apart(_within_components(ids, left, right, *negatives, forest))
    return forest, conflicts


class ClusteringDraws:
    """Clusterings of the same records in which the pairs from ``sure`` on are always linked and each
    pair of ``unsure`` only when a draw says so: what :func:`cluster_records` gives for each draw,
    with the shared part done once.

    Every sure pair is stronger than every unsure one, so each draw's links start with the same sure
    ones in the same order: the forest after them is worked out once and copied for each draw. The
    strong negatives kept are those within a component of *all* the pairs (sure and unsure): a
    superset of a draw's own, and an extra negative can never bind (its two records are never
    brought together in that draw), so the clustering is the same.
    """

    def __init__(self, record_ids: Iterable[int], left: np.ndarray, right: np.ndarray, probability: np.ndarray, *,
                 sure: float, unsure: float, same: Iterable[tuple[int, int]] = (),
                 different: Iterable[tuple[int, int]] = (), negatives: tuple[np.ndarray, np.ndarray] | None = None):
        self.ids = list(record_ids)
        considered = probability >= unsure
        self._base, _ = _decided(self.ids, left[considered], right[considered], same, different, negatives)
        certain = probability >= sure
        order = _strongest_first(left[certain], right[certain], probability[certain])
        self._base.join_in_order(left[certain][order].tolist(), right[certain][order].tolist())
        # The unsure pairs, strongest first: a draw links those of them it picks, in this order.
        self.unsure = np.flatnonzero(considered & ~certain)
        self._order = self.unsure[_strongest_first(left[self.unsure], right[self.unsure], probability[self.unsure])]
        self._left, self._right = left, right
        # The clusters after the sure links: each draw only joins some of them, and relabels those.
        self._labels = self._base.labels(self.ids)
        self._members: dict[int, list[int]] = {}
        for record in self.ids:
            self._members.setdefault(self._base.find(record), []).append(record)

    def draw(self, linked: np.ndarray) -> dict[int, int]:
        """record -> cluster label, when of the unsure pairs exactly those ``linked`` (a boolean per
        pair, indexed like the pairs given) are linked."""
        forest = self._base.copy()
        picked = self._order[linked[self._order]]
        joined: list[int] = []  # roots of the sure clusters this draw joins (a join's roots are such roots)
        forest.join_in_order(self._left[picked].tolist(), self._right[picked].tolist(), joined)
        merged: dict[int, list[int]] = {}
        for root in set(joined):
            merged.setdefault(forest.find(root), []).append(root)
        labels = dict(self._labels)
        for roots in merged.values():
            label = min(self._labels[root] for root in roots)  # a cluster's label is its smallest record
            for root in roots:
                for record in self._members[root]:
                    labels[record] = label
        return labels


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
