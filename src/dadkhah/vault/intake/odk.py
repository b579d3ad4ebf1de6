"""ODK Central's "submissions download": a ZIP of CSV files and a ``media/`` folder.

What Central writes (``lib/data/briefcase.js`` and ``lib/data/attachments.js`` of central-backend):

* ``FORM.csv``, one row per submission: ``SubmissionDate`` first, then every answer in the form's
  order, named by its group path joined with ``-`` (``meta-instanceID``, ``witness-name``; or only
  the answer's name when the export was made with "remove group names"); a geopoint takes four
  columns (``-Latitude``, ``-Longitude``, ``-Altitude``, ``-Accuracy``), a multiple choice one
  column more per choice (``q/a``); then ``KEY`` (the submission's instance id, which stays the same
  when the submission is edited), ``SubmitterID``, ``SubmitterName``, ``AttachmentsPresent``,
  ``AttachmentsExpected``, ``Status`` (empty, or "not decrypted", "missing encrypted form data"),
  ``ReviewState`` (empty, ``approved``, ``hasIssues``, ``edited``, ``rejected``), ``DeviceID``,
  ``Edits`` and ``FormVersion``.
* ``FORM-REPEAT.csv`` per repeat group (``FORM-REPEAT~2.csv`` when two groups share a name): its
  answers named relative to the group, then ``PARENT_KEY`` and ``KEY``
  (``uuid:…/victims[2]``; every key starts with the submission's instance id).
* ``media/NAME``: each attachment Central received, under the name the answer gives.

An attachment is read out of the ZIP only when a submission is taken in, into the workspace's private
space, in chunks, never past the size the ZIP declares for it.
"""

from __future__ import annotations

import codecs
import csv
import io
import shutil
import zipfile
from pathlib import Path

from dadkhah.errors import InputError
from dadkhah.ingest.limits import LimitExceeded, ReadLimits
from dadkhah.ingest.readers import NumberedRows
from dadkhah.vault.files import checked_input_file, safe_file_name
from dadkhah.vault.intake.export import Export, Located, Submission, sha256_of

META_COLUMNS = ("SubmissionDate", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent", "AttachmentsExpected",
                "Status", "ReviewState", "DeviceID", "Edits", "FormVersion")
SEALED_META = {"SubmitterID": "submitter_id", "SubmitterName": "submitter_name", "DeviceID": "device_id"}
_CHUNK = 1 << 20
_DISK_MARGIN = 64 << 20


def _rows(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, limits: ReadLimits):
    """The CSV member's header and rows (``(line, cells)``, the header being line 1)."""
    if info.file_size > limits.max_uncompressed_mb * 2**20:
        raise limits.refuse(f"the ZIP's {info.filename} decompresses to {info.file_size / 2**20:,.0f} MB",
                            "max_uncompressed_mb", path)
    try:
        member = archive.open(info)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {info.filename} in the ZIP: {exc}", file=str(path)) from None
    with member:
        text = io.TextIOWrapper(member, encoding="utf-8-sig", newline="")
        try:
            reader = iter(NumberedRows(text, path))
            header = next(reader, (1, None))[1]
            if header is None:
                return [], []
            rows = []
            for number, (_, cells) in enumerate(reader, start=2):
                if number > limits.max_rows + 1:
                    raise limits.refuse(f"{info.filename} has more than {limits.max_rows:,} rows", "max_rows", path)
                if any(c.strip() for c in cells):
                    rows.append((number, cells))
        except LimitExceeded:
            raise
        except InputError as exc:  # a quote never closed: name the table inside the ZIP
            raise InputError(f"{info.filename} in the ZIP: {exc.message}", file=exc.file, line=exc.line) from None
        except UnicodeDecodeError:
            raise InputError(f"{info.filename} in the ZIP is not UTF-8 text, as ODK Central writes it",
                             file=str(path)) from None
        except (csv.Error, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"cannot read {info.filename} in the ZIP: {exc}", file=str(path)) from None
    return header, rows


def _is_root(header: list[str]) -> bool:
    return bool(header) and header[0] == "SubmissionDate" and "KEY" in header and "PARENT_KEY" not in header


def _head(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> list[str]:
    """A CSV member's header only (to tell the submissions' table from the others)."""
    try:
        with archive.open(info) as member:
            first = member.read(1 << 20)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile):
        return []
    line = codecs.decode(first, "utf-8", "replace").lstrip("\ufeff").splitlines()[:1]
    return next(csv.reader(line), []) if line else []


def count_odk(path: str | Path, *, up_to: int) -> int | None:
    """How many submissions the download holds, counted no further than ``up_to + 1`` (the web asks
    whether it is too many to take in while a request waits); None when it cannot tell (reading the
    download then says why)."""
    try:
        with zipfile.ZipFile(path) as archive:
            top = [i for i in archive.infolist() if not i.is_dir() and "/" not in i.filename.strip("/")
                   and i.filename.lower().endswith(".csv")]
            roots = [i for i in top if _is_root(_head(archive, i))]
            if len(roots) != 1:
                return None
            with archive.open(roots[0]) as member:
                reader = csv.reader(io.TextIOWrapper(member, encoding="utf-8-sig", newline=""))
                next(reader, None)
                count = 0
                for cells in reader:
                    count += any(c.strip() for c in cells)
                    if count > up_to:
                        break
                return count
    except (OSError, RuntimeError, NotImplementedError, zipfile.BadZipFile, UnicodeDecodeError, csv.Error, EOFError):
        return None


def read_odk(path: str | Path, *, workdir: Path, limits: ReadLimits | None = None) -> Export:
    """Read an ODK Central submissions ZIP; attachments are copied out to ``workdir`` as they are asked for."""
    path = checked_input_file(path)
    limits = limits or ReadLimits()
    file_sha256, file_size = sha256_of(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"is not a ZIP file as ODK Central's submissions download is ({exc})", file=str(path)) from None
    top = [i for i in archive.infolist() if not i.is_dir() and "/" not in i.filename.strip("/")
           and i.filename.lower().endswith(".csv")]
    roots = [i for i in top if _is_root(_head(archive, i))]
    if not roots:
        archive.close()
        raise InputError("holds no submissions table (a FORM.csv whose first column is SubmissionDate and which "
                         "has a KEY column): is this ODK Central's submissions download?", file=str(path))
    if len(roots) > 1:
        archive.close()
        raise InputError(f"holds several submissions tables ({', '.join(i.filename for i in roots)}); take in one "
                         "form's download at a time", file=str(path))
    root = roots[0]
    form_id = root.filename[:-4]
    header, rows = _rows(archive, root, path, limits)
    repeat_fields: dict[str, set[str]] = {}
    repeat_rows: dict[str, dict[str, list[tuple[str, dict[str, str]]]]] = {}
    first_line: dict[tuple[str, str], tuple[str, int]] = {}  # (group, submission) -> (table, line) first naming it
    for info in top:
        stem = info.filename[:-4]
        if info is root or not stem.startswith(form_id + "-"):
            continue
        repeat_header, entries = _rows(archive, info, path, limits)
        if repeat_header[-2:] != ["PARENT_KEY", "KEY"]:
            continue  # not a repeat group's table (a client audit, say)
        name = stem[len(form_id) + 1:]
        repeat_fields[name] = set(repeat_header)
        by_submission = repeat_rows.setdefault(name, {})
        for _line, cells in entries:
            entry = dict(zip(repeat_header, cells, strict=False))
            key = entry.get("KEY", "")
            owner = key.split("/", 1)[0].strip()
            by_submission.setdefault(owner, []).append((key, entry))
            first_line.setdefault((name, owner), (info.filename, _line))

    media = {i.filename[len("media/"):]: i for i in archive.infolist()
             if i.filename.startswith("media/") and not i.is_dir()}
    version_column = next((c for c in ("meta-instanceID", "instanceID") if c in header), None)
    submissions = []
    for line, cells in rows:
        answers = dict(zip(header, cells, strict=False))
        key = answers.get("KEY", "").strip()
        submission = Submission(
            line=line, submission_id=key, version_id=(answers.get(version_column) or None) if version_column else None,
            submitted_at=answers.get("SubmissionDate") or None, answers=answers,
            repeats={name: found.get(key, []) for name, found in repeat_rows.items()},
            clear={"tool": "odk", "form": form_id, "submission": key,
                   "version": (answers.get(version_column) or None) if version_column else None,
                   "form_version": answers.get("FormVersion") or None,
                   "submitted_at": answers.get("SubmissionDate") or None,
                   "review_state": answers.get("ReviewState") or None},
            sealed={name: answers[column] for column, name in SEALED_META.items() if answers.get(column)},
        )
        status = (answers.get("Status") or "").strip()
        if len(cells) != len(header):
            submission.problem = f"the row has {len(cells)} cells but the header has {len(header)} columns"
        elif not key:
            submission.problem, submission.problem_field = "the submission has no KEY (its instance id)", "KEY"
        elif status:
            submission.problem = (f"ODK Central could not export its answers ({status}): an encrypted form's "
                                  "submissions must be downloaded with its passphrase")
            submission.problem_field = "Status"
        elif (answers.get("ReviewState") or "").strip() == "rejected":
            submission.problem = "rejected in ODK Central's review (ReviewState rejected)"
            submission.problem_field = "ReviewState"
        submissions.append(submission)

    keys = {submission.submission_id for submission in submissions}
    for (name, owner), (table, line) in first_line.items():
        if owner not in keys:  # an answer no submission holds would be left out without a word
            archive.close()
            said = f"names the submission {owner!r}, which" if owner else "has no KEY, so it names no submission; it"
            raise InputError(f"{table} (inside the ZIP), line {line}: this row of the repeat group {name!r} {said} "
                             f"is not in {root.filename}; the download is incomplete or was edited. Download it "
                             "again from ODK Central", file=str(path), line=line, field="KEY")

    copied: dict[str, Path] = {}
    unpacked = [0]

    def locate(submission: Submission, answer: str, name: str) -> Located:
        info = media.get(name)
        if info is None:
            present, expected = submission.answers.get("AttachmentsPresent"), submission.answers.get("AttachmentsExpected")
            counts = (f" (ODK Central had received {present} of the {expected} files of this submission)"
                      if present and expected and present != expected else "")
            return Located(reason=f"the attachment {name!r} (answer {answer!r}) is not in the export's media "
                                  f"folder{counts}", name=name)
        if name not in copied:
            unpacked[0] += info.file_size  # the attachments taken in, within the budget a Tella ZIP has
            if unpacked[0] > limits.max_uncompressed_mb * 2**20:
                raise LimitExceeded(f"its attachments decompress to more than this workspace's limit of "
                                    f"{limits.max_uncompressed_mb:,} MB (import.max_uncompressed_mb in dadkhah.toml); "
                                    f"reached at media/{name}", file=str(path), field="max_uncompressed_mb")
            copied[name] = _copy_out(archive, info, workdir, len(copied), path)
        return Located(path=copied[name], name=name, clear={"answer": answer})

    return Export(tool="odk", path=path, file_sha256=file_sha256, file_size=file_size, form_id=form_id,
                  id_column="KEY", submissions=submissions, locate=locate, fields=set(header),
                  repeat_fields=repeat_fields, closing=archive.close)


def _copy_out(archive: zipfile.ZipFile, info: zipfile.ZipInfo, workdir: Path, number: int, path: Path) -> Path:
    """One ``media/`` member, copied out in chunks; never more bytes than the ZIP declares for it."""
    free = shutil.disk_usage(workdir).free
    if info.file_size + _DISK_MARGIN > free:
        raise InputError(f"there is not enough free disk space to take in {info.filename} "
                         f"({info.file_size / 2**20:,.0f} MB)", file=str(path))
    target = workdir / f"{number:06d}-{safe_file_name(info.filename)}"
    written = 0
    try:
        with archive.open(info) as member, open(target, "xb") as out:
            while chunk := member.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size:
                    raise InputError(f"{info.filename} in the ZIP holds more than the {info.file_size:,} bytes it "
                                     "declares: the ZIP is damaged or hostile", file=str(path))
                out.write(chunk)
    except (RuntimeError, NotImplementedError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"cannot read {info.filename} in the ZIP: {exc}", file=str(path)) from None
    return target
