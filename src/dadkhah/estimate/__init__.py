"""Estimating how many were killed in total from several incomplete lists (multiple systems estimation).

Each method is an estimator class with a function twin; :func:`estimate_table` runs one by name.
"""

from __future__ import annotations

from dadkhah.estimate.core import (
    CaptureTable,
    EstimateResult,
    EstimationError,
    Estimator,
    read_table,
)
from dadkhah.estimate.lcmcr import LCMCR, lcmcr
from dadkhah.estimate.simple import Chao, LincolnPetersen, chao, lincoln_petersen

METHODS = ("lcmcr", "loglinear", "chao", "lincoln-petersen")


def estimator_for(method: str, **params) -> Estimator:
    """A fresh estimator of ``method`` with ``params`` (unknown parameters are refused)."""
    if method == "lcmcr":
        return LCMCR(**params)
    if method == "loglinear":
        from dadkhah.estimate.loglinear import LogLinear

        return LogLinear(**params)
    if method == "chao":
        return Chao(**params)
    if method == "lincoln-petersen":
        return LincolnPetersen(**params)
    raise EstimationError(f"--method must be one of {', '.join(METHODS)}, not {method!r}")


def estimate_table(table: CaptureTable, method: str, **params) -> EstimateResult:
    """Run ``method`` on ``table`` and return its result."""
    try:
        estimator = estimator_for(method, **params)
    except TypeError as exc:
        raise EstimationError(f"{method}: {exc}") from None
    return estimator.fit(table).result_


__all__ = [
    "CaptureTable", "EstimateResult", "EstimationError", "Estimator", "read_table", "METHODS", "estimator_for",
    "estimate_table", "LCMCR", "lcmcr", "Chao", "chao", "LincolnPetersen", "lincoln_petersen",
]
