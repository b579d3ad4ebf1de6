"""Background jobs: the list, one job with its progress (a page that follows it by itself), and
cancelling one.

The web application never runs a job: it submits them (the estimate form, ``routes.estimates``)
and a worker process runs them (the one ``dadkhah serve`` starts, or ``dadkhah worker``). A job's
page follows its progress with ``/static/jobs.js``, which asks ``/api/v1/jobs/{id}`` every second
and reloads the page when the job ends; without JavaScript the page refreshes itself every few
seconds while the job is active (a ``<meta http-equiv="refresh">``, which the Content-Security-Policy
leaves alone), and has a link to do so.

Reading jobs needs what reading estimates needs, and, for an intake from a field tool (whose result
names testimonies and what refused submissions said), ``vault``; cancelling one, what asking for it needed (for an
estimate, the permission ``estimates``; for a list's import, ``sources``; for a printed report,
``publication``; for a memorial site, ``publication``; for an intake from a field tool, ``vault``). Downloading what a job made (a printed
report, a memorial site's zip: ``/jobs/{id}/file``) needs what asking for it needed.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError, InputError, NotFound
from dadkhah.jobs import KINDS, cancel_job, list_jobs, printed_file, show_job
from dadkhah.model import JOB_STATUSES
from dadkhah.store import PRINTED_KEEP_DAYS
from dadkhah.web.downloads import send_kept
from dadkhah.web.params import Page, Paging, RowId
from dadkhah.web.security import Forbidden, Viewer, require
from dadkhah.web.templating import render

router = APIRouter()

STATUS_FILTER = r"^(active|queued|running|done|failed|cancelled)$"
PUBLISHED = ("report print", "memorial build")  # the kinds of job whose result is a file to download


def links(job: dict, viewer: Viewer | None = None) -> dict:
    """Where a job is shown, and, once done, what it made (the file it made only for whoever may
    download it: ``viewer`` None is the server itself)."""
    found = {"page": f"/jobs/{job['id']}", "api": f"/api/v1/jobs/{job['id']}"}
    result = job.get("result") or {}
    if job["status"] == "done" and result.get("estimate_id") is not None:
        found |= {"result_page": f"/estimates/{result['estimate_id']}",
                  "result_api": f"/api/v1/estimates/{result['estimate_id']}"}
    if job["status"] == "done" and job["kind"] == "intake":
        return found | {"result_page": "/intake", "result_api": "/api/v1/intake"}
    if job["status"] == "done" and result.get("import_id") is not None:
        found |= {"result_page": f"/sources/imports/{result['import_id']}",
                  "result_api": f"/api/v1/sources/imports/{result['import_id']}"}
    if (job["status"] == "done" and job["kind"] in PUBLISHED and result.get("file")
            and (viewer is None or viewer.can(cancel_permission(job["kind"])))):
        found |= {"file": f"/jobs/{job['id']}/file", "file_api": f"/api/v1/jobs/{job['id']}/file"}
    return found


def cancel_permission(kind: str) -> str:
    """What cancelling a job of ``kind`` needs: what asking for it needed (a kind this version does
    not know: managing users)."""
    return KINDS[kind].permission if kind in KINDS else "users"


def hidden_kinds(viewer: Viewer | None) -> tuple[str, ...]:
    """The kinds of job ``viewer`` may not see (None: the server itself, which sees every kind)."""
    return tuple(name for name, kind in KINDS.items()
                 if viewer is not None and kind.read_permission and not viewer.can(kind.read_permission))


def job_document(store, job_id: int, viewer: Viewer | None = None) -> dict:
    """One job, for ``viewer``: a kind they may not see is refused (403), as if asked for by its permission."""
    with store.session() as session:
        job = show_job(session, job_id)
    if job["kind"] in hidden_kinds(viewer):
        raise Forbidden(KINDS[job["kind"]].read_permission)
    document = job | {"links": links(job, viewer)}
    if "file" in document["links"]:  # kept some days (dadkhah.store.PRINTED_KEEP_DAYS)
        document["file_kept"] = printed_file(store.workspace, job["result"]) is not None
    return document


def printed(store, viewer: Viewer, job_id: int) -> tuple[Path, dict]:
    """What a done "report print" or "memorial build" job made (the PDF, the site's zip), for whoever
    may ask for one, and its job."""
    with store.session() as session:
        job = show_job(session, job_id)
    if job["kind"] not in PUBLISHED:
        raise NotFound(f"job {job_id} makes no file to download: it is a {job['kind']}")
    permission = cancel_permission(job["kind"])
    if not viewer.can(permission):
        raise Forbidden(permission)
    if job["status"] != "done":
        raise InputError(f"it is not made yet: the job is {job['status']}", field="job")
    path = printed_file(store.workspace, job["result"])
    if path is None:
        raise NotFound(f"what job {job_id} made was removed ({PRINTED_KEEP_DAYS} days after it was made): "
                       "ask for it again")
    return path, job


def _download(store, viewer: Viewer, job_id: int):
    path, job = printed(store, viewer, job_id)
    result = job["result"]
    day = (job["finished_at"] or "")[:10]
    if job["kind"] == "memorial build":
        name, media_type = f"dadkhah-memorial-{day}.zip", "application/zip"
    else:
        what = f"-{result['official']}" if result.get("official") else ""
        name, media_type = f"dadkhah-report-{result['language']}{what}-{day}.pdf", "application/pdf"
    return send_kept(path, name=name, media_type=media_type,
                     headers={"x-dadkhah-sha256": result["sha256"], "cache-control": "no-store"})


def jobs_document(store, page: Page, status: str | None = None, viewer: Viewer | None = None) -> dict:
    with store.session() as session:
        rows = list_jobs(session, status=status, limit=page.fetch, offset=page.offset,
                         hidden_kinds=hidden_kinds(viewer))
    return page.document("jobs", [job | {"links": links(job, viewer)} for job in rows]) | {
        "status": status, "statuses": ["active", *JOB_STATUSES]}


def _cancel(store, viewer: Viewer, job_id: int) -> dict:
    """Cancel, for whoever may ask for a job of its kind."""
    with store.session() as session:
        permission = cancel_permission(show_job(session, job_id)["kind"])
    if not viewer.can(permission):
        raise Forbidden(permission)
    cancel_job(store, actor=viewer.actor, job_id=job_id)
    return job_document(store, job_id, viewer)


@router.get("/jobs", include_in_schema=False)
async def jobs_page(request: Request, page: Paging, viewer: Viewer = require("registry"),
                    status: str | None = Query(None, pattern=STATUS_FILTER)):
    document = await run_in_threadpool(jobs_document, request.app.state.store, page, status, viewer)
    return await render(request, "jobs.html", document)


@router.get("/api/v1/jobs", summary="Background jobs, newest first (paged; status: active, queued, running, done, "
                                    "failed or cancelled)")
async def jobs_api(request: Request, page: Paging, viewer: Viewer = require("registry"),
                   status: str | None = Query(None, pattern=STATUS_FILTER)) -> dict:
    return await run_in_threadpool(jobs_document, request.app.state.store, page, status, viewer)


@router.get("/jobs/{job_id}", include_in_schema=False)
async def job_page(request: Request, job_id: RowId, viewer: Viewer = require("registry")):
    document = await run_in_threadpool(job_document, request.app.state.store, job_id, viewer)
    return await render(request, "job.html", document, error=None, may_cancel=viewer.can(cancel_permission(document["kind"])))


@router.get("/api/v1/jobs/{job_id}", summary="One background job: its status, progress, and its result (or why it failed)")
async def job_api(request: Request, job_id: RowId, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(job_document, request.app.state.store, job_id, viewer)


@router.get("/jobs/{job_id}/file", include_in_schema=False)
async def file_page(request: Request, job_id: RowId, viewer: Viewer = require("publication")):
    return await run_in_threadpool(_download, request.app.state.store, viewer, job_id)


@router.get("/api/v1/jobs/{job_id}/file", response_class=StreamingResponse,
            summary="What a done job made for download: the printed report's PDF, or the memorial site's zip (kept "
                    "some days after it was made); `X-Dadkhah-SHA256` is its SHA-256",
            responses={200: {"description": "The file, as an attachment",
                             "content": {"application/pdf": {}, "application/zip": {}}}})
async def file_api(request: Request, job_id: RowId, viewer: Viewer = require("publication")):
    return await run_in_threadpool(_download, request.app.state.store, viewer, job_id)


@router.post("/jobs/{job_id}/cancel", include_in_schema=False)
async def cancel_page(request: Request, job_id: RowId, viewer: Viewer = require("registry")):
    store = request.app.state.store
    try:
        await run_in_threadpool(_cancel, store, viewer, job_id)
    except (NotFound, Forbidden):
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(job_document, store, job_id, viewer)
        return await render(request, "job.html", document, error=exc.to_dict(), status_code=400,
                            may_cancel=viewer.can(cancel_permission(document["kind"])))
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/api/v1/jobs/{job_id}/cancel",
             summary="Cancel a background job: a queued one at once, a running one at its next progress report")
async def cancel_api(request: Request, job_id: RowId, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(_cancel, request.app.state.store, viewer, job_id)
