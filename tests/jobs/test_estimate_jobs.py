"""An estimate as a job, on the linked case: the worker stores it, with its audit event, for the user
who asked, exactly as a run they waited for; a failing one stores nothing."""

from __future__ import annotations

import sqlalchemy as sa

from dadkhah.audit import Actor, list_audit, verify_audit
from dadkhah.jobs import run_worker, show_job, submit_job
from dadkhah.jobs.kinds import (
    ESTIMATE_METHODS,
    ESTIMATE_PARAMETERS,
    ESTIMATE_STRATA,
    LOGLINEAR_INTERVALS,
    LOGLINEAR_SELECTIONS,
    validate_estimate,
)
from dadkhah.model import Estimate

ANALYST = Actor("analyst", "web", "192.0.2.7")


def test_the_kinds_parameters_are_the_estimates_own():
    """The job checks parameters without loading the estimators: its lists must be theirs."""
    import inspect

    from dadkhah.estimate import AUTO, METHODS, method_parameters
    from dadkhah.estimate.loglinear import _INTERVALS, _SELECTIONS
    from dadkhah.estimate.registry import STRATA, run_registry_estimate

    assert ESTIMATE_METHODS == (AUTO, *METHODS) and ESTIMATE_STRATA == STRATA
    assert set(LOGLINEAR_INTERVALS) == set(_INTERVALS) and set(LOGLINEAR_SELECTIONS) <= set(_SELECTIONS)
    settings = set(inspect.signature(method_parameters).parameters) - {"method"}
    run = inspect.signature(run_registry_estimate).parameters
    own = {name for name, p in run.items() if p.kind is p.KEYWORD_ONLY} - {"actor", "thresholds", "progress"}
    assert set(ESTIMATE_PARAMETERS) == settings | own | {"linkage_thresholds"}
    every = {"seed": 7, "level": 0.9, "iterations": 10, "latent_classes": 3, "burn_in": 5, "thin": 2, "chains": 2,
             "selection": "aic", "max_order": 2, "interval": "profile", "model_uncertainty": False, "delta": 0.1}
    for method in ESTIMATE_METHODS:  # a job keeps the settings its method takes, as a run does
        taken = set(method_parameters(method, **every)) - {"random_state", "seed", "level"}
        kept = set(validate_estimate({"method": method, **every})) - {"method", "by", "linkage_thresholds", "seed",
                                                                      "level"}
        assert kept == taken, method


def test_an_estimate_job_is_stored_and_audited_for_the_user_who_asked(copy_of_linked):
    store = copy_of_linked
    job_id = submit_job(store, actor=ANALYST, kind="estimate run",
                        parameters={"method": "chao", "by": "gender", "linkage_thresholds": [0.9]})
    assert run_worker(store, once=True, progress_every=0) == 1
    with store.session() as session:
        job = show_job(session, job_id)
        estimate = session.get(Estimate, job["result"]["estimate_id"])
        events = list_audit(session, limit=2)
    assert job["status"] == "done", job["error"]
    assert job["progress"]["done"] == job["progress"]["total"] > len(estimate.strata) + 1  # each stratum, the threshold
    assert job["result"]["method"] == "chao" and job["result"]["estimate"] == estimate.estimate
    assert job["result"]["interval"] == [estimate.interval_low, estimate.interval_high]
    assert estimate.created_by == "analyst" and estimate.stratified_by == "gender"
    assert [s["threshold"] for s in estimate.sensitivity] == [0.9]
    [run, submitted] = events
    assert (run["action"], run["actor"], run["channel"], run["address"], run["object_id"]) == (
        "estimate run", "analyst", "web", "192.0.2.7", str(estimate.id))
    assert run["details"]["thresholds"] == [0.9] and submitted["action"] == "job submitted"
    assert verify_audit(store)["intact"]


def test_an_estimate_the_registry_cannot_give_fails_and_stores_nothing(copy_of_linked):
    store = copy_of_linked
    with store.session() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(Estimate))
    job_id = submit_job(store, actor=ANALYST, kind="estimate run",
                        parameters={"method": "chao", "linkage_thresholds": [0.01]})
    run_worker(store, once=True)
    with store.session() as session:
        job = show_job(session, job_id)
        assert session.scalar(sa.select(sa.func.count()).select_from(Estimate)) == before
        actions = [e["action"] for e in list_audit(session, limit=1)]
    assert job["status"] == "failed" and "linkage threshold 0.01" in job["error"]
    assert actions == ["job submitted"], "a failed run records no estimate"


def test_an_estimate_job_on_each_database_fails_plainly_without_persons(store):
    """The estimate kind itself on SQLite and PostgreSQL: with no linkage run yet, the worker keeps the
    estimate's own message, and nothing is stored."""
    job_id = submit_job(store, actor=ANALYST, kind="estimate run", parameters={"method": "chao"})
    assert run_worker(store, once=True) == 1
    with store.session() as session:
        job = show_job(session, job_id)
        assert session.scalar(sa.select(sa.func.count()).select_from(Estimate)) == 0
    assert job["status"] == "failed" and "link run" in job["error"]
