"""Closed-form estimators: Chao's lower bound, and Lincoln–Petersen / Chapman for two lists.

They need no model search and no sampling, which makes them good checks on the others: the Chao
bound is a floor under heterogeneous capture (people differ in how findable they are), and
Lincoln–Petersen is the classic two-list estimate (biased low when the two lists tend to record
the same people, high when they avoid each other).
"""

from __future__ import annotations

import math

from scipy.stats import norm

from dadkhah.estimate.core import CaptureTable, EstimateResult, EstimationError, Estimator

INDEPENDENCE_WARNING = "assumes the two lists record people independently of each other"


def _log_normal_interval(observed: int, estimate: float, variance: float, level: float) -> tuple[float, float]:
    """Chao's (1987) interval: the unseen count is log-normal; the bound never goes below the observed."""
    unseen = estimate - observed
    if unseen <= 0 or variance <= 0:
        return float(observed), float(estimate)
    z = norm.ppf(0.5 + level / 2)
    c = math.exp(z * math.sqrt(math.log(1 + variance / unseen**2)))
    return observed + unseen / c, observed + unseen * c


class Chao(Estimator):
    """Chao's (1987) lower bound for the population size under heterogeneous capture.

    ``N = n + (t-1)/t · f1² / (2 f2)``, where f1 people are on one list only, f2 on exactly two,
    and t lists were searched; when no one is on exactly two lists the bias-corrected form
    ``(t-1)/t · f1 (f1 - 1) / 2`` is used. A floor, not an estimate of the total.
    """

    method = "chao"

    def __init__(self, *, level: float = 0.95):
        self.level = level

    def fit(self, table: CaptureTable) -> Chao:
        self._check(table)
        t = table.n_lists
        f = table.times_seen()
        f1, f2 = int(f[0]), int(f[1]) if len(f) > 1 else 0
        factor = (t - 1) / t
        if f2 > 0:
            unseen = factor * f1 * f1 / (2 * f2)
            ratio = f1 / f2
            variance = f2 * (factor * ratio**2 / 2 + factor**2 * ratio**3 + factor**2 * ratio**4 / 4)
            form = "f1²/(2 f2)"
        else:
            unseen = factor * f1 * (f1 - 1) / 2
            total = table.observed + unseen
            variance = (factor * f1 * (f1 - 1) / 2 + factor**2 * f1 * (2 * f1 - 1) ** 2 / 4
                        - factor**4 * f1**4 / (4 * total))
            form = "bias-corrected f1(f1-1)/2 (nobody on exactly two lists)"
        estimate = table.observed + unseen
        interval = _log_normal_interval(table.observed, estimate, variance, self.level)
        self.n_hat_ = estimate
        self.interval_ = interval
        self.result_ = EstimateResult(
            method=self.method, observed=table.observed, estimate=estimate, interval=interval, level=self.level,
            model=f"Chao lower bound, {form}", parameters=self.get_params(),
            diagnostics={"f1": f1, "f2": f2, "lists": t, "times_seen": [int(x) for x in f], "variance": variance},
            input_sha256=table.digest(), lists=table.lists,
            warnings=("this is a lower bound under heterogeneous capture, not an estimate of the total",),
        )
        return self


class LincolnPetersen(Estimator):
    """Two lists: Chapman's nearly unbiased form of the Lincoln–Petersen estimator.

    ``N = (n1 + 1)(n2 + 1)/(m + 1) - 1`` for lists of n1 and n2 people with m on both; the classic
    ``n1 n2 / m`` is reported beside it. Assumes the two lists record people independently.
    """

    method = "lincoln-petersen"

    def __init__(self, *, level: float = 0.95):
        self.level = level

    def fit(self, table: CaptureTable) -> LincolnPetersen:
        self._check(table)
        if table.n_lists != 2:
            raise EstimationError(
                f"Lincoln–Petersen needs exactly two lists; this table has {table.n_lists} "
                "(use loglinear or lcmcr, or merge lists first)"
            )
        n1, n2 = table.list_sizes().values()
        both = table.patterns.sum(axis=1) == 2
        m = int(table.counts[both].sum())
        if m == 0:
            raise EstimationError(
                "no one is on both lists: two lists that never name the same person say nothing about how many "
                "people both missed (there is no upper bound); Chapman's formula would still give a number, so "
                "none is given")
        estimate = (n1 + 1) * (n2 + 1) / (m + 1) - 1
        variance = (n1 + 1) * (n2 + 1) * (n1 - m) * (n2 - m) / ((m + 1) ** 2 * (m + 2))
        interval = _log_normal_interval(table.observed, estimate, variance, self.level)
        warnings = [INDEPENDENCE_WARNING]
        if m < 7:
            warnings.append(f"only {m} {'person is' if m == 1 else 'people are'} on both lists: the estimate is unstable (Chapman's bias correction needs about 7 or more)")
        self.n_hat_ = estimate
        self.interval_ = interval
        self.result_ = EstimateResult(
            method=self.method, observed=table.observed, estimate=estimate, interval=interval, level=self.level,
            model="Chapman (Lincoln–Petersen, bias-corrected)", parameters=self.get_params(),
            diagnostics={"n1": n1, "n2": n2, "both": m, "lincoln_petersen": (n1 * n2 / m) if m else None, "variance": variance},
            input_sha256=table.digest(), lists=table.lists, warnings=tuple(warnings),
        )
        return self


def chao(table: CaptureTable, **params) -> EstimateResult:
    """Function twin of :class:`Chao`."""
    return Chao(**params).fit(table).result_


def lincoln_petersen(table: CaptureTable, **params) -> EstimateResult:
    """Function twin of :class:`LincolnPetersen`."""
    return LincolnPetersen(**params).fit(table).result_
