"""Combining estimates made on several versions of the same data (Rubin's rules, on the log scale).

Some of what the registry knows is itself uncertain: which records are the same person (linkage),
and the city or month of a person whose records do not say. Rather than pretend one answer, the
estimate is made again on several *replicates* of the data, each a plausible completion drawn from
what is known (a clustering drawn from the linkage's pair probabilities, a city drawn for each
person whose city is missing), and the answers are combined.

The combination follows Rubin (1987), *Multiple Imputation for Nonresponse in Surveys*, on the
logarithm of the total (totals are positive and their intervals skewed):

* the centre is the geometric mean of the replicates' central estimates;
* the *within* variance is the average of each replicate's own uncertainty, read from its interval
  (half its width on the log scale, divided by the normal quantile of the level); the lower and
  upper sides are read separately, so a skewed interval stays skewed;
* the *between* variance is how much the replicates' centres disagree;
* the total variance is within + (1 + 1/M) · between, and the interval uses Student's t with
  Barnard and Rubin's (1999) degrees of freedom (large-sample form), so few replicates that disagree
  widen it further.

The share of the interval's width that comes from the replicates disagreeing (linkage, missing
values) is reported beside it: 0 when every replicate gave the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dadkhah.estimate.core import EstimateResult


def combine(results: Sequence[EstimateResult], *, level: float | None = None) -> dict:
    """Combine replicate estimates: ``estimate``, ``interval``, ``level``, the replicates' own
    figures and ``between_share`` (the part of the interval's width that the disagreement between
    replicates adds, from 0 to 1). The lower end is never below the fewest persons a replicate saw,
    the centre never below the persons they saw on average."""
    from scipy import stats

    if not results:
        raise ValueError("nothing to combine")
    level = level if level is not None else results[0].level
    m = len(results)
    z = float(stats.norm.ppf(0.5 + results[0].level / 2))
    centre = np.log([max(r.estimate, 1e-9) for r in results])
    low = np.log([max(r.interval[0], 1e-9) for r in results])
    high = np.log([max(r.interval[1], 1e-9) for r in results])
    q = float(centre.mean())
    within_low = float(np.mean(((centre - low).clip(min=0) / z) ** 2))
    within_high = float(np.mean(((high - centre).clip(min=0) / z) ** 2))
    between = float(centre.var(ddof=1)) if m > 1 else 0.0
    extra = (1 + 1 / m) * between

    def side(within: float) -> tuple[float, float]:
        total = within + extra
        if total <= 0:
            return 0.0, 0.0
        quantile = float(stats.norm.ppf(0.5 + level / 2))
        if extra > 0 and m > 1:
            share = extra / total  # the fraction of missing information, in Rubin's words
            dof = (m - 1) / share ** 2
            quantile = float(stats.t.ppf(0.5 + level / 2, dof))
        within_only = float(stats.norm.ppf(0.5 + level / 2)) * math.sqrt(within)
        return quantile * math.sqrt(total), within_only

    down, down_within = side(within_low)
    up, up_within = side(within_high)
    floor = min(r.observed for r in results)
    interval = (float(max(math.exp(q - down), floor)), math.exp(q + up))  # (a float, as the upper end: shown alike)
    width = interval[1] - interval[0]
    without = max(math.exp(q + up_within) - max(math.exp(q - down_within), floor), 0.0)
    between_share = 0.0 if width <= 0 else max(0.0, min(1.0, 1 - without / width))
    # Never below the number named (on average over the replicates, as the tables show it): each
    # replicate's estimate is at least its own count, but the geometric mean of counts that differ
    # (a stratum whose missing members are drawn) lies below their average.
    estimate = max(math.exp(q), float(np.mean([r.observed for r in results])))
    return {"estimate": round(estimate, 1), "interval": (round(interval[0], 1), round(interval[1], 1)),
            "level": level, "replicates": m, "between_share": round(between_share, 3),
            "replicate_estimates": [round(float(r.estimate), 1) for r in results],
            "replicate_observed": [int(r.observed) for r in results]}
