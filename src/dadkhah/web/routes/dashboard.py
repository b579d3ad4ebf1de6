"""The dashboard: totals per source, city and incident; the latest estimate with its interval."""

from __future__ import annotations

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from dadkhah.web.i18n import current_language
from dadkhah.web.routes.estimates import chart_address, chart_svg
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render

router = APIRouter()


def dashboard_document(store) -> dict:
    from dadkhah.estimate.stored import latest_estimate
    from dadkhah.report.summary import case_summary

    with store.session() as session:
        summary = case_summary(session)
        estimate = latest_estimate(session)
    if estimate is not None:
        estimate["chart"] = chart_address(estimate["id"])
    return {"records": summary["records"], "persons": summary["persons"], "sources": summary["sources"],
            "cities": summary["cities"], "incidents": summary["incidents"], "latest_estimate": estimate}


@router.get("/", include_in_schema=False)
async def dashboard_page(request: Request, viewer: Viewer = require("registry")):
    store = request.app.state.store
    document = await run_in_threadpool(dashboard_document, store)
    chart = None
    if document["latest_estimate"] is not None:
        chart = Markup(await run_in_threadpool(chart_svg, store, document["latest_estimate"], current_language(),
                                               element_id="latest-estimate-chart"))
    return await render(request, "dashboard.html", document, chart=chart)


@router.get("/api/v1/dashboard", summary="Totals per source, city and incident; the latest estimate")
async def dashboard_api(request: Request, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(dashboard_document, request.app.state.store)
