"""Exhaustive log-linear model selection with every candidate model fitted at once.

A bootstrap with model uncertainty repeats the exhaustive search on every resample: 1,024 models
on five lists, a thousand times. One model at a time (:func:`dadkhah.estimate.loglinear_fit._fit`)
that is a million small Newton fits, about five minutes. Here the models of one resample are
fitted together: one design matrix of every term, built once, with a column mask per model (and
a cell mask for the cells dropped by empty overlaps); Newton steps for all models are one batched
linear solve; each model starts from its fit on the original table (a warm start: resamples are
close to it, so two or three steps suffice). The fits converge to the same maximum as the
one-at-a-time fits (same deviance tolerance, same step halving); a model that does not converge
here is refitted the old way, so failures are decided by the same rule.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy import special

from dadkhah.estimate.loglinear_fit import (
    _all_patterns,
    _fit,
    _model_name,
    _ModelFails,
    _overlap,
    check_matrix,
)

# Which models pass the checks, by which cells are empty: the answer depends on nothing else, so it
# is kept for the life of the process, for every estimate that searches the same models (the strata
# of a run, their replicates, their resamples): at most this many answers per set of models.
_USABLE_KEPT = 2_000
_usable_by_support: dict[tuple, dict[bytes, np.ndarray]] = {}


class BatchedSelection:
    """The exhaustive search over ``models`` (in candidate order) on tables of ``n_lists`` lists."""

    def __init__(self, n_lists: int, models: list, criterion: str, compiled: bool = True):
        self.compiled = compiled  # the numba kernel; False: the batched numpy reference
        self.n_lists, self.models, self.criterion = n_lists, list(models), criterion
        self.patterns = _all_patterns(n_lists)
        terms = sorted({t for m in self.models for t in m}, key=lambda t: (len(t), t))
        self.column = {t: 1 + n_lists + k for k, t in enumerate(terms)}
        cells = self.patterns.astype(float)
        self.X = np.column_stack([np.ones(len(cells)), cells, *[cells[:, list(t)].prod(axis=1) for t in terms]])
        self.columns = np.zeros((len(self.models), self.X.shape[1]), dtype=bool)
        self.columns[:, :1 + n_lists] = True
        for m, model in enumerate(self.models):
            for t in model:
                self.columns[m, self.column[t]] = True
        self.pairs = [t for t in terms if len(t) == 2]
        self.bit = {t: 1 << k for k, t in enumerate(terms)}
        self.masks = np.array([sum(self.bit[t] for t in m) for m in self.models], dtype=np.int64)
        self.ascending = sorted(range(len(self.models)), key=lambda m: len(self.models[m]))
        largest_first = self.ascending[::-1]
        self.alternating = [largest_first[k // 2] if k % 2 == 0 else self.ascending[k // 2] for k in range(len(self.models))]
        K = self.X.shape[1]
        self.XX = (self.X[:, :, None] * self.X[:, None, :]).reshape(len(cells), K * K)  # Hessians by one product
        self.start: np.ndarray | None = None  # every model's coefficients on the original table
        self.usable_kept = _usable_by_support.setdefault((n_lists, tuple(self.models)), {})

    def usable(self, y: np.ndarray) -> np.ndarray:
        """Which models have a maximum likelihood estimate and are identifiable on counts ``y``.

        Among models with the same empty overlaps (so the same cells), a submodel of one that
        passes passes too (``_Procedure._precheck``), and a model holding one that fails fails
        too: its matrix has the failing model's columns and more, so the same direction shows the
        failure. Each check so settles many models, done on bit masks for all models at once.
        Which to check first: on a table mostly empty, where most models fail, the smallest
        (each failure settles every model above it); else the largest and smallest in turn.
        The answer (read-only) is remembered by the table's empty cells.
        """
        support = np.flatnonzero(y).tobytes()
        known = self.usable_kept.get(support)
        if known is not None:
            return known
        empty = 0
        for t in self.pairs:
            if _overlap(self.patterns, y, t) == 0:
                empty |= self.bit[t]
        group = self.masks & empty
        active, keep, _ = self._masks(y)
        resolved = np.zeros(len(self.models), dtype=bool)
        usable = np.zeros(len(self.models), dtype=bool)
        for m in self.ascending if 2 * np.count_nonzero(y == 0) > len(y) else self.alternating:
            if resolved[m]:
                continue
            resolved[m] = True
            same = group == group[m]
            if check_matrix(self.X[keep[m]][:, active[m]], y[keep[m]]) == (True, True):
                inside = same & ((self.masks & ~self.masks[m]) == 0)
                usable |= inside
                resolved |= inside
            else:
                resolved |= same & ((self.masks[m] & ~self.masks) == 0)
        usable.flags.writeable = False
        if len(self.usable_kept) < _USABLE_KEPT:
            self.usable_kept[support] = usable
        return usable

    def warm_start(self, y: np.ndarray) -> None:
        """Fit every model on the original counts; later selections start from these fits."""
        self.start = None
        beta, *_ = self._fit_all(y, self.usable(y))
        self.start = np.where(np.isfinite(beta), beta, np.nan)

    def select(self, y: np.ndarray, usable: np.ndarray | None = None) -> tuple[float, tuple]:
        """(estimated total, terms of the best model) on counts ``y``; raises ``_ModelFails`` when
        no model gives a finite, unique estimate."""
        beta, criterion = self._fit_all(y, self.usable(y) if usable is None else usable)[:2]
        if not np.isfinite(criterion).any():
            raise _ModelFails("fit_failed", "no model gives a finite, unique estimate")
        best = int(np.nanargmin(np.where(np.isfinite(criterion), criterion, np.nan)))  # first of equals: candidate order
        return float(y.sum()) + math.exp(beta[best, 0]), self.models[best]

    def _masks(self, y):
        empty = [t for t in self.pairs if _overlap(self.patterns, y, t) == 0]
        active = self.columns.copy()
        keep = np.ones((len(self.models), len(y)), dtype=bool)
        n_empty = np.zeros(len(self.models))
        for t in empty:
            has = self.columns[:, self.column[t]]
            active[has, self.column[t]] = False
            keep[np.ix_(has, self.patterns[:, list(t)].all(axis=1))] = False
            n_empty += has
        return active, keep, n_empty

    def _fit_all(self, y, usable):
        """Coefficients (models × columns, NaN for a model that fails) and each model's criterion."""
        M = len(self.models)
        active, keep, n_empty = self._masks(y)
        beta = np.full((M, self.X.shape[1]), np.nan)
        criterion = np.full(M, np.inf)
        idx = np.flatnonzero(usable)
        if not len(idx):
            return beta, criterion
        start = self.start[idx] if self.start is not None else None
        if start is None or not np.isfinite(start).all():
            wls = self._wls_start(y, active[idx], keep[idx])
            start = wls if start is None else np.where(np.isfinite(start), start, wls)
        start = np.where(active[idx], start, 0.0)
        if self.compiled:
            b, loglik, ok = _fit_models(self.X, y, active[idx], keep[idx], np.ascontiguousarray(start), 100, 1e-11)
            loglik = loglik - np.where(keep[idx], special.gammaln(y + 1), 0.0).sum(axis=1)
        else:
            b, mu, ok = _newton(self.X, self.XX, y, active[idx], keep[idx], start)
            positive = y > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                loglik = np.sum(np.where(keep[idx], np.where(positive, y * np.log(np.where(positive, mu, 1.0)), 0.0)
                                         - mu - special.gammaln(y + 1), 0.0), axis=1)
        ok &= np.isfinite(b).all(axis=1) & (b[:, 0] <= 700)
        beta[idx[ok]] = b[ok]
        observed = float(y.sum())
        penalty = 2.0 if self.criterion == "aic" else math.log(observed)
        n_params = active[idx].sum(axis=1) + n_empty[idx]
        criterion[idx[ok]] = (-2.0 * loglik + penalty * n_params)[ok]
        for k in np.flatnonzero(~ok):  # not converged here: the one-at-a-time fit decides, as before
            m = idx[k]
            try:
                fit = _fit(self.patterns, y, self.models[m], (True, True))
            except _ModelFails:
                continue
            full = np.zeros(self.X.shape[1])
            full[active[m]] = fit.beta
            beta[m] = full
            criterion[m] = fit.criterion(self.criterion)
        return beta, criterion

    def _wls_start(self, y, active, keep):
        """glm's start for every model: weighted least squares on log(y + 0.1)."""
        mu = y + 0.1
        z = np.log(mu) + (y - mu) / mu
        w = np.where(keep, mu, 0.0)
        H = (w @ self.XX).reshape(len(w), self.X.shape[1], self.X.shape[1])
        g = (w * z) @ self.X
        return _solve(H, g, active)

    def name(self, terms) -> str:
        return _model_name(terms, self.n_lists)


def _system_masks(active):
    """(mask of active pairs of columns, identity on inactive columns), as floats."""
    both = (active[:, :, None] & active[:, None, :]).astype(float)
    eye = np.eye(active.shape[1], dtype=bool)[None]
    return both, (eye & ~active[:, :, None]).astype(float)


def _solve(H, g, active, masks=None):
    """Solve each model's system on its active columns (others: identity, right side 0)."""
    both, fill = masks if masks is not None else _system_masks(active)
    H = H * both + fill
    g = g * active
    try:
        return np.linalg.solve(H, g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.full(g.shape, np.nan)
        for k in range(len(g)):
            try:
                out[k] = np.linalg.solve(H[k], g[k])
            except np.linalg.LinAlgError:
                pass
        return out


def _newton(X, XX, y, active, keep, beta, max_iter=100, tol=1e-11):
    """Newton's method with step halving on the deviance for many models at once: the rule of
    :func:`dadkhah.estimate.loglinear_fit._irls`, model by model. Returns (coefficients, fitted
    counts on kept cells (0 elsewhere), converged)."""
    positive = y > 0
    log_y = np.log(np.where(positive, y, 1.0))
    beta = np.array(beta, dtype=float)

    def deviance(b, kept):
        with np.errstate(over="ignore", invalid="ignore"):
            eta = b @ X.T
            mu = np.where(kept, np.exp(eta), 0.0)
            dev = 2.0 * np.sum(np.where(kept, np.where(positive, y * (log_y - eta), 0.0) - (y - mu), 0.0), axis=1)
        return dev, mu

    dev, mu = deviance(beta, keep)
    both, fill = _system_masks(active)
    K = X.shape[1]
    done = np.zeros(len(beta), dtype=bool)
    ok = np.zeros(len(beta), dtype=bool)
    for _ in range(max_iter):
        done |= ~np.isfinite(dev)
        idx = np.flatnonzero(~done)
        if not len(idx):
            break
        b, m, a, k, d = beta[idx], mu[idx], active[idx], keep[idx], dev[idx]
        with np.errstate(over="ignore", invalid="ignore"):
            g = (np.where(k, y - m, 0.0)) @ X
            H = (m @ XX).reshape(len(idx), K, K)
        step = _solve(H, g, a, (both[idx], fill[idx]) if len(idx) < len(beta) else (both, fill))
        bad = ~np.isfinite(step).all(axis=1)
        step[bad] = 0.0
        scale = np.ones(len(idx))
        new_dev, new_mu = deviance(b + step, k)
        while True:
            accept = np.isfinite(new_dev) & (new_dev <= d + 1e-12 * (np.abs(d) + 1))
            halve = ~accept & (scale >= 1e-10)
            if not halve.any():
                break
            scale[halve] /= 2
            nd, nm = deviance(b[halve] + scale[halve, None] * step[halve], k[halve])
            new_dev[halve], new_mu[halve] = nd, nm
        beta[idx] = b + scale[:, None] * step
        converged = np.abs(d - new_dev) <= tol * (np.abs(new_dev) + 0.1)
        dev[idx], mu[idx] = new_dev, new_mu
        done[idx[bad]] = True
        finished = converged & ~bad
        done[idx[finished]] = True
        ok[idx[finished]] = np.isfinite(new_dev[finished])
    return beta, mu, ok


# ---------------------------------------------------------------------------------------------
# The same fits, compiled: one model after another on its own columns and cells, no batching
# overhead; what :class:`BatchedSelection` uses (the numpy version above stays as its reference).


@numba.njit(cache=True, error_model="numpy")
def _deviance(Xm, ym, log_y, beta, eta, mu):  # pragma: no cover - compiled
    """Fill eta and mu for ``beta``; return the Poisson deviance."""
    c, k = Xm.shape
    dev = 0.0
    for i in range(c):
        e = 0.0
        for j in range(k):
            e += Xm[i, j] * beta[j]
        eta[i] = e
        mu[i] = np.exp(e)
        dev += (ym[i] * (log_y[i] - e) if ym[i] > 0 else 0.0) - (ym[i] - mu[i])
    return 2.0 * dev


@numba.njit(cache=True, error_model="numpy")
def _fit_models(X, y, active, keep, start, max_iter, tol):  # pragma: no cover - compiled
    """Newton with step halving on the deviance (the rule of ``_irls``) for each model: its
    columns ``active[m]``, its cells ``keep[m]``, from ``start[m]``. Returns coefficients (zero on
    inactive columns), log-likelihoods without the constant, and whether each fit converged."""
    M, K = active.shape
    C = X.shape[0]
    beta_out = np.zeros((M, K))
    loglik = np.full(M, np.nan)
    ok = np.zeros(M, dtype=np.bool_)
    Xbuf = np.empty((C, K))
    ym_buf, log_y_buf = np.empty(C), np.empty(C)
    eta_buf, mu_buf, new_eta_buf, new_mu_buf = np.empty(C), np.empty(C), np.empty(C), np.empty(C)
    H, L = np.empty((K, K)), np.empty((K, K))
    g_buf, z_buf, step_buf, beta_buf, trial_buf = np.empty(K), np.empty(K), np.empty(K), np.empty(K), np.empty(K)
    for m in range(M):
        cols = np.flatnonzero(active[m])
        rows = np.flatnonzero(keep[m])
        k, c = len(cols), len(rows)
        Xm = Xbuf[:c, :k]
        ym, log_y = ym_buf[:c], log_y_buf[:c]
        for i in range(c):
            ym[i] = y[rows[i]]
            log_y[i] = np.log(ym[i]) if ym[i] > 0 else 0.0
            for j in range(k):
                Xm[i, j] = X[rows[i], cols[j]]
        beta, trial, g, z, step = beta_buf[:k], trial_buf[:k], g_buf[:k], z_buf[:k], step_buf[:k]
        for j in range(k):
            beta[j] = start[m, cols[j]]
        eta, mu, new_eta, new_mu = eta_buf[:c], mu_buf[:c], new_eta_buf[:c], new_mu_buf[:c]
        dev = _deviance(Xm, ym, log_y, beta, eta, mu)
        converged = False
        for _ in range(max_iter):
            if not np.isfinite(dev):
                break
            for a in range(k):
                g[a] = 0.0
                for b in range(a + 1):
                    H[a, b] = 0.0
            for i in range(c):
                r, w = ym[i] - mu[i], mu[i]
                for a in range(k):
                    xa = Xm[i, a]
                    g[a] += xa * r
                    wa = w * xa
                    for b in range(a + 1):
                        H[a, b] += wa * Xm[i, b]
            failed = False  # Cholesky: H is positive definite for an identifiable model
            for j in range(k):
                s = H[j, j]
                for t in range(j):
                    s -= L[j, t] * L[j, t]
                if not s > 0:
                    failed = True
                    break
                L[j, j] = np.sqrt(s)
                for i in range(j + 1, k):
                    s = H[i, j]
                    for t in range(j):
                        s -= L[i, t] * L[j, t]
                    L[i, j] = s / L[j, j]
            if failed:
                break
            for i in range(k):
                s = g[i]
                for t in range(i):
                    s -= L[i, t] * z[t]
                z[i] = s / L[i, i]
            for i in range(k - 1, -1, -1):
                s = z[i]
                for t in range(i + 1, k):
                    s -= L[t, i] * step[t]
                step[i] = s / L[i, i]
            scale = 1.0
            while True:
                for j in range(k):
                    trial[j] = beta[j] + scale * step[j]
                new_dev = _deviance(Xm, ym, log_y, trial, new_eta, new_mu)
                if (np.isfinite(new_dev) and new_dev <= dev + 1e-12 * (abs(dev) + 1)) or scale < 1e-10:
                    break
                scale /= 2
            for j in range(k):
                beta[j] = trial[j]
            done = abs(dev - new_dev) <= tol * (abs(new_dev) + 0.1)
            dev = new_dev
            for i in range(c):
                eta[i], mu[i] = new_eta[i], new_mu[i]
            if done:
                converged = np.isfinite(dev)
                break
        if converged:
            ok[m] = True
            total = 0.0
            for i in range(c):
                total += (ym[i] * np.log(mu[i]) if ym[i] > 0 else 0.0) - mu[i]
            loglik[m] = total
        for j in range(k):
            beta_out[m, cols[j]] = beta[j]
    return beta_out, loglik, ok
