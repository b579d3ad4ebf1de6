"""LCMCR: the Bayesian non-parametric latent-class model of Manrique-Vallier (2016).

People differ in how likely each list is to record them. The model lets the population be a
mixture of latent classes, each with its own capture probability per list, with as many classes as
the data support (a Dirichlet-process prior, truncated at K classes, by stick-breaking). Lists are
independent *within* a class, which is what lets the unseen be estimated; dependence between
lists and heterogeneity between people are both absorbed by the mixture.

The Gibbs sampler follows the R package LCMCR (Manrique-Vallier, GPL), written anew and compiled
with numba. Each sweep: class counts of each observed capture pattern (multinomial), capture
probabilities (beta), class weights (stick-breaking, in logarithms), the number never seen
(negative binomial, from the prior p(N) ∝ 1/N), their classes (multinomial), and the
concentration α (gamma). Several chains are run from different seeds; their agreement is checked
(R-hat, effective sample size), and a posterior with more than one mode is reported, not hidden.
"""

from __future__ import annotations

import math
import time
import warnings

import numba
import numpy as np

from dadkhah.estimate.core import CaptureTable, EstimateResult, EstimationError, Estimator

WARMUP = 500  # sweeps before α is sampled, as in the reference implementation


@numba.njit(cache=True)
def _log_gamma_variate(shape: float) -> float:
    """log of a Gamma(shape, 1) draw, accurate when shape is small (no underflow to log 0)."""
    if shape >= 1.0:
        return math.log(np.random.gamma(shape, 1.0))
    return math.log(np.random.gamma(shape + 1.0, 1.0)) + math.log(np.random.random()) / shape


@numba.njit(cache=True)
def _multinomial(n: int, weights: np.ndarray, total: float, out: np.ndarray) -> None:
    """out ~ Multinomial(n, weights / total); weights need not be normalised."""
    k_max = weights.shape[0]
    for k in range(k_max):
        out[k] = 0
    if n <= 0:
        return
    if n <= 12:  # a few categorical draws beat K binomials
        for _ in range(n):
            u = np.random.random() * total
            acc = 0.0
            chosen = k_max - 1
            for k in range(k_max):
                acc += weights[k]
                if u < acc:
                    chosen = k
                    break
            out[chosen] += 1
        return
    remaining = n
    rest = total
    for k in range(k_max - 1):
        if remaining == 0:
            return
        p = weights[k] / rest if rest > 0 else 0.0
        if p >= 1.0:
            out[k] = remaining
            return
        if p > 0.0:
            x = np.random.binomial(remaining, p)
            out[k] = x
            remaining -= x
        rest -= weights[k]
    out[k_max - 1] += remaining


@numba.njit(cache=True)
def _chain(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin, seed):
    """One chain. Returns the kept draws of N, of the classes in use, and of α."""
    np.random.seed(seed)
    cells, lists = patterns.shape
    n = 0
    for m in range(cells):
        n += freqs[m]
    lam = np.empty((lists, k_classes))
    for j in range(lists):
        seen = 0
        for m in range(cells):
            seen += freqs[m] * patterns[m, j]
        for k in range(k_classes):
            lam[j, k] = seen / n
    nu = np.empty(k_classes)
    log_nu = np.empty(k_classes)
    if k_classes > 4:
        for k in range(k_classes):
            nu[k] = 0.225 if k < 4 else 0.1 / (k_classes - 4)
    else:
        for k in range(k_classes):
            nu[k] = 1.0 / k_classes
    for k in range(k_classes):
        log_nu[k] = math.log(nu[k])
    alpha = 0.3 / k_classes
    count_mk = np.zeros((cells, k_classes), dtype=np.int64)
    count0 = np.zeros(k_classes, dtype=np.int64)
    count_k = np.zeros(k_classes, dtype=np.int64)
    ones = np.zeros((lists, k_classes), dtype=np.int64)
    weights = np.empty(k_classes)
    row = np.empty(k_classes, dtype=np.int64)
    n0 = 0
    kept = iterations // thin
    draws_n = np.empty(kept, dtype=np.int64)
    draws_k = np.empty(kept, dtype=np.int64)
    draws_alpha = np.empty(kept)
    total_sweeps = WARMUP + burn_in + iterations
    stored = 0
    for sweep in range(total_sweeps):
        # Latent classes of the observed, by capture pattern.
        for m in range(cells):
            total = 0.0
            for k in range(k_classes):
                p = nu[k]
                for j in range(lists):
                    p *= lam[j, k] if patterns[m, j] == 1 else 1.0 - lam[j, k]
                weights[k] = p
                total += p
            _multinomial(freqs[m], weights, total, row)
            for k in range(k_classes):
                count_mk[m, k] = row[k]
        # Capture probabilities, counting the unseen (all zeros) in their classes.
        for k in range(k_classes):
            count_k[k] = count0[k]
        for j in range(lists):
            for k in range(k_classes):
                ones[j, k] = 0
        for m in range(cells):
            for k in range(k_classes):
                c = count_mk[m, k]
                if c:
                    count_k[k] += c
                    for j in range(lists):
                        if patterns[m, j] == 1:
                            ones[j, k] += c
        for j in range(lists):
            for k in range(k_classes):
                lam[j, k] = np.random.beta(1.0 + ones[j, k], 1.0 + count_k[k] - ones[j, k])
        # Class weights by stick-breaking, in logarithms.
        accumulated = 0
        log_rest = 0.0
        for k in range(k_classes - 1):
            accumulated += count_k[k]
            g1 = _log_gamma_variate(1.0 + count_k[k])
            g2 = _log_gamma_variate(alpha + (n0 + n - accumulated))
            top = max(g1, g2)
            log_sum = top + math.log(math.exp(g1 - top) + math.exp(g2 - top))
            log_nu[k] = g1 - log_sum + log_rest
            log_rest += g2 - log_sum
            nu[k] = math.exp(log_nu[k])
        log_nu[k_classes - 1] = log_rest
        nu[k_classes - 1] = math.exp(log_rest)
        # The unseen: how many (negative binomial), and their classes.
        p_zero = 0.0
        for k in range(k_classes):
            p = nu[k]
            for j in range(lists):
                p *= 1.0 - lam[j, k]
            weights[k] = p
            p_zero += p
        p_seen = 1.0 - p_zero
        if p_seen < 1e-12:
            p_seen = 1e-12
        n0 = np.random.negative_binomial(n, p_seen)
        _multinomial(n0, weights, p_zero, count0)
        if sweep >= WARMUP:
            alpha = np.random.gamma(a_alpha + k_classes - 1.0, 1.0 / (b_alpha - log_nu[k_classes - 1]))
        elif sweep == WARMUP - 1:
            # Order classes by weight, largest first, after the warm-up (as the reference does).
            order = np.argsort(-nu)
            nu = nu[order]
            log_nu = log_nu[order]
            lam = lam[:, order].copy()
            count0 = count0[order].copy()
            count_mk = count_mk[:, order].copy()
        past = sweep - WARMUP - burn_in
        if past >= 0 and past % thin == thin - 1 and stored < kept:
            draws_n[stored] = n + n0
            in_use = 0
            for k in range(k_classes):
                if count_k[k] > 0:
                    in_use += 1
            draws_k[stored] = in_use
            draws_alpha[stored] = alpha
            stored += 1
    return draws_n, draws_k, draws_alpha


@numba.njit(parallel=True, cache=True)
def _chains(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin, seeds):
    kept = iterations // thin
    chains = seeds.shape[0]
    draws_n = np.empty((chains, kept), dtype=np.int64)
    draws_k = np.empty((chains, kept), dtype=np.int64)
    draws_alpha = np.empty((chains, kept))
    for c in numba.prange(chains):
        n_draws, k_draws, a_draws = _chain(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin, seeds[c])
        draws_n[c] = n_draws
        draws_k[c] = k_draws
        draws_alpha[c] = a_draws
    return draws_n, draws_k, draws_alpha


def sample_lcmcr(table: CaptureTable, *, latent_classes: int, iterations: int, burn_in: int, thin: int, seeds,
                 a_alpha: float = 0.25, b_alpha: float = 0.25) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw draws (chains × kept) of N, classes in use and α. For benchmarks and diagnostics."""
    patterns = np.ascontiguousarray(table.patterns, dtype=np.int8)
    freqs = np.ascontiguousarray(table.counts, dtype=np.int64)
    return _chains(patterns, freqs, int(latent_classes), float(a_alpha), float(b_alpha), int(burn_in), int(iterations),
                   int(thin), np.asarray(seeds, dtype=np.int64))


def _modes(draws: np.ndarray) -> list[float]:
    """Separated peaks of the posterior of N (on the log scale), largest first."""
    from scipy.stats import gaussian_kde

    # N is a whole number: spread each draw over its unit interval first, or a posterior on small
    # counts shows a "peak" at every integer. Fixed seed: the same draws give the same modes.
    spread = draws.astype(float) + np.random.default_rng(0).uniform(-0.5, 0.5, draws.shape)
    values = np.log(np.maximum(spread, 0.5))
    if np.ptp(draws) < 3:
        return [float(np.median(draws))]
    grid = np.linspace(values.min(), values.max(), 512)
    density = gaussian_kde(values)(grid)
    peaks = [i for i in range(1, len(grid) - 1) if density[i] >= density[i - 1] and density[i] > density[i + 1]]
    peaks = [i for i in peaks if density[i] >= 0.15 * density.max()]
    kept: list[int] = []
    for i in sorted(peaks, key=lambda i: -density[i]):
        # A peak counts only if a real dip separates it from every stronger one.
        if all(density[min(i, j):max(i, j) + 1].min() < 0.75 * min(density[i], density[j]) for j in kept):
            kept.append(i)
    return [float(np.exp(grid[i])) for i in kept]


def _diagnostics(draws_n: np.ndarray) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz

        chains = draws_n.astype(float)
        return {
            "rhat": float(arviz.rhat(np.log(chains))) if chains.shape[0] > 1 else None,
            "ess_bulk": float(arviz.ess(np.log(chains), method="bulk")),
            "ess_tail": float(arviz.ess(np.log(chains), method="tail")),
        }


class LCMCR(Estimator):
    """The latent-class model of Manrique-Vallier (2016), sampled by Gibbs, several chains.

    Example:
        >>> model = LCMCR(latent_classes=10, iterations=20_000, random_state=1).fit(table)
        >>> model.n_hat_, model.interval_
    """

    method = "lcmcr"

    def __init__(self, *, latent_classes: int | None = None, iterations: int = 100_000, burn_in: int = 10_000, thin: int = 100,
                 chains: int = 4, a_alpha: float = 0.25, b_alpha: float = 0.25, level: float = 0.95,
                 random_state: int | None = None):
        self.latent_classes = latent_classes
        self.iterations = iterations
        self.burn_in = burn_in
        self.thin = thin
        self.chains = chains
        self.a_alpha = a_alpha
        self.b_alpha = b_alpha
        self.level = level
        self.random_state = random_state

    def fit(self, table: CaptureTable) -> LCMCR:
        self._check(table)
        k_classes = self.latent_classes or min(2 ** table.n_lists - 1, 15)
        if k_classes < 2:
            raise EstimationError("latent_classes must be at least 2")
        if self.iterations < self.thin or self.thin < 1 or self.burn_in < 0 or self.chains < 1:
            raise EstimationError("iterations must be at least thin, thin at least 1, burn_in at least 0, chains at least 1")
        if not 0 < self.level < 1:
            raise EstimationError("level must be between 0 and 1")
        seed = self.random_state if self.random_state is not None else int(np.random.SeedSequence().entropy % (2**31))
        seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(self.chains) % (2**31 - 1)]
        started = time.perf_counter()
        draws_n, draws_k, draws_alpha = sample_lcmcr(
            table, latent_classes=k_classes, iterations=self.iterations, burn_in=self.burn_in, thin=self.thin,
            seeds=seeds, a_alpha=self.a_alpha, b_alpha=self.b_alpha)
        elapsed = time.perf_counter() - started
        pooled = draws_n.ravel()
        tail = (1 - self.level) / 2
        lo, median, hi = np.quantile(pooled, [tail, 0.5, 1 - tail])
        diagnostics = _diagnostics(draws_n)
        modes = _modes(pooled)
        per_chain = [{"median": float(np.median(c)), "interval": [float(x) for x in np.quantile(c, [tail, 1 - tail])]} for c in draws_n]
        sweeps = self.chains * (WARMUP + self.burn_in + self.iterations)
        diagnostics |= {
            "iterations": self.iterations,
            "burn_in": self.burn_in,
            "thin": self.thin,
            "chains": self.chains,
            "draws": int(pooled.size),
            "sampling_seconds": round(elapsed, 3),
            "microseconds_per_iteration": round(1e6 * elapsed / sweeps * min(self.chains, numba.get_num_threads()), 2),
            "latent_classes": k_classes,
            "classes_in_use": {"mean": float(draws_k.mean()), "max": int(draws_k.max())},
            "alpha": {"median": float(np.median(draws_alpha))},
            "posterior_mean": float(pooled.mean()),
            "modes": modes,
            "chain_summaries": per_chain,
            "seeds": seeds,
        }
        messages = []
        if diagnostics["rhat"] is not None and diagnostics["rhat"] > 1.1:
            messages.append(
                f"the chains disagree (R-hat {diagnostics['rhat']:.2f}): chain medians "
                + ", ".join(f"{c['median']:,.0f}" for c in per_chain)
                + "; run much longer chains before relying on this estimate"
            )
        if len(modes) > 1:
            messages.append(
                "the posterior has more than one mode (near " + " and ".join(f"{m:,.0f}" for m in sorted(modes))
                + "): the interval pools them; report both and explain"
            )
        if diagnostics["ess_bulk"] < 400:
            messages.append(f"few effective draws ({diagnostics['ess_bulk']:.0f}); run more iterations")
        if draws_k.mean() >= 0.9 * k_classes:
            messages.append(f"nearly all of the {k_classes} latent classes are in use: consider more latent classes")
        self.draws_ = draws_n
        self.n_hat_ = float(median)
        self.interval_ = (float(lo), float(hi))
        self.diagnostics_ = diagnostics
        self.result_ = EstimateResult(
            method=self.method, observed=table.observed, estimate=float(median), interval=(float(lo), float(hi)),
            level=self.level, model=f"LCMCR, K={k_classes}, a=b={self.a_alpha:g}" if self.a_alpha == self.b_alpha
            else f"LCMCR, K={k_classes}, a={self.a_alpha:g}, b={self.b_alpha:g}",
            parameters=self.get_params() | {"latent_classes": k_classes, "random_state": seed},
            diagnostics=diagnostics, input_sha256=table.digest(), lists=table.lists, warnings=tuple(messages),
        )
        return self


def lcmcr(table: CaptureTable, **params) -> EstimateResult:
    """Function twin of :class:`LCMCR`."""
    return LCMCR(**params).fit(table).result_
