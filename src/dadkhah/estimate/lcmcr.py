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
SAMPLER = "fast"  # see sample_lcmcr


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


# ---------------------------------------------------------------------------------------------
# The per-pattern sampler's own random numbers. numba's np.random (a Mersenne twister behind a
# thread-local state, a binomial that recomputes its set-up on every call) costs 15-200 ns a draw,
# and a sweep needs a few hundred draws: the draws, not the arithmetic, were the cost of a sweep.
# xoshiro256** (Blackman & Vigna 2018) gives a uniform in ~2 ns; the distributions are the
# textbook exact methods on top of it: Marsaglia's polar normal, Marsaglia & Tsang's gamma, beta as
# a ratio of gammas, binomial by inversion (small mean) or Hörmann's BTRS (1993; mean ≥ 10).

_U53 = 1.0 / 9007199254740992.0  # 2**-53


@numba.njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@numba.njit(cache=True)
def _rng_new(seed):
    """A xoshiro256** state (4 uint64) from an integer seed, filled by splitmix64."""
    state = np.empty(4, dtype=np.uint64)
    z = np.uint64(seed)
    for i in range(4):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        x = z
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        state[i] = x ^ (x >> np.uint64(31))
    return state


@numba.njit(cache=True, inline="always")
def _uniform(s):
    """A uniform draw on the open interval (0, 1)."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return (float(result >> np.uint64(11)) + 0.5) * _U53


@numba.njit(cache=True)
def _normal(s):
    while True:
        u = 2.0 * _uniform(s) - 1.0
        v = 2.0 * _uniform(s) - 1.0
        r = u * u + v * v
        if 0.0 < r < 1.0:
            return u * math.sqrt(-2.0 * math.log(r) / r)


@numba.njit(cache=True)
def _gamma(s, shape):
    """Gamma(shape, 1), shape > 0."""
    if shape == 1.0:
        return -math.log(_uniform(s))
    if shape < 1.0:
        return _gamma(s, shape + 1.0) * _uniform(s) ** (1.0 / shape)
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = _normal(s)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform(s)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v
        if math.log(u) < 0.5 * x2 + d * (1.0 - v + math.log(v)):
            return d * v


@numba.njit(cache=True)
def _log_gamma(s, shape):
    """log of a Gamma(shape, 1) draw, accurate when shape is small (no underflow to log 0)."""
    if shape >= 1.0:
        return math.log(_gamma(s, shape))
    return math.log(_gamma(s, shape + 1.0)) + math.log(_uniform(s)) / shape


@numba.njit(cache=True)
def _beta(s, a, b):
    """Beta(a, b), a, b ≥ 1 here (a uniform when both are one, a power of one when either is)."""
    if a == 1.0:
        if b == 1.0:
            return _uniform(s)
        return 1.0 - _uniform(s) ** (1.0 / b)
    if b == 1.0:
        return _uniform(s) ** (1.0 / a)
    x = _gamma(s, a)
    return x / (x + _gamma(s, b))


@numba.njit(cache=True)
def _binomial(s, n, p):
    """Binomial(n, p), exact: inversion when the mean is below 10, BTRS (Hörmann 1993) above."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    flipped = p > 0.5
    if flipped:
        p = 1.0 - p
    q = 1.0 - p
    mean = n * p
    if mean < 10.0:
        qn = math.exp(n * math.log1p(-p))
        r = p / q
        g = r * (n + 1)
        bound = min(n, int(mean + 10.0 * math.sqrt(mean * q + 1.0)))
        while True:
            u = _uniform(s)
            x = 0
            f = qn
            while u > f and x <= bound:
                u -= f
                x += 1
                f *= g / x - r
            if x <= bound:
                return n - x if flipped else x
    spq = math.sqrt(mean * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = mean + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    m = math.floor((n + 1) * p)
    h = 0.0
    log_r = 0.0
    while True:
        u = _uniform(s) - 0.5
        v = _uniform(s)
        us = 0.5 - abs(u)
        k = math.floor((2.0 * a / us + b) * u + c)
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            x = int(k)
            return n - x if flipped else x
        if h == 0.0:  # the exact test's constants, needed only outside the box (rarely)
            h = math.lgamma(m + 1.0) + math.lgamma(n - m + 1.0)
            log_r = math.log(p / q)
        v = math.log(v * alpha / (a / (us * us) + b))
        if v <= h - math.lgamma(k + 1.0) - math.lgamma(n - k + 1.0) + (k - m) * log_r:
            x = int(k)
            return n - x if flipped else x


@numba.njit(cache=True)
def _multinomial_fast(s, n, weights, total, order, out):
    """out ~ Multinomial(n, weights / total), exactly, for any visiting ``order`` of the classes.

    With ``order`` heaviest first: the light tail of classes whose expected share of the n is
    below four gets one binomial for how many fall in it at all (usually none) and categorical
    draws among them; the heavy head gets sequential binomials, the last of them the remainder.
    A truncated Dirichlet process has many near-empty classes; they then cost almost nothing.
    """
    k_max = weights.shape[0]
    for k in range(k_max):
        out[k] = 0
    if n <= 0 or total <= 0.0:
        out[order[0]] = max(n, 0)
        return
    if n <= 8:  # a few categorical draws beat any binomial
        for _ in range(n):
            u = _uniform(s) * total
            acc = 0.0
            chosen = order[k_max - 1]
            for i in range(k_max):
                k = order[i]
                acc += weights[k]
                if u < acc:
                    chosen = k
                    break
            out[chosen] += 1
        return
    # The head: order[:head]; the tail: order[head:], expected count n * tail / total <= 4.
    head = k_max
    tail = 0.0
    while head > 1 and n * (tail + weights[order[head - 1]]) <= 4.0 * total:
        head -= 1
        tail += weights[order[head]]
    in_tail = 0
    if head < k_max and tail > 0.0:
        in_tail = _binomial(s, n, tail / total)
        for _ in range(in_tail):
            u = _uniform(s) * tail
            acc = 0.0
            chosen = order[k_max - 1]
            for i in range(head, k_max):
                k = order[i]
                acc += weights[k]
                if u < acc:
                    chosen = k
                    break
            out[chosen] += 1
    remaining = n - in_tail
    rest = total - tail
    for i in range(head - 1):
        if remaining == 0:
            return
        k = order[i]
        p = weights[k] / rest if rest > 0 else 0.0
        if p >= 1.0:
            out[k] = remaining
            return
        if p > 0.0:
            x = _binomial(s, remaining, p)
            out[k] = x
            remaining -= x
        rest -= weights[k]
    out[order[head - 1]] += remaining


_BELOW_ONE = 1.0 - 2.0**-52


@numba.njit(cache=True)
def _base_and_odds(lam, nu, base, odds):
    lists, k_classes = lam.shape
    for k in range(k_classes):
        b = nu[k]
        for j in range(lists):
            b *= 1.0 - lam[j, k]
            odds[j, k] = lam[j, k] / (1.0 - lam[j, k])
        base[k] = b


@numba.njit(cache=True, nogil=True)
def _chain_fast(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin, seed):
    """One chain, the same Gibbs sweep as :func:`_chain` on the xoshiro draws above.

    The people of one capture pattern are exchangeable given the parameters, so each pattern's
    count is split over the classes by one multinomial draw, and the sufficient statistics of the
    capture probabilities (per class and list: how many in the class, how many of them the list
    recorded) are accumulated from these splits directly. A sweep costs O(patterns × K × lists)
    arithmetic plus a number of draws that does not grow with the number of people; an empty class
    costs a uniform per list (its Beta(1, 1) posterior) and a cheap stick.
    """
    s = _rng_new(seed)
    np.random.seed(seed)  # the negative binomial of the unseen, one draw a sweep
    cells, lists = patterns.shape
    # The lists that recorded each pattern, as one flat index (most patterns name one or two lists).
    on_start = np.zeros(cells + 1, dtype=np.int64)
    for m in range(cells):
        on_start[m + 1] = on_start[m]
        for j in range(lists):
            on_start[m + 1] += patterns[m, j] == 1
    on_list = np.empty(on_start[cells], dtype=np.int64)
    for m in range(cells):
        at = on_start[m]
        for j in range(lists):
            if patterns[m, j] == 1:
                on_list[at] = j
                at += 1
    n = 0
    for m in range(cells):
        n += freqs[m]
    lam = np.empty((lists, k_classes))
    for j in range(lists):
        seen = 0
        for m in range(cells):
            seen += freqs[m] * patterns[m, j]
        for k in range(k_classes):
            lam[j, k] = min(seen / n, _BELOW_ONE)
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
    count0 = np.zeros(k_classes, dtype=np.int64)
    count_k = np.zeros(k_classes, dtype=np.int64)
    ones = np.zeros((lists, k_classes), dtype=np.int64)
    weights = np.empty(k_classes)
    row = np.empty(k_classes, dtype=np.int64)
    # A pattern's class weight is base[k] (ν_k times the chance that no list records a member of
    # k) times the odds λ/(1 - λ) of each list that recorded it.
    base = np.empty(k_classes)
    odds = np.empty((lists, k_classes))
    _base_and_odds(lam, nu, base, odds)
    n0 = 0
    kept = iterations // thin
    draws_n = np.empty(kept, dtype=np.int64)
    draws_k = np.empty(kept, dtype=np.int64)
    draws_alpha = np.empty(kept)
    total_sweeps = WARMUP + burn_in + iterations
    stored = 0
    for sweep in range(total_sweeps):
        # Latent classes of the observed, one multinomial split per capture pattern, straight into
        # the sufficient statistics; the unseen (drawn last sweep) are in count0.
        for k in range(k_classes):
            count_k[k] = count0[k]
        for j in range(lists):
            for k in range(k_classes):
                ones[j, k] = 0
        heaviest = np.argsort(-nu)
        for m in range(cells):
            total = 0.0
            for k in range(k_classes):
                p = base[k]
                for at in range(on_start[m], on_start[m + 1]):
                    p *= odds[on_list[at], k]
                weights[k] = p
                total += p
            _multinomial_fast(s, freqs[m], weights, total, heaviest, row)
            for k in range(k_classes):
                c = row[k]
                if c:
                    count_k[k] += c
                    for at in range(on_start[m], on_start[m + 1]):
                        ones[on_list[at], k] += c
        # Capture probabilities.
        for j in range(lists):
            for k in range(k_classes):
                # (kept below one, so that the odds stay finite; a change of probability < 1e-15)
                lam[j, k] = min(_beta(s, 1.0 + ones[j, k], 1.0 + count_k[k] - ones[j, k]), _BELOW_ONE)
        # Class weights by stick-breaking, in logarithms.
        accumulated = 0
        log_rest = 0.0
        for k in range(k_classes - 1):
            accumulated += count_k[k]
            g1 = _log_gamma(s, 1.0 + count_k[k])
            g2 = _log_gamma(s, alpha + (n0 + n - accumulated))
            top = max(g1, g2)
            log_sum = top + math.log(math.exp(g1 - top) + math.exp(g2 - top))
            log_nu[k] = g1 - log_sum + log_rest
            log_rest += g2 - log_sum
            nu[k] = math.exp(log_nu[k])
        log_nu[k_classes - 1] = log_rest
        nu[k_classes - 1] = math.exp(log_rest)
        # The unseen: how many (negative binomial), and their classes.
        _base_and_odds(lam, nu, base, odds)
        p_zero = 0.0
        for k in range(k_classes):
            weights[k] = base[k]
            p_zero += base[k]
        p_seen = 1.0 - p_zero
        if p_seen < 1e-12:
            p_seen = 1e-12
        n0 = np.random.negative_binomial(n, p_seen)
        _multinomial_fast(s, n0, weights, p_zero, np.argsort(-weights), count0)
        if sweep >= WARMUP:
            alpha = _gamma(s, a_alpha + k_classes - 1.0) / (b_alpha - log_nu[k_classes - 1])
        elif sweep == WARMUP - 1:
            # Order classes by weight, largest first, after the warm-up (as the reference does).
            order = np.argsort(-nu)
            nu = nu[order]
            log_nu = log_nu[order]
            lam = lam[:, order].copy()
            count0 = count0[order].copy()
            _base_and_odds(lam, nu, base, odds)
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
def _chains_fast(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin, seeds):
    kept = iterations // thin
    chains = seeds.shape[0]
    draws_n = np.empty((chains, kept), dtype=np.int64)
    draws_k = np.empty((chains, kept), dtype=np.int64)
    draws_alpha = np.empty((chains, kept))
    for c in numba.prange(chains):
        n_draws, k_draws, a_draws = _chain_fast(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin,
                                                seeds[c])
        draws_n[c] = n_draws
        draws_k[c] = k_draws
        draws_alpha[c] = a_draws
    return draws_n, draws_k, draws_alpha


SAMPLERS = {"fast": _chains_fast, "reference": _chains}


def sample_lcmcr(table: CaptureTable, *, latent_classes: int, iterations: int, burn_in: int, thin: int, seeds,
                 a_alpha: float = 0.25, b_alpha: float = 0.25, sampler: str | None = None,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw draws (chains × kept) of N, classes in use and α. For benchmarks and diagnostics.

    ``sampler``: ``"fast"`` (the default, :data:`SAMPLER`) or ``"reference"`` (the first
    implementation, on numba's ``np.random``; kept to check the fast one against). Both sample the
    same posterior; their draws differ for the same seed.
    """
    sampler = sampler or SAMPLER
    if sampler not in SAMPLERS:
        raise EstimationError(f"sampler must be one of {', '.join(SAMPLERS)}")
    patterns = np.ascontiguousarray(table.patterns, dtype=np.int8)
    freqs = np.ascontiguousarray(table.counts, dtype=np.int64)
    return SAMPLERS[sampler](patterns, freqs, int(latent_classes), float(a_alpha), float(b_alpha), int(burn_in), int(iterations),
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
            "sampler": SAMPLER,
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


def warm_up() -> None:
    """Compile (or load from numba's cache) both samplers on a tiny table, so that the first real
    estimate does not pay for it. Run once after installing: ``python -m dadkhah.estimate.lcmcr``."""
    tiny = CaptureTable.from_patterns(("A", "B"), [[1, 0], [0, 1], [1, 1]], [5, 4, 3])
    for sampler in SAMPLERS:
        sample_lcmcr(tiny, latent_classes=2, iterations=2, burn_in=0, thin=1, seeds=[1], sampler=sampler)


if __name__ == "__main__":
    warm_up()
