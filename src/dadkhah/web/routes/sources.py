"""Sources and their imports; uploading a list (CSV, TSV or XLSX) and the import's summary.

A list up to ``[import] web_in_request_mb`` (the workspace's settings; 16 MB unless set) is imported
while the upload waits, and answered with its import; a larger one is handed to a background job
(:func:`dadkhah.jobs.queue_list_import`), and answered at once with the job (the page goes to the
job's page; the API answers 202 with the job and its address in ``Location``), so that a long import
outlives the request, a proxy's timeout and a closed browser."""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError, InputError, LimitExceeded, Unavailable
from dadkhah.vault.files import safe_file_name
from dadkhah.web.params import Page, Paging, RowId
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render
from dadkhah.workspace import new_private_folder

router = APIRouter()

MAX_NAME = 120
IN_REQUEST_MB = 16  # about 100,000 rows: a few seconds' import


def upload_name(given: str | None) -> str:
    """The uploaded file's own name, made safe to save: one plain name, whatever path the client sent."""
    return safe_file_name(given, fallback="upload", max_length=MAX_NAME)


def sources_document(store) -> dict:
    from dadkhah.sources import sources_with_imports

    with store.session() as session:
        return {"sources": sources_with_imports(session)}


def import_document(store, import_id: int, page: Page) -> dict:
    from dadkhah.sources import get_import

    with store.session() as session:
        document = get_import(session, import_id, warnings_limit=page.fetch, warnings_offset=page.offset)
    return document | page.document("warnings", document["warnings"]) | {
        "quarantine_url": f"/sources/imports/{import_id}/quarantine.csv" if document["quarantine"] else None}


def in_request_mb(store) -> float:
    """How large a list the web imports while its upload waits (larger ones: a background job)."""
    return float((store.workspace.config.get("import") or {}).get("web_in_request_mb", IN_REQUEST_MB))


def _save_and_import(store, viewer: Viewer, upload: UploadFile, *, source: str, incident: str | None,
                     max_bytes: int) -> dict:
    """Save the upload in a private folder under a safe name, check it, and import it (answers the
    import) or, if it is large, queue its import (answers ``{"job": ...}``); remove the folder."""
    from dadkhah.ingest.importer import check_list_file, import_file
    from dadkhah.jobs import queue_list_import
    from dadkhah.sources import validate_source_name
    from dadkhah.web.routes.jobs import job_document

    name = upload_name(upload.filename)
    try:
        source = validate_source_name(source)
    except Unavailable:  # the 503 (Busy: with Retry-After), not a form's 400
        raise
    except DadkhahError as exc:
        raise InputError(str(exc), file=name, field="source") from None
    folder = new_private_folder(store.workspace, "upload")  # mode 0700, inside the workspace
    try:
        path = folder / name
        size = 0
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            upload.file.seek(0)
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise InputError(f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB",
                                     file=name, field="file")
                out.write(chunk)
        check_list_file(path, name=name)
        if size > in_request_mb(store) * 2**20:
            job_id = queue_list_import(store, actor=viewer.actor, path=path, source=source, incident=incident or None)
            return {"job": job_document(store, job_id)}
        try:
            summary = import_file(store, path, actor=viewer.actor, source=source, incident=incident or None)
        except InputError as exc:
            # Name the file as the user knows it, never the private folder it was saved in.
            raise type(exc)(exc.message, file=name, line=exc.line, field=exc.field) from None
        return summary.to_dict() | {"quarantine": bool(summary.quarantine),
                                    "url": f"/sources/imports/{summary.import_id}"}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _upload(request: Request, viewer: Viewer, file: UploadFile | None, source: str, incident: str) -> dict:
    if file is None or not file.filename:
        raise InputError("choose a list file to upload (CSV, TSV or XLSX)", field="file")
    settings = request.app.state.settings
    return await run_in_threadpool(_save_and_import, request.app.state.store, viewer, file, source=source,
                                   incident=incident.strip() or None, max_bytes=settings.max_upload_mb * 1024 * 1024)


@router.get("/sources", include_in_schema=False)
async def sources_page(request: Request, viewer: Viewer = require("registry")):
    document = await run_in_threadpool(sources_document, request.app.state.store)
    return await render(request, "sources.html", document)


@router.get("/api/v1/sources", summary="Sources with their imports: file, rows, imported, rejected, blank, warnings")
async def sources_api(request: Request, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(sources_document, request.app.state.store)


def refused_status(error: DadkhahError) -> int:
    """413 for a file beyond the workspace's limits, 422 for one that cannot be read as a list, 400 else."""
    if isinstance(error, LimitExceeded):
        return 413
    about_the_file = isinstance(error, InputError) and error.file and error.field not in ("source", "incident")
    return 422 if about_the_file else 400


@router.post("/sources/upload", include_in_schema=False)
async def upload_page(request: Request, file: UploadFile | None = File(None), source: str = Form(""),
                      incident: str = Form(""), viewer: Viewer = require("sources")):
    try:
        summary = await _upload(request, viewer, file, source, incident)
    except Unavailable:  # the 503 (Busy: with Retry-After), not a form's 400
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(sources_document, request.app.state.store)
        document |= {"error": exc.to_dict(), "form": {"source": source, "incident": incident}}
        return await render(request, "sources.html", document, status_code=refused_status(exc))
    if "job" in summary:
        return RedirectResponse(summary["job"]["links"]["page"], status_code=303)
    target = summary["url"] + ("?already_imported=1" if summary["already_imported"] else "")
    return RedirectResponse(target, status_code=303)


@router.post("/api/v1/sources/upload",
             summary="Upload a list (multipart: file, source, incident) and import it: answered with the import, or, "
                     "for a list larger than the workspace's [import] web_in_request_mb, at once (202) with the "
                     "background job that imports it and its address in Location")
async def upload_api(request: Request, file: UploadFile | None = File(None), source: str = Form(""),
                     incident: str = Form(""), viewer: Viewer = require("sources")):
    try:
        answer = await _upload(request, viewer, file, source, incident)
        if "job" in answer:
            return JSONResponse(answer["job"], status_code=202, headers={"location": answer["job"]["links"]["api"]})
        return answer
    except Unavailable:  # the 503 (Busy: with Retry-After), not a form's 400
        raise
    except DadkhahError as exc:
        return JSONResponse({"error": exc.to_dict()}, status_code=refused_status(exc))


@router.get("/sources/imports/{import_id}", include_in_schema=False)
async def import_page(request: Request, import_id: RowId, page: Paging, already_imported: bool = False,
                      viewer: Viewer = require("registry")):
    document = await run_in_threadpool(import_document, request.app.state.store, import_id, page)
    return await render(request, "sources_import.html", document, already_imported=already_imported)


@router.get("/api/v1/sources/imports/{import_id}", summary="One import: counts, warnings (paged), quarantine report")
async def import_api(request: Request, import_id: RowId, page: Paging, viewer: Viewer = require("registry")) -> dict:
    return await run_in_threadpool(import_document, request.app.state.store, import_id, page)


@router.get("/sources/imports/{import_id}/quarantine.csv", include_in_schema=False)
async def quarantine_download(request: Request, import_id: RowId, viewer: Viewer = require("registry")):
    """The rows the import refused, with line, reason and every original cell (UTF-8 CSV)."""
    from dadkhah.sources import get_import, quarantine_report

    store = request.app.state.store

    def find() -> Path | None:
        with store.session() as session:
            if not get_import(session, import_id, warnings_limit=0)["quarantine"]:
                return None
            return quarantine_report(session, store.workspace.quarantine_dir, import_id)

    path = await run_in_threadpool(find)
    if path is None:  # the import refused no row: its summary says so
        return RedirectResponse(f"/sources/imports/{import_id}", status_code=303)
    return FileResponse(path, media_type="text/csv; charset=utf-8",
                        filename=f"import-{import_id}-quarantine.csv", content_disposition_type="attachment")


class Release(BaseModel):
    """Whether the source's records may be published."""

    release: Literal["public", "restricted"]


def _set_release(store, viewer: Viewer, source: str, release: str) -> dict:
    from dadkhah.sources import set_release

    return set_release(store, source, release, actor=viewer.actor)


@router.post("/sources/{source:path}/release", include_in_schema=False)
async def release_page(request: Request, source: str, release: str = Form(""),
                       viewer: Viewer = require("publication")):
    await run_in_threadpool(_set_release, request.app.state.store, viewer, source, release)
    return RedirectResponse("/sources", status_code=303)


@router.post("/api/v1/sources/{source:path}/release",
             summary="Say whether a source's records may be published (public) or not (restricted)")
async def release_api(request: Request, source: str, body: Release, viewer: Viewer = require("publication")) -> dict:
    return await run_in_threadpool(_set_release, request.app.state.store, viewer, source, body.release)


class SourceDetails(BaseModel):
    """What is known of a source; a detail left out (or null) is left as it is."""

    producer: str | None = Field(None, max_length=500, description="Who made the list.")
    description: str | None = Field(None, max_length=5000)
    obtained_on: date | None = Field(None, description="When the list was obtained (YYYY-MM-DD).")
    reliability: str | None = Field(None, max_length=1, description="Admiralty grade of the source, A-F.")
    credibility: int | None = Field(None, description="Admiralty grade of its information, 1-6.")
    restrictions: str | None = Field(None, max_length=2000, description="Conditions on use or sharing.")


def _describe(store, viewer: Viewer, source: str, details: SourceDetails) -> dict:
    from dadkhah.sources import describe_source

    return describe_source(store, source, actor=viewer.actor, **details.model_dump())


def _details_from_form(producer: str, description: str, obtained_on: str, reliability: str, credibility: str,
                       restrictions: str) -> SourceDetails:
    """The form's fields, a blank one meaning "leave it as it is"; a date or grade that cannot be read names its field."""
    try:
        obtained = date.fromisoformat(obtained_on.strip()) if obtained_on.strip() else None
    except ValueError:
        raise InputError(f"is a date written YYYY-MM-DD, not {obtained_on.strip()!r}", field="obtained_on") from None
    try:
        graded = int(credibility) if credibility.strip() else None
    except ValueError:
        raise InputError(f"is a number from 1 to 6, not {credibility.strip()!r}", field="credibility") from None
    return SourceDetails(producer=producer.strip() or None, description=description.strip() or None,
                         obtained_on=obtained, reliability=reliability.strip()[:1] or None, credibility=graded,
                         restrictions=restrictions.strip() or None)


@router.post("/sources/{source:path}/describe", include_in_schema=False)
async def describe_page(request: Request, source: str, producer: str = Form("", max_length=500),
                        description: str = Form("", max_length=5000), obtained_on: str = Form("", max_length=40),
                        reliability: str = Form("", max_length=5), credibility: str = Form("", max_length=5),
                        restrictions: str = Form("", max_length=2000), viewer: Viewer = require("sources")):
    store = request.app.state.store
    try:
        details = _details_from_form(producer, description, obtained_on, reliability, credibility, restrictions)
        await run_in_threadpool(_describe, store, viewer, source, details)
    except Unavailable:  # the 503, not a form's 400
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(sources_document, store)
        document |= {"describe_error": exc.to_dict() | {"source": source}}
        return await render(request, "sources.html", document, status_code=400)
    return RedirectResponse("/sources", status_code=303)


@router.post("/api/v1/sources/{source:path}/details",
             summary="Create a source or describe it: producer, date obtained, Admiralty grading, restrictions")
async def describe_api(request: Request, source: str, body: SourceDetails, viewer: Viewer = require("sources")) -> dict:
    return await run_in_threadpool(_describe, request.app.state.store, viewer, source, body)
