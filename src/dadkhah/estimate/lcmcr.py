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
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from dadkhah.estimate.core import CaptureTable, EstimateResult, EstimationError, Estimator

WARMUP = 500  # sweeps before α is sampled, as in the reference implementation
SAMPLER = "fast"  # see sample_lcmcr
ENOUGH_DRAWS = 400  # effective draws of N (bulk, over the chains) below which an estimate warns
FEW_DRAWS = "few effective draws"


def few_draws_warning(effective: float, replicates: int = 1) -> str:
    """The warning for too few effective draws; over ``replicates`` versions of the data, their sum."""
    over = f" over {replicates} replicates" if replicates > 1 else ""
    return f"{FEW_DRAWS} ({effective:.0f}{over}); run more iterations"


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


@numba.njit(cache=True, nogil=True)
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


def _run_chains(chain, seeds, *args):
    """Draws (chains × kept) of N, classes in use and α: one compiled chain per seed, on as many
    threads as numba may use (the chains release the GIL)."""
    seeds = [int(seed) for seed in seeds]
    workers = max(1, min(len(seeds), numba.get_num_threads()))
    if workers == 1:
        results = [chain(*args, seed) for seed in seeds]
    else:
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda seed: chain(*args, seed), seeds))
    return tuple(np.stack([result[i] for result in results]) for i in range(3))


def _chains(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin, seeds):
    return _run_chains(_chain, seeds, patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin)


# ---------------------------------------------------------------------------------------------
# The per-pattern sampler. Its cost is random variates, a hundred or two a sweep, so it has its
# own: xoshiro256** (Blackman & Vigna 2018) for uniforms, and the textbook exact methods on top:
# the ziggurat normal (Marsaglia & Tsang 2000, 256 layers as in NumPy), Marsaglia & Tsang's gamma
# (2000), beta as a ratio of gammas, binomial by inversion (mean below 10) or Hörmann's BTRD (1993),
# Poisson by multiplication (mean below 10) or Hörmann's PTRS (1993). No approximation: each draw
# has its distribution exactly (to floating point). The helpers are inlined into one kernel,
# compiled without reference counting (``_nrt=False``, numba is pinned): a call of a compiled
# function that takes an array costs two atomic reference-count updates, more than most draws.

_U53 = 1.0 / 9007199254740992.0  # 2**-53
_FAST = {"cache": True, "inline": "always", "error_model": "numpy"}


def _ziggurat_tables():
    """The 256-layer normal ziggurat: per layer, the acceptance bound on 52 random bits (ki), the
    scale of those bits (wi) and the density at the layer's edge (fi)."""
    r, v, m1 = 3.6541528853610088, 0.00492867323399, 2.0**52
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = r
    q = v / math.exp(-0.5 * dn * dn)
    ki[0] = int((dn / q) * m1)
    wi[0], wi[255] = q / m1, dn / m1
    fi[0], fi[255] = 1.0, math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = int((dn / tn) * m1)
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m1
    return ki, wi, fi, r


_ZIG_K, _ZIG_W, _ZIG_F, _ZIG_R = _ziggurat_tables()
_ZIG_INV_R = 1.0 / _ZIG_R
# Stirling's correction log k! - [(k + 1/2) log(k + 1) - (k + 1) + log(2π)/2] for k < 10 (BTRD).
_STIRLING = np.array([0.08106146679532726, 0.04134069595540929, 0.02767792568499834, 0.02079067210376509,
                      0.01664469118982119, 0.01387612882307075, 0.01189670994589177, 0.01041126526197209,
                      0.009255462182712733, 0.008330563433362871])
_RECIPROCAL = 1.0 / np.maximum(np.arange(64.0), 1.0)  # 1/x for the inversion's recursion
_NO_TABLE = np.zeros(0)  # no table of log k!: BTRD's own recursion and Stirling's series


@numba.njit(**_FAST)
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


@numba.njit(**_FAST)
def _next(s):
    """64 random bits."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@numba.njit(**_FAST)
def _uniform(s):
    """A uniform draw on the open interval (0, 1)."""
    return (float(_next(s) >> np.uint64(11)) + 0.5) * _U53


@numba.njit(**_FAST)
def _normal(s):
    """A standard normal draw: the ziggurat (one 64-bit draw 99% of the time)."""
    while True:
        r = _next(s)
        idx = int(r & np.uint64(0xFF))
        r = r >> np.uint64(8)
        rabs = (r >> np.uint64(1)) & np.uint64(0x000FFFFFFFFFFFFF)
        x = float(rabs) * _ZIG_W[idx]
        if r & np.uint64(1):
            x = -x
        if rabs < _ZIG_K[idx]:
            return x
        if idx == 0:  # the tail beyond r (Marsaglia 1964)
            while True:
                xx = -_ZIG_INV_R * math.log(_uniform(s))
                yy = -math.log(_uniform(s))
                if yy + yy > xx * xx:
                    return -(_ZIG_R + xx) if (rabs >> np.uint64(8)) & np.uint64(1) else _ZIG_R + xx
        elif (_ZIG_F[idx - 1] - _ZIG_F[idx]) * _uniform(s) + _ZIG_F[idx] < math.exp(-0.5 * x * x):
            return x


@numba.njit(**_FAST)
def _gamma_large(s, shape):
    """Gamma(shape, 1) for shape > 1: Marsaglia & Tsang (2000)."""
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


@numba.njit(**_FAST)
def _gamma(s, shape):
    """Gamma(shape, 1), shape > 0 (below one: Gamma(shape + 1) U^(1/shape), Stuart 1962)."""
    if shape == 1.0:
        return -math.log(_uniform(s))
    small = shape < 1.0
    g = _gamma_large(s, shape + 1.0 if small else shape)  # (one copy of the loop where this is inlined)
    return g * math.exp(math.log(_uniform(s)) / shape) if small else g


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _gamma_call(s, shape):
    """:func:`_gamma`, not inlined: for the draws made once or twice a sweep (compiling is faster)."""
    return _gamma(s, shape)


@numba.njit(**_FAST)
def _stirling(k):
    if k < 10:
        return _STIRLING[k]
    r = 1.0 / (k + 1.0)
    r2 = r * r
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - r2 / 1188.0) * r2) * r2) * r2) * r


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _binomial_inversion(s, n, p, q, u):
    """Binomial(n, p), p ≤ 1/2, n p < 10, by inversion of the uniform u (given u ≥ 1 - n p)."""
    if n < 4096:  # q^n by repeated squaring: a dozen multiplications, no exp or log
        qn = 1.0
        base = q
        e = n
        while e:
            qn *= base if e & 1 else 1.0
            base *= base
            e >>= 1
    else:
        qn = math.exp(n * math.log1p(-p))
    r = p / q
    g = r * (n + 1)
    bound = min(n, 63)  # (P(X > 63) < 1e-29 at a mean below 10)
    while True:
        x = 0
        f = qn
        while u > f and x < bound:
            u -= f
            x += 1
            f *= g * _RECIPROCAL[x] - r
        if u <= f:
            return x
        u = _uniform(s)  # (past ten standard deviations: rounding; draw again)


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _btrd_rejection(s, n, p, q, v, spq, b, a, log_factorial):
    """Binomial(n, p), p ≤ 1/2, n p ≥ 10: BTRD (Hörmann 1993) from step 2, v its first uniform
    (outside the box), spq = sqrt(n p q), b and a its set-up. With a table of log k! up to n, the
    exact test is one logarithm; without, the recursion or Stirling's series of the paper."""
    mean = n * p
    npq = spq * spq
    c = mean + 0.5
    alpha = (2.83 + 5.1 / b) * spq
    v_r = 0.92 - 4.2 / b
    m = int((n + 1) * p)
    r = p / q
    tabled = n < log_factorial.shape[0]
    if tabled:
        log_fm = log_factorial[m] + log_factorial[n - m]
        log_r = math.log(r)
    while True:
        if v <= 0.86 * v_r:  # (the box; only on a second or later try)
            u = v / v_r - 0.43
            return int(math.floor((2.0 * a / (0.5 - abs(u)) + b) * u + c))
        if v >= v_r:
            u = _uniform(s) - 0.5
        else:
            u = v / v_r - 0.93
            u = (0.5 if u > 0.0 else -0.5) - u
            v = _uniform(s) * v_r
        us = 0.5 - abs(u)
        kf = math.floor((2.0 * a / us + b) * u + c)
        if 0.0 <= kf <= n:
            k = int(kf)
            v = v * alpha / (a / (us * us) + b)
            km = abs(k - m)
            if tabled:
                if math.log(v) <= log_fm - log_factorial[k] - log_factorial[n - k] + (k - m) * log_r:
                    return k
            elif km <= 15:
                # f(k)/f(m) = prod (n + 1 - i) r / i over i between them: v <= f(k)/f(m), without division
                num = 1.0
                den = 1.0
                if m < k:
                    for i in range(m + 1, k + 1):
                        num *= (n + 1 - i) * r
                        den *= i
                    if v * den <= num:
                        return k
                else:
                    for i in range(k + 1, m + 1):
                        num *= (n + 1 - i) * r
                        den *= i
                    if v * num <= den:
                        return k
            else:
                v = math.log(v)  # squeeze, then the exact test with Stirling's series
                rho = (km / npq) * (((km / 3.0 + 0.625) * km + 1.0 / 6.0) / npq + 0.5)
                t = -km * km / (2.0 * npq)
                if v < t - rho:
                    return k
                if v <= t + rho:
                    nm = n - m + 1
                    h = (m + 0.5) * math.log((m + 1) / (r * nm)) + _stirling(m) + _stirling(n - m)
                    nk = n - k + 1
                    if v <= (h + (n + 1) * math.log(nm / nk) + (k + 0.5) * math.log(nk * r / (k + 1))
                             - _stirling(k) - _stirling(n - k)):
                        return k
        v = _uniform(s)


@numba.njit(**_FAST)
def _binomial_pq(s, n, p, q, log_factorial):
    """Binomial(n, p), exactly, given p and q = 1 - p each computed without cancellation.

    The smaller of p and q is drawn with (the other count is n minus it). Mean below 10: inversion,
    with P(0) ≥ 1 - n p deciding most light draws by one comparison. Otherwise BTRD, whose first
    uniform falls in the box with probability 0.86 v_r (about 40% at n p q = 10, 70% at 300, at
    most 79%); the point in the box is then drawn from a second, independent uniform (it is
    uniform given that event), so that the draw costs a square root and a division that does not
    wait for the set-up. Outside the box, :func:`_btrd_rejection`.
    """
    if n <= 0 or p <= 0.0:
        return 0
    if q <= 0.0:
        return n
    flipped = p > q
    if flipped:
        p, q = q, p
    mean = n * p
    v = _uniform(s)
    if mean < 10.0:
        x = 0 if v < 1.0 - mean else _binomial_inversion(s, n, p, q, v)
    else:
        w = 0.86 * _uniform(s) - 0.43
        scale = 2.0 / (0.5 - abs(w))
        spq = math.sqrt(mean * q)
        b = 1.15 + 2.53 * spq
        a = -0.0873 + 0.0248 * b + 0.01 * p
        if v * b <= 0.86 * (0.92 * b - 4.2):  # v <= 0.86 v_r, v_r = 0.92 - 4.2 / b
            x = int(math.floor((a * scale + b) * w + mean + 0.5))
        else:
            x = _btrd_rejection(s, n, p, q, v, spq, b, a, log_factorial)
    return n - x if flipped else x


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _binomial(s, n, p):
    """Binomial(n, p), exact (see :func:`_binomial_pq`)."""
    return _binomial_pq(s, n, p, 1.0 - p, _NO_TABLE)


@numba.njit(cache=True, error_model="numpy", _nrt=False)
def _poisson(s, lam):
    """Poisson(lam), exact: multiplication of uniforms below 10, Hörmann's PTRS (1993) above."""
    if lam <= 0.0:
        return 0
    if lam < 10.0:
        limit = math.exp(-lam)
        x = 0
        prod = _uniform(s)
        while prod > limit:
            x += 1
            prod *= _uniform(s)
        return x
    slam = math.sqrt(lam)
    log_lam = math.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    log_inv_alpha = math.log(1.1239 + 1.1328 / (b - 3.4))
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        u = _uniform(s) - 0.5
        v = _uniform(s)
        us = 0.5 - abs(u)
        kf = math.floor((2.0 * a / us + b) * u + lam + 0.43)
        if us >= 0.07 and v <= v_r:
            return int(kf)
        if kf < 0.0 or (us < 0.013 and v > us):
            continue
        if math.log(v) + log_inv_alpha - math.log(a / (us * us) + b) <= -lam + kf * log_lam - math.lgamma(kf + 1.0):
            return int(kf)


_CATEGORICAL = 12  # up to this many people, one categorical draw each beats a binomial per class
_LIGHT = 4.0  # classes whose expected share of the n is at most this together are drawn in bulk


@numba.njit(**_FAST)
def _add(k, x, m, on_start, on_list, count_k, ones):
    """x more people of pattern m in class k: the sufficient statistics."""
    count_k[k] += x
    for at in range(on_start[m], on_start[m + 1]):
        ones[on_list[at], k] += x


@numba.njit(**_FAST)
def _split_rows(s, sizes, w, order, suffix, head, remaining, tails, on_start, on_list, count_k, ones, log_factorial):
    """Split each pattern's count sizes[m] over the classes, Multinomial(sizes[m], w[m] / sum),
    exactly, adding the result to the sufficient statistics (class sizes, and per class how many
    each list recorded). w[i, m] is the weight in pattern m of class order[i], visited in that order;
    log_factorial[k] = log k! for k up to the largest count (or fewer: then Stirling's series).

    Visited heaviest first (roughly: in order of ν), the light tail of classes whose expected share
    of the n is at most four gets one binomial for how many fall in it at all (usually none,
    decided by one comparison) and a categorical draw for each who does; the head gets sequential
    binomials, the last of them the remainder. A truncated Dirichlet process has many near-empty
    classes; they then cost almost nothing. Up to twelve people, each gets a categorical draw. The
    head's binomials are drawn class by class across all patterns, so that the patterns' draws,
    independent of each other, overlap in the processor.
    """
    kk, rows = w.shape
    for m in range(rows):
        suffix[kk, m] = 0.0
    for i in range(kk - 1, -1, -1):  # (across the patterns at once)
        for m in range(rows):
            suffix[i, m] = suffix[i + 1, m] + w[i, m]
    longest = 0
    for m in range(rows):
        n = sizes[m]
        total = suffix[0, m]
        if not total > 0.0:  # (every weight underflowed: cannot happen in practice) the first class takes all
            head[m] = 1
            remaining[m] = n
            tails[m] = 0.0
            continue
        h = 0
        if n > _CATEGORICAL:
            h = kk
            while h > 1 and n * suffix[h - 1, m] <= _LIGHT * total:
                h -= 1
        tail = suffix[h, m]
        light = n if h == 0 else _binomial_pq(s, n, tail / total, (total - tail) / total, log_factorial) if h < kk else 0
        for _ in range(light):
            v = _uniform(s) * tail
            i = h
            while i < kk - 1 and v <= suffix[i + 1, m]:
                i += 1
            _add(order[i], 1, m, on_start, on_list, count_k, ones)
        head[m] = h
        remaining[m] = n - light
        tails[m] = tail
        longest = max(longest, h)
    for i in range(longest - 1):
        for m in range(rows):
            left = remaining[m]
            if i < head[m] - 1 and left > 0:
                rest = suffix[i, m] - tails[m]
                x = _binomial_pq(s, left, w[i, m] / rest, (suffix[i + 1, m] - tails[m]) / rest, log_factorial)
                if x:
                    _add(order[i], x, m, on_start, on_list, count_k, ones)
                    remaining[m] = left - x
    for m in range(rows):
        if head[m] > 0 and remaining[m] > 0:
            _add(order[head[m] - 1], remaining[m], m, on_start, on_list, count_k, ones)


@numba.njit(cache=True, error_model="numpy")
def _multinomial_fast(s, n, weights, order, out):
    """out = Multinomial(n, weights / weights.sum()), visiting the classes in ``order`` (a check
    of :func:`_split_rows` on one pattern that no list recorded; out must not be weights)."""
    k_max = weights.shape[0]
    w = np.empty((k_max, 1))
    for i in range(k_max):
        w[i, 0] = weights[order[i]]
    out[:] = 0
    _split_rows(s, np.full(1, n), w, order, np.empty((k_max + 1, 1)), np.empty(1, dtype=np.int64),
                np.empty(1, dtype=np.int64), np.empty(1), np.zeros(2, dtype=np.int64), np.empty(0, dtype=np.int64), out,
                np.empty((0, k_max), dtype=np.int64), _NO_TABLE)


@numba.njit(cache=True)
def _log_factorials(n):
    """log k! for k = 0..n."""
    table = np.zeros(n + 1)
    for k in range(2, n + 1):
        table[k] = math.lgamma(k + 1.0)
    return table


@numba.njit(**_FAST)
def _sort_descending(values, order):
    """Insertion sort of ``order`` by values[order], largest first (nearly sorted already: ~K steps)."""
    for i in range(1, order.shape[0]):
        item = order[i]
        key = values[item]
        j = i - 1
        while j >= 0 and values[order[j]] < key:
            order[j + 1] = order[j]
            j -= 1
        order[j + 1] = item


@numba.njit(**_FAST)
def _poisson_small(s, lam):
    """Poisson(lam), exact, by multiplication of uniforms (lam below 10); P(0) = e^-lam ≥ 1 - lam
    decides most draws of a small mean with the first uniform."""
    prod = _uniform(s)
    if prod < 1.0 - lam:
        return 0
    limit = math.exp(-lam)
    x = 0
    while prod > limit:
        x += 1
        prod *= _uniform(s)
    return x


@numba.njit(cache=True, nogil=True, error_model="numpy", _nrt=False)
def _sweeps(s, first, last, burn_in, thin, a_alpha, b_alpha, alpha, n, on_start, on_list, node_parent, node_list, node_of,
            sizes, odds, missed, nu, base, order, wt, w, suffix, head, remaining, tails, count_k, ones, log_factorial,
            draws_n, draws_k, draws_alpha):
    """Gibbs sweeps first..last-1 of one chain (the state in the arrays); returns α."""
    cells = sizes.shape[0]
    lists, k_classes = odds.shape
    kept = draws_n.shape[0]
    for sweep in range(first, last):
        # The unseen: N0 ~ NegativeBinomial(n, 1 - p0) (from p(N) ∝ 1/N) is Poisson(G p0 / (1 - p0))
        # with G ~ Gamma(n), and the classes of a Poisson count are independent Poisson counts:
        # class k's unseen ~ Poisson(G base[k] / (1 - p0)), most of them zero at one comparison.
        # (None in the first sweep, as in the reference: its capture probabilities are the observed.)
        p_zero = 0.0
        for k in range(k_classes):
            p_zero += base[k]
        rate = _gamma_call(s, float(n)) / max(1.0 - p_zero, 1e-12) if sweep > 0 else 0.0
        n0 = 0
        for k in range(k_classes):
            lam = rate * base[k]
            c = _poisson_small(s, lam) if lam < 10.0 else _poisson(s, lam)
            count_k[k] = c
            n0 += c
        # Latent classes of the observed, one multinomial split per capture pattern, classes
        # visited in order of weight. A pattern's class weight is base[k] (ν_k times the chance
        # that no list records a member of k) times the odds of each list that recorded it: the
        # products are built along a tree of the patterns (each one a shorter one and one list).
        for k in range(k_classes):
            wt[0, k] = base[k]
        for node in range(1, wt.shape[0]):
            parent, j = node_parent[node], node_list[node]
            for k in range(k_classes):
                wt[node, k] = wt[parent, k] * odds[j, k]
        _sort_descending(nu, order)
        for i in range(k_classes):
            k = order[i]
            for m in range(cells):
                w[i, m] = wt[node_of[m], k]
        for j in range(lists):
            for k in range(k_classes):
                ones[j, k] = 0
        _split_rows(s, sizes, w, order, suffix, head, remaining, tails, on_start, on_list, count_k, ones, log_factorial)
        # Capture probabilities: Beta(1 + recorded, 1 + not recorded) as Ga / (Ga + Gb), kept as
        # the odds Ga / Gb and 1 - λ = Gb / (Ga + Gb); an empty class's are uniform.
        for k in range(k_classes):
            size = count_k[k]
            if size == 0:
                for j in range(lists):
                    u = _uniform(s)
                    odds[j, k] = u / (1.0 - u)
                    missed[j, k] = 1.0 - u
            else:
                for j in range(lists):
                    ga = 0.0
                    for side in range(2):  # (one copy of the gamma draw)
                        g = _gamma(s, 1.0 + ones[j, k] if side == 0 else 1.0 + size - ones[j, k])
                        if side == 0:
                            ga = g
                        else:
                            odds[j, k] = ga / g
                            missed[j, k] = g / (ga + g)
        # Class weights by stick-breaking: V_k ~ Beta(1 + n_k, α + people in later classes). While
        # someone is left for the later classes both shapes are at least one and the product
        # stays in floating range (rescaled if it nears underflow); past the last occupied class
        # V_k ~ Beta(1, α), drawn as 1 - U^(1/α), the remaining stick in logarithms.
        total_n = n + n0
        accumulated = 0
        rest = 1.0
        scale = 1.0
        log_scale = 0.0
        k = 0
        while k < k_classes - 1:
            accumulated += count_k[k]
            left = total_n - accumulated
            if left == 0:
                break
            g1 = _gamma_call(s, 1.0 + count_k[k])
            g2 = _gamma_call(s, alpha + left)
            sum_g = g1 + g2
            nu[k] = rest * (g1 / sum_g) * scale
            rest *= g2 / sum_g
            if rest < 1e-200:
                log_scale += math.log(rest)
                rest = 1.0
                scale = math.exp(log_scale)
            k += 1
        log_rest = math.log(rest) + log_scale
        if k < k_classes - 1:  # the last occupied class, then the empty ones
            last = k
            g1 = _gamma_call(s, 1.0 + count_k[last])
            log_g2 = math.log(_gamma_call(s, alpha + 1.0)) + math.log(_uniform(s)) / alpha
            log_sum = math.log(g1 + math.exp(log_g2))
            nu[last] = math.exp(log_rest + math.log(g1) - log_sum)
            log_rest += log_g2 - log_sum
            rest = math.exp(log_rest)
            for k in range(last + 1, k_classes - 1):
                log_w = math.log(_uniform(s)) / alpha  # log(1 - V_k), V_k = 1 - U^(1/α)
                if log_w < -0.6931471805599453:  # (V_k > 1/2: 1 - V_k directly; else V_k by expm1)
                    kept_part = math.exp(log_w)
                    nu[k] = rest * (1.0 - kept_part)
                else:
                    stick = -math.expm1(log_w)
                    nu[k] = rest * stick
                    kept_part = 1.0 - stick
                rest *= kept_part
                log_rest += log_w
            nu[k_classes - 1] = rest
        else:
            nu[k_classes - 1] = rest * scale
        for k in range(k_classes):
            b = nu[k]
            for j in range(lists):
                b *= missed[j, k]
            base[k] = b
        if sweep >= WARMUP:
            alpha = _gamma_call(s, a_alpha + k_classes - 1.0) / (b_alpha - log_rest)
        past = sweep - WARMUP - burn_in
        if past >= 0 and past % thin == thin - 1:
            stored = past // thin
            if stored < kept:
                draws_n[stored] = total_n
                in_use = 0
                for k in range(k_classes):
                    if count_k[k] > 0:
                        in_use += 1
                draws_k[stored] = in_use
                draws_alpha[stored] = alpha
    return alpha


@numba.njit(cache=True, nogil=True)
def _chain_fast(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin, seed):
    """One chain of the same Gibbs sampler as :func:`_chain`, on the draws above.

    The people of one capture pattern are exchangeable given the parameters, so each pattern's
    count is split over the classes by one multinomial draw, and the sufficient statistics of the
    capture probabilities (per class and list: how many in the class, how many of them the list
    recorded) are accumulated from these splits directly. A sweep costs O(patterns × K) arithmetic
    plus a number of draws that does not grow with the number of people; an empty class costs a
    uniform per list (its Beta(1, 1) posterior) and a cheap stick. The unseen are drawn at the
    start of a sweep rather than at the end of the previous one: from the same parameters, so the
    same chain.
    """
    s = _rng_new(seed)
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
    # The pattern tree: node 0 no list, every other one a parent node and one more list; each
    # pattern is the node of its lists (ascending), its prefixes the nodes above it.
    node_parent = np.zeros(1 + on_start[cells], dtype=np.int64)
    node_list = np.zeros(1 + on_start[cells], dtype=np.int64)
    node_of = np.zeros(cells, dtype=np.int64)
    nodes = 1
    for m in range(cells):
        node = 0
        for at in range(on_start[m], on_start[m + 1]):
            j = on_list[at]
            child = -1
            for other in range(1, nodes):
                if node_parent[other] == node and node_list[other] == j:
                    child = other
                    break
            if child < 0:
                child = nodes
                node_parent[child] = node
                node_list[child] = j
                nodes += 1
            node = child
        node_of[m] = node
    node_parent = node_parent[:nodes].copy()
    node_list = node_list[:nodes].copy()
    sizes = np.zeros(cells, dtype=np.int64)
    n = 0
    for m in range(cells):
        sizes[m] = freqs[m]
        n += freqs[m]
    # Capture probabilities are kept as odds λ/(1 - λ) and as 1 - λ (no cancellation near one).
    odds = np.empty((lists, k_classes))
    missed = np.empty((lists, k_classes))
    for j in range(lists):
        seen = 0
        for m in range(cells):
            seen += freqs[m] * patterns[m, j]
        for k in range(k_classes):
            odds[j, k] = seen / (n - seen) if seen < n else 1.0 / _U53
            missed[j, k] = (n - seen) / n if seen < n else _U53
    nu = np.empty(k_classes)
    for k in range(k_classes):
        if k_classes > 4:
            nu[k] = 0.225 if k < 4 else 0.1 / (k_classes - 4)
        else:
            nu[k] = 1.0 / k_classes
    base = np.empty(k_classes)  # ν_k times the chance that no list records a member of k
    for k in range(k_classes):
        b = nu[k]
        for j in range(lists):
            b *= missed[j, k]
        base[k] = b
    order = np.arange(k_classes)
    wt = np.empty((nodes, k_classes))
    w = np.empty((k_classes, cells))
    suffix = np.empty((k_classes + 1, cells))
    head = np.empty(cells, dtype=np.int64)
    remaining = np.empty(cells, dtype=np.int64)
    tails = np.empty(cells)
    count_k = np.zeros(k_classes, dtype=np.int64)
    ones = np.zeros((lists, k_classes), dtype=np.int64)
    kept = iterations // thin
    draws_n = np.empty(kept, dtype=np.int64)
    draws_k = np.empty(kept, dtype=np.int64)
    draws_alpha = np.empty(kept)
    alpha = 0.3 / k_classes
    log_factorial = _log_factorials(min(sizes.max(), 1 << 20))  # (binomials are of at most one pattern's count)
    state = (on_start, on_list, node_parent, node_list, node_of, sizes, odds, missed, nu, base, order, wt, w, suffix, head,
             remaining, tails, count_k, ones, log_factorial, draws_n, draws_k, draws_alpha)
    alpha = _sweeps(s, 0, WARMUP, burn_in, thin, a_alpha, b_alpha, alpha, n, *state)
    # Order the classes by weight, largest first, after the warm-up (as the reference does).
    by_weight = np.argsort(-nu)
    nu[:] = nu[by_weight]
    base[:] = base[by_weight]
    odds[:] = odds[:, by_weight]
    missed[:] = missed[:, by_weight]
    _sweeps(s, WARMUP, WARMUP + burn_in + iterations, burn_in, thin, a_alpha, b_alpha, alpha, n, *state)
    return draws_n, draws_k, draws_alpha


def _chains_fast(patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin, seeds):
    return _run_chains(_chain_fast, seeds, patterns, freqs, k_classes, a_alpha, b_alpha, burn_in, iterations, thin)


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
    if draws_n.shape[1] < 4:  # arviz needs four draws a chain (and says so on the terminal)
        return {"rhat": None, "ess_bulk": None, "ess_tail": None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz

        chains = np.log(draws_n.astype(float))
        found = {
            "rhat": float(arviz.rhat(chains)) if chains.shape[0] > 1 else None,
            "ess_bulk": float(arviz.ess(chains, method="bulk")),
            "ess_tail": float(arviz.ess(chains, method="tail")),
        }
    # Too few draws per chain (fewer than four) leave them undefined (NaN, which is not JSON): None.
    return {name: value if value is None or math.isfinite(value) else None for name, value in found.items()}


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
        k_classes = self.latent_classes if self.latent_classes is not None else min(2 ** table.n_lists - 1, 15)
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
        if diagnostics["ess_bulk"] is None:
            messages.append(f"too few draws ({draws_n.shape[1]} per chain) to tell whether the chains agree or how "
                            "many of the draws count: run much longer chains before relying on this estimate")
        elif diagnostics["ess_bulk"] < ENOUGH_DRAWS:
            messages.append(few_draws_warning(diagnostics["ess_bulk"]))
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
    estimate does not pay for it (about 25 s; the cache is kept beside this file, in __pycache__).
    ``make install`` runs it: ``python -c 'from dadkhah.estimate.lcmcr import warm_up; warm_up()'``."""
    tiny = CaptureTable.from_patterns(("A", "B"), [[1, 0], [0, 1], [1, 1]], [5, 4, 3])
    for sampler in SAMPLERS:
        sample_lcmcr(tiny, latent_classes=2, iterations=2, burn_in=0, thin=1, seeds=[1], sampler=sampler)


if __name__ == "__main__":
    warm_up()
