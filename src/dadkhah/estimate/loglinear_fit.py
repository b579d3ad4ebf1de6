"""Fitting one log-linear model to a capture table, and deciding whether it can be fitted at all.

The pieces :mod:`dadkhah.estimate.loglinear` builds its model search and intervals from: the full
table of observable cells, model matrices, the existence check (Fienberg & Rinaldo 2012) and the
identifiability check (rank of the model matrix after empty overlaps are removed), a Newton/IRLS
Poisson fit, and the literature's names for models ("[12,23]").
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from dadkhah.estimate.core import CaptureTable, EstimationError


class NotIdentifiable(EstimationError):
    """The model and data cannot give a finite, unique estimate (the message says which and why)."""


class _ModelFails(Exception):
    """Internal: a candidate model fails a check or its fit; ``reason`` is one of three codes."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason  # "not_identifiable" | "no_mle" | "fit_failed"


# ---------------------------------------------------------------------------------------------
# Cells, terms and model matrices


def _all_patterns(n_lists: int) -> np.ndarray:
    """Every observable pattern; row ``code - 1`` has list 0 as the most significant bit."""
    codes = np.arange(1, 2**n_lists)
    shifts = np.arange(n_lists - 1, -1, -1)
    return ((codes[:, None] >> shifts) & 1).astype(np.int8)


def _codes(patterns: np.ndarray) -> np.ndarray:
    weights = 1 << np.arange(patterns.shape[1] - 1, -1, -1)
    return patterns.astype(np.int64) @ weights


def _full_counts(table: CaptureTable) -> tuple[np.ndarray, np.ndarray]:
    """All 2^J - 1 patterns with their counts; patterns nobody has count 0."""
    patterns = _all_patterns(table.n_lists)
    y = np.zeros(len(patterns))
    if len(table.counts):
        y[_codes(table.patterns) - 1] = table.counts
    return patterns, y


def _normalise_terms(terms, n_lists: int) -> tuple[tuple[int, ...], ...]:
    """Sorted, de-duplicated interaction terms; main effects are always in and dropped here."""
    if terms is None:
        return ()
    if any(isinstance(term, int | np.integer) for term in terms):
        raise EstimationError(f"terms is a tuple of terms, such as ((0, 1),) for one pair, not {tuple(terms)!r}")
    out = set()
    for raw in terms:
        term = tuple(sorted(int(i) for i in raw))
        if len(set(term)) != len(term) or any(i < 0 or i >= n_lists for i in term):
            raise EstimationError(f"term {tuple(raw)} must name distinct lists among 0..{n_lists - 1}")
        if len(term) >= 2:
            out.add(term)
    missing = sorted({sub for term in out if len(term) > 2 for sub in itertools.combinations(term, len(term) - 1)} - out)
    if missing:
        raise EstimationError(f"the model must be hierarchical: add the lower-order terms {missing}")
    return tuple(sorted(out, key=lambda t: (len(t), t)))


def _overlap(patterns: np.ndarray, y: np.ndarray, term) -> float:
    return float(y[patterns[:, list(term)].all(axis=1)].sum())


@dataclass
class _Design:
    terms: tuple  # every interaction term of the model
    empty: tuple  # its pairs whose lists never overlap: handled by dropping cells
    keep: np.ndarray  # cells left after dropping them
    X: np.ndarray  # intercept, main effects, the non-empty interactions, on kept cells


def _design(patterns: np.ndarray, y: np.ndarray, terms) -> _Design:
    empty = tuple(t for t in terms if len(t) == 2 and _overlap(patterns, y, t) == 0)
    keep = np.ones(len(patterns), dtype=bool)
    for i, j in empty:
        keep &= ~((patterns[:, i] == 1) & (patterns[:, j] == 1))
    kept = patterns[keep].astype(float)
    columns = [np.ones(len(kept)), *kept.T]
    columns += [kept[:, list(t)].prod(axis=1) for t in terms if t not in empty]
    return _Design(tuple(terms), empty, keep, np.column_stack(columns))


def _mle_exists(X: np.ndarray, y: np.ndarray) -> bool:
    """Does the model with matrix ``X`` have a maximum likelihood estimate on counts ``y``?

    It has one unless some change of its parameters leaves the fit of every non-empty cell as it
    is and raises the fit of some empty cells without lowering any (Haberman 1974; Fienberg &
    Rinaldo 2012): that is, a direction d with X_S d = 0 on the cells S with counts and X_Z d >= 0,
    not all zero, on the empty cells Z. Only which cells are empty matters, not the counts.
    Such a d is N c for a basis N of the null space of X_S, and the question is whether B c >= 0,
    not all zero, for some c, where B = X_Z N:
    - no null space (X_S already fixes every parameter): the estimate exists;
    - one dimension: it fails exactly when B's one column has no two entries of opposite sign;
    - two dimensions: it fails exactly when B's rows lie in a closed half-plane, that is when
      their directions leave a gap of at least half a turn;
    - more: Fienberg & Rinaldo's linear program (:func:`_mle_exists_lp`).
    On the tables bootstraps draw, the first three cases are most of the checks (a linear program
    costs about 1.5 ms, these about 0.1 ms); tests compare them with the program on random
    sparse tables.
    """
    if (y > 0).all():
        return True
    if (X.T @ y == 0).any():  # a parameter whose cells are all empty: it goes to -infinity
        return False
    null, B = _free_directions(X, y)
    if null == 0:
        return True
    if null <= 2 and np.linalg.matrix_rank(B) == null:  # else X itself is rank deficient
        return not _half_space(B)
    return _mle_exists_lp(X, y)


def check_matrix(X: np.ndarray, y: np.ndarray) -> tuple[bool, bool]:
    """(MLE exists, identifiable) for model matrix ``X`` on counts ``y``, as ``_check_design(...,
    lazy=True)`` gives them (a model that is not identifiable is reported as having no MLE), from
    one decomposition: X has full column rank exactly when B (see :func:`_mle_exists`) has."""
    if X.shape[0] < X.shape[1]:
        return False, False
    null, B = _free_directions(X, y)
    if null == 0:
        return True, True
    if not len(B) or np.linalg.matrix_rank(B) < null:
        return False, False
    if (X.T @ y == 0).any():
        return False, True
    if null <= 2:
        return not _half_space(B), True
    return _mle_exists_lp(X, y), True


def _free_directions(X: np.ndarray, y: np.ndarray) -> tuple[int, np.ndarray]:
    """(dimension of the null space N of the non-empty cells' rows, B = the empty cells' rows times N)."""
    support = y > 0
    observed = X[support]
    if not len(observed):
        return X.shape[1], X
    _, singular, vt = np.linalg.svd(observed)
    tolerance = singular.max(initial=0.0) * max(observed.shape) * np.finfo(float).eps
    null = vt[int((singular > tolerance).sum()):].T
    return null.shape[1], X[~support] @ null


def _half_space(B: np.ndarray) -> bool:
    """For B of full column rank one or two: is there c with B c >= 0, not all zero?"""
    small = 1e-9 * np.abs(B).max()
    if B.shape[1] == 1:
        return not ((B[:, 0] > small).any() and (B[:, 0] < -small).any())
    rows = B[np.abs(B).max(axis=1) > small]
    angles = np.sort(np.arctan2(rows[:, 1], rows[:, 0]))
    gaps = np.diff(np.append(angles, angles[0] + 2 * math.pi))
    return bool(gaps.max() >= math.pi - 1e-9)


def _mle_exists_lp(X: np.ndarray, y: np.ndarray) -> bool:
    """Fienberg & Rinaldo's linear program: is there y' > 0 with the same sufficient statistics?

    Maximise t subject to X^T y' = X^T y and y'_i >= t >= 0 (``checkident`` in SparseMSE); the
    MLE exists iff the optimum is positive. Solved as y' = s + t with s >= 0, the same program with
    equality constraints only, three times faster.
    """
    A = X.T
    objective = np.zeros(X.shape[0] + 1)
    objective[-1] = -1.0
    result = optimize.linprog(objective, A_eq=np.hstack([A, A.sum(axis=1, keepdims=True)]), b_eq=A @ y,
                              bounds=(0, None), method="highs")
    return result.status == 0 and -result.fun > 1e-7


def _check_design(design: _Design, y: np.ndarray, *, lazy: bool = False) -> tuple[bool, bool]:
    """(MLE exists, identifiable) for a model on these counts.

    ``lazy``: skip the linear program for a model that is not identifiable anyway (its MLE is
    then reported as not existing), as selection only needs to know that the model fails.
    """
    X = design.X
    if lazy:
        return check_matrix(X, y[design.keep])
    identifiable = bool(X.shape[0] >= X.shape[1] and np.linalg.matrix_rank(X) == X.shape[1])
    return _mle_exists(X, y[design.keep]), identifiable


def check_model(table: CaptureTable, terms: tuple[tuple[int, ...], ...]) -> dict:
    """Can this model give a finite, unique estimate from this table?

    Follows ``checkident`` of SparseMSE (Chan, Silverman & Vincent 2021): pairs in ``terms``
    whose lists never overlap are handled by removing every cell containing both; the MLE exists
    iff Fienberg & Rinaldo's linear program has a positive optimum; the model is identifiable iff
    the model matrix on the remaining cells has full column rank.

    Example:
        >>> check_model(read_table("sparsemse_artificial_3.csv"), ((0, 1),))
        {'mle_exists': False, 'identifiable': True, 'empty_overlaps': []}
    """
    patterns, y = _full_counts(table)
    design = _design(patterns, y, _normalise_terms(terms, table.n_lists))
    mle, identifiable = _check_design(design, y)
    return {"mle_exists": mle, "identifiable": identifiable, "empty_overlaps": [tuple(p) for p in design.empty]}


# ---------------------------------------------------------------------------------------------
# Poisson fits


def _irls(X, y, offset=0.0, start=None, max_iter=100, tol=1e-11):
    """Newton's method (= IRLS for the canonical log link) with step halving on the deviance."""
    if start is None:  # glm's start: weighted least squares on log(y + 0.1)
        mu = y + 0.1
        w = np.sqrt(mu)
        z = np.log(mu) - offset + (y - mu) / mu
        start = np.linalg.lstsq(X * w[:, None], z * w, rcond=None)[0]
    beta = np.asarray(start, dtype=float)
    positive = y > 0
    log_y = np.log(np.where(positive, y, 1.0))

    def deviance(b):
        with np.errstate(over="ignore", invalid="ignore"):
            eta = X @ b + offset
            mu = np.exp(eta)
            dev = 2.0 * float(np.sum(np.where(positive, y * (log_y - eta), 0.0) - (y - mu)))
        return dev, mu

    dev, mu = deviance(beta)
    for iteration in range(1, max_iter + 1):
        if not np.isfinite(dev):
            return beta, mu, dev, False, iteration
        gradient = X.T @ (y - mu)
        hessian = X.T @ (X * mu[:, None])
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            return beta, mu, dev, False, iteration
        scale = 1.0
        while True:
            new_dev, new_mu = deviance(beta + scale * step)
            if (np.isfinite(new_dev) and new_dev <= dev + 1e-12 * (abs(dev) + 1)) or scale < 1e-10:
                break
            scale /= 2
        beta, converged = beta + scale * step, abs(dev - new_dev) <= tol * (abs(new_dev) + 0.1)
        dev, mu = new_dev, new_mu
        if converged:
            return beta, mu, dev, bool(np.isfinite(dev)), iteration
    return beta, mu, dev, False, max_iter


@dataclass
class _Fit:
    design: _Design
    beta: np.ndarray
    mu: np.ndarray  # fitted counts on kept cells
    y: np.ndarray  # observed counts on kept cells
    deviance: float
    iterations: int
    observed: float
    loglik: float = field(init=False)

    def __post_init__(self):
        self.loglik = float(np.sum(self.y * np.log(np.where(self.y > 0, self.mu, 1.0)) - self.mu - special.gammaln(self.y + 1)))

    @property
    def terms(self):
        return self.design.terms

    @property
    def dark(self) -> float:
        return float(np.exp(self.beta[0]))

    @property
    def n_hat(self) -> float:
        return self.observed + self.dark

    @property
    def n_params(self) -> int:
        """Fitted parameters plus one per empty overlap (SparseMSE's AIC adjustment)."""
        return self.design.X.shape[1] + len(self.design.empty)

    @property
    def df(self) -> int:
        return self.design.X.shape[0] - self.design.X.shape[1]

    def criterion(self, name: str) -> float:
        """-2 log L + penalty, as Rcapture reports them (BIC uses n = people observed)."""
        penalty = 2.0 if name == "aic" else math.log(self.observed)
        return -2.0 * self.loglik + penalty * self.n_params


def _fit(patterns, y, terms, checked: tuple[bool, bool] | None = None) -> _Fit:
    """Fit one model, raising :class:`_ModelFails` when it cannot give an honest estimate.

    ``checked`` is the (MLE exists, identifiable) pair when already known for these counts.
    """
    design = _design(patterns, y, terms)
    mle, identifiable = checked if checked is not None else _check_design(design, y)
    if not identifiable:
        raise _ModelFails("not_identifiable", _why_not_identifiable(design))
    if not mle:
        raise _ModelFails("no_mle", "has no maximum likelihood estimate (the MLE does not exist): the linear "
                          "program of Fienberg & Rinaldo (2012) has optimum t = 0, so the observed zeros force "
                          "some expected counts to zero and the estimate is infinite or undefined")
    yk = y[design.keep]
    beta, mu, dev, converged, iterations = _irls(design.X, yk)
    if not converged or not np.isfinite(beta).all() or beta[0] > 700:
        raise _ModelFails("fit_failed", f"could not be fitted: the Poisson fit did not converge in {iterations} iterations")
    return _Fit(design, beta, mu, yk, dev, iterations, float(y.sum()))


def _why_not_identifiable(design: _Design) -> str:
    rows, cols = design.X.shape
    text = "is not identifiable: the model matrix does not have full column rank"
    if design.empty:
        pairs = ", ".join(f"{i + 1}&{j + 1}" for i, j in design.empty)
        text += (f": after removing the cells of the empty overlaps {pairs} (nobody is on both lists) "
                 f"{rows} capture patterns remain for {cols} parameters")
    elif rows < cols:
        text += f": {rows} capture patterns for {cols} parameters"
    return text


# ---------------------------------------------------------------------------------------------
# Naming models


def _model_name(terms, n_lists: int, names=None) -> str:
    """Generators in the literature's notation: "[12,23]" (1-based), or names for many lists."""
    maximal = [t for t in terms if not any(set(t) < set(u) for u in terms)]
    covered = {i for t in terms for i in t}
    generators = sorted(maximal + [(i,) for i in range(n_lists) if i not in covered])
    if names is None and n_lists <= 9:
        return "[" + ",".join("".join(str(i + 1) for i in g) for g in generators) + "]"
    names = names or [str(i + 1) for i in range(n_lists)]
    return "[" + ",".join(":".join(names[i] for i in g) for g in generators) + "]"


def _term_names(terms, names) -> list[str]:
    return [":".join(names[i] for i in t) for t in terms]
