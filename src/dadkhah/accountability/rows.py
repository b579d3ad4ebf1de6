"""One row of an accountability file read into a draft claim, or refused with the field at fault.

The files and their columns are listed in :data:`FILES`. Every row may also give ``source`` and
``locator`` (the citation: a row's own source overrides the import's), ``review_status`` (empty: work
needed), and any other columns, which are kept as given beside the claim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dadkhah.accountability.vocabulary import (
    ACT_TYPES,
    CERTAINTIES,
    DEGREES,
    INSTITUTION_KINDS,
    LIKELIHOODS,
    METHODS,
    OFFICIAL_STATUSES,
    PUBLICATIONS,
    RELATIONS,
    REVIEW_STATUSES,
    SITE_KINDS,
    SITE_STATUSES,
    read_word,
    word,
)
from dadkhah.errors import InputError
from dadkhah.normalize.dates import DateParseError, DateValue, parse_date
from dadkhah.normalize.gender import parse_gender
from dadkhah.normalize.names import normalize_name
from dadkhah.normalize.script import visible_text

# The files of an import, in the order they are read (a later file may name what an earlier defines),
# with their columns: the first is required on every row.
FILES: dict[str, tuple[str, ...]] = {
    "institutions": ("institution_id", "name", "name_fa", "kind", "parent_id", "relation", "from", "to"),
    "officials": ("official_id", "name", "name_fa", "aliases", "gender", "birth_date"),
    "sites": ("site_id", "name", "name_fa", "kind", "place", "latitude", "longitude", "certainty", "publication"),
    "acts": ("act_id", "act_type", "date", "place", "incident", "victims", "unnamed_victims"),
    "posts": ("official_id", "institution_id", "role", "from", "to"),
    "involvements": ("act_id", "actor_id", "degree", "likelihood"),
    "official_status": ("official_id", "observed_on", "status"),
    "site_status": ("site_id", "observed_on", "status", "method", "evidence"),
    "burials": ("site_id", "victim", "likelihood"),
}
CITATION_COLUMNS = ("source", "locator", "review_status")
# Which entity each file describes, by the id in its first column.
DESCRIBES = {"institutions": "institution", "officials": "official", "sites": "site", "acts": "act"}
ID_PREFIXES = {"institution": "I-", "official": "O-", "act": "A-", "site": "S-"}

_REGISTRY_ID = re.compile(r"^[IOAS]-\d{6}$")
_TESTIMONY_ID = re.compile(r"^T-\d{4,}$")
_EVIDENCE_ID = re.compile(r"^E-\d{6,}$")
_PERSON_ID = re.compile(r"^P-\d{6,}$")


@dataclass(slots=True)
class Ref:
    """An entity named in a file: by registry id (``O-000001``) or by the files' own id."""

    kind: str
    text: str

    @property
    def is_registry_id(self) -> bool:
        return bool(_REGISTRY_ID.match(self.text)) and self.text.startswith(ID_PREFIXES[self.kind])


@dataclass(slots=True)
class Victim:
    """A victim as a file names one: ``SOURCE:RECORD_ID`` or a person id ``P-…``."""

    text: str
    source: str | None = None
    record_id: str | None = None
    person_id: str | None = None


@dataclass(slots=True)
class Draft:
    """A claim as read from one row, before its entities are looked up."""

    kind: str
    subject: Ref
    file: str | None
    line: int | None
    object: Ref | None = None
    value: str | None = None
    likelihood: str | None = None
    from_date: DateValue | None = None
    to_date: DateValue | None = None
    place_text: str | None = None
    count: int | None = None
    data: dict = field(default_factory=dict)
    victims: list[Victim] = field(default_factory=list)
    citation_source: str | None = None
    locator: str | None = None
    testimony_id: str | None = None
    evidence_id: str | None = None
    review_status: str | None = None
    describes: dict | None = None  # names, kind, place of the entity the row defines


def clean(value: str | None) -> str | None:
    """A cell as written, trimmed; without control and text-direction override characters, which
    could hide or reverse a name where it is shown (:data:`~dadkhah.normalize.script.INVISIBLE`)."""
    if value is None:
        return None
    value = visible_text(value)[0].strip()
    return value or None


def read_date(text: str | None, *, field: str, required: bool = False) -> DateValue | None:
    text = clean(text)
    if text is None:
        if required:
            raise InputError("is required", field=field)
        return None
    try:
        value = parse_date(text)
    except DateParseError as exc:
        raise InputError(str(exc), field=field) from None
    if value is None and required:
        raise InputError("is required (a date, even a year)", field=field)
    return value


def read_ref(text: str | None, kind: str, *, field: str, required: bool = True) -> Ref | None:
    text = clean(text)
    if text is None:
        if required:
            raise InputError("is required", field=field)
        return None
    return Ref(kind, text)


def read_victim(text: str, *, field: str) -> Victim:
    text = text.strip()
    if _PERSON_ID.match(text):
        return Victim(text, person_id=text)
    source, colon, record_id = text.partition(":")
    if not colon or not source.strip() or not record_id.strip():
        raise InputError(f"{text!r} is neither SOURCE:RECORD_ID nor a person id P-…", field=field)
    return Victim(text, source=source.strip(), record_id=record_id.strip())


def read_citation(draft: Draft, cells: dict[str, str | None]) -> Draft:
    draft.citation_source = clean(cells.get("source"))
    locator = clean(cells.get("locator"))
    if locator and _TESTIMONY_ID.match(locator):
        draft.testimony_id = locator
    elif locator and _EVIDENCE_ID.match(locator):
        draft.evidence_id = locator
    else:
        draft.locator = locator
    draft.review_status = read_word(cells.get("review_status"), REVIEW_STATUSES, field="review_status",
                                    required=False)
    return draft


def name_keys(*names: str | None, words: bool = True) -> set[str]:
    """The cross-script keys an official or institution is found by (the registry's own name keys):
    each whole name's, and with ``words`` each of its words' (so one word of a name finds it)."""
    keys = set()
    for name in names:
        value = normalize_name(name, "family") if name else None
        if value is not None and value.key:
            keys.add(value.key)
            if words:
                keys.update(w for w in value.key.split() if len(w) >= 2)
    return keys


def query_keys(text: str) -> list[str]:
    """The key of each word of a search: an entity must bear them all."""
    value = normalize_name(text, "family") if text else None
    return sorted(set(value.key.split())) if value is not None and value.key else []


def _names(cells: dict, *, field: str) -> dict:
    name, name_fa = clean(cells.get("name")), clean(cells.get("name_fa"))
    if name is None and name_fa is None:
        raise InputError("is required (a name in either script: name or name_fa)", field=field)
    return {"name": name, "name_fa": name_fa}


def _coordinate(text: str | None, *, field: str, low: float, high: float) -> float | None:
    text = clean(text)
    if text is None:
        return None
    try:
        value = float(text.replace("٫", ".").replace(",", "."))
    except ValueError:
        raise InputError(f"{text!r} is not a number", field=field) from None
    if not low <= value <= high:
        raise InputError(f"{value} is outside {low} to {high}", field=field)
    return value


def _count(text: str | None, *, field: str) -> int | None:
    text = clean(text)
    if text is None:
        return None
    if not text.isdecimal():  # digits of any script (۳ reads as 3), not superscripts or fractions
        raise InputError(f"{text!r} is not a whole number", field=field)
    value = int(text)
    if value > 10_000_000:
        raise InputError(f"{value} is more than any act could have", field=field)
    return value


def read_row(file: str, cells: dict[str, str | None], *, line: int | None) -> list[Draft]:
    """The claims one row of ``file`` makes (an institution row with a parent makes two)."""
    reader = _READERS[file]
    return reader(cells, file, line)


def _institution(cells, file, line) -> list[Draft]:
    subject = read_ref(cells.get("institution_id"), "institution", field="institution_id")
    names = _names(cells, field="name")
    kind = read_word(cells.get("kind"), INSTITUTION_KINDS, field="kind")
    drafts = [read_citation(Draft("institution", subject, file, line, value=kind, data=dict(names),
                                  describes=names | {"category": kind}), cells)]
    parent = read_ref(cells.get("parent_id"), "institution", field="parent_id", required=False)
    if parent is not None:
        relation = read_word(cells.get("relation"), RELATIONS, field="relation", default="child-of")
        drafts.append(read_citation(Draft(
            "relation", subject, file, line, object=parent, value=relation,
            from_date=read_date(cells.get("from"), field="from"), to_date=read_date(cells.get("to"), field="to")),
            cells))
    elif clean(cells.get("relation")):
        raise InputError("names a relation but no parent_id", field="relation")
    return drafts


def _official(cells, file, line) -> list[Draft]:
    subject = read_ref(cells.get("official_id"), "official", field="official_id")
    names = _names(cells, field="name")
    aliases = [a.strip() for a in (cells.get("aliases") or "").split("|") if a.strip()]
    gender_text = clean(cells.get("gender"))
    try:
        gender = parse_gender(gender_text)
    except ValueError as exc:
        raise InputError(str(exc), field="gender") from None
    birth = read_date(cells.get("birth_date"), field="birth_date")
    data = names | {"aliases": aliases, "gender": gender, "birth_date": birth.original if birth else None}
    return [read_citation(Draft("official", subject, file, line, from_date=birth, data=data,
                                describes=names | {"aliases": aliases}), cells)]


def _site(cells, file, line) -> list[Draft]:
    subject = read_ref(cells.get("site_id"), "site", field="site_id")
    names = _names(cells, field="name")
    kind = read_word(cells.get("kind"), SITE_KINDS, field="kind")
    latitude = _coordinate(cells.get("latitude"), field="latitude", low=-90, high=90)
    longitude = _coordinate(cells.get("longitude"), field="longitude", low=-180, high=180)
    if (latitude is None) != (longitude is None):
        raise InputError("gives one coordinate without the other", field="latitude" if latitude is None else "longitude")
    certainty = read_word(cells.get("certainty"), CERTAINTIES, field="certainty")
    publication = read_word(cells.get("publication"), PUBLICATIONS, field="publication", default="hidden")
    data = names | {"latitude": latitude, "longitude": longitude, "certainty": certainty, "publication": publication}
    return [read_citation(Draft("site", subject, file, line, value=kind, place_text=clean(cells.get("place")),
                                data=data, describes=names | {"category": kind, "publication": publication}), cells)]


def _act(cells, file, line) -> list[Draft]:
    subject = read_ref(cells.get("act_id"), "act", field="act_id")
    act_type = read_word(cells.get("act_type"), ACT_TYPES, field="act_type")
    when = read_date(cells.get("date"), field="date")
    victims = [read_victim(v, field="victims") for v in (cells.get("victims") or "").split("|") if v.strip()]
    unnamed = _count(cells.get("unnamed_victims"), field="unnamed_victims")
    incident = clean(cells.get("incident"))
    return [read_citation(Draft("act", subject, file, line, value=act_type, from_date=when,
                                place_text=clean(cells.get("place")), count=unnamed, victims=victims,
                                data={"incident": incident}, describes={"category": act_type}), cells)]


def _post(cells, file, line) -> list[Draft]:
    official = read_ref(cells.get("official_id"), "official", field="official_id")
    institution = read_ref(cells.get("institution_id"), "institution", field="institution_id")
    role = clean(cells.get("role"))
    if role is None:
        raise InputError("is required (the post's title)", field="role")
    start, end = read_date(cells.get("from"), field="from"), read_date(cells.get("to"), field="to")
    if start and end and end.latest < start.earliest:
        raise InputError(f"ends ({end.original}) before it begins ({start.original})", field="to")
    return [read_citation(Draft("post", official, file, line, object=institution, value=role,
                                from_date=start, to_date=end), cells)]


def _involvement(cells, file, line) -> list[Draft]:
    act = read_ref(cells.get("act_id"), "act", field="act_id")
    actor = read_ref(cells.get("actor_id"), "official", field="actor_id")  # or an institution: looked up both ways
    degree = read_word(cells.get("degree"), DEGREES, field="degree")
    likelihood = read_word(cells.get("likelihood"), LIKELIHOODS, field="likelihood")
    return [read_citation(Draft("involvement", act, file, line, object=actor, value=degree, likelihood=likelihood),
                          cells)]


def _official_status(cells, file, line) -> list[Draft]:
    official = read_ref(cells.get("official_id"), "official", field="official_id")
    observed = read_date(cells.get("observed_on"), field="observed_on", required=True)
    status = read_word(cells.get("status"), OFFICIAL_STATUSES, field="status")
    return [read_citation(Draft("official-status", official, file, line, value=status, from_date=observed), cells)]


def _site_status(cells, file, line) -> list[Draft]:
    site = read_ref(cells.get("site_id"), "site", field="site_id")
    observed = read_date(cells.get("observed_on"), field="observed_on", required=True)
    status = read_word(cells.get("status"), SITE_STATUSES, field="status")
    method = read_word(cells.get("method"), METHODS, field="method")
    draft = read_citation(Draft("site-status", site, file, line, value=status, from_date=observed,
                                data={"method": method}), cells)
    evidence = clean(cells.get("evidence"))
    if evidence:
        if _EVIDENCE_ID.match(evidence):
            draft.evidence_id = evidence
        elif _TESTIMONY_ID.match(evidence):
            draft.testimony_id = evidence
        else:
            raise InputError(f"{evidence!r} is not an evidence id E-… or testimony id T-…", field="evidence")
    return [draft]


def _burial(cells, file, line) -> list[Draft]:
    site = read_ref(cells.get("site_id"), "site", field="site_id")
    text = clean(cells.get("victim"))
    if text is None:
        raise InputError("is required", field="victim")
    likelihood = read_word(cells.get("likelihood"), LIKELIHOODS, field="likelihood")
    return [read_citation(Draft("burial", site, file, line, likelihood=likelihood,
                                victims=[read_victim(text, field="victim")]), cells)]


_READERS = {
    "institutions": _institution, "officials": _official, "sites": _site, "acts": _act, "posts": _post,
    "involvements": _involvement, "official_status": _official_status, "site_status": _site_status,
    "burials": _burial,
}


def role_key(role: str) -> str:
    """Two spellings of one title ("Head of prison", "head of  Prison") name the same post."""
    return word(role)
