"""Intake from field tools in the browser and through the API: ODK Central's submissions download,
KoboToolbox's data JSON with its attached files, files shared from Tella.

Each action is one call into :mod:`dadkhah.vault.intake` (``intake_odk``, ``intake_kobo``,
``intake_tella``) with the logged-in user as its actor; the core checks the export, takes each
submission in once, and writes the testimonies, evidence, victim records, custody and audit events
in one transaction. These routes only save the uploads, call it and render its summary.

The uploads go to a folder of the workspace's ``private/`` space (mode 0700, files 0600) that is
removed before the answer is sent. Uploads larger than ``[import] web_intake_in_request_mb`` (64 MB
unless set), or of more than ``[import] web_intake_in_request_submissions`` submissions (200), are
not taken in while the request waits: their folder is moved to the workspace's ``uploads/`` and a
background job "intake" takes them in (:func:`dadkhah.jobs.queue_intake`); the answer is the job
(the form goes to its page; the API answers 202). The job removes the folder.

Each upload is checked here for what only the web can get wrong: a name that is a path, a size
beyond the workspace's limits (the smaller of the server's upload limit and ``import.max_file_mb``),
the wrong kind of file for its field. What the files hold is checked by the core (an ODK ZIP's
member names and sizes, Kobo's attachment paths staying inside their folder, Tella's hashes). A ZIP of Kobo attachments or of Tella's shared folder is unpacked here, by
:func:`dadkhah.vault.files.unpack_zip`, which refuses a member that would land outside its folder.
Errors and summaries name the files as their user knows them, never the private folder.

Who may: the permission ``vault`` (investigators and admins), who add testimonies and evidence;
the server must hold the keys, as for every vault page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from dadkhah.errors import DadkhahError, InputError, LimitExceeded, Unavailable
from dadkhah.ingest.limits import ReadLimits
from dadkhah.vault.evidence import DEFAULT_RELEASE, SCOPES
from dadkhah.vault.files import checked_upload_name, unpack_zip
from dadkhah.vault.keys import VaultKeys
from dadkhah.web.params import Page, Paging
from dadkhah.web.routes.sources import refused_status
from dadkhah.web.routes.vault import vault_keys
from dadkhah.web.security import Viewer, require
from dadkhah.web.templating import render
from dadkhah.workspace import new_private_folder

router = APIRouter()

# Beyond these, a field tool's upload is taken in by a background job, not while the request waits.
# Measured (2 cores, SQLite): about 15 ms a submission with a photo, whatever the photo's size (a
# 59 MB download of 2,000 submissions with 30 KB photos took 30 s; 20 with 3 MB recordings, 2 s), so
# 200 submissions keep a request waiting some 3 s.
IN_REQUEST_MB = 64  # all the upload's files together (a ZIP of attachments or of Tella's folder as unpacked)
IN_REQUEST_SUBMISSIONS = 200
TELLA_FOLDER = "shared-files"  # the folder loose Tella files are put in: the default source is tella-shared-files
_CHUNK = 1 << 20


def _upload_name(upload: UploadFile, field: str) -> str:
    """The name the file came with, made safe; a path or no name is refused, naming ``field``."""
    try:
        return checked_upload_name(upload.filename)
    except InputError as exc:
        raise InputError(exc.message, file=exc.file, field=field) from None


class Uploads:
    """A private folder for one request's uploads, and the name each saved path is shown by."""

    def __init__(self, store, max_bytes: int):
        self.store, self.max_bytes = store, max_bytes
        self.folder = new_private_folder(store.workspace, "intake-upload")
        self.shown: dict[str, str] = {}

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def save(self, upload: UploadFile, where: str, *, field: str, suffixes: tuple[str, ...] = ()) -> Path:
        """One upload under its made-safe name in the subfolder ``where``; refused when its name is a
        path, its kind is not one of ``suffixes``, it is empty or beyond the size limit."""
        name = _upload_name(upload, field)
        if suffixes and Path(name).suffix.lower() not in suffixes:
            raise InputError(f"must be a {' or '.join(suffixes)} file", file=name, field=field)
        folder = self.folder / where
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = folder / name
        size = 0
        try:
            handle = os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        except FileExistsError:
            raise InputError("was given twice: each file once", file=name, field=field) from None
        with handle:
            upload.file.seek(0)
            while chunk := upload.file.read(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise LimitExceeded(f"the file is larger than the limit of {self.max_bytes // 2**20:,} MB",
                                        file=name, field=field)
                handle.write(chunk)
        if size == 0:
            raise InputError("the file is empty", file=name, field=field)
        self.shown[str(target)] = name
        return target

    def unpack(self, upload: UploadFile, where: str, *, field: str) -> Path:
        """A ZIP upload, unpacked (folders kept) into the subfolder ``where``; the ZIP itself is removed."""
        archive = self.save(upload, "zip-" + where, field=field, suffixes=(".zip",))
        folder = self.folder / where
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        limits = ReadLimits.from_config(self.store.workspace.config)
        unpack_zip(archive, folder, limits=limits, shown=self.shown[str(archive)], field=field)
        archive.unlink()
        self.shown[str(folder)] = self.shown[str(archive)]
        return folder

    def relative(self, path: Path) -> str:
        """A saved path relative to the folder (as a background intake names it)."""
        return path.relative_to(self.folder).as_posix()

    def size(self) -> int:
        """Bytes saved (and unpacked) so far."""
        return sum(f.stat().st_size for f in self.folder.rglob("*") if f.is_file())

    def text(self, value: str) -> str:
        """``value`` with every saved path named as its user knows it, and the folder's own name gone."""
        for path in sorted(self.shown, key=len, reverse=True):
            value = value.replace(path, self.shown[path])
        return value.replace(f"{self.folder}{os.sep}", "").replace(str(self.folder), "")

    def error(self, exc: InputError) -> InputError:
        return type(exc)(self.text(exc.message), file=self.text(exc.file) if exc.file else None, line=exc.line,
                         field=exc.field)

    def document(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.document(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.document(v) for v in value]
        return value


def _max_bytes(request: Request) -> int:
    """The largest upload: the server's limit, and the workspace's for a file to take in."""
    workspace_mb = request.app.state.store.workspace.config.get("import", {}).get("max_file_mb", 4096)
    if not isinstance(workspace_mb, int) or workspace_mb < 1:
        workspace_mb = 4096
    return min(request.app.state.settings.max_upload_mb, workspace_mb) * 2**20


def _relative(store, path: str | None) -> str | None:
    """A quarantine report's path inside the workspace (``quarantine/…``), never the server's folders."""
    if not path:
        return None
    try:
        return Path(path).resolve().relative_to(store.workspace.path.resolve()).as_posix()
    except ValueError:
        return Path(path).name


def _chosen(upload: UploadFile | None) -> UploadFile | None:
    """A file input left empty sends one nameless, empty part, which is no file."""
    return upload if upload is not None and (upload.filename or upload.size) else None


def _chosen_all(uploads: list[UploadFile] | None) -> list[UploadFile]:
    return [u for u in uploads or () if _chosen(u)]


def _required(upload: UploadFile | None, field: str, what: str) -> UploadFile:
    if _chosen(upload) is None:
        raise InputError(f"choose {what}", field=field)
    return upload


def _mapping(uploads: Uploads, upload: UploadFile | None):
    from dadkhah.vault.intake import load_mapping

    path = uploads.save(_required(upload, "mapping", "the mapping file (.toml)"), "mapping", field="mapping",
                        suffixes=(".toml",))
    mapping = load_mapping(path)
    mapping.path = uploads.shown[str(path)]  # its errors and the records' warnings name it as the user knows it
    return mapping, path


def in_request_limits(store) -> tuple[float, int]:
    """How large a field tool's upload (all its files, in MB) and how many submissions the web takes in
    while the request waits; beyond either, a background job takes it in."""
    settings = store.workspace.config.get("import") or {}
    return (float(settings.get("web_intake_in_request_mb", IN_REQUEST_MB)),
            int(settings.get("web_intake_in_request_submissions", IN_REQUEST_SUBMISSIONS)))


def _long(store, uploads: Uploads, tool: str, export: Path) -> bool:
    """Whether taking the upload in would keep the request waiting long (see :func:`in_request_limits`)."""
    from dadkhah.vault.intake import count_submissions

    most_mb, most_submissions = in_request_limits(store)
    if uploads.size() > most_mb * 2**20:
        return True
    counted = count_submissions(tool, export, up_to=most_submissions)
    return counted is not None and counted > most_submissions


def _run(store, viewer: Viewer, uploads: Uploads, take, *, tool: str, paths: dict, **fields) -> dict:
    """Call the core with the saved uploads and answer its summary as the user knows the files; or, when
    that would keep the request waiting long (:func:`_long`), hand them to a background job (answers
    ``{"job": ...}``). ``paths`` are the saved export, mapping and attachments the job is to find."""
    if _long(store, uploads, tool, paths["export"]):
        from dadkhah.jobs import queue_intake
        from dadkhah.web.routes.jobs import job_document

        relative = {field: uploads.relative(path) for field, path in paths.items()}
        shown = {uploads.relative(Path(path)): name for path, name in uploads.shown.items()
                 if Path(path) in paths.values()}
        job_id = queue_intake(store, actor=viewer.actor, folder=uploads.folder,
                              parameters={"tool": tool, **relative, **fields, "shown": shown})
        return {"job": job_document(store, job_id)}
    summary = uploads.document(take().to_dict())
    summary["quarantine"] = _relative(store, summary.get("quarantine"))
    return summary


def take_odk(store, keys: VaultKeys, viewer: Viewer, *, max_bytes: int, file: UploadFile | None,
             mapping: UploadFile | None, source: str, incident: str) -> dict:
    from dadkhah.vault.intake import intake_odk

    uploads = Uploads(store, max_bytes)
    try:
        export = uploads.save(_required(file, "file", "ODK Central's submissions ZIP"), "export", field="file",
                              suffixes=(".zip",))
        plan, plan_path = _mapping(uploads, mapping)
        return _run(store, viewer, uploads, lambda: intake_odk(store, keys, export, actor=viewer.actor, mapping=plan,
                                                               source=source.strip() or None,
                                                               incident=incident.strip() or None),
                    tool="odk", paths={"export": export, "mapping": plan_path}, source=source.strip() or None,
                    incident=incident.strip() or None)
    except InputError as exc:
        raise uploads.error(exc) from None
    finally:
        uploads.close()


def take_kobo(store, keys: VaultKeys, viewer: Viewer, *, max_bytes: int, file: UploadFile | None,
              mapping: UploadFile | None, attachments: list[UploadFile], attachments_zip: UploadFile | None,
              source: str, incident: str) -> dict:
    from dadkhah.vault.intake import intake_kobo

    uploads = Uploads(store, max_bytes)
    try:
        data = uploads.save(_required(file, "file", "KoboToolbox's data (.json)"), "export", field="file",
                            suffixes=(".json",))
        plan, plan_path = _mapping(uploads, mapping)
        if attachments and _chosen(attachments_zip):
            raise InputError("give the attachments as files or as one ZIP, not both", field="attachments_zip")
        if _chosen(attachments_zip):
            folder = uploads.unpack(attachments_zip, "attachments", field="attachments_zip")
        else:
            folder = uploads.folder / "attachments"
            folder.mkdir(mode=0o700)
            for upload in attachments:
                uploads.save(upload, "attachments", field="attachments")
        uploads.shown.setdefault(str(folder), "the attachments")
        return _run(store, viewer, uploads, lambda: intake_kobo(store, keys, data, actor=viewer.actor, mapping=plan,
                                                                attachments=folder, source=source.strip() or None,
                                                                incident=incident.strip() or None),
                    tool="kobo", paths={"export": data, "mapping": plan_path, "attachments": folder},
                    source=source.strip() or None, incident=incident.strip() or None)
    except InputError as exc:
        raise uploads.error(exc) from None
    finally:
        uploads.close()


def _tella_folder(unpacked: Path) -> Path:
    """The shared folder in an unpacked ZIP: its top, or the one folder it holds and nothing else."""
    entries = [p for p in unpacked.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return unpacked


def take_tella(store, keys: VaultKeys, viewer: Viewer, *, max_bytes: int, files: list[UploadFile],
               files_zip: UploadFile | None, source: str, description: str, release) -> dict:
    from dadkhah.vault.intake import intake_tella

    uploads = Uploads(store, max_bytes)
    try:
        if files and _chosen(files_zip):
            raise InputError("give the shared files or one ZIP of their folder, not both", field="files_zip")
        if _chosen(files_zip):
            stem = Path(_upload_name(files_zip, "files_zip")).stem or TELLA_FOLDER
            folder = _tella_folder(uploads.unpack(files_zip, stem, field="files_zip"))
        elif files:
            for upload in files:
                uploads.save(upload, TELLA_FOLDER, field="files")
            folder = uploads.folder / TELLA_FOLDER
        else:
            raise InputError("choose the files shared from Tella with their CSVs, or a ZIP of their folder",
                             field="files")
        uploads.shown.setdefault(str(folder), folder.name)
        return _run(store, viewer, uploads, lambda: intake_tella(store, keys, folder, actor=viewer.actor,
                                                                 source=source.strip() or None,
                                                                 description=description.strip() or None,
                                                                 release=release),
                    tool="tella", paths={"export": folder}, source=source.strip() or None,
                    description=description.strip() or None, release=release)
    except InputError as exc:
        raise uploads.error(exc) from None
    finally:
        uploads.close()


# ----- the page and its twin ---------------------------------------------------------------------


def intakes_document(store, page: Page) -> dict:
    """The intakes, newest first, with their counts; quarantine reports named inside the workspace."""
    from dadkhah.vault.intake import list_intakes

    with store.session() as session:
        rows = list_intakes(session, limit=page.fetch, offset=page.offset)
    for row in rows:
        row["quarantine"] = _relative(store, row["quarantine"])
    return page.document("intakes", rows)


def _form(values: dict | None = None) -> dict:
    values = {"source": "", "incident": "", "description": "", "release": list(DEFAULT_RELEASE)} | (values or {})
    return {"form": values, "scopes": list(SCOPES)}


async def _page(request: Request, page: Page, *, status_code: int = 200, **extra):
    document = await run_in_threadpool(intakes_document, request.app.state.store, page)
    return await render(request, "intake.html", document | _form(extra.pop("values", None)) | extra,
                        status_code=status_code)


@router.get("/intake", include_in_schema=False)
async def intake_page(request: Request, page: Paging, viewer: Viewer = require("vault"),
                      keys: VaultKeys = Depends(vault_keys)):
    return await _page(request, page, summary=None, error=None, tool=None)


@router.get("/api/v1/intake", summary="Intakes from field tools, newest first: tool, form, file, counts, source")
async def intake_list_api(request: Request, page: Paging, viewer: Viewer = require("vault"),
                          keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(intakes_document, request.app.state.store, page)


async def _page_answer(request: Request, page: Page, tool: str, values: dict, work):
    try:
        summary = await run_in_threadpool(work)
    except Unavailable:
        raise
    except DadkhahError as exc:
        return await _page(request, page, status_code=refused_status(exc), summary=None, error=exc.to_dict(),
                           tool=tool, values=values)
    if "job" in summary:
        return RedirectResponse(summary["job"]["links"]["page"], status_code=303)
    return await _page(request, page, summary=summary, error=None, tool=tool, values=values)


async def _api_answer(work):
    try:
        answer = await run_in_threadpool(work)
    except InputError as exc:
        return JSONResponse({"error": exc.to_dict()}, status_code=refused_status(exc))
    if "job" in answer:
        return JSONResponse(answer["job"], status_code=202, headers={"location": answer["job"]["links"]["api"]})
    return answer


def _odk(request, viewer, keys, file, mapping, source, incident):
    return lambda: take_odk(request.app.state.store, keys, viewer, max_bytes=_max_bytes(request), file=file,
                            mapping=mapping, source=source, incident=incident)


def _kobo(request, viewer, keys, file, mapping, attachments, attachments_zip, source, incident):
    return lambda: take_kobo(request.app.state.store, keys, viewer, max_bytes=_max_bytes(request), file=file,
                             mapping=mapping, attachments=_chosen_all(attachments), attachments_zip=attachments_zip,
                             source=source, incident=incident)


def _tella(request, viewer, keys, files, files_zip, source, description, release):
    return lambda: take_tella(request.app.state.store, keys, viewer, max_bytes=_max_bytes(request),
                              files=_chosen_all(files), files_zip=files_zip, source=source, description=description,
                              release=release)


@router.post("/intake/odk", include_in_schema=False)
async def intake_odk_page(request: Request, page: Paging, viewer: Viewer = require("vault"),
                          keys: VaultKeys = Depends(vault_keys), file: UploadFile | None = File(None),
                          mapping: UploadFile | None = File(None), source: str = Form(""), incident: str = Form("")):
    return await _page_answer(request, page, "odk", {"source": source, "incident": incident},
                              _odk(request, viewer, keys, file, mapping, source, incident))


@router.post("/api/v1/intake/odk",
             summary="Take in ODK Central's submissions download (multipart: file, the ZIP; mapping, the TOML; "
                     "source, incident): each submission once; the intake's summary, or, for files larger than the "
                     "workspace's [import] web_intake_in_request_mb or of more submissions than "
                     "web_intake_in_request_submissions, at once (202) the background job that takes them in, its "
                     "address in Location")
async def intake_odk_api(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys),
                         file: UploadFile = File(..., description="ODK Central's submissions download (.zip)"),
                         mapping: UploadFile = File(..., description="The mapping file (.toml)"),
                         source: str = Form(""), incident: str = Form("")):
    return await _api_answer(_odk(request, viewer, keys, file, mapping, source, incident))


@router.post("/intake/kobo", include_in_schema=False)
async def intake_kobo_page(request: Request, page: Paging, viewer: Viewer = require("vault"),
                           keys: VaultKeys = Depends(vault_keys), file: UploadFile | None = File(None),
                           mapping: UploadFile | None = File(None), attachments: list[UploadFile] | None = File(None),
                           attachments_zip: UploadFile | None = File(None), source: str = Form(""),
                           incident: str = Form("")):
    return await _page_answer(request, page, "kobo", {"source": source, "incident": incident},
                              _kobo(request, viewer, keys, file, mapping, attachments, attachments_zip, source,
                                    incident))


@router.post("/api/v1/intake/kobo",
             summary="Take in KoboToolbox's data JSON (multipart: file, the JSON; mapping, the TOML; the attached "
                     "files as attachments, several, or as attachments_zip, one ZIP; source, incident); large "
                     "uploads as for ODK (202, a background job)")
async def intake_kobo_api(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys),
                          file: UploadFile = File(..., description="KoboToolbox's data (.json)"),
                          mapping: UploadFile = File(..., description="The mapping file (.toml)"),
                          attachments: list[UploadFile] | None = File(None, description="The attached files, by name"),
                          attachments_zip: UploadFile | None = File(
                              None, description="Or one ZIP of them, its folders kept (Kobo's USER/attachments/… "
                                                "paths, a folder per submission, or files by name)"),
                          source: str = Form(""), incident: str = Form("")):
    return await _api_answer(_kobo(request, viewer, keys, file, mapping, attachments, attachments_zip, source,
                                   incident))


@router.post("/intake/tella", include_in_schema=False)
async def intake_tella_page(request: Request, page: Paging, viewer: Viewer = require("vault"),
                            keys: VaultKeys = Depends(vault_keys), files: list[UploadFile] | None = File(None),
                            files_zip: UploadFile | None = File(None), source: str = Form(""),
                            description: str = Form(""), release: list[str] = Form([])):
    values = {"source": source, "description": description, "release": release}
    return await _page_answer(request, page, "tella", values,
                              _tella(request, viewer, keys, files, files_zip, source, description, release))


@router.post("/api/v1/intake/tella",
             summary="Take in files shared from Tella (multipart: files, each file with its CSV, or files_zip, one "
                     "ZIP of the shared folder; source, description, release): each file once; large uploads "
                     "as for ODK (202, a background job)")
async def intake_tella_api(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys),
                           files: list[UploadFile] | None = File(None, description="The shared files and their CSVs"),
                           files_zip: UploadFile | None = File(None, description="Or one ZIP of the shared folder"),
                           source: str = Form(""), description: str = Form(""),
                           release: list[str] = Form(list(DEFAULT_RELEASE))):
    return await _api_answer(_tella(request, viewer, keys, files, files_zip, source, description, release))
