"""The mapping file of an intake: which answers of a form become a testimony, evidence and a victim record.

A TOML file with up to three sections, each optional but at least one present::

    source = "odk-witness-statements"   # the source records and evidence belong to (default: from the form)
    incident = "1988 prison executions"

    [testimony]                         # one testimony per submission; its witness fields are sealed
    witness_name = "witness-name"       # required
    witness_contact = "witness-phone"
    interviewer = "interviewer"
    transcript = "statement"            # a text answer; or transcript_file = "statement_file" (an attachment)
    language = { value = "fa" }         # required: an answer, or a fixed value
    consent = { field = "consent", values = { all = "investigators,courts,public" } }   # required
    place = "statement-city"

    [evidence]                          # each attachment named by these answers becomes an evidence item
    attachments = ["photo", "recording"]
    description = "photo-caption"
    captured_at = "incident-date"
    captured_where = "incident-city"
    acquired_how = { value = "recorded by our field team" }
    release = { value = "investigators,courts" }

    [record]                            # the victim the submission reports (the importer's fields)
    repeat = "victims"                  # optional: one record per entry of this repeat group
    given_name = "victim-given-name"
    death_date = { field = "victim-death-date", calendar = "jalali", order = "ymd" }

    [dates]                             # defaults for the record's date fields, as in an import mapping
    calendar = "auto"
    order = "auto"

An answer is named as the export writes it: ODK Central's CSV columns (groups joined by ``-``:
``witness-name``), KoboToolbox's JSON keys (groups joined by ``/``: ``witness/name``). Every error
names the mapping file and the key (``testimony.language``).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dadkhah.errors import InputError
from dadkhah.ingest.columns import CALENDARS, ORDERS
from dadkhah.model import CANONICAL_FIELDS, DATE_FIELDS

TESTIMONY_KEYS = ("witness_name", "witness_contact", "interviewer", "transcript", "transcript_file", "language",
                  "consent", "place")
TESTIMONY_REQUIRED = ("witness_name", "language", "consent")
SEALED_KEYS = ("witness_name", "witness_contact", "interviewer", "transcript", "transcript_file")
EVIDENCE_KEYS = ("attachments", "description", "captured_at", "captured_where", "acquired_how", "release")
RECORD_FIELDS = tuple(f for f in CANONICAL_FIELDS if f != "record_id")
NAME_FIELDS = ("given_name", "family_name", "full_name")
SECTIONS = ("source", "incident", "testimony", "evidence", "record", "dates")
_TOKENS = re.compile(r"[\s,]+")


@dataclass(frozen=True)
class Answer:
    """Where a value comes from: a form's answer (``field``), translated through ``values`` when given,
    or a ``value`` fixed in the mapping. ``key`` is where the mapping says so (``testimony.language``)."""

    key: str
    field: str | None = None
    value: str | None = None
    values: tuple[tuple[str, str], ...] = ()
    calendar: str = "auto"
    order: str = "auto"

    def read(self, answers: dict[str, str], *also: dict[str, str]) -> str | None:
        """The value in ``answers`` (then in each of ``also``), translated; None when unanswered."""
        if self.value is not None:
            return self.value
        text = next((a[self.field] for a in (answers, *also) if a.get(self.field) not in (None, "")), None)
        text = (text or "").strip()
        if not text:
            return None
        if not self.values:
            return text
        table = dict(self.values)
        if text in table:
            return table[text]
        tokens = [t for t in _TOKENS.split(text) if t]
        if len(tokens) > 1 and any(t in table for t in tokens):  # a multiple choice: "a b c"
            return " ".join(table.get(t, t) for t in tokens)
        return text


@dataclass
class IntakeMapping:
    """What a mapping file says, checked. See the module's docstring for the file."""

    path: str | None = None
    sha256: str | None = None
    source: str | None = None
    incident: str | None = None
    testimony: dict[str, Answer] = field(default_factory=dict)
    attachments: tuple[Answer, ...] = ()
    evidence: dict[str, Answer] = field(default_factory=dict)
    record: dict[str, Answer] = field(default_factory=dict)
    repeat: str | None = None

    def answers_used(self) -> list[Answer]:
        """Every answer the mapping reads (not the fixed values), in the file's order."""
        every = [*self.testimony.values(), *self.attachments, *self.evidence.values(), *self.record.values()]
        return [a for a in every if a.field is not None]

    def sealed_fields(self) -> set[str]:
        """The form's answers that are sealed (the witness's name and contact, the interviewer, the
        transcript): they never go into anything written in clear, the quarantine report included."""
        return {a.field for k, a in self.testimony.items() if k in SEALED_KEYS and a.field is not None}

    def wants_vault(self) -> bool:
        return bool(self.testimony or self.attachments)


def _fail(message: str, path: str | None, key: str) -> InputError:
    return InputError(message, file=path, field=key)


def _answer(spec, key: str, path: str | None, *, dates: tuple[str, str] | None = None) -> Answer:
    """An :class:`Answer` from ``"field"``, ``{ field = ..., values = {...} }`` or ``{ value = ... }``."""
    if isinstance(spec, str):
        if not spec.strip():
            raise _fail("names no answer: give the answer's name as the export writes it", path, key)
        return Answer(key, field=spec, calendar=dates[0] if dates else "auto", order=dates[1] if dates else "auto")
    if not isinstance(spec, dict):
        raise _fail("takes an answer's name (\"witness-name\"), or a table with `field` or `value`", path, key)
    allowed = {"field", "value", "values"} | ({"calendar", "order"} if dates else set())
    extra = sorted(set(spec) - allowed)
    if extra:
        raise _fail(f"unknown option(s) {extra}; allowed: {', '.join(sorted(allowed))}", path, key)
    if ("field" in spec) == ("value" in spec):
        raise _fail("takes either `field` (an answer of the form) or `value` (fixed in the mapping), not both or neither",
                    path, key)
    if "value" in spec and (not isinstance(spec["value"], str) or "values" in spec):
        raise _fail("`value` is a text fixed in the mapping (and takes no `values`)", path, key)
    if "field" in spec and (not isinstance(spec["field"], str) or not spec["field"].strip()):
        raise _fail("`field` names an answer of the form", path, key)
    values = spec.get("values", {})
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise _fail("`values` is a table from the form's answers to what they mean here (text)", path, key)
    calendar, order = dates or ("auto", "auto")
    calendar = spec.get("calendar", calendar)
    order = spec.get("order", order)
    if calendar not in CALENDARS:
        raise _fail(f"calendar must be one of {', '.join(CALENDARS)}, not {calendar!r}", path, key)
    if order not in ORDERS:
        raise _fail(f"order must be one of {', '.join(ORDERS)}, not {order!r}", path, key)
    return Answer(key, field=spec.get("field"), value=spec.get("value"),
                  values=tuple((str(k), v) for k, v in values.items()), calendar=calendar, order=order)


def _section(data: dict, name: str, path: str | None) -> dict:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise _fail(f"[{name}] is a table of keys", path, name)
    return section


def read_mapping(data: dict, *, path: str | None = None, sha256: str | None = None) -> IntakeMapping:
    """Check a mapping's content (already parsed) and say what it means."""
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise _fail(f"unknown key(s) or section(s) {unknown}; expected source, incident, [testimony], [evidence], "
                    "[record] and [dates]", path, unknown[0])
    mapping = IntakeMapping(path=path, sha256=sha256)
    for key in ("source", "incident"):
        if key in data:
            if not isinstance(data[key], str) or not data[key].strip():
                raise _fail("is a name (text)", path, key)
            setattr(mapping, key, data[key].strip())

    testimony = _section(data, "testimony", path)
    if testimony:
        extra = sorted(set(testimony) - set(TESTIMONY_KEYS))
        if extra:
            raise _fail(f"unknown key {extra[0]!r}; [testimony] takes {', '.join(TESTIMONY_KEYS)}", path,
                        f"testimony.{extra[0]}")
        for key in TESTIMONY_REQUIRED:
            if key not in testimony:
                raise _fail("is required in [testimony]", path, f"testimony.{key}")
        if ("transcript" in testimony) == ("transcript_file" in testimony):
            raise _fail("[testimony] takes the transcript from one answer: `transcript` (a text answer) or "
                        "`transcript_file` (an attached text file)", path, "testimony.transcript")
        mapping.testimony = {k: _answer(v, f"testimony.{k}", path) for k, v in testimony.items()}
        for key in SEALED_KEYS:
            if key in mapping.testimony and mapping.testimony[key].field is None:
                raise _fail("is the witness's own, so it comes from an answer of the form, never from the mapping "
                            "(which is stored in clear)", path, f"testimony.{key}")

    evidence = _section(data, "evidence", path)
    if evidence:
        extra = sorted(set(evidence) - set(EVIDENCE_KEYS))
        if extra:
            raise _fail(f"unknown key {extra[0]!r}; [evidence] takes {', '.join(EVIDENCE_KEYS)}", path,
                        f"evidence.{extra[0]}")
        attachments = evidence.get("attachments")
        if isinstance(attachments, str):
            attachments = [attachments]
        if not attachments or not isinstance(attachments, list) or not all(isinstance(a, str) and a.strip()
                                                                           for a in attachments):
            raise _fail("lists the answers that name attached files: attachments = [\"photo\", \"recording\"]", path,
                        "evidence.attachments")
        mapping.attachments = tuple(Answer("evidence.attachments", field=a) for a in attachments)
        mapping.evidence = {k: _answer(v, f"evidence.{k}", path) for k, v in evidence.items() if k != "attachments"}

    dates = _section(data, "dates", path)
    extra = sorted(set(dates) - {"calendar", "order"})
    if extra:
        raise _fail(f"unknown key {extra[0]!r}; [dates] takes calendar and order", path, f"dates.{extra[0]}")
    default_dates = (dates.get("calendar", "auto"), dates.get("order", "auto"))
    if default_dates[0] not in CALENDARS:
        raise _fail(f"must be one of {', '.join(CALENDARS)}, not {default_dates[0]!r}", path, "dates.calendar")
    if default_dates[1] not in ORDERS:
        raise _fail(f"must be one of {', '.join(ORDERS)}, not {default_dates[1]!r}", path, "dates.order")

    record = _section(data, "record", path)
    if record:
        extra = sorted(set(record) - set(RECORD_FIELDS) - {"repeat"})
        if extra:
            hint = (" (a record's id is its submission's, or its repeat entry's)" if extra[0] == "record_id" else "")
            raise _fail(f"unknown key {extra[0]!r}{hint}; [record] takes repeat and the importer's fields: "
                        f"{', '.join(RECORD_FIELDS)}", path, f"record.{extra[0]}")
        if "repeat" in record:
            if not isinstance(record["repeat"], str) or not record["repeat"].strip():
                raise _fail("names a repeat group of the form", path, "record.repeat")
            mapping.repeat = record["repeat"].strip().strip("/")
        mapping.record = {k: _answer(v, f"record.{k}", path, dates=default_dates if k in DATE_FIELDS else None)
                          for k, v in record.items() if k != "repeat"}
        if not any(k in mapping.record for k in NAME_FIELDS):
            raise _fail("a victim record needs a name: map given_name, family_name or full_name", path, "record")
        used: dict[str, str] = {}
        for key, answer in mapping.record.items():
            if answer.field is not None and answer.field in used:
                raise _fail(f"reads the answer {answer.field!r}, which record.{used[answer.field]} reads too", path,
                            f"record.{key}")
            if answer.field is not None:
                used[answer.field] = key

    if not (mapping.testimony or mapping.attachments or mapping.record):
        raise _fail("says nothing to take in: give at least one of [testimony], [evidence] and [record]", path,
                    "mapping")
    sealed = mapping.sealed_fields()
    for answer in [*mapping.attachments, *mapping.evidence.values(), *mapping.record.values()]:
        if answer.field in sealed:
            raise _fail(f"reads {answer.field!r}, a sealed answer of the testimony: it would be stored in clear",
                        path, answer.key)
    return mapping


def load_mapping(path: str | Path) -> IntakeMapping:
    """Read and check a mapping file; errors name the file and the key."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("mapping file not found", file=name, field="mapping") from None
    except OSError as exc:
        raise InputError(f"cannot be read: {exc.strerror or exc}", file=name, field="mapping") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"not valid TOML: {exc}", file=name, field="mapping") from None
    return read_mapping(data, path=name, sha256=hashlib.sha256(raw).hexdigest())
