"""The kinds of work a job may be, each with the check of its parameters and the run.

A kind's ``validate`` takes the parameters as asked for (field names as the action's core function
names them) and answers them checked and completed, or raises :class:`InputError` naming the field:
it runs when the job is submitted, so a bad request fails at once rather than in the worker. It
must stay light (no estimator is imported to check an estimate's parameters: the web application
that submits never runs one). ``run(store, actor, parameters, progress)`` does the work for
``actor`` (the user who asked) with the core function a shell would call, telling
``progress(done, total)`` as it goes, and answers a small JSON result.

A new kind is one entry in :data:`KINDS`, a row in the user guide, and a permission the web checks
before anyone may ask for or cancel one (and, for a kind whose jobs hold what not every reader of
the jobs may see, one to see them at all).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dadkhah.audit import Actor
from dadkhah.errors import InputError
from dadkhah.sources import validate_incident_name, validate_source_name
from dadkhah.store import Store
from dadkhah.workspace import Workspace

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class JobKind:
    """What one kind of job is: its name, the web permission it needs, its check and its run."""

    name: str
    permission: str  # a permission of dadkhah.users.PERMISSIONS: who may ask for it, or cancel it
    validate: Callable[[dict], dict]
    run: Callable[[Store, Actor, dict, Progress], dict]
    # Who may see such a job at all (its parameters, result and error), when not everyone who reads
    # the jobs may: an intake's result names testimonies and what refused submissions said.
    read_permission: str | None = None


# What the estimate's parameters may be. Kept here, not imported from dadkhah.estimate, so that
# checking a request does not load the estimators (numba, scipy); tests/jobs compares them.
ESTIMATE_METHODS = ("auto", "lcmcr", "loglinear", "bma", "chao", "lincoln-petersen")
ESTIMATE_STRATA = ("city", "province", "month", "gender")
LOGLINEAR_SELECTIONS = ("bic", "aic", "stepwise", "main")
LOGLINEAR_INTERVALS = ("bootstrap", "bca", "profile")
_POSITIVE_INTEGERS = ("iterations", "latent_classes", "burn_in", "thin", "chains")
ESTIMATE_PARAMETERS = ("method", "by", "linkage_thresholds", "seed", "level", "iterations", "latent_classes",
                       "burn_in", "thin", "chains", "selection", "max_order", "interval", "model_uncertainty",
                       "delta", "replicates", "linkage_uncertainty", "keep_unknown")
_FLAGS = ("model_uncertainty", "linkage_uncertainty", "keep_unknown")
# The settings only one kind of estimator takes; "auto" may choose any, so it keeps them all. A job
# keeps only the settings its method takes, so that its page lists what shaped its result (the shells
# send every setting, most at their defaults).
_LCMCR = ("iterations", "latent_classes", "burn_in", "thin", "chains")
_LOGLINEAR = ("selection", "max_order", "interval", "model_uncertainty")
_OWN_SETTINGS = {"lcmcr": _LCMCR, "loglinear": _LOGLINEAR, "bma": ("delta",), "chao": (), "lincoln-petersen": (),
                 "auto": (*_LCMCR, *_LOGLINEAR, "delta")}
MAX_SEED = 2**32 - 1


def _only(parameters, names: tuple[str, ...], what: str) -> None:
    """Refuse parameters that are not a mapping, or that name a field ``what`` does not take."""
    if not isinstance(parameters, dict):
        raise InputError("the parameters are a mapping of field names to values", field="parameters")
    unknown = sorted(set(parameters) - set(names))
    if unknown:
        raise InputError(f"{what} takes no {unknown[0]!r}; it takes {', '.join(names)}", field=unknown[0])


def _integer(value, field: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"must be a whole number, not {value!r}", field=field)
    if value < low or (high is not None and value > high):
        raise InputError(f"must be from {low}{f' to {high}' if high is not None else ' up'}, not {value}", field=field)
    return value


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"must be a number, not {value!r}", field=field)
    return float(value)


def _choice(value, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InputError(f"must be one of {', '.join(choices)}, not {value!r}", field=field)
    return value


def validate_estimate(parameters: dict) -> dict:
    """The parameters of an estimate from the linked registry, checked: those of
    :func:`dadkhah.estimate.registry.run_registry_estimate` by their field names (``method``, ``by``,
    ``linkage_thresholds``, the replicates' ``replicates``, ``linkage_uncertainty`` and
    ``keep_unknown``, and the method's settings: ``seed``, ``level``, ``iterations``, ...).
    Settings the method does not take (an LCMCR's ``iterations`` for ``chao``) are left out unchecked,
    as a run leaves them unused. Whether the linkage run kept pairs down to each threshold is known
    only when it runs."""
    _only(parameters, ESTIMATE_PARAMETERS, "an estimate")
    given = {k: v for k, v in parameters.items() if v is not None}
    method = _choice(given.get("method", "auto"), "method", ESTIMATE_METHODS)
    others = set(_LCMCR + _LOGLINEAR + ("delta",)) - set(_OWN_SETTINGS[method])
    given = {k: v for k, v in given.items() if k not in others}
    checked: dict = {"method": method,
                     "by": _choice(given["by"], "by", ESTIMATE_STRATA) if given.get("by") else None}
    thresholds = given.get("linkage_thresholds") or []
    if not isinstance(thresholds, (list, tuple)):
        raise InputError(f"a list of probabilities, not {thresholds!r}", field="linkage_thresholds")
    checked["linkage_thresholds"] = [_number(t, "linkage_thresholds") for t in thresholds]
    if any(not 0 <= t < 1 for t in checked["linkage_thresholds"]):
        raise InputError("each linkage threshold is from 0 up to (not including) 1", field="linkage_thresholds")
    if "seed" in given:
        checked["seed"] = _integer(given["seed"], "seed", 0, MAX_SEED)
    checked["level"] = _number(given.get("level", 0.95), "level")
    if not 0.5 <= checked["level"] < 1:
        raise InputError(f"the interval level must be at least 0.5 and below 1, not {checked['level']}", field="level")
    for field in _POSITIVE_INTEGERS:
        if field in given:
            checked[field] = _integer(given[field], field, 1)
    if "replicates" in given:  # combining needs two at least
        checked["replicates"] = _integer(given["replicates"], "replicates", 2)
    if "max_order" in given:
        checked["max_order"] = _integer(given["max_order"], "max_order", 2, 3)
    if "selection" in given:
        checked["selection"] = _choice(given["selection"], "selection", LOGLINEAR_SELECTIONS)
    if "interval" in given:
        checked["interval"] = _choice(given["interval"], "interval", LOGLINEAR_INTERVALS)
    for field in _FLAGS:
        if field in given:
            if not isinstance(given[field], bool):
                raise InputError(f"true or false, not {given[field]!r}", field=field)
            checked[field] = given[field]
    if "delta" in given:
        checked["delta"] = _number(given["delta"], "delta")
        if checked["delta"] <= 0:
            raise InputError(f"must be above 0, not {checked['delta']}", field="delta")
    return checked


def run_estimate(store: Store, actor: Actor, parameters: dict, progress: Progress) -> dict:
    """Estimate from the linked registry, stored with its audit event ``estimate run`` for ``actor``."""
    from dadkhah.estimate.registry import run_registry_estimate

    settings = dict(parameters)
    method, by, thresholds = settings.pop("method"), settings.pop("by", None), settings.pop("linkage_thresholds", [])
    document = run_registry_estimate(store, actor=actor, method=method, by=by, thresholds=thresholds,
                                     progress=progress, **settings)
    return {"estimate_id": document["id"], "method": document["method"], "observed": document["observed"],
            "estimate": document["estimate"], "interval": list(document["interval"]), "level": document["level"],
            **({"strata_total": document["strata_total"]["estimate"]} if document.get("strata_total") else {})}


# A list waiting in the workspace's uploads: "<32 hex>/<the file's name>" (one folder per upload).
UPLOAD = re.compile(r"^(?P<folder>[0-9a-f]{32})/(?P<name>[^/\\\x00-\x1f\x7f]{1,255})\Z")
LIST_IMPORT_PARAMETERS = ("upload", "source", "incident")


def _upload(upload) -> re.Match:
    match = UPLOAD.match(upload) if isinstance(upload, str) else None
    if match is None or match["name"] in (".", ".."):
        raise InputError(f"not an upload waiting in a workspace: {upload!r}", field="upload")
    return match


def upload_path(workspace: Workspace, upload: str) -> Path:
    """The file an upload names, inside the workspace's uploads folder (never anywhere else)."""
    match = _upload(upload)
    return workspace.uploads_dir / match["folder"] / match["name"]


def validate_list_import(parameters: dict) -> dict:
    """The parameters of a list's import: the ``upload`` waiting for it (see :data:`UPLOAD`), the
    ``source`` it goes into and the ``incident`` (or None), as :func:`dadkhah.ingest.importer.import_file`
    takes them."""
    _only(parameters, LIST_IMPORT_PARAMETERS, "a list's import")
    upload = parameters.get("upload")
    _upload(upload)
    incident, source = parameters.get("incident"), parameters.get("source")
    for field, value in (("incident", incident), ("source", source)):
        if not isinstance(value, str) and (value is not None or field == "source"):
            raise InputError(f"a name, not {value!r}", field=field)
    return {"upload": upload, "source": validate_source_name(source), "incident": validate_incident_name(incident)}


def remove_upload(workspace: Workspace, upload: str) -> None:
    """Remove an upload's folder (its job has ended, or was never submitted)."""
    shutil.rmtree(upload_path(workspace, upload).parent, ignore_errors=True)


def run_list_import(store: Store, actor: Actor, parameters: dict, progress: Progress) -> dict:
    """Import the uploaded list for ``actor`` (its audit event "list imported" is theirs), then remove
    the upload, whether the import was kept, refused or stopped: an import is one transaction, so
    nothing of a stopped one is stored, and the list must be uploaded again."""
    from dadkhah.ingest.importer import import_file

    path = upload_path(store.workspace, parameters["upload"])
    name = path.name

    def told(done: int, total: int) -> None:  # bytes read: shown as a percentage
        progress(done * 100 // total if total else 0, 100)

    try:
        if not path.is_file():
            raise InputError("the uploaded list is no longer in the workspace: upload it again", file=name)
        summary = import_file(store, path, actor=actor, source=parameters["source"],
                              incident=parameters.get("incident"), progress=told)
    except InputError as exc:  # the file as the user knows it, never the folder it waited in
        raise type(exc)(exc.message, file=name, line=exc.line, field=exc.field) from None
    finally:
        remove_upload(store.workspace, parameters["upload"])
    return {"import_id": summary.import_id, "source": summary.source, "file": summary.file, "rows": summary.rows,
            "imported": summary.imported, "rejected": summary.rejected, "blank": summary.blank,
            "warnings": summary.warning_count, "already_imported": summary.already_imported,
            "quarantine": bool(summary.quarantine)}


# Files from a field tool waiting in the workspace's uploads for their intake: the folder
# "<32 hex>" (one per upload) and, inside it, the export, the mapping and the attachments at relative
# paths of safe names (as the web saved them, :class:`dadkhah.web.routes.intake.Uploads`).
UPLOAD_FOLDER = re.compile(r"^[0-9a-f]{32}\Z")
_UPLOAD_PART = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}\Z")
INTAKE_TOOLS = ("odk", "kobo", "tella")
INTAKE_PARAMETERS = ("tool", "upload", "export", "mapping", "attachments", "source", "incident", "description",
                     "release", "shown")
MAX_DESCRIPTION = 10_000


def _upload_folder_name(folder) -> str:
    if not isinstance(folder, str) or not UPLOAD_FOLDER.match(folder):
        raise InputError(f"not an upload waiting in a workspace: {folder!r}", field="upload")
    return folder


def upload_folder(workspace: Workspace, folder: str) -> Path:
    """An upload's folder inside the workspace's uploads folder (never anywhere else)."""
    return workspace.uploads_dir / _upload_folder_name(folder)


def _inside(value, field: str) -> str:
    """A relative path inside an upload's folder: safe names, no '..', at most eight deep."""
    parts = value.split("/") if isinstance(value, str) else []
    if not parts or len(parts) > 8 or any(not _UPLOAD_PART.match(p) or p in (".", "..") for p in parts):
        raise InputError(f"not a file of the upload: {value!r}", field=field)
    return value


def validate_intake(parameters: dict) -> dict:
    """The parameters of an intake from a field tool (``tool``: odk, kobo or tella), as
    :mod:`dadkhah.vault.intake` takes them: the ``upload`` folder waiting for it, and inside it the
    ``export`` (ODK's ZIP, Kobo's JSON, Tella's shared folder), the ``mapping`` (ODK, Kobo) and the
    ``attachments`` folder (Kobo); ``source``, ``incident`` (ODK, Kobo), ``description`` and ``release``
    (Tella); ``shown``, the name each of those paths is shown by (as its user knows it)."""
    from dadkhah.vault.evidence import parse_scopes

    _only(parameters, INTAKE_PARAMETERS, "an intake")
    tool = _choice(parameters.get("tool"), "tool", INTAKE_TOOLS)
    checked = {"tool": tool, "upload": _upload_folder_name(parameters.get("upload")),
               "export": _inside(parameters.get("export"), "export")}
    wanted = {"odk": ("mapping",), "kobo": ("mapping", "attachments"), "tella": ()}[tool]
    for field in ("mapping", "attachments"):
        value = parameters.get(field)
        if field in wanted:
            checked[field] = _inside(value, field)
        elif value is not None:
            raise InputError(f"an intake from {tool} takes no {field}", field=field)
    source = parameters.get("source")
    checked["source"] = validate_source_name(source) if isinstance(source, str) and source.strip() else None
    if tool == "tella":
        if parameters.get("incident") is not None:
            raise InputError("an intake from tella takes no incident", field="incident")
        description = parameters.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION
                                        or "\x00" in description):
            raise InputError(f"a text of at most {MAX_DESCRIPTION:,} characters", field="description")
        checked["description"] = (description.strip() or None) if description is not None else None
        checked["release"] = parse_scopes(parameters.get("release") or [], field="release")
    else:
        for field in ("description", "release"):
            if parameters.get(field) is not None:
                raise InputError(f"an intake from {tool} takes no {field}", field=field)
        incident = parameters.get("incident")
        if incident is not None and not isinstance(incident, str):
            raise InputError(f"a name, not {incident!r}", field="incident")
        checked["incident"] = validate_incident_name(incident)
    shown = parameters.get("shown") or {}
    if not isinstance(shown, dict) or len(shown) > 8 or not all(
            isinstance(v, str) and 0 < len(v) <= 255 and _inside(k, "shown") for k, v in shown.items()):
        raise InputError("names for the upload's files, at most eight", field="shown")
    checked["shown"] = dict(shown)
    return checked


def remove_upload_folder(workspace: Workspace, folder: str) -> None:
    """Remove an upload's folder (its job has ended, or was never submitted)."""
    shutil.rmtree(upload_folder(workspace, folder), ignore_errors=True)


def run_intake(store: Store, actor: Actor, parameters: dict, progress: Progress) -> dict:
    """Take the uploaded export in for ``actor`` (its audit and custody events are theirs), with the
    keys this worker holds, then remove the upload, whether the intake was kept, refused or stopped
    (an intake is one transaction: nothing of a stopped one is stored). Errors name the files as
    their user knows them, never the folder they waited in."""
    from dadkhah.vault.intake import intake_kobo, intake_odk, intake_tella, load_mapping

    folder = upload_folder(store.workspace, parameters["upload"])
    shown = {str(folder / path): name for path, name in parameters.get("shown", {}).items()}

    def named(text: str | None) -> str | None:
        if text is None:
            return None
        for path in sorted(shown, key=len, reverse=True):
            text = text.replace(path, shown[path])
        return text.replace(f"{folder}{os.sep}", "").replace(str(folder), "")

    keys = store.chain_keys
    try:
        if keys is None or getattr(keys, "master_key", None) is None:
            raise InputError("an intake seals what it takes in, and this worker holds no unlocked keys: start the "
                             "worker with DADKHAH_PASSPHRASE set (or with a key file without a passphrase)",
                             field="keys")
        export = folder / parameters["export"]
        if not export.exists():
            raise InputError("the uploaded files are no longer in the workspace: upload them again",
                             file=shown.get(str(export)), field="export")
        tool = parameters["tool"]
        if tool == "tella":
            summary = intake_tella(store, keys, export, actor=actor, source=parameters.get("source"),
                                   description=parameters.get("description"), release=parameters["release"],
                                   progress=progress)
        else:
            plan = load_mapping(folder / parameters["mapping"])
            plan.path = shown.get(str(folder / parameters["mapping"]), Path(parameters["mapping"]).name)
            take = intake_odk if tool == "odk" else intake_kobo
            extra = {"attachments": folder / parameters["attachments"]} if tool == "kobo" else {}
            summary = take(store, keys, export, actor=actor, mapping=plan, source=parameters.get("source"),
                           incident=parameters.get("incident"), progress=progress, **extra)
    except InputError as exc:
        raise type(exc)(named(exc.message), file=named(exc.file), line=exc.line, field=exc.field) from None
    finally:
        remove_upload_folder(store.workspace, parameters["upload"])
    quarantine = None
    if summary.quarantine:
        with contextlib.suppress(ValueError):
            quarantine = Path(summary.quarantine).resolve().relative_to(store.workspace.path.resolve()).as_posix()
    result = {"intake_id": summary.intake_id, "tool": summary.tool, "file": named(summary.file),
              "file_sha256": summary.file_sha256, "form_id": summary.form_id, "source": summary.source,
              "rows": summary.rows, "imported": summary.imported, "already_held": summary.already_held,
              "rejected": summary.rejected, "records": summary.records, "import_id": summary.import_id,
              "quarantine": quarantine, "nothing_new": summary.nothing_new}
    # A job's result stays small: the first of each list, and how many there are (the quarantine
    # report holds every refusal; the intakes' page and the vault, every testimony and item).
    for name, first in (("testimonies", 200), ("matched_witnesses", 200), ("evidence", 200), ("warnings", 50),
                        ("rejections", 100)):
        items = getattr(summary, name)
        result |= {name: [named(i) if isinstance(i, str) else {k: named(v) if isinstance(v, str) else v
                                                                for k, v in i.items()} if isinstance(i, dict) else i
                          for i in items[:first]], f"{name}_count": len(items)}
    return result


# What a job publishes (a printed report, a memorial site) waits in the workspace's printed/ folder
# for its download: "<32 hex>/report.pdf" or "<32 hex>/memorial.zip", the folder named when the job
# is submitted (so that what is in the folder can be told to be a job's).
PRINTED_FOLDER = re.compile(r"^[0-9a-f]{32}\Z")
PRINTED_NAME = "report.pdf"
MEMORIAL_NAME = "memorial.zip"
PRINTED_NAMES = {"report print": PRINTED_NAME, "memorial build": MEMORIAL_NAME}
REPORT_LANGUAGES = ("fa", "en")  # dadkhah.publish.report.LANGUAGES and memorial.LANGUAGES (tests/jobs compares them)
REPORT_PARAMETERS = ("language", "city", "incident", "official", "folder")
MEMORIAL_PARAMETERS = ("languages", "title", "contact", "folder")
MAX_NAME = 300  # characters in a city's, an incident's or an official's name or id, as asked for


def _folder(folder) -> str:
    if not isinstance(folder, str) or not PRINTED_FOLDER.match(folder):
        raise InputError(f"not a printed report's folder: {folder!r}", field="folder")
    return folder


def printed_folder(workspace: Workspace, folder: str) -> Path:
    """The folder a job's printed report is written into, inside the workspace's printed/ (never
    anywhere else)."""
    return workspace.printed_dir / _folder(folder)


def _name(value, field: str, longest: int = MAX_NAME) -> str | None:
    """A name asked for (a city, an incident, an official, a title): text without control characters, or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"a name, not {value!r}", field=field)
    text = " ".join(value.split())
    if len(text) > longest:
        raise InputError(f"at most {longest} characters, not {len(text)}", field=field)
    if re.search(r"[\x00-\x1f\x7f]", text):
        raise InputError("holds a control character", field=field)
    return text or None


def validate_report_print(parameters: dict) -> dict:
    """The parameters of a printed report, as :func:`dadkhah.publish.report.print_report` takes them
    (``language``, ``city``, ``incident``, ``official``), and the ``folder`` it is written into,
    chosen here when not given. Whether the city, incident and official are known is checked by
    :func:`dadkhah.jobs.queue.queue_report_print` before it submits, and again when the job runs."""
    _only(parameters, REPORT_PARAMETERS, "a printed report")
    checked = {"language": _choice(parameters.get("language") or "fa", "language", REPORT_LANGUAGES)}
    for field in ("city", "incident", "official"):
        checked[field] = _name(parameters.get(field), field)
    if checked["official"] and (checked["city"] or checked["incident"]):
        raise InputError("prints one official's dossier; a city or an incident narrows the list of victims, "
                         "which that report does not print", field="official")
    checked["folder"] = _folder(parameters.get("folder") or secrets.token_hex(16))
    return checked


@contextlib.contextmanager
def _publishing(store: Store, folder_name: str) -> Iterator[Path]:
    """The job's new folder in printed/, removed again if what it publishes is not made (refused,
    cancelled, stopped)."""
    folder = printed_folder(store.workspace, folder_name)
    store.workspace.printed_dir.mkdir(mode=0o700, exist_ok=True)
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        raise InputError("this job's folder is taken already: ask for it again", field="folder") from None
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def run_report_print(store: Store, actor: Actor, parameters: dict, progress: Progress) -> dict:
    """Print the report for ``actor`` (its audit event "report printed" is theirs) into the job's
    folder of printed/; a report that is not printed (refused, cancelled, stopped) leaves no folder."""
    from dadkhah.publish.report import print_report

    with _publishing(store, parameters["folder"]) as folder:
        printed = print_report(store, folder / PRINTED_NAME, actor=actor, language=parameters["language"],
                               city=parameters.get("city"), incident=parameters.get("incident"),
                               official=parameters.get("official"), progress=progress)
    return {"file": f"{parameters['folder']}/{PRINTED_NAME}", "language": printed["language"],
            "pages": printed["pages"], "bytes": printed["bytes"], "sha256": printed["sha256"],
            "tagged": printed["tagged"], "persons": printed["persons"], "published": printed["published"],
            "sources": len(printed["sources"]), "city": printed["city"], "incident": printed["incident"],
            "official": printed["official"], "estimate": printed["estimate"]}


def validate_memorial_build(parameters: dict) -> dict:
    """The parameters of a memorial site, as :func:`dadkhah.publish.memorial.build_memorial` takes them
    (``languages``: ``fa``, ``en`` or both; ``title``; ``contact``, where readers send corrections),
    and the ``folder`` its zip is written into, chosen here when not given. The contact address is
    checked whole by :func:`dadkhah.jobs.queue.queue_memorial_build` before it submits."""
    _only(parameters, MEMORIAL_PARAMETERS, "a memorial site")
    languages = parameters.get("languages") or list(REPORT_LANGUAGES)
    if isinstance(languages, str):
        languages = languages.split(",")
    if not isinstance(languages, (list, tuple)):
        raise InputError(f"fa, en or both, not {languages!r}", field="languages")
    codes = dict.fromkeys(code.strip() if isinstance(code, str) else code for code in languages)
    checked = {"languages": [_choice(code, "languages", REPORT_LANGUAGES) for code in codes if code != ""]}
    if not checked["languages"]:
        raise InputError("fa, en or both, not none", field="languages")
    checked["title"] = _name(parameters.get("title"), "title", 200)
    checked["contact"] = _name(parameters.get("contact"), "contact")
    checked["folder"] = _folder(parameters.get("folder") or secrets.token_hex(16))
    return checked


def run_memorial_build(store: Store, actor: Actor, parameters: dict, progress: Progress) -> dict:
    """Build the memorial site for ``actor`` (its audit event "memorial published" is theirs), signed
    with the workspace's keys, straight into a zip in the job's folder of printed/; nothing is left
    if it is not made."""
    from dadkhah.outfiles import sha256_of
    from dadkhah.publish.memorial import build_memorial

    keys = store.chain_keys
    if keys is None or getattr(keys, "signing_key", None) is None:
        raise InputError("a memorial site is signed, and this worker holds no unlocked keys: start the worker with "
                         "DADKHAH_PASSPHRASE set (or with a key file without a passphrase), or build the site at the "
                         "command line (dadkhah publish memorial)", field="keys")
    with _publishing(store, parameters["folder"]) as folder:
        archive = folder / MEMORIAL_NAME
        built = build_memorial(store, keys, archive, actor=actor, languages=parameters["languages"],
                               title=parameters.get("title"), contact=parameters.get("contact"), progress=progress,
                               zipped=True)
    return {"file": f"{parameters['folder']}/{MEMORIAL_NAME}", "languages": built["languages"],
            "persons": built["persons"], "cities": built["cities"], "incidents": built["incidents"],
            "sites": built["sites"], "acts": built["acts"], "files": built["files"],
            "fingerprint": built["fingerprint"], "manifest_sha256": built["manifest_sha256"],
            "bytes": archive.stat().st_size, "sha256": sha256_of(archive)}


def printed_file(workspace: Workspace, result: dict | None) -> Path | None:
    """What a finished "report print" or "memorial build" job wrote (its result's ``file``: the PDF,
    or the site's zip), or None when it is gone."""
    file = (result or {}).get("file")
    folder, _, name = file.partition("/") if isinstance(file, str) else ("", "", "")
    if name not in PRINTED_NAMES.values() or not PRINTED_FOLDER.match(folder):
        return None
    path = printed_folder(workspace, folder) / name
    return path if path.is_file() else None


KINDS: dict[str, JobKind] = {
    "estimate run": JobKind("estimate run", "estimates", validate_estimate, run_estimate),
    "list import": JobKind("list import", "sources", validate_list_import, run_list_import),
    "report print": JobKind("report print", "publication", validate_report_print, run_report_print),
    "memorial build": JobKind("memorial build", "publication", validate_memorial_build, run_memorial_build),
    "intake": JobKind("intake", "vault", validate_intake, run_intake, read_permission="vault"),
}


def job_kind(name: str) -> JobKind:
    """The kind named ``name``, or an InputError naming the field ``kind``."""
    if name not in KINDS:
        raise InputError(f"a job is one of {', '.join(KINDS)}, not {name!r}", field="kind")
    return KINDS[name]
