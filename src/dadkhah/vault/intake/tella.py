"""Files shared from Tella with their verification information.

Tella (Android) shares each file with "Share files + verification information" as the file itself
and a CSV named after it (``IMG_0001.jpg`` and ``IMG_0001.csv``): one header line and one line of
values, joined by commas and never quoted (Tella replaces commas inside values by spaces), with the
columns of ``PublicMetadataMapper``: ``File hash`` (the SHA-256 of the file's bytes, in capitals),
``File path``, ``File name``, ``Cells`` and ``WiFis`` (when it saw any), ``Timestamp`` (when the
file was captured: milliseconds since 1970, UTC), ``Ambient temperature``, ``Light``, the
``Location accuracy``, ``altitude``, ``latitude``, ``longitude``, ``timestamp``, ``provider`` and
``speed`` (when it had a location), ``Locale``, ``IPv6``, ``IPv4``, ``Language``, ``Network type``,
``Network``, ``Manufacturer``, ``Data type``, ``Hardware``, ``Screen size``, ``WiFi MAC`` and
``Device ID``.

Each file is one submission, known by its SHA-256. The hash Tella recorded is checked against the
file; a file that does not match is refused. What could locate the person who made it (where, the
networks and cells around, the device's addresses and id) is sealed with the evidence; custody names
when it was captured, on what make of device, and that the hash matched.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from dadkhah.errors import InputError
from dadkhah.vault.intake.export import Export, Located, Submission, sha256_of

CLEAR_COLUMNS = {"Manufacturer": "manufacturer", "Hardware": "hardware"}
REPORT_FIELDS = ["File name", "File hash", "Timestamp"]
_SHA256_HEX = frozenset("0123456789abcdef")


def is_tella_metadata(path: Path) -> bool:
    """Whether ``path`` is a CSV of Tella's verification information (its header starts with "File hash")."""
    if path.suffix.lower() != ".csv" or not path.is_file() or path.is_symlink():
        return False
    with open(path, "rb") as handle:
        head = handle.read(64)
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"File hash,")


def captured_moment(milliseconds: str | None) -> str | None:
    """Tella's ``Timestamp`` (milliseconds since 1970, UTC) as ISO 8601; None when absent or unknown (-1)."""
    try:
        value = int((milliseconds or "").strip())
    except ValueError:
        return None
    if value <= 0:
        return None
    try:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.isoformat(timespec="milliseconds")


def read_tella(folder: str | Path) -> Export:
    """Read a folder of files shared from Tella with their verification information."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir():
        raise InputError("is not a folder of files shared from Tella", file=str(folder))
    entries = sorted(p for p in folder.iterdir() if (p.is_file() or p.is_symlink()) and not p.name.startswith("."))
    metadata = [p for p in entries if is_tella_metadata(p)]
    if not metadata:
        raise InputError("holds no verification information from Tella (a CSV beside each file whose first column "
                         "is \"File hash\"): share the files from Tella with \"Share files + verification "
                         "information\"", file=str(folder))
    media = {p.name: p for p in entries if p not in metadata and not p.is_symlink()}
    links = [p for p in entries if p.is_symlink()]
    described: set[str] = set()
    digest = hashlib.sha256()
    total = 0
    submissions = []
    for line, csv_path in enumerate(metadata, start=2):
        raw = csv_path.read_bytes()
        digest.update(csv_path.name.encode("utf-8") + b"\0" + raw + b"\0")
        total += len(raw)
        submissions.append(_submission(line, csv_path, raw, media, described))
    line = len(metadata) + 2
    for name in [n for n in media if n not in described] + [p.name for p in links]:
        linked = name not in media
        submissions.append(Submission(
            line=line, submission_id=f"file:{name}", answers={"File name": name},
            problem="is a symbolic link: put the file itself in the folder" if linked else
                    "no verification information from Tella beside it (a CSV of the same name): share it from "
                    "Tella with \"Share files + verification information\", or add it with evidence add",
            problem_field="File name"))
        line += 1

    def locate(submission: Submission, answer: str, name: str) -> Located:
        path = media.get(name)
        if path is None:
            return Located(reason=f"the file {name!r} is not in the folder", name=name)
        return Located(path=path, name=name, clear={})

    return Export(tool="tella", path=folder, file_sha256=digest.hexdigest(), file_size=total, form_id=None,
                  id_column="File hash", submissions=submissions, locate=locate, fields=None,
                  report_fields=REPORT_FIELDS)


def _submission(line: int, csv_path: Path, raw: bytes, media: dict[str, Path], described: set[str]) -> Submission:
    """One file and its verification information; refused (with the reason) when they do not agree."""
    refused = Submission(line=line, submission_id=f"metadata:{csv_path.name}", answers={"File name": csv_path.name})
    try:
        lines = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    except UnicodeDecodeError:
        refused.problem = f"{csv_path.name} is not UTF-8 text, as Tella writes it"
        return refused
    header = lines[0].split(",")
    values = lines[1].split(",") if len(lines) > 1 else []
    if len(values) != len(header):
        refused.problem = (f"{csv_path.name} has {len(values)} values for its {len(header)} columns (Tella writes one "
                           "header line and one line of values)")
        return refused
    answers = {k.strip(): v.strip() for k, v in zip(header, values, strict=True)}
    name = answers.get("File name", "")
    if name not in media:  # the CSV is named after the file without its extension
        stem_matches = [n for n in media if Path(n).stem == csv_path.stem]
        name = stem_matches[0] if len(stem_matches) == 1 else name
    answers["File name"] = name
    declared = answers.get("File hash", "").lower()
    submission = Submission(line=line, submission_id=f"sha256:{declared}", answers=answers)
    captured_at = captured_moment(answers.get("Timestamp"))
    answers["captured_at"] = captured_at or ""
    if name not in media:
        submission.problem = (f"the file it describes ({answers.get('File name') or 'no name'}) is not in the folder "
                              f"beside {csv_path.name}")
        submission.problem_field = "File name"
        return submission
    described.add(name)
    if len(declared) != 64 or not set(declared) <= _SHA256_HEX:
        submission.problem = f"Tella recorded no SHA-256 for {name} (File hash is {answers.get('File hash')!r})"
        submission.problem_field = "File hash"
        return submission
    actual, _size = sha256_of(media[name])
    if actual != declared:
        submission.problem = (f"the SHA-256 of {name} is {actual}, not the {declared} Tella recorded: the file was "
                              "changed after Tella recorded it, or it is another file")
        submission.problem_field = "File hash"
        return submission
    submission.clear = {"tool": "tella", "submission": submission.submission_id, "captured_at": captured_at,
                        "declared_sha256": declared, "sha256_matches": True,
                        **{key: answers[column] for column, key in CLEAR_COLUMNS.items() if answers.get(column)}}
    submission.sealed = {k: v for k, v in answers.items()
                         if v and k not in CLEAR_COLUMNS and k not in ("File hash", "captured_at", "Timestamp")}
    return submission
