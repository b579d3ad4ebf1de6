"""KoboToolbox's data, as its API gives it (``/api/v2/assets/UID/data/?format=json``).

The answer is ``{"count", "next", "previous", "results": [...]}`` (a plain list of submissions is
taken too). Each submission is an object: its answers keyed by their group path joined with ``/``
(``witness/name``), a repeat group as a list of objects keyed the same way
(``victims/given_name``), and Kobo's own keys: ``_id``, ``_uuid``, ``meta/instanceID``,
``meta/rootUuid`` (the same across edits of one submission, when present), ``_submission_time``
(UTC, without a zone), ``_xform_id_string`` (the asset's uid), ``__version__``,
``_validation_status``, ``_submitted_by`` and ``_attachments``: one object per file with
``filename`` (``USER/attachments/FORMHUB_UUID/INSTANCE_UUID/NAME``), ``media_file_basename``,
``mimetype``, ``question_xpath``, ``download_url`` and its sizes, ``is_deleted``.

Nothing is downloaded: the files come from a folder the user gives (by default the JSON file's own),
found there under the path Kobo gives them, or under a folder named for the submission, or by their
name alone.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path

from dadkhah.errors import InputError
from dadkhah.vault.files import checked_input_file
from dadkhah.vault.intake.export import Export, Located, Submission, first_seen, sha256_of

SEALED_KEYS = {"_submitted_by": "submitted_by", "deviceid": "device_id", "username": "username",
               "phonenumber": "phone_number", "simserial": "sim_serial", "subscriberid": "subscriber_id",
               "_geolocation": "geolocation"}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _strip_uuid(value) -> str:
    text = _text(value).strip()
    return text[len("uuid:"):] if text.lower().startswith("uuid:") else text


def _prefixes(relative: str) -> list[str]:
    """``a/b/c`` -> ``a``, ``a/b``, ``a/b/c``: each step of a path, to refuse one that is a link."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p]
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]


def _is_repeat(value) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _flatten(item: dict, answers: dict[str, str], repeats: dict[str, list[dict]]) -> None:
    for key, value in item.items():
        if key == "_attachments":
            continue
        if _is_repeat(value):
            repeats.setdefault(key, []).extend(value)
        else:
            answers[key] = _text(value)


def read_kobo(path: str | Path, *, attachments: str | Path | None = None, max_bytes: int | None = None) -> Export:
    """Read a KoboToolbox data JSON file; attached files are looked for under ``attachments``
    (default: the JSON file's folder)."""
    path = checked_input_file(path)
    file_sha256, file_size = sha256_of(path)
    if max_bytes is not None and file_size > max_bytes:
        raise InputError(f"the file is larger than the workspace's limit of {max_bytes // 2**20:,} MB "
                         "(import.max_file_mb)", file=str(path))
    folder = Path(attachments) if attachments is not None else path.parent
    if not folder.is_dir():
        raise InputError("is not a folder of attachment files", file=str(folder), field="attachments")
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text, as KoboToolbox writes JSON", file=str(path)) from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"is not valid JSON: {exc}", file=str(path)) from None
    warnings = []
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        items = document["results"]
        if document.get("next"):
            warnings.append(f"this file is one page of a longer answer: it holds {len(items)} of "
                            f"{document.get('count', '?')} submissions (the next page is not in it)")
    elif isinstance(document, list):
        items = document
    else:
        raise InputError("is not KoboToolbox's data: expected a list of submissions, or an object with "
                         "`results` (the API's answer)", file=str(path))

    submissions, fields, repeat_fields, forms = [], set(), {}, []
    for line, item in enumerate(items, start=2):
        if not isinstance(item, dict):
            submissions.append(Submission(line=line, submission_id="", problem="the item is not a JSON object"))
            continue
        answers: dict[str, str] = {}
        groups: dict[str, list[dict]] = {}
        _flatten(item, answers, groups)
        fields.update(answers)
        submission_id = _strip_uuid(item.get("meta/rootUuid") or item.get("_uuid") or item.get("meta/instanceID"))
        version = _strip_uuid(item.get("_uuid") or item.get("meta/instanceID")) or None
        forms.append(_text(item.get("_xform_id_string")) or None)
        repeats = {}
        for group, entries in groups.items():
            found = []
            for number, entry in enumerate(entries, start=1):
                flat: dict[str, str] = {}
                _flatten(entry, flat, {})
                # answers inside a group are keyed by their full path; their own name works too
                flat |= {k[len(group) + 1:]: v for k, v in flat.items() if k.startswith(group + "/")}
                repeat_fields.setdefault(group, set()).update(flat)
                found.append((f"{submission_id}/{group}[{number}]", flat))
            repeats[group] = found
        validation = item.get("_validation_status") if isinstance(item.get("_validation_status"), dict) else {}
        submission = Submission(
            line=line, submission_id=submission_id, version_id=version,
            submitted_at=_text(item.get("_submission_time")) or None, answers=answers, repeats=repeats,
            clear={"tool": "kobo", "form": forms[-1], "submission": submission_id, "version": version,
                   "kobo_id": _text(item.get("_id")) or None, "form_version": _text(item.get("__version__")) or None,
                   "submitted_at": _text(item.get("_submission_time")) or None,
                   "validation": validation.get("uid") or None},
            sealed={name: item[key] for key, name in SEALED_KEYS.items()
                    if item.get(key) not in (None, "", [], [None, None])},
        )
        submission.attachments = [a for a in item.get("_attachments") or [] if isinstance(a, dict)]
        if not submission_id:
            submission.problem, submission.problem_field = "the submission has no _uuid", "_uuid"
        elif validation.get("uid") == "validation_status_not_approved":
            submission.problem = "not approved in KoboToolbox's validation (validation_status_not_approved)"
            submission.problem_field = "_validation_status"
        submissions.append(submission)

    root = folder.resolve()

    def inside(relative: str) -> Path | None:
        candidate = (folder / relative)
        try:
            resolved = candidate.resolve()
        except OSError:
            return None
        inside_root = resolved.is_relative_to(root) and not any(
            (folder / part).is_symlink() for part in _prefixes(relative))
        return candidate if inside_root and candidate.is_file() else None

    def locate(submission: Submission, answer: str, name: str) -> Located:
        entries = [a for a in submission.attachments if not a.get("is_deleted")]
        entry = next((a for a in entries if a.get("media_file_basename") == name
                      or posixpath.basename(_text(a.get("filename"))) == name), None)
        if entry is None:
            entry = next((a for a in entries if _text(a.get("question_xpath")).strip("/") == answer), None)
        base = (_text(entry.get("media_file_basename")) or posixpath.basename(_text(entry.get("filename")))
                if entry else name)
        candidates = first_seen(c for c in (
            _text(entry.get("filename")) if entry else "",
            f"{submission.version_id}/{base}" if submission.version_id else "",
            f"{submission.submission_id}/{base}", base, name) if c)
        for relative in candidates:
            found = inside(relative)
            if found is not None:
                clear = {"answer": answer}
                if entry:
                    clear |= {"media_type": entry.get("mimetype") or None, "kobo_attachment": entry.get("uid")
                              or _text(entry.get("id")) or None}
                return Located(path=found, name=base, clear={k: v for k, v in clear.items() if v})
        return Located(reason=f"the attachment {name!r} (answer {answer!r}) is not among the attachment files "
                              f"(looked under {folder} for {', '.join(candidates)})", name=name)

    known = [f for f in first_seen(forms) if f]
    return Export(tool="kobo", path=path, file_sha256=file_sha256, file_size=file_size,
                  form_id=known[0] if len(known) == 1 else None, id_column="_uuid", submissions=submissions,
                  locate=locate, fields=fields, repeat_fields=repeat_fields, warnings=warnings)
