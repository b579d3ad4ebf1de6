"""Estimating how many were killed in total from several incomplete lists (multiple systems estimation).

Each method is an estimator class with a function twin; :func:`estimate_table` runs one by name.
The estimators are imported when first used (LCMCR brings numba, the others scipy: about a second),
so that reading stored estimates (``dadkhah.estimate.stored``, the web's estimate pages, ``estimate
list``) does not load them.
"""

from __future__ import annotations

import dataclasses

from dadkhah.errors import InputError
from dadkhah.estimate.core import (
    CaptureTable,
    EstimateResult,
    EstimationError,
    Estimator,
    read_table,
)

# The estimators, by name, and the module each comes from: loaded on first use (see __getattr__).
_ESTIMATORS = {"LCMCR": "lcmcr", "lcmcr": "lcmcr", "Chao": "simple", "chao": "simple",
               "LincolnPetersen": "simple", "lincoln_petersen": "simple"}


def __getattr__(name: str):
    if name in _ESTIMATORS:
        import importlib

        value = getattr(importlib.import_module(f"dadkhah.estimate.{_ESTIMATORS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

METHODS = ("lcmcr", "loglinear", "bma", "chao", "lincoln-petersen")
AUTO = "auto"  # no method named: :func:`choose_method` picks one from the number of lists

TWO_LISTS_WARNING = ("two lists only: the Lincoln-Petersen estimate assumes the lists are independent, which two "
                     "lists cannot check; lists that tend to name the same people make it too low")


def choose_method(n_lists: int) -> tuple[str, str]:
    """The method used when none is named, and why, from the number of lists of the table estimated.

    3-5 lists: Bayesian model averaging over decomposable graphical models (``bma``), whose interval
    includes the uncertainty about which lists depend on which; 6 or more: LCMCR, as the graphs
    become too many to average over and LCMCR is the standard for many lists; 2 lists: Lincoln-
    Petersen, the only estimate two lists allow, with a warning that it assumes independence.
    """
    if n_lists <= 2:
        return "lincoln-petersen", ("2 lists: Lincoln-Petersen is the only estimate two lists allow; it assumes the "
                                    "lists are independent, which cannot be checked")
    if n_lists <= 5:
        return "bma", (f"{n_lists} lists: model averaging over every decomposable graphical model (3 to 5 lists), "
                       "so the interval includes the uncertainty about how the lists depend on each other")
    return "lcmcr", (f"{n_lists} lists: LCMCR (latent classes), as model averaging takes at most 5 lists and "
                     "LCMCR is the standard for many lists")


def estimator_for(method: str, **params) -> Estimator:
    """A fresh estimator of ``method`` with ``params`` (unknown parameters are refused)."""
    if method == "lcmcr":
        from dadkhah.estimate.lcmcr import LCMCR

        return LCMCR(**params)
    if method == "loglinear":
        from dadkhah.estimate.loglinear import LogLinear

        return LogLinear(**params)
    if method == "bma":
        from dadkhah.estimate.bma import BMA

        return BMA(**params)
    if method == "chao":
        from dadkhah.estimate.simple import Chao

        return Chao(**params)
    if method == "lincoln-petersen":
        from dadkhah.estimate.simple import LincolnPetersen

        return LincolnPetersen(**params)
    raise InputError(f"the method must be one of {', '.join(METHODS)}, not {method!r}", field="method")


def method_parameters(method: str, *, seed: int | None = None, level: float = 0.95, iterations: int | None = None,
                      latent_classes: int | None = None, burn_in: int | None = None, thin: int | None = None,
                      chains: int | None = None, selection: str | None = None, max_order: int | None = None,
                      interval: str | None = None, model_uncertainty: bool | None = None,
                      delta: float | None = None) -> dict:
    """The parameters ``method`` takes, from those given (the rest keep the estimator's defaults)."""
    if method not in METHODS and method != AUTO:
        raise InputError(f"the method must be one of {AUTO}, {', '.join(METHODS)}, not {method!r}", field="method")
    if not 0.5 <= level < 1:
        raise InputError(f"the interval level must be at least 0.5 and below 1, not {level}", field="level")
    given = {"level": level}
    if method == "lcmcr":
        given |= {"random_state": seed, "iterations": iterations, "latent_classes": latent_classes,
                  "burn_in": burn_in, "thin": thin, "chains": chains}
    elif method == "loglinear":
        # Model uncertainty is in the interval by default, which needs a bootstrap interval: it is
        # the default interval, and off only when turned off or when a profile interval is asked for.
        if model_uncertainty is None:
            model_uncertainty = interval in (None, "bootstrap", "bca")
        if interval is None:
            interval = "bootstrap" if model_uncertainty else "profile"
        given |= {"random_state": seed, "selection": selection, "max_order": max_order, "interval": interval,
                  "model_uncertainty": model_uncertainty}
    elif method == "bma":
        given |= {"delta": delta}
    elif method == AUTO:  # every method's settings: the chosen method keeps its own
        given |= {"seed": seed, "iterations": iterations, "latent_classes": latent_classes, "burn_in": burn_in,
                  "thin": thin, "chains": chains, "selection": selection, "max_order": max_order,
                  "interval": interval, "model_uncertainty": model_uncertainty, "delta": delta}
    return {k: v for k, v in given.items() if v is not None}


def _named(lists: tuple[str, ...]) -> str:
    return f"list {lists[0]}" if len(lists) == 1 else "lists " + ", ".join(lists[:-1]) + " and " + lists[-1]


def estimate_table(table: CaptureTable, method: str, **params) -> EstimateResult:
    """Run ``method`` on ``table`` and return its result. Lists that record nobody in the table are
    left out first, with a warning (:meth:`CaptureTable.without_empty_lists`).

    With ``method="auto"``, ``params`` are :func:`method_parameters`' arguments (``seed``,
    ``iterations``, ...); the method is chosen by :func:`choose_method` and the result says why
    (``chosen_because``, also in its diagnostics).
    """
    for name in ("seed", "random_state"):  # NumPy's generators take 0 to 2^32 - 1 (a negative seed crashed them)
        if params.get(name) is not None and not 0 <= int(params[name]) <= 2**32 - 1:
            raise EstimationError(f"the seed is a whole number from 0 to 4294967295, not {params[name]}")
    table, empty = table.without_empty_lists()
    if empty:
        result = estimate_table(table, method, **params)
        left_out = (f"{_named(empty)} {'records' if len(empty) == 1 else 'record'} nobody in this table: left out, as a "
                    "list that names nobody says nothing about whom the other lists missed")
        return dataclasses.replace(result, warnings=(left_out, *result.warnings))
    if method == AUTO:
        chosen, because = choose_method(table.n_lists)
        result = estimate_table(table, chosen, **method_parameters(chosen, **params))
        warnings = result.warnings
        if chosen == "lincoln-petersen":  # (which says, and more, what the estimator's own warning says)
            from dadkhah.estimate.simple import INDEPENDENCE_WARNING

            warnings = tuple(w for w in warnings if w != INDEPENDENCE_WARNING) + (TWO_LISTS_WARNING,)
        return dataclasses.replace(result, chosen_because=because, warnings=warnings,
                                   diagnostics=result.diagnostics | {"method_requested": AUTO, "chosen_because": because})
    try:
        estimator = estimator_for(method, **params)
    except TypeError as exc:
        raise EstimationError(f"{method}: {exc}") from None
    return estimator.fit(table).result_


__all__ = [
    "CaptureTable", "EstimateResult", "EstimationError", "Estimator", "read_table", "METHODS", "AUTO", "choose_method",
    "estimator_for",
    "estimate_table", "method_parameters", "LCMCR", "lcmcr", "Chao", "chao", "LincolnPetersen", "lincoln_petersen",
]
