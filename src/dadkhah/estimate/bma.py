"""Bayesian model averaging over decomposable graphical models (Madigan & York 1997).

Which lists tend to record the same people is unknown, and different assumptions about it give
different totals. Instead of picking one model and reporting its interval as if the choice were
certain, every *decomposable graphical model* on the lists is considered: a graph whose edges say
which lists may depend on each other (a list and one it is not joined to are independent given
the lists between them). Each graph's posterior probability and each total N's posterior
probability under it are computed exactly, and the posteriors of N are averaged with the graphs'
weights. This follows Madigan & York (1997, Biometrika 84:19) as the R package ``dga`` (Johndrow,
Lum & Ball, HRDAG) implements it; it is written anew here from the paper's formulas.

The model, for J lists and the 2^J cells of the full table (the all-zero cell, those on no list,
holds N - n people):

* the cell probabilities have a *hyper-Dirichlet* prior: every full cell gets prior count δ, so a
  clique's marginal cell gets δ·2^(J - |clique|). The default δ = 1/2^J makes the whole prior worth
  one person, as HRDAG uses it; a larger δ (dga's README example uses 1/2) pulls every cell,
  including the unseen one, towards equal probabilities, which on a sparse table drags the
  estimate down towards the observed count;
* the prior on N is proportional to 1/N, and all graphs are equally likely a priori;
* for a decomposable graph with cliques C and separators S, the probability of the full table is
  the multinomial coefficient times ∏_C m(C) / ∏_S m(S), where m(A) is the Dirichlet-multinomial
  marginal likelihood of the table collapsed onto the lists in A (Dawid & Lauritzen 1993).

Only the collapsed cell "on none of the lists in A" depends on N, so each of the 2^J - 1 subsets'
marginal likelihoods is one vector over the grid of N, and a graph's log posterior is a signed sum
of a few of them: a (graphs × subsets) matrix times a (subsets × grid) matrix, in log space.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import gammaln

from dadkhah.errors import InputError
from dadkhah.estimate.core import CaptureTable, EstimateResult, EstimationError, Estimator

__all__ = ["BMA", "ListsOutOfRange", "bma", "decomposable_graphs"]


class ListsOutOfRange(EstimationError, InputError):
    """The table has fewer than 3 or more than 5 lists. An InputError naming the field "lists"; also an
    EstimationError, so that a stratified run reports it for that stratum and goes on."""

MIN_LISTS, MAX_LISTS = 3, 5
TAIL_MASS = 1e-6  # posterior mass allowed beyond the grid's end (see _grid_end)
MAX_GRID = 2_000_000  # points of the grid of unseen counts at most: one person apart up to there, wider beyond
LEFT_MASS = 1e-4  # the upper half's mass, exactly, above which the grid's sparse probe stopped it too soon
MAX_UNSEEN = 1_000_000_000  # unseen counts considered at most (a bound that large is itself reported)
THREADS = 2
CHUNK = 8_192  # grid points per block of the matrix product (graphs × CHUNK doubles in memory)
SUMMARIES_KEPT = 64  # posteriors summarised, remembered by table and prior (see _summarised)
DELTA_SHIFT = 0.25  # warn when the median under δ = 1 differs from the chosen δ's by more than this


# ---------------------------------------------------------------------------------------------
# Decomposable graphs


def _is_chordal(n: int, edges: frozenset) -> bool:
    """True when the graph has a perfect elimination ordering (repeatedly remove a vertex whose
    neighbours are all joined to each other): chordal is the same as decomposable."""
    left = set(range(n))
    while left:
        for v in sorted(left):
            neighbours = [u for u in left if u != v and frozenset((u, v)) in edges]
            if all(frozenset(pair) in edges for pair in itertools.combinations(neighbours, 2)):
                left.remove(v)
                break
        else:
            return False
    return True


def _cliques(n: int, edges: frozenset) -> list[tuple[int, ...]]:
    """The maximal complete vertex sets, each sorted; isolated vertices are cliques of one."""
    complete = [set(s) for size in range(1, n + 1) for s in itertools.combinations(range(n), size)
                if all(frozenset(p) in edges for p in itertools.combinations(s, 2))]
    return sorted((tuple(sorted(c)) for c in complete if not any(c < d for d in complete)), key=lambda c: (-len(c), c))


def _separators(cliques: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Separators of a junction tree: the intersections along a maximum-weight spanning tree of the
    cliques (weight = size of the intersection; empty ones join the graph's separate parts)."""
    parent = list(range(len(cliques)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = sorted(itertools.combinations(range(len(cliques)), 2),
                   key=lambda ij: -len(set(cliques[ij[0]]) & set(cliques[ij[1]])))
    separators = []
    for i, j in pairs:
        a, b = root(i), root(j)
        if a != b:
            parent[a] = b
            separators.append(tuple(sorted(set(cliques[i]) & set(cliques[j]))))
    return separators


def decomposable_graphs(n_lists: int) -> list[dict]:
    """Every decomposable graph on ``n_lists`` vertices, with its cliques and separators.

    Found by testing each of the 2^(J(J-1)/2) graphs for chordality: 8 of 8 on three lists, 61 of
    64 on four (the 4-cycles are not), 822 of 1,024 on five.
    """
    pairs = list(itertools.combinations(range(n_lists), 2))
    graphs = []
    for mask in range(1 << len(pairs)):
        edges = frozenset(frozenset(p) for k, p in enumerate(pairs) if mask >> k & 1)
        if _is_chordal(n_lists, edges):
            cliques = _cliques(n_lists, edges)
            graphs.append({"edges": tuple(sorted(tuple(sorted(e)) for e in edges)), "cliques": cliques,
                           "separators": _separators(cliques)})
    return graphs


def _bits(subset) -> int:
    return sum(1 << i for i in subset)


def _graph_matrix(n_lists: int) -> tuple[list[dict], np.ndarray]:
    """The graphs and a (graphs × 2^J) matrix of +1 per clique and -1 per separator, columns indexed
    by the subset's bit mask (column 0, the empty subset, contributes nothing)."""
    graphs = decomposable_graphs(n_lists)
    matrix = np.zeros((len(graphs), 1 << n_lists))
    for g, graph in enumerate(graphs):
        for clique in graph["cliques"]:
            matrix[g, _bits(clique)] += 1
        for separator in graph["separators"]:
            matrix[g, _bits(separator)] -= 1
    matrix[:, 0] = 0
    return graphs, matrix


_GRAPHS: dict[int, tuple[list[dict], np.ndarray]] = {}


def _graphs(n_lists: int) -> tuple[list[dict], np.ndarray]:
    if n_lists not in _GRAPHS:
        _GRAPHS[n_lists] = _graph_matrix(n_lists)
    return _GRAPHS[n_lists]


def graph_name(cliques, lists: tuple[str, ...]) -> str:
    """Cliques written as [12][345], lists numbered from 1 in the table's order (or by their own
    names when every name is a single character: [AB][CDE])."""
    label = list(lists) if all(len(name) == 1 for name in lists) else [str(i + 1) for i in range(len(lists))]
    return "".join("[" + "".join(label[i] for i in c) + "]" for c in cliques)


# ---------------------------------------------------------------------------------------------
# The posterior


def _full_table(table: CaptureTable) -> np.ndarray:
    """Observed counts by cell, indexed by the bit mask of the lists that recorded (cell 0 = 0)."""
    y = np.zeros(1 << table.n_lists)
    weights = 1 << np.arange(table.n_lists)
    np.add.at(y, table.patterns.astype(np.int64) @ weights, table.counts)
    return y


class _Posterior:
    """Log posterior of (graph, N) on any grid of unseen counts, up to one constant."""

    def __init__(self, table: CaptureTable, delta: float):
        self.n_lists = table.n_lists
        self.observed = table.observed
        self.delta = delta
        self.graphs, self.matrix = _graphs(self.n_lists)
        y = _full_table(table)
        cells = np.arange(1 << self.n_lists)
        self.total_prior = delta * (1 << self.n_lists)  # the sum of the prior counts, the same for every margin
        # For each subset A: its constant part (cells with someone in A) and the prior count and
        # observed count of its cell "on none of A" (people on lists outside A only).
        self.constant = np.zeros(1 << self.n_lists)
        self.zero_count = np.zeros(1 << self.n_lists)
        self.alpha = np.zeros(1 << self.n_lists)
        for subset in range(1, 1 << self.n_lists):
            size = bin(subset).count("1")
            alpha = delta * (1 << (self.n_lists - size))
            margin = np.bincount(cells & subset, weights=y, minlength=1 << self.n_lists)
            values = np.unique(cells & subset)
            seen = values[values != 0]
            self.constant[subset] = float(np.sum(gammaln(margin[seen] + alpha) - gammaln(alpha)))
            self.zero_count[subset] = margin[0]
            self.alpha[subset] = alpha
        self.log_factorials = float(np.sum(gammaln(y[1:] + 1)))

    def log_weights(self, unseen: np.ndarray, graphs: np.ndarray | None = None) -> np.ndarray:
        """(graphs × grid) log posterior of each graph (or of those listed) and total observed + unseen."""
        m = unseen.astype(float)[None, :]
        total = self.observed + m
        subsets = np.arange(1, 1 << self.n_lists)
        # m(A) for every subset: constant + the unseen-dependent cell - the normalising Gamma ratio.
        per_subset = (self.constant[subsets, None]
                      + gammaln(self.zero_count[subsets, None] + m + self.alpha[subsets, None])
                      - gammaln(self.alpha[subsets, None])
                      + gammaln(self.total_prior) - gammaln(total + self.total_prior))
        matrix = self.matrix if graphs is None else self.matrix[graphs]
        graph_part = matrix[:, subsets] @ per_subset
        common = gammaln(total + 1) - gammaln(m + 1) - self.log_factorials - np.log(total)
        return graph_part + common


def _log_sum_exp(values: np.ndarray, axis: int | None = None):
    """log Σ exp(values) along ``axis``, the largest term factored out. (scipy's logsumexp takes
    three times as long on these arrays: it also refines the sum around its largest term, which a
    posterior normalised over thousands of points does not need.)"""
    top = np.max(values, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(values - top), axis=axis, keepdims=True)) + top
    return out.reshape(()).item() if axis is None else np.squeeze(out, axis=axis)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _threads() -> ThreadPoolExecutor:
    """THREADS threads for the blocks, started once per process (starting them for each posterior
    cost more than a small posterior's arithmetic)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="dadkhah-bma")
        return _pool


def _forget_threads() -> None:
    """In a forked child: the parent's threads are not there, so start new ones if needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_threads)


def _by_block(posterior: _Posterior, points: np.ndarray, pool: ThreadPoolExecutor,
              log_spacing: np.ndarray | None = None) -> tuple[np.ndarray, list]:
    """The log posterior of each point summed over the graphs, and of each graph summed over the
    points of each block, the points cut into blocks of at most CHUNK shared between the threads.
    With ``log_spacing`` (the log of how many counts each point stands for), masses, not densities.

    One exponential per graph and point, relative to the block's largest; what underflows is below
    e^-700 of it and of no consequence. numpy releases the GIL, so the blocks run side by side."""
    size = min(CHUNK, -(-points.size // THREADS))

    def block(start):
        with np.errstate(divide="ignore"):
            weights = posterior.log_weights(points[start:start + size])
            if log_spacing is not None:
                weights += log_spacing[start:start + size]
            top = weights.max()
            scaled = np.exp(weights - top, out=weights)
            return np.log(scaled.sum(axis=0)) + top, np.log(scaled.sum(axis=1)) + top

    blocks = list(pool.map(block, range(0, points.size, size)))
    return np.concatenate([b[0] for b in blocks]), [b[1] for b in blocks]


def _grid_end(posterior: _Posterior, first: int, pool: ThreadPoolExecutor) -> tuple[int, tuple | None]:
    """Where the grid of unseen counts stops, and, when the last look covered every point of the
    grid (at most 4,001 points), its sums by point and by graph (see :func:`_by_block`; else None).

    The end is doubled, from four times the observed count, until the averaged posterior mass in
    the upper half of the grid is below TAIL_MASS. For a tail falling like N^-(1+a) the mass beyond
    the end is 1/(2^a - 1) times that; every graph's tail here has a ≥ 1 - 1/2^J with δ = 1/2^J
    (the saturated graph's is the heaviest), so what is left out is at most about 1.2 × TAIL_MASS.
    Each step looks at the posterior on 4,001 evenly spaced points only (mass by their spacing).
    """
    end = max(1_000, 4 * posterior.observed)
    while True:
        probe = np.unique(np.linspace(first, end, 4_001).round().astype(np.int64))
        by_point, by_graph = _by_block(posterior, probe, pool)
        by_n = by_point + np.log(np.gradient(probe.astype(float)))
        share = np.exp(_log_sum_exp(by_n[probe > end // 2]) - _log_sum_exp(by_n))
        if share < TAIL_MASS or end >= MAX_UNSEEN:
            end = min(end, MAX_UNSEEN)
            return end, (by_point, by_graph) if probe.size == end - first + 1 and probe[-1] == end else None
        end *= 2


def _quantile(cdf: np.ndarray, total: np.ndarray, level: float) -> float:
    """The first N whose cumulative posterior exceeds ``level`` (dga's rule)."""
    return float(total[min(int(np.searchsorted(cdf, level, side="right")), len(total) - 1)])


def posterior_of_n(table: CaptureTable, delta: float, *, first_unseen: int = 0) -> dict:
    """The model-averaged posterior of N on the grid observed + first_unseen, ..., observed + end,
    and each graph's posterior weight.

    ``first_unseen`` is 0 (nobody missed is possible); dga's examples start its grid at 1, which
    matters only when the posterior piles up at the observed count.
    """
    posterior = _Posterior(table, delta)
    pool = _threads()
    end, whole = _grid_end(posterior, first_unseen, pool)
    if end - first_unseen < MAX_GRID:
        unseen, log_spacing, step = np.arange(first_unseen, end + 1), None, 1.0
    else:
        # Independent lists of 5,000,000 people leave some 2.5 million unseen: a grid cut off at two
        # million strips the graphs whose posterior lies beyond it of their weight, and the average
        # settled on the others (715,427 [713,125, 1,861,711]). Beyond MAX_GRID points, the points
        # are spaced more than one apart, each standing for the counts around it: the first half of
        # them one apart (where a posterior piled up near the observed count changes fastest), the
        # rest evenly spaced up to the end.
        half = first_unseen + MAX_GRID // 2
        unseen = np.unique(np.concatenate([np.arange(first_unseen, half),
                                           np.linspace(half, end, MAX_GRID // 2).round().astype(np.int64)]))
        log_spacing, step = np.log(np.gradient(unseen.astype(float))), (end - half) / (MAX_GRID // 2 - 1)
    # (when the grid's end was decided on every point of it, those sums are the grid's)
    by_n, by_graph = whole if whole is not None else _by_block(posterior, unseen, pool, log_spacing)
    log_total = _log_sum_exp(by_n)
    graph_weights = np.exp(_log_sum_exp(np.column_stack(by_graph), axis=1) - log_total)
    probabilities = np.exp(by_n - log_total)
    return {"posterior": posterior, "totals": table.observed + unseen, "probabilities": probabilities,
            "graph_weights": graph_weights, "grid_end": int(end), "grid_step": float(step),
            "tail_mass": float(probabilities[unseen > end // 2].sum())}


def _summary(found: dict, level: float) -> dict:
    totals, p = found["totals"], found["probabilities"]
    cdf = np.cumsum(p)
    tail = (1 - level) / 2
    return {"median": _quantile(cdf, totals, 0.5), "interval": (_quantile(cdf, totals, tail), _quantile(cdf, totals, 1 - tail)),
            "mean": float(np.sum(totals * p)), "mode": float(totals[int(np.argmax(p))])}


_summaries: OrderedDict = OrderedDict()
_summaries_lock = threading.Lock()


def _summarised(table: CaptureTable, delta: float, level: float) -> dict:
    """:func:`_summary` of :func:`posterior_of_n`, with what the estimator reports of the posterior.

    The answer depends only on the table's counts, δ and the level, so the last SUMMARIES_KEPT are
    remembered: the replicates of an estimate by stratum often hold the same table for a stratum
    (no person of it drawn differently), and 502 of 660 posteriors were different in a by-city run.
    """
    key = (table.digest(), table.lists, float(delta), float(level))
    with _summaries_lock:
        if key in _summaries:
            _summaries.move_to_end(key)
            return _summaries[key]
    found = posterior_of_n(table, delta)
    kept = _summary(found, level) | {"graph_weights": found["graph_weights"], "graphs": found["posterior"].graphs,
                                      "largest_total": int(found["totals"][-1]), "grid_end": found["grid_end"],
                                      "tail_mass": found["tail_mass"], "grid_step": found["grid_step"]}
    kept["graph_weights"].flags.writeable = False
    with _summaries_lock:
        _summaries[key] = kept
        while len(_summaries) > SUMMARIES_KEPT:
            _summaries.popitem(last=False)
    return kept


# ---------------------------------------------------------------------------------------------
# The estimator


class BMA(Estimator):
    """Bayesian model averaging over every decomposable graphical model on 3 to 5 lists.

    ``delta`` is the hyper-Dirichlet prior count of each cell of the full table; None (the
    default) means 1/2^lists, a prior worth one person in all. The estimate is the posterior
    median of N, the interval equal-tailed at ``level``; the posterior mean and mode, the grid
    used and the most probable graphs with their weights are in the diagnostics. The median is
    also computed with δ = 1 and, when the two differ by more than a quarter, a warning says so.
    """

    method = "bma"

    def __init__(self, *, delta: float | None = None, level: float = 0.95, top_graphs: int = 5):
        self.delta = delta
        self.level = level
        self.top_graphs = top_graphs

    def fit(self, table: CaptureTable) -> BMA:
        self._check(table)
        if not MIN_LISTS <= table.n_lists <= MAX_LISTS:
            raise ListsOutOfRange(f"model averaging over decomposable graphs takes {MIN_LISTS} to {MAX_LISTS} lists; "
                                  f"this table has {table.n_lists} (use loglinear or lcmcr, or merge lists)", field="lists")
        if self.delta is not None and not (math.isfinite(self.delta) and self.delta > 0):
            raise InputError(f"the prior count δ must be a positive number, not {self.delta}", field="delta")
        if not 0.5 <= self.level < 1:
            raise InputError(f"the interval level must be at least 0.5 and below 1, not {self.level}", field="level")
        started = time.perf_counter()
        delta = self.delta if self.delta is not None else 1 / 2**table.n_lists
        shown = f"1/{2**table.n_lists}" if delta == 1 / 2**table.n_lists else f"{delta:g}"
        found = summary = _summarised(table, delta, self.level)
        warnings = []
        comparison = None
        if delta != 1:
            other = _summarised(table, 1.0, self.level)
            shift = abs(other["median"] - summary["median"]) / summary["median"]
            comparison = {"delta": 1.0, "median": other["median"], "interval": list(other["interval"]),
                          "relative_change": shift}
            if shift > DELTA_SHIFT:
                warnings.append(
                    f"the answer depends on the prior: with prior count δ = 1 per cell the median is "
                    f"{other['median']:,.0f} [{other['interval'][0]:,.0f}, {other['interval'][1]:,.0f}] instead of "
                    f"{summary['median']:,.0f} with δ = {shown}; the table is too sparse for the data alone to "
                    "settle how the lists overlap, so report both or gather more overlap")
        if found["tail_mass"] > (TAIL_MASS if found["grid_end"] >= MAX_UNSEEN else LEFT_MASS):  # (else the grid was long enough)
            warnings.append(f"the posterior of N still has {found['tail_mass']:.1e} of its mass near the largest "
                            f"total considered ({found['largest_total']:,}): the upper end of the interval is uncertain")
        graphs = found["graphs"]
        order = np.argsort(-found["graph_weights"], kind="stable")
        top = []
        for g in order[:self.top_graphs]:
            top.append({"graph": graph_name(graphs[g]["cliques"], table.lists),
                        "cliques": [[table.lists[i] for i in c] for c in graphs[g]["cliques"]],
                        "weight": float(found["graph_weights"][g])})
        best = top[0]
        self.delta_ = delta
        self.n_hat_ = summary["median"]
        self.interval_ = summary["interval"]
        self.graph_weights_ = found["graph_weights"]
        self.result_ = EstimateResult(
            method=self.method, observed=table.observed, estimate=summary["median"], interval=summary["interval"],
            level=self.level,
            model=f"average over {len(graphs)} decomposable graphs, δ = {shown} (most probable {best['graph']}, "
                  f"weight {best['weight']:.2f})",
            parameters=self.get_params() | {"delta": delta},
            diagnostics={"mean": summary["mean"], "mode": summary["mode"], "graphs": len(graphs), "top_graphs": top,
                         "grid": {"largest_total": found["largest_total"], "step": found["grid_step"],
                                  "tail_mass": found["tail_mass"]},
                         "delta_comparison": comparison, "seconds": round(time.perf_counter() - started, 3)},
            input_sha256=table.digest(), lists=table.lists, warnings=tuple(warnings),
        )
        return self


def bma(table: CaptureTable, **params) -> EstimateResult:
    """Function twin of :class:`BMA`."""
    return BMA(**params).fit(table).result_
