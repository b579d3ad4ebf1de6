"""The standard exports of what may be published, as downloads: persons, records and acts as CSV or
XLSX, the accountability record as Popolo JSON, Uwazi's CSV import; the printed report and the
memorial site.

Each is one call into :mod:`dadkhah.publish` (``export_table``, ``export_popolo``, ``export_uwazi``),
which writes the file and its audit event in one transaction; the file is written into a folder of
the workspace's ``private/`` space and streamed back from a handle whose path is already gone.

The printed report (:func:`dadkhah.publish.report.print_report`) takes tens of seconds and up to a
gigabyte for a long list, so it is not made in the request: the form and its API twin submit the
job "report print" (:func:`dadkhah.jobs.queue_report_print`) and answer at once with the job, whose
page offers the PDF once a worker has printed it (``routes.jobs``). The memorial site is asked for
the same way (the job "memorial build", :func:`dadkhah.jobs.queue_memorial_build`): the worker
builds it, signs it with the workspace's keys and zips it.

Who may: the permission ``publication`` (investigators and admins), the people who decide what may
be published (a source's release, withholding a person). What an export holds is public by
construction, but handing the registry out in bulk is itself a publication, and it is decided where
publication is.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError, InputError, Unavailable
from dadkhah.web.downloads import hand_over
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render
from dadkhah.workspace import new_private_folder

router = APIRouter()

KINDS = ("persons", "records", "acts", "popolo", "uwazi")
Kind = Literal["persons", "records", "acts", "popolo", "uwazi"]
TABLES = ("persons", "records", "acts")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "json": "application/json", "zip": "application/zip"}


def _checked(kind: str, format: str | None, template: str | None) -> None:
    """A format only for a table, a template only for Uwazi (the core checks their values)."""
    if format and kind not in TABLES:
        raise InputError(f"applies to the tables (persons, records, acts), not to {kind}", field="format")
    if template and kind != "uwazi":
        raise InputError(f"applies to the Uwazi export, not to {kind}", field="template")


def export_file(store, viewer: Viewer, kind: str, *, format: str | None = None, template: str | None = None) -> dict:
    """Write the export into a private folder (the download removes it); the core audits it."""
    from dadkhah.publish.exports import export_table
    from dadkhah.publish.popolo import export_popolo
    from dadkhah.publish.uwazi import export_uwazi

    if kind not in KINDS:
        raise InputError(f"must be one of {', '.join(KINDS)}, not {kind!r}", field="kind")
    _checked(kind, format, template)
    folder = new_private_folder(store.workspace, "export")
    target = folder / "export"  # named for the download only once the core has checked what was asked
    try:
        if kind in TABLES:
            made = export_table(store, target, table=kind, format=format or "csv", actor=viewer.actor)
            what, suffix = kind, made["format"]
        elif kind == "popolo":
            made = export_popolo(store, target, actor=viewer.actor)
            what, suffix = "popolo", "json"
        else:
            made = export_uwazi(store, target, template=template, actor=viewer.actor)
            what, suffix = f"uwazi-{made['template']}", "zip"
        name = f"dadkhah-{what}-{datetime.now(UTC):%Y-%m-%d}.{suffix}"
        return made | {"folder": folder, "file": target, "name": name, "media_type": MEDIA_TYPES[suffix]}
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def download(made: dict) -> StreamingResponse:
    return hand_over(made["folder"], made["file"], name=made["name"], media_type=made["media_type"],
                     headers={"x-dadkhah-sha256": made["sha256"], "x-dadkhah-audience": made["audience"]})


@router.post("/exports/{kind}", include_in_schema=False)
async def export_page(request: Request, kind: str, format: str = Form(""), template: str = Form(""),
                      viewer: Viewer = require("publication")):
    """A download button on the sources page; a refusal shows the page again with the error."""
    from dadkhah.web.routes.sources import sources_document

    store = request.app.state.store
    try:
        made = await run_in_threadpool(export_file, store, viewer, kind, format=format or None,
                                       template=template or None)
    except Unavailable:
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(sources_document, store)
        document |= {"export_error": exc.to_dict()}
        return await render(request, "sources.html", document, status_code=400)
    return download(made)


class ExportRequest(BaseModel):
    """How to write the export: ``format`` for a table, ``template`` for Uwazi."""

    format: Literal["csv", "xlsx"] | None = Field(None, description="persons, records, acts: csv (the default) "
                                                                    "or xlsx")
    template: Literal["persons", "acts", "officials"] | None = Field(None, description="uwazi: which template "
                                                                                      "(required)")


def print_report_job(store, viewer: Viewer, asked: PrintRequest) -> dict:
    """Submit the printed report as a background job for the viewer; answers the job."""
    from dadkhah.jobs import queue_report_print
    from dadkhah.web.routes.jobs import job_document

    job_id = queue_report_print(store, actor=viewer.actor, language=asked.language, city=asked.city,
                                incident=asked.incident, official=asked.official)
    return job_document(store, job_id)


class PrintRequest(BaseModel):
    """What the printed report holds: the victims (of one city, or of one incident), or one official's dossier."""

    language: Literal["fa", "en"] = Field("fa", description="fa (Persian, right to left) or en")
    city: str | None = Field(None, max_length=300, description="list only the victims of this city (a place id "
                                                                "or a name the gazetteer knows)")
    incident: str | None = Field(None, max_length=300, description="list only the victims of this incident (its name)")
    official: str | None = Field(None, max_length=300, description="print this official's public dossier instead "
                                                                    "of the list (id or name)")


@router.post("/reports/print", include_in_schema=False)
async def print_page(request: Request, language: str = Form("fa"), city: str = Form(""), incident: str = Form(""),
                     official: str = Form(""), viewer: Viewer = require("publication")):
    """The print form on the sources page: to the job's page, or the page again with the error."""
    from dadkhah.web.routes.sources import sources_document

    store = request.app.state.store
    form = {"language": language, "city": city, "incident": incident, "official": official}
    try:
        asked = PrintRequest.model_validate({k: v.strip() or None for k, v in form.items()})
        job = await run_in_threadpool(print_report_job, store, viewer, asked)
    except (ValidationError, DadkhahError) as exc:
        if isinstance(exc, Unavailable):
            raise
        document = await run_in_threadpool(sources_document, store)
        return await render(request, "sources.html", document | {"print_error": _form_error(exc), "print_form": form},
                            status_code=400)
    return RedirectResponse(job["links"]["page"], status_code=303)


@router.post("/api/v1/reports/print", status_code=202,
             summary="Ask for the printed report (PDF) of what may be published: a background job, answered at once "
                     "(202) with the job and its address in Location; once done, the job's links name the file")
async def print_api(request: Request, response: Response, body: PrintRequest | None = None,
                    viewer: Viewer = require("publication")) -> dict:
    job = await run_in_threadpool(print_report_job, request.app.state.store, viewer, body or PrintRequest())
    response.headers["location"] = job["links"]["api"]
    return job


def build_memorial_job(store, viewer: Viewer, asked: MemorialRequest) -> dict:
    """Submit the memorial site as a background job for the viewer; answers the job."""
    from dadkhah.jobs import queue_memorial_build
    from dadkhah.web.routes.jobs import job_document

    job_id = queue_memorial_build(store, actor=viewer.actor, languages=asked.languages, title=asked.title,
                                  contact=asked.contact)
    return job_document(store, job_id)


class MemorialRequest(BaseModel):
    """The memorial site: its languages, its title, and where readers send corrections."""

    languages: list[Literal["fa", "en"]] = Field(["fa", "en"], min_length=1, max_length=2,
                                                 description="fa, en or both (the first is the site's front page)")
    title: str | None = Field(None, max_length=200, description="the site's title (else the site's own)")
    contact: str | None = Field(None, max_length=300, description="an https:// address or an email address where "
                                                                   "readers send corrections")


@router.post("/memorial/build", include_in_schema=False)
async def memorial_page(request: Request, languages: list[str] = Form([]), title: str = Form(""),
                        contact: str = Form(""), viewer: Viewer = require("publication")):
    """The memorial form on the sources page: to the job's page, or the page again with the error."""
    from dadkhah.web.routes.sources import sources_document

    store = request.app.state.store
    form = {"languages": languages, "title": title, "contact": contact}
    try:
        asked = MemorialRequest.model_validate({"languages": languages, "title": title.strip() or None,
                                                "contact": contact.strip() or None})
        job = await run_in_threadpool(build_memorial_job, store, viewer, asked)
    except (ValidationError, DadkhahError) as exc:
        if isinstance(exc, Unavailable):
            raise
        error = _form_error(exc)
        document = await run_in_threadpool(sources_document, store)
        return await render(request, "sources.html", document | {"memorial_error": error, "memorial_form": form},
                            status_code=400)
    return RedirectResponse(job["links"]["page"], status_code=303)


@router.post("/api/v1/memorial/build", status_code=202,
             summary="Ask for the memorial site of what may be published, signed and zipped: a background job, "
                     "answered at once (202) with the job and its address in Location; once done, the job's links "
                     "name the zip")
async def memorial_api(request: Request, response: Response, body: MemorialRequest | None = None,
                       viewer: Viewer = require("publication")) -> dict:
    job = await run_in_threadpool(build_memorial_job, request.app.state.store, viewer, body or MemorialRequest())
    response.headers["location"] = job["links"]["api"]
    return job


def _form_error(exc: Exception) -> dict:
    """A refusal as the forms show it: the core's own, or the first of a request model's."""
    if isinstance(exc, ValidationError):
        problem = exc.errors()[0]
        loc = [str(p) for p in problem.get("loc", ()) if not isinstance(p, int)]
        return InputError(problem.get("msg", "invalid"), field=".".join(loc) or None).to_dict()
    return exc.to_dict()


@router.post("/api/v1/exports/{kind}", response_class=StreamingResponse,
             summary="Download a standard export of what may be published (persons, records, acts as CSV or "
                     "XLSX; popolo; uwazi with a template); recorded with its SHA-256",
             responses={200: {"description": "The file, as an attachment; `X-Dadkhah-SHA256` is its SHA-256",
                              "content": {t: {} for t in MEDIA_TYPES.values()}}})
async def export_api(request: Request, kind: Kind, body: ExportRequest | None = None,
                     viewer: Viewer = require("publication")):
    body = body or ExportRequest()
    made = await run_in_threadpool(export_file, request.app.state.store, viewer, kind, format=body.format,
                                   template=body.template)
    return download(made)
