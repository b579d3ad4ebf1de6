"""The dashboard: totals per source, city and incident; the latest estimate with its interval."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

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
        estimate["chart"] = f"/estimates/{estimate['id']}/chart.png"
    return {"records": summary["records"], "persons": summary["persons"], "sources": summary["sources"],
            "cities": summary["cities"], "incidents": summary["incidents"], "latest_estimate": estimate}


@router.get("/", include_in_schema=False)
async def dashboard_page(request: Request, viewer: Viewer = require("registry")):
    document = await run_in_threadpool(dashboard_document, request.app.state.store)
    return await render(request, "dashboard.html", document)


@router.get("/api/v1/dashboard", summary="Totals per source, city and incident; the latest estimate")
async def dashboard_api(request: Request, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(dashboard_document, request.app.state.store)
