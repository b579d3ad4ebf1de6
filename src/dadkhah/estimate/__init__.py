"""Estimating how many were killed in total from several incomplete lists (multiple systems estimation).

Each method is an estimator class with a function twin; :func:`estimate_table` runs one by name.
"""

from __future__ import annotations

from dadkhah.errors import InputError
from dadkhah.estimate.core import (
    CaptureTable,
    EstimateResult,
    EstimationError,
    Estimator,
    read_table,
)
from dadkhah.estimate.lcmcr import LCMCR, lcmcr
from dadkhah.estimate.simple import Chao, LincolnPetersen, chao, lincoln_petersen

METHODS = ("lcmcr", "loglinear", "bma", "chao", "lincoln-petersen")


def estimator_for(method: str, **params) -> Estimator:
    """A fresh estimator of ``method`` with ``params`` (unknown parameters are refused)."""
    if method == "lcmcr":
        return LCMCR(**params)
    if method == "loglinear":
        from dadkhah.estimate.loglinear import LogLinear

        return LogLinear(**params)
    if method == "bma":
        from dadkhah.estimate.bma import BMA

        return BMA(**params)
    if method == "chao":
        return Chao(**params)
    if method == "lincoln-petersen":
        return LincolnPetersen(**params)
    raise InputError(f"the method must be one of {', '.join(METHODS)}, not {method!r}", field="method")


def method_parameters(method: str, *, seed: int | None = None, level: float = 0.95, iterations: int | None = None,
                      latent_classes: int | None = None, burn_in: int | None = None, thin: int | None = None,
                      chains: int | None = None, selection: str | None = None, max_order: int | None = None,
                      interval: str | None = None, model_uncertainty: bool | None = None,
                      delta: float | None = None) -> dict:
    """The parameters ``method`` takes, from those given (the rest keep the estimator's defaults)."""
    if method not in METHODS:
        raise InputError(f"the method must be one of {', '.join(METHODS)}, not {method!r}", field="method")
    if not 0.5 <= level < 1:
        raise InputError(f"the interval level must be at least 0.5 and below 1, not {level}", field="level")
    given = {"level": level}
    if method == "lcmcr":
        given |= {"random_state": seed, "iterations": iterations, "latent_classes": latent_classes,
                  "burn_in": burn_in, "thin": thin, "chains": chains}
    elif method == "loglinear":
        given |= {"random_state": seed, "selection": selection, "max_order": max_order, "interval": interval,
                  "model_uncertainty": model_uncertainty}
    elif method == "bma":
        given |= {"delta": delta}
    return {k: v for k, v in given.items() if v is not None}


def estimate_table(table: CaptureTable, method: str, **params) -> EstimateResult:
    """Run ``method`` on ``table`` and return its result."""
    try:
        estimator = estimator_for(method, **params)
    except TypeError as exc:
        raise EstimationError(f"{method}: {exc}") from None
    return estimator.fit(table).result_


__all__ = [
    "CaptureTable", "EstimateResult", "EstimationError", "Estimator", "read_table", "METHODS", "estimator_for",
    "estimate_table", "method_parameters", "LCMCR", "lcmcr", "Chao", "chao", "LincolnPetersen", "lincoln_petersen",
]
