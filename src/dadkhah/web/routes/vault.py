"""The vault in the browser: testimonies, evidence, the chain of custody (and its trusted timestamps)
and case files.

Every action here is one call into the vault's API with the logged-in user as its actor: the API
decrypts, records custody and writes the audit event in one transaction (if the decryption fails,
neither is written). These routes only parse, check permission and render. Nothing sealed goes
into an audit event, a log line or a URL.

Uploads and case files pass through folders of the workspace's ``private/`` space (mode 0700, files
0600) that are removed before the answer is sent (a case file is streamed from a file handle whose
path is already gone); an evidence file is streamed as it is decrypted, after its check, and never
written anywhere.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException

from dadkhah.errors import DadkhahError, InputError, Unavailable
from dadkhah.vault.casefile import export_casefile
from dadkhah.vault.custody import list_custody, timestamp_chains, verify_chain, verify_custody
from dadkhah.vault.evidence import (
    DEFAULT_RELEASE,
    SCOPES,
    add_evidence,
    get_evidence,
    list_evidence,
    show_evidence,
)
from dadkhah.vault.files import attachment_disposition, checked_upload_name
from dadkhah.vault.keys import VaultKeys
from dadkhah.vault.testimony import (
    MAX_TRANSCRIPT_BYTES,
    add_testimony,
    list_testimonies,
    show_testimony,
)
from dadkhah.web.downloads import hand_over
from dadkhah.web.i18n import gettext as _
from dadkhah.web.params import Page, Paging
from dadkhah.web.security import Forbidden, Viewer, require
from dadkhah.web.templating import render
from dadkhah.workspace import new_private_folder, private_space

router = APIRouter()

_IDS = r"^[A-Za-z0-9,-]{1,400}$"
_CHUNK = 1 << 20


async def vault_keys(request: Request) -> VaultKeys:
    """The unlocked keys; without them every vault page answers 503 and says how to unlock them."""
    keys = request.app.state.settings.keys
    if keys is None:
        raise HTTPException(503, _("The vault is locked: the server was started without the keys. Start it again "
                                   "with the keys to read or add testimonies and evidence, see the custody log or "
                                   "export case files."))
    return keys


def _official_refs(text: str | list[str] | None) -> list[str]:
    """``O-000001, O-000002`` (or a list) → the officials named, as given."""
    items = text if isinstance(text, list) else re.split(r"[\s,;،]+", text or "")
    return [item.strip() for item in items if item and item.strip()]


def _person_ids(text: str | list[str] | None) -> list[str]:
    """``P-000001, P-000002`` or ``P-000001 P-000002`` (or a list) → the ids, upper-cased."""
    items = text if isinstance(text, list) else re.split(r"[\s,;،]+", text or "")
    return [item.strip().upper() for item in items if item and item.strip()]


# ----- testimonies -------------------------------------------------------------------------------


def testimonies_document(store, page: Page) -> dict:
    with store.session() as session:
        return page.document("testimonies", list_testimonies(session, limit=page.fetch, offset=page.offset))


def _transcript(text: str, upload) -> bytes:
    """The transcript as typed or as uploaded (read up to one byte past the limit, which the API refuses)."""
    if text.strip() and upload is not None:
        raise InputError("give the transcript as text or as a file, not both", field="transcript")
    if upload is not None:
        return upload.read(MAX_TRANSCRIPT_BYTES + 1)
    if not text.strip():
        raise InputError("the transcript is empty: type it or choose a .txt file", field="transcript")
    return text.replace("\r\n", "\n").encode("utf-8")


@router.get("/testimonies", include_in_schema=False)
async def testimonies_page(request: Request, page: Paging, viewer: Viewer = require("vault"),
                           keys: VaultKeys = Depends(vault_keys), added: str | None = Query(None, pattern=_IDS),
                           matched: str | None = Query(None, pattern=_IDS),
                           contact: str | None = Query(None, pattern=r"^(none|first|known|added)$")):
    document = await run_in_threadpool(testimonies_document, request.app.state.store, page)
    return await render(request, "testimonies.html", document, added=added, matched=matched, contact=contact)


@router.get("/api/v1/testimonies", summary="Testimonies by pseudonym: language, consent, persons (nothing decrypted)")
async def testimonies_api(request: Request, page: Paging, viewer: Viewer = require("vault"),
                          keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(testimonies_document, request.app.state.store, page)


def _testimony_form(values: dict | None = None, error: DadkhahError | None = None) -> dict:
    values = {"witness_name": "", "witness_contact": "", "transcript": "", "language": "", "consent": [],
              "about": "", "place": "", "interviewer": ""} | (values or {})
    return {"form": values, "scopes": list(SCOPES), "error": error.to_dict() if error else None,
            "max_transcript_bytes": MAX_TRANSCRIPT_BYTES}


@router.get("/testimonies/new", include_in_schema=False)
async def testimony_new_page(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys)):
    return await render(request, "testimony_new.html", _testimony_form())


@router.post("/testimonies", include_in_schema=False)
async def testimony_add_page(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys),
                             witness_name: str = Form(""), witness_contact: str = Form(""), transcript: str = Form(""),
                             transcript_file: UploadFile | None = File(None), language: str = Form(""),
                             consent: list[str] = Form([]), about: str = Form(""), place: str = Form(""),
                             interviewer: str = Form("")):
    chosen = transcript_file if transcript_file is not None and (transcript_file.filename or transcript_file.size) else None
    try:
        added = await run_in_threadpool(
            lambda: add_testimony(request.app.state.store, keys, actor=viewer.actor, witness_name=witness_name,
                                  witness_contact=witness_contact,
                                  transcript=_transcript(transcript, chosen.file if chosen else None),
                                  language=language, consent=consent, about=_person_ids(about), place=place,
                                  interviewer=interviewer))
    except Unavailable:  # the 503 (Busy: with Retry-After), not a form's 400
        raise
    except DadkhahError as exc:
        values = {"witness_name": witness_name, "witness_contact": witness_contact, "transcript": transcript,
                  "language": language, "consent": consent, "about": about, "place": place, "interviewer": interviewer}
        return await render(request, "testimony_new.html", _testimony_form(values, exc), status_code=400)
    # A witness found by name is said, for the user to check it is the same person.
    matched = f"&matched={quote(added['name_matched'])}&contact={added['contact']}" if added["name_matched"] else ""
    return RedirectResponse(f"/testimonies?added={quote(added['id'])}{matched}", status_code=303)


class NewTestimony(BaseModel):
    """A testimony to record. The witness's name and contact, the transcript and the interviewer are sealed."""

    witness_name: str = Field(min_length=1, max_length=500)
    witness_contact: str | None = Field(None, max_length=2000)
    transcript: str = Field(min_length=1)
    language: str = Field(min_length=2, max_length=40, examples=["fa"])
    consent: list[str] = Field(min_length=1, examples=[["investigators", "courts"]])
    about: list[str] = Field(default_factory=list, examples=[["P-000001"]])
    place: str | None = Field(None, max_length=500)
    interviewer: str | None = Field(None, max_length=500)


@router.post("/api/v1/testimonies", status_code=201, summary="Record a testimony (the witness gets a pseudonym)")
async def testimony_add_api(request: Request, body: NewTestimony, viewer: Viewer = require("vault"),
                            keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(
        lambda: add_testimony(request.app.state.store, keys, actor=viewer.actor, witness_name=body.witness_name,
                              witness_contact=body.witness_contact, transcript=_transcript(body.transcript, None),
                              language=body.language, consent=body.consent, about=_person_ids(body.about),
                              place=body.place, interviewer=body.interviewer))


@router.get("/testimonies/{testimony_id}", include_in_schema=False)
async def testimony_page(request: Request, testimony_id: str, viewer: Viewer = require("vault"),
                         keys: VaultKeys = Depends(vault_keys)):
    document = await run_in_threadpool(lambda: show_testimony(request.app.state.store, keys, testimony_id,
                                                              actor=viewer.actor))
    return await render(request, "testimony.html", document)


@router.get("/api/v1/testimonies/{testimony_id}", summary="A testimony with its transcript (recorded as read)")
async def testimony_api(request: Request, testimony_id: str, viewer: Viewer = require("vault"),
                        keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(lambda: show_testimony(request.app.state.store, keys, testimony_id,
                                                          actor=viewer.actor))


@router.post("/testimonies/{testimony_id}/reveal-witness", include_in_schema=False)
async def reveal_witness_page(request: Request, testimony_id: str, viewer: Viewer = require("vault"),
                              keys: VaultKeys = Depends(vault_keys)):
    document = await run_in_threadpool(lambda: show_testimony(request.app.state.store, keys, testimony_id,
                                                              actor=viewer.actor, reveal_witness=True))
    return await render(request, "testimony.html", document)


@router.post("/api/v1/testimonies/{testimony_id}/reveal-witness",
             summary="A testimony with who its witness is: name and contact (recorded as revealed)")
async def reveal_witness_api(request: Request, testimony_id: str, viewer: Viewer = require("vault"),
                             keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(lambda: show_testimony(request.app.state.store, keys, testimony_id,
                                                          actor=viewer.actor, reveal_witness=True))


# ----- evidence ----------------------------------------------------------------------------------


def evidence_list_document(store, page: Page) -> dict:
    with store.session() as session:
        return page.document("evidence", list_evidence(session, limit=page.fetch, offset=page.offset))


def _private_file(folder: Path, name: str):
    """A new file only this process's user may read, in a private folder."""
    return os.fdopen(os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _save_uploads(folder: Path, uploads: list[tuple[str | None, object]]) -> list[Path]:
    """Each upload under its made-safe name, in a folder of its own (two files may share a name)."""
    if not uploads:
        raise InputError("choose at least one file", field="files")
    paths = []
    for number, (name, source) in enumerate(uploads, start=1):
        safe = checked_upload_name(name)
        own = folder / str(number)
        own.mkdir(mode=0o700)
        with _private_file(own, safe) as handle:
            shutil.copyfileobj(source, handle, _CHUNK)
            size = handle.tell()
        if size == 0:
            raise InputError("is empty: evidence must have content", file=safe, field="files")
        paths.append(own / safe)
    return paths


def record_evidence(store, keys: VaultKeys, viewer: Viewer, uploads: list[tuple[str | None, object]], **fields) -> list[dict]:
    """Save the uploads in a private temporary folder, add them as evidence (all or none), remove the folder."""
    with private_space(store.workspace, "upload") as folder:
        return add_evidence(store, keys, _save_uploads(folder, uploads), actor=viewer.actor, **fields)


def _uploads(files: list[UploadFile] | None) -> list[tuple[str | None, object]]:
    """The files a form sent; a file input left empty sends one nameless, empty part, which is no file."""
    return [(f.filename, f.file) for f in files or () if f.filename or f.size]


@router.get("/evidence", include_in_schema=False)
async def evidence_page(request: Request, page: Paging, viewer: Viewer = require("vault"),
                        keys: VaultKeys = Depends(vault_keys), added: str | None = Query(None, pattern=_IDS)):
    document = await run_in_threadpool(evidence_list_document, request.app.state.store, page)
    return await render(request, "evidence.html", document, added=added)


@router.get("/api/v1/evidence", summary="Evidence items: SHA-256, size, type, release, persons (nothing decrypted)")
async def evidence_api(request: Request, page: Paging, viewer: Viewer = require("vault"),
                       keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(evidence_list_document, request.app.state.store, page)


def _evidence_form(values: dict | None = None, error: DadkhahError | None = None) -> dict:
    values = {"source": "", "description": "", "captured_at": "", "captured_where": "", "acquired_how": "",
              "release": list(DEFAULT_RELEASE), "about": ""} | (values or {})
    return {"form": values, "scopes": list(SCOPES), "error": error.to_dict() if error else None}


@router.get("/evidence/new", include_in_schema=False)
async def evidence_new_page(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys)):
    return await render(request, "evidence_new.html", _evidence_form())


@router.post("/evidence", include_in_schema=False)
async def evidence_add_page(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys),
                            files: list[UploadFile] | None = File(None), source: str = Form(""),
                            description: str = Form(""), captured_at: str = Form(""), captured_where: str = Form(""),
                            acquired_how: str = Form(""), release: list[str] = Form([]), about: str = Form("")):
    try:
        added = await run_in_threadpool(
            record_evidence, request.app.state.store, keys, viewer, _uploads(files), source=source,
            description=description, captured_at=captured_at, captured_where=captured_where, acquired_how=acquired_how,
            release=release, about=_person_ids(about))
    except Unavailable:  # the 503 (Busy: with Retry-After), not a form's 400
        raise
    except DadkhahError as exc:
        values = {"source": source, "description": description, "captured_at": captured_at,
                  "captured_where": captured_where, "acquired_how": acquired_how, "release": release, "about": about}
        return await render(request, "evidence_new.html", _evidence_form(values, exc), status_code=400)
    return RedirectResponse(f"/evidence?added={quote(','.join(a['id'] for a in added))}", status_code=303)


@router.post("/api/v1/evidence", status_code=201,
             summary="Add evidence files (multipart: files, and source, description, captured_at, captured_where, "
                     "acquired_how, release, about)")
async def evidence_add_api(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys),
                           files: list[UploadFile] = File(...), source: str = Form(""), description: str = Form(""),
                           captured_at: str = Form(""), captured_where: str = Form(""), acquired_how: str = Form(""),
                           release: list[str] = Form(list(DEFAULT_RELEASE)), about: list[str] = Form([])) -> dict:
    added = await run_in_threadpool(
        record_evidence, request.app.state.store, keys, viewer, [(f.filename, f.file) for f in files], source=source,
        description=description, captured_at=captured_at, captured_where=captured_where, acquired_how=acquired_how,
        release=release, about=_person_ids(" ".join(about)))
    return {"evidence": added}


@router.get("/evidence/{evidence_id}", include_in_schema=False)
async def evidence_item_page(request: Request, evidence_id: str, viewer: Viewer = require("vault"),
                             keys: VaultKeys = Depends(vault_keys)):
    document = await run_in_threadpool(lambda: show_evidence(request.app.state.store, keys, evidence_id,
                                                              actor=viewer.actor))
    return await render(request, "evidence_item.html", document)


@router.get("/api/v1/evidence/{evidence_id}",
            summary="An evidence item with its decrypted metadata and original name (recorded as read)")
async def evidence_item_api(request: Request, evidence_id: str, viewer: Viewer = require("vault"),
                            keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(lambda: show_evidence(request.app.state.store, keys, evidence_id,
                                                         actor=viewer.actor))



async def _evidence_download(request: Request, viewer: Viewer, evidence_id: str, keys: VaultKeys) -> StreamingResponse:
    """The item's bytes, checked, then decrypted again as they are sent (nothing decrypted is written)."""
    found = await run_in_threadpool(lambda: get_evidence(request.app.state.store, keys, evidence_id, actor=viewer.actor))
    digest = base64.b64encode(bytes.fromhex(found["sha256"])).decode("ascii")
    return StreamingResponse(iterate_in_threadpool(found["content"]),
                             media_type=found["media_type"] or "application/octet-stream",
                             headers={"content-disposition": attachment_disposition(found["original_name"]),
                                      "content-length": str(found["size_bytes"]), "repr-digest": f"sha-256=:{digest}:",
                                      "x-dadkhah-sha256": found["sha256"]})


@router.get("/evidence/{evidence_id}/file", include_in_schema=False)
async def evidence_file_page(request: Request, evidence_id: str, viewer: Viewer = require("vault"),
                             keys: VaultKeys = Depends(vault_keys)):
    return await _evidence_download(request, viewer, evidence_id, keys)


@router.get("/api/v1/evidence/{evidence_id}/file",
            summary="An evidence item's original bytes, verified against its SHA-256 (recorded as retrieved)")
async def evidence_file_api(request: Request, evidence_id: str, viewer: Viewer = require("vault"),
                            keys: VaultKeys = Depends(vault_keys)):
    return await _evidence_download(request, viewer, evidence_id, keys)


# ----- custody -----------------------------------------------------------------------------------


def custody_document(store, keys: VaultKeys, *, item_id: str | None, page: Page) -> dict:
    """The custody events (newest first, or one item's) and a fresh check of the whole chain."""
    with store.session() as session:
        rows = list_custody(session, item_id=item_id, limit=page.fetch, offset=page.offset)
        verification = verify_chain(session, keys)
    return page.document("events", rows) | {"item_id": (item_id or "").strip().upper() or None,
                                            "verification": verification}


@router.get("/custody", include_in_schema=False)
async def custody_page(request: Request, page: Paging, viewer: Viewer = require("vault"),
                       keys: VaultKeys = Depends(vault_keys), item_id: str | None = Query(None, max_length=40),
                       checked: int | None = Query(None, ge=1),
                       timestamped: str | None = Query(None, pattern=r"^TS-[0-9]{4,9}$")):
    document = await run_in_threadpool(custody_document, request.app.state.store, keys, item_id=item_id, page=page)
    return await render(request, "custody.html", document, checked=checked, timestamped=timestamped, error=None,
                        authorities="", tsa_configured=bool(request.app.state.settings.tsa_urls))


@router.get("/api/v1/custody", summary="Custody events (filter by item id), and whether the chain is intact")
async def custody_api(request: Request, page: Paging, viewer: Viewer = require("vault"),
                      keys: VaultKeys = Depends(vault_keys), item_id: str | None = Query(None, max_length=40)) -> dict:
    return await run_in_threadpool(custody_document, request.app.state.store, keys, item_id=item_id, page=page)


@router.post("/custody/verify", include_in_schema=False)
async def custody_verify_page(request: Request, viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys)):
    report = await run_in_threadpool(lambda: verify_custody(request.app.state.store, keys, actor=viewer.actor))
    return RedirectResponse(f"/custody?checked={report['events']}", status_code=303)


@router.post("/api/v1/custody/verify", summary="Verify the chain of custody and record the check in it")
async def custody_verify_api(request: Request, viewer: Viewer = require("vault"),
                             keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(lambda: verify_custody(request.app.state.store, keys, actor=viewer.actor))


def timestamp_document(store, keys: VaultKeys, viewer: Viewer, *, configured: tuple[str, ...],
                       authorities: list[str]) -> dict:
    """Have the authorities timestamp the chains' heads: those named (only by whoever holds ``keys``,
    an admin: naming one makes the server send a request to that address), else the server's own."""
    named = [a.strip() for a in authorities if a and a.strip()]
    if named and not viewer.can("keys"):
        raise Forbidden("keys")
    chosen = named or list(configured)
    if not chosen:
        raise InputError("no time-stamping authority: the server was started without DADKHAH_TSA_URLS, and none "
                         "was named", field="authorities")
    return timestamp_chains(store, keys, actor=viewer.actor, authorities=chosen)


@router.post("/custody/timestamp", include_in_schema=False)
async def custody_timestamp_page(request: Request, page: Paging, viewer: Viewer = require("vault"),
                                 keys: VaultKeys = Depends(vault_keys), authorities: str = Form("")):
    store = request.app.state.store
    try:
        made = await run_in_threadpool(timestamp_document, store, keys, viewer,
                                       configured=request.app.state.settings.tsa_urls,
                                       authorities=authorities.replace(",", " ").split())
    except Unavailable:  # the 503 (Busy: with Retry-After), not a form's 400
        raise
    except DadkhahError as exc:
        document = await run_in_threadpool(custody_document, store, keys, item_id=None, page=page)
        return await render(request, "custody.html", document, checked=None, timestamped=None,
                            error=exc.to_dict(), authorities=authorities,
                            tsa_configured=bool(request.app.state.settings.tsa_urls), status_code=400)
    return RedirectResponse(f"/custody?timestamped={quote(made['timestamp'])}", status_code=303)


class TimestampRequest(BaseModel):
    """The time-stamping authorities to ask; none: the server's own (``DADKHAH_TSA_URLS``)."""

    authorities: list[str] = Field(default_factory=list, max_length=10, examples=[["https://tsa.example.org/tsr"]],
                                   description="http(s) addresses of RFC 3161 authorities; naming any needs the "
                                               "permission keys (an admin)")


@router.post("/api/v1/custody/timestamp",
             summary="Have time-stamping authorities (RFC 3161) timestamp the newest events of the chain of custody "
                     "and the audit log; the tokens are kept in custody (TS-0001)")
async def custody_timestamp_api(request: Request, body: TimestampRequest | None = None,
                                viewer: Viewer = require("vault"), keys: VaultKeys = Depends(vault_keys)) -> dict:
    return await run_in_threadpool(timestamp_document, request.app.state.store, keys, viewer,
                                   configured=request.app.state.settings.tsa_urls,
                                   authorities=(body or TimestampRequest()).authorities)


# ----- case files --------------------------------------------------------------------------------


def export_casefile_zip(store, keys: VaultKeys, viewer: Viewer, **request) -> dict:
    """Export a signed case file as a zip, in a private temporary folder the download then removes."""
    folder = new_private_folder(store.workspace, "casefile")
    try:
        made = export_casefile(store, keys, folder / "casefile.zip", actor=viewer.actor, as_zip=True, **request)
        return made | {"folder": folder, "zip": Path(made["out"])}
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _casefile_form(values: dict | None = None, error: DadkhahError | None = None) -> dict:
    values = {"recipient": "", "scope": "investigators", "persons": "", "officials": "", "everything": False} | (
        values or {})
    return {"form": values, "scopes": list(SCOPES), "error": error.to_dict() if error else None}


def _casefile_download(made: dict) -> StreamingResponse:
    return hand_over(made["folder"], made["zip"], name=f"{made['casefile']}.zip", media_type="application/zip",
                     headers={"x-dadkhah-casefile": made["casefile"], "x-dadkhah-key-fingerprint": made["fingerprint"]})


@router.get("/casefile", include_in_schema=False)
async def casefile_page(request: Request, viewer: Viewer = require("export"), keys: VaultKeys = Depends(vault_keys)):
    return await render(request, "casefile.html", _casefile_form() | {"fingerprint": keys.fingerprint})


@router.post("/casefile", include_in_schema=False)
async def casefile_export_page(request: Request, viewer: Viewer = require("export"),
                               keys: VaultKeys = Depends(vault_keys), recipient: str = Form(""),
                               scope: str = Form(""), persons: str = Form(""), officials: str = Form(""),
                               everything: bool = Form(False)):
    try:
        made = await run_in_threadpool(export_casefile_zip, request.app.state.store, keys, viewer, recipient=recipient,
                                       scope=scope, persons=[] if everything else _person_ids(persons),
                                       officials=_official_refs(officials), everything=everything)
    except Unavailable:  # the 503 (Busy: with Retry-After), not a form's 400
        raise
    except DadkhahError as exc:
        values = {"recipient": recipient, "scope": scope, "persons": persons, "officials": officials,
                  "everything": everything}
        return await render(request, "casefile.html", _casefile_form(values, exc) | {"fingerprint": keys.fingerprint},
                            status_code=400)
    return _casefile_download(made)


class CasefileRequest(BaseModel):
    """Who receives the case file, what their consent scope is, and which persons it is about."""

    recipient: str = Field(min_length=1, max_length=500, examples=["UN Special Rapporteur"])
    scope: str = Field(examples=["investigators"])
    persons: list[str] = Field(default_factory=list, examples=[["P-000001"]])
    officials: list[str] = Field(default_factory=list, examples=[["O-000001"]],
                                 description="Officials whose whole dossiers the case file carries.")
    everything: bool = False


@router.post("/api/v1/casefile", summary="Export a signed case file (BagIt), answered as a zip",
             response_class=StreamingResponse)
async def casefile_export_api(request: Request, body: CasefileRequest, viewer: Viewer = require("export"),
                              keys: VaultKeys = Depends(vault_keys)):
    made = await run_in_threadpool(export_casefile_zip, request.app.state.store, keys, viewer, recipient=body.recipient,
                                   scope=body.scope, persons=_person_ids(body.persons),
                                   officials=_official_refs(body.officials), everything=body.everything)
    return _casefile_download(made)

