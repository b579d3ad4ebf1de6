"""Estimates: stored estimates of the total toll, one with its diagnostics and chart, and asking for a new one.

A new estimate is a background job (:mod:`dadkhah.jobs`): the form and its API twin submit it and
answer at once with the job (the page redirects to the job's page, which follows its progress; the
API answers 202 with the job and its address in ``Location``), and a worker process runs it for
the user who asked. The web application itself never runs an estimate.

The estimators pull in numba and scipy: they are imported inside the functions that use them, as
the CLI does, so that the application starts quickly and pages that do not estimate stay light.

The chart is SVG drawn by :mod:`dadkhah.report.charts` in the viewer's language (Persian words and
digits, mirrored, on Persian pages): inline in the page, and at ``chart.svg`` for the API's readers.
"""

from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError, InputError
from dadkhah.jobs import submit_job
from dadkhah.web.i18n import current_language
from dadkhah.web.params import Page, Paging, RowId
from dadkhah.web.routes.jobs import job_document
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render

router = APIRouter()

# What one person may ask of the worker from the web: LCMCR sweeps per chain are bounded (the CLI is not).
MIN_ITERATIONS, MAX_ITERATIONS, DEFAULT_ITERATIONS = 1_000, 200_000, 100_000
MAX_THRESHOLDS = 10
MAX_REPLICATES = 50
# Kept here (not imported from dadkhah.estimate) so that showing the form does not load numba.
# "auto" (preselected) lets the estimate choose from each table's number of lists, as the CLI does.
METHOD_CHOICES = ("auto", "lcmcr", "loglinear", "bma", "chao", "lincoln-petersen")
STRATA_CHOICES = ("city", "province", "month", "gender")


class EstimateRun(BaseModel):
    """Ask for an estimate from the linked registry (a background job)."""

    method: str = Field("auto", max_length=40,
                        description="auto (chosen from the number of lists, with the reason in the result: bma for "
                                    "3-5 lists, lcmcr for 6 or more, lincoln-petersen for 2), lcmcr, loglinear, "
                                    "bma, chao or lincoln-petersen")
    by: str | None = Field(None, max_length=20, description="Stratify by city, province, month or gender (or none).")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Random seed: the same seed gives the same result.")
    level: float = Field(0.95, ge=0.5, lt=1, description="Interval level.")
    iterations: int | None = Field(None, ge=MIN_ITERATIONS, le=MAX_ITERATIONS,
                                   description="LCMCR: sweeps kept after burn-in, per chain.")
    linkage_thresholds: list[float] = Field(default_factory=list, max_length=MAX_THRESHOLDS,
                                            description="Re-estimate under each of these linkage thresholds.")
    replicates: int = Field(10, ge=2, le=MAX_REPLICATES,
                            description="How many versions of the data (drawn linkage, drawn missing strata) are "
                                        "estimated and combined.")
    linkage_uncertainty: bool | None = Field(None, description="Carry the linkage's uncertainty into the interval "
                                                               "(default: when the linkage run kept its pairs).")
    keep_unknown: bool = Field(False, description="With a stratum: keep an 'unknown' stratum instead of drawing the "
                                                  "missing values.")


def list_document(store, page: Page) -> dict:
    from dadkhah.estimate.stored import list_estimates

    with store.session() as session:
        rows = list_estimates(session, limit=page.fetch, offset=page.offset)
    return page.document("estimates", rows) | {
            "methods": list(METHOD_CHOICES), "strata": list(STRATA_CHOICES),
            "iterations": {"min": MIN_ITERATIONS, "max": MAX_ITERATIONS, "default": DEFAULT_ITERATIONS}}


def estimate_document(store, estimate_id: int) -> dict:
    from dadkhah.estimate.stored import estimate_report

    with store.session() as session:
        document = estimate_report(session, estimate_id)
    return document | {"chart": chart_address(estimate_id)}


def chart_address(estimate_id: int) -> str:
    return f"/estimates/{estimate_id}/chart.svg"


def chart_svg(store, document: dict, language: str, *, element_id: str | None = None) -> str:
    """The chart of the estimate ``document`` in ``language``: strata that are places named in it.
    With ``element_id``, for a page (no ``xmlns``); without, a standalone SVG document."""
    from dadkhah.report.charts import estimate_chart, stratum_labels

    with store.session() as session:
        names = stratum_labels(session, document.get("by"), language)
    return estimate_chart(document, language=language, names=names, standalone=element_id is None,
                          element_id=element_id)


def chart_of(store, estimate_id: int, language: str) -> str:
    from dadkhah.estimate.stored import get_estimate

    with store.session() as session:
        document = get_estimate(session, estimate_id)
    return chart_svg(store, document, language)


def submit_estimate(store, viewer: Viewer, run: EstimateRun) -> dict:
    """Submit the estimate as a background job for the viewer; answers the job."""
    job_id = submit_job(store, actor=viewer.actor, kind="estimate run", parameters={
        "method": run.method, "by": run.by or None, "linkage_thresholds": run.linkage_thresholds, "seed": run.seed,
        "level": run.level, "iterations": run.iterations or DEFAULT_ITERATIONS, "replicates": run.replicates,
        "linkage_uncertainty": run.linkage_uncertainty, "keep_unknown": run.keep_unknown})
    return job_document(store, job_id)


def _parse_form(method: str, by: str, seed: str, level: str, iterations: str, linkage_thresholds: str,
                replicates: str = "", linkage_uncertainty: str = "", keep_unknown: str = "") -> EstimateRun:
    """The run form's text fields as an :class:`EstimateRun`, or an InputError naming the field."""

    def number(text: str, field: str, kind, low, high, *, below: bool = False):
        text = text.strip()
        if not text:
            return None
        try:
            value = kind(text)
        except ValueError:
            raise InputError(f"{text!r} is not a number", field=field) from None
        if value < low or (value >= high if below else value > high):
            raise InputError(f"must be from {low} to {high}{' (not included)' if below else ''}, not {text}", field=field)
        return value

    if by.strip() and by.strip() not in STRATA_CHOICES:
        raise InputError(f"stratify by one of {', '.join(STRATA_CHOICES)} (or nothing), not {by!r}", field="by")
    thresholds = []
    for part in (linkage_thresholds or "").replace(";", ",").split(","):
        value = number(part, "linkage_thresholds", float, 0.0, 1.0, below=True)
        if value is not None:
            thresholds.append(value)
    if len(thresholds) > MAX_THRESHOLDS:
        raise InputError(f"at most {MAX_THRESHOLDS} linkage thresholds", field="linkage_thresholds")
    level_value = number(level, "level", float, 0.5, 1.0, below=True)
    if linkage_uncertainty.strip() not in ("", "yes", "no"):
        raise InputError(f"yes or no, not {linkage_uncertainty!r}", field="linkage_uncertainty")
    copies = number(replicates, "replicates", int, 2, MAX_REPLICATES)
    try:
        return EstimateRun(method=method.strip() or "auto", by=by.strip() or None, seed=number(seed, "seed", int, 0, 2**32 - 1),
                           level=0.95 if level_value is None else level_value,
                           iterations=number(iterations, "iterations", int, MIN_ITERATIONS, MAX_ITERATIONS),
                           linkage_thresholds=thresholds, replicates=10 if copies is None else copies,
                           linkage_uncertainty={"yes": True, "no": False}.get(linkage_uncertainty.strip()),
                           keep_unknown=bool(keep_unknown.strip()))
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise InputError(problem.get("msg", "invalid"), field=".".join(str(p) for p in problem.get("loc", ()))) from None


@router.get("/estimates", include_in_schema=False)
async def estimates_page(request: Request, page: Paging, viewer: Viewer = require("registry")):
    document = await run_in_threadpool(list_document, request.app.state.store, page)
    return await render(request, "estimates.html", document, error=None, form={})


@router.get("/api/v1/estimates", summary="Stored estimates, newest first (paged)")
async def estimates_api(request: Request, page: Paging, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(list_document, request.app.state.store, page)


@router.post("/estimates/run", include_in_schema=False)
async def run_page(request: Request, method: str = Form("auto"), by: str = Form(""), seed: str = Form(""),
                   level: str = Form(""), iterations: str = Form(""), linkage_thresholds: str = Form(""),
                   replicates: str = Form(""), linkage_uncertainty: str = Form(""), keep_unknown: str = Form(""),
                   viewer: Viewer = require("estimates")):
    store = request.app.state.store
    try:
        run = _parse_form(method, by, seed, level, iterations, linkage_thresholds, replicates, linkage_uncertainty,
                          keep_unknown)
        job = await run_in_threadpool(submit_estimate, store, viewer, run)
    except DadkhahError as exc:
        document = await run_in_threadpool(list_document, store, Page(1, request.app.state.settings.page_size))
        form = {"method": method, "by": by, "seed": seed, "level": level, "iterations": iterations,
                "linkage_thresholds": linkage_thresholds, "replicates": replicates,
                "linkage_uncertainty": linkage_uncertainty, "keep_unknown": keep_unknown}
        return await render(request, "estimates.html", document, status_code=400, error=exc.to_dict(), form=form)
    return RedirectResponse(job["links"]["page"], status_code=303)


@router.post("/api/v1/estimates/run", status_code=202,
             summary="Ask for an estimate from the linked registry: a background job, answered at once (202) with "
                     "the job and its address in Location; once done, its result names the stored estimate")
async def run_api(request: Request, body: EstimateRun, response: Response,
                  viewer: Viewer = require("estimates")) -> dict:
    job = await run_in_threadpool(submit_estimate, request.app.state.store, viewer, body)
    response.headers["location"] = job["links"]["api"]
    return job


@router.get("/estimates/{estimate_id}", include_in_schema=False)
async def estimate_page(request: Request, estimate_id: RowId, viewer: Viewer = require("registry")):
    store = request.app.state.store
    document = await run_in_threadpool(estimate_document, store, estimate_id)
    chart = await run_in_threadpool(chart_svg, store, document, current_language(), element_id="estimate-chart")
    return await render(request, "estimates_detail.html", document, chart=Markup(chart))


@router.get("/api/v1/estimates/{estimate_id}", summary="One estimate: result, interval, diagnostics, strata, sensitivity")
async def estimate_api(request: Request, estimate_id: RowId, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(estimate_document, request.app.state.store, estimate_id)


@router.get("/estimates/{estimate_id}/chart.svg", include_in_schema=False)
async def estimate_chart(request: Request, estimate_id: RowId, viewer: Viewer = require("registry")):
    svg = await run_in_threadpool(chart_of, request.app.state.store, estimate_id, current_language())
    return Response(svg, media_type="image/svg+xml", headers={"cache-control": "no-store"})
