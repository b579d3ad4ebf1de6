"""Intake from field tools: ODK Central's and KoboToolbox's exports, and files shared from Tella.

Documenters collect testimonies, files and reports of victims in the field; this takes the tools'
own export files in (nothing is fetched from a server): each submission becomes, as a mapping file
says, a testimony (witness sealed), evidence items (with their custody) and victim records (as an
import of a source), all of one file in one transaction, each submission once however often the
file is taken in. One function per tool; each is the one action both shells call.

It lives in the vault, not in :mod:`dadkhah.ingest`, because it records testimonies and evidence:
the vault may use the importer below it, never the other way round.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import sqlalchemy as sa

from dadkhah.audit import Actor
from dadkhah.errors import InputError
from dadkhah.ingest.limits import ReadLimits
from dadkhah.model import Intake, Source
from dadkhah.store import Store
from dadkhah.vault.evidence import DEFAULT_RELEASE, parse_scopes
from dadkhah.vault.intake.kobo import read_kobo
from dadkhah.vault.intake.mapping import Answer, IntakeMapping, load_mapping
from dadkhah.vault.intake.odk import count_odk, read_odk
from dadkhah.vault.intake.take import IntakeSummary, take_in
from dadkhah.vault.intake.tella import is_tella_metadata, read_tella
from dadkhah.vault.keys import VaultKeys
from dadkhah.workspace import private_space

__all__ = ["IntakeSummary", "count_submissions", "intake_kobo", "intake_odk", "intake_tella", "list_intakes",
           "load_mapping"]


def _mapping(mapping: str | os.PathLike | IntakeMapping | None) -> IntakeMapping:
    if mapping is None:
        raise InputError("a mapping file is needed: it says which answers become a testimony, evidence or a "
                         "victim record", field="mapping")
    return mapping if isinstance(mapping, IntakeMapping) else load_mapping(mapping)


def intake_odk(store: Store, keys: VaultKeys | None, path: str | os.PathLike, *, actor: Actor,
               mapping: str | os.PathLike | IntakeMapping, source: str | None = None, incident: str | None = None,
               progress=None) -> IntakeSummary:
    """Take in an ODK Central submissions download (the ZIP of CSV files and ``media/``).

    Example::

        intake_odk(store, keys, "witness_statement.zip", mapping="odk.toml", actor=actor)
    """
    plan = _mapping(mapping)
    limits = ReadLimits.from_config(store.workspace.config)
    with private_space(store.workspace, "intake") as workdir:
        export = read_odk(path, workdir=Path(workdir), limits=limits)
        try:
            return take_in(store, keys, export, plan, actor=actor, source=source, incident=incident,
                           progress=progress)
        finally:
            export.close()


def intake_kobo(store: Store, keys: VaultKeys | None, path: str | os.PathLike, *, actor: Actor,
                mapping: str | os.PathLike | IntakeMapping, attachments: str | os.PathLike | None = None,
                source: str | None = None, incident: str | None = None, progress=None) -> IntakeSummary:
    """Take in KoboToolbox's data JSON; attached files are found under ``attachments`` (default: the
    JSON file's folder), never downloaded."""
    plan = _mapping(mapping)
    limit_mb = store.workspace.config.get("import", {}).get("max_file_mb", 4096)
    export = read_kobo(path, attachments=attachments, max_bytes=limit_mb * 2**20)
    return take_in(store, keys, export, plan, actor=actor, source=source, incident=incident, progress=progress)


def intake_tella(store: Store, keys: VaultKeys | None, folder: str | os.PathLike, *, actor: Actor,
                 source: str | None = None, description: str | None = None, release=DEFAULT_RELEASE,
                 progress=None) -> IntakeSummary:
    """Take in files shared from Tella with their verification information: each file whose SHA-256
    matches the one Tella recorded becomes an evidence item."""
    release_text = ",".join(parse_scopes(release, field="release"))
    plan = IntakeMapping(
        attachments=(Answer("evidence.attachments", field="File name"),),
        evidence={"release": Answer("release", value=release_text),
                  **({"description": Answer("description", value=description)} if description else {})})
    export = read_tella(folder)
    return take_in(store, keys, export, plan, actor=actor, source=source, progress=progress)


def count_submissions(tool: str, path: str | os.PathLike, *, up_to: int) -> int | None:
    """How many submissions an export holds (ODK's ZIP, Kobo's JSON, Tella's folder: its files with
    their verification CSVs), counted no further than ``up_to + 1``; None when it cannot be told
    without reading the export (reading it says why). Cheap beside taking it in: the web uses it to
    send a long intake to a background job."""
    if tool == "odk":
        return count_odk(path, up_to=up_to)
    if tool == "kobo":
        try:
            document = json.loads(Path(path).read_bytes().decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return None
        items = document.get("results") if isinstance(document, dict) else document
        return len(items) if isinstance(items, list) else None
    if tool == "tella":
        folder = Path(path)
        if folder.is_symlink() or not folder.is_dir():
            return None
        return sum(1 for p in folder.iterdir() if p.is_file() and not p.is_symlink() and is_tella_metadata(p))
    raise ValueError(f"no such tool: {tool!r}")


def list_intakes(session, *, limit: int | None = None, offset: int = 0) -> list[dict]:
    """The intakes, newest first, with their counts (nothing sealed is in them)."""
    query = (sa.select(Intake, Source.name).outerjoin(Source, Source.id == Intake.source_id)
             .order_by(Intake.id.desc()).offset(offset))
    if limit is not None:
        query = query.limit(limit)
    return [{"id": row.id, "tool": row.tool, "form_id": row.form_id, "file": row.file_name,
             "file_sha256": row.file_sha256, "source": source, "import_id": row.import_id, "rows": row.rows,
             "imported": row.imported, "already_held": row.already_held, "rejected": row.rejected,
             "quarantine": row.quarantine_path, "taken_by": row.taken_by,
             "started_at": row.started_at.isoformat() if row.started_at else None}
            for row, source in session.execute(query)]
