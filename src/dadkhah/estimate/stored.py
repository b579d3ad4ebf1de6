"""Stored estimates, read back: the CLI's ``estimate list`` and ``estimate show``, the dashboard and the
estimates pages."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.errors import NotFound
from dadkhah.link.review import latest_run
from dadkhah.model import Estimate


def estimate_to_dict(row: Estimate, *, full: bool = False) -> dict:
    document = {"id": row.id, "created_at": row.created_at.isoformat(), "created_by": row.created_by,
                "source": row.source, "input": row.input_name, "linkage_run_id": row.linkage_run_id,
                "by": row.stratified_by, "method": row.method, "model": row.model, "observed": row.observed,
                "estimate": row.estimate, "interval": [row.interval_low, row.interval_high], "level": row.level,
                "input_sha256": row.input_sha256, "software": row.software, "warnings": row.warnings}
    if full:
        document |= {"parameters": row.parameters, "diagnostics": row.diagnostics, "strata": row.strata,
                     "sensitivity": row.sensitivity}
    return document


def list_estimates(session: Session, *, limit: int | None = None, offset: int = 0) -> list[dict]:
    """Stored estimates, newest first."""
    query = sa.select(Estimate).order_by(Estimate.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [estimate_to_dict(row) for row in session.scalars(query)]


def get_estimate(session: Session, estimate_id: int) -> dict:
    """One stored estimate with its parameters, diagnostics, strata and sensitivity."""
    row = session.get(Estimate, estimate_id)
    if row is None:
        raise NotFound(f"no estimate with id {estimate_id} (see `dadkhah estimate list`)")
    return estimate_to_dict(row, full=True)


LOWER_BOUNDS = ("chao",)  # methods whose figure is a floor under the total, not an estimate of it


def latest_estimate(session: Session, *, overall: bool = True, of_the_total: bool = False) -> dict | None:
    """The newest estimate from the registry (unstratified unless ``overall`` is False), or None.

    ``of_the_total``: never a lower bound (Chao's), which a printed report or a memorial would
    otherwise give as how many were killed in all. ``stale`` in the answer: a linkage run has
    finished since, so the registry the estimate was made from is no longer the registry."""
    query = sa.select(Estimate).where(Estimate.source == "registry")
    if of_the_total:
        query = query.where(Estimate.method.not_in(LOWER_BOUNDS))
    if overall:
        query = query.where(Estimate.stratified_by.is_(None))
    row = session.scalars(query.order_by(Estimate.id.desc()).limit(1)).first()
    if row is None:
        return None
    newest = latest_run(session)
    return estimate_to_dict(row, full=True) | {
        "stale": newest is not None and row.linkage_run_id is not None and newest.id != row.linkage_run_id}


def estimate_report(session: Session, estimate_id: int) -> dict:
    """One stored estimate (as :func:`get_estimate`) with what its strata and sensitivity add up to
    (see :func:`sums`) and the uncertainty its replicates drew."""
    document = get_estimate(session, estimate_id)
    document |= sums(document.get("strata") or [], document.get("sensitivity") or [])
    if "uncertainty" in (document.get("parameters") or {}):
        document["uncertainty"] = document["parameters"]["uncertainty"]
    return document


def sums(strata: list[dict], sensitivity: list[dict]) -> dict:
    """``strata_total``: the estimable strata summed, the people named in the others added as counted
    (a floor); ``linkage_sensitivity``: the spread of the estimate across linkage thresholds. Each
    None when there is nothing to sum. (The same for an estimate just made and one read back.)"""
    found = {"strata_total": None, "linkage_sensitivity": None}
    if strata:
        estimable = [s for s in strata if s.get("estimate") is not None]
        unestimated = sum(s.get("observed") or 0 for s in strata if s.get("estimate") is None)
        found["strata_total"] = {"estimate": sum(s["estimate"] for s in estimable) + unestimated,
                                 "observed": sum(s.get("observed") or 0 for s in strata),
                                 "observed_in_unestimated_strata": unestimated,
                                 "strata_estimated": len(estimable), "strata": len(strata)}
    if sensitivity:
        estimates = [r["estimate"] for r in sensitivity]
        found["linkage_sensitivity"] = {"runs": sensitivity, "spread": max(estimates) - min(estimates),
                                        "lowest": min(estimates), "highest": max(estimates)}
    return found
