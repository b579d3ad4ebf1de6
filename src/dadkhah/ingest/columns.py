"""Which column holds which field: common Persian and English headers, or a mapping file.

Lists arrive with headers such as "نام خانوادگی", "Surname", "Date of execution", "تاریخ اعدام".
Known headers are recognised without any configuration; anything else is kept in the raw row. A
mapping file (TOML) names columns the recogniser cannot guess and says, per date column, which
calendar and which day/month order it uses::

    [columns]
    "Nom" = "given_name"
    "Exécuté le" = { field = "death_date", calendar = "gregorian", order = "dmy" }
    "Age" = "ignore"

    [dates]            # defaults for every date column
    calendar = "auto"  # auto | jalali | gregorian
    order = "auto"     # auto | ymd | dmy | mdy
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from dadkhah.errors import InputError
from dadkhah.model import CANONICAL_FIELDS, DATE_FIELDS
from dadkhah.normalize.script import ZWNJ, fold_text

CALENDARS = ("auto", "jalali", "gregorian")
ORDERS = ("auto", "ymd", "dmy", "mdy")
IGNORE = "ignore"

_HEADER_NOISE = re.compile(r"[\s_\-.:'’()\[\]/]+")


def header_key(header: str) -> str:
    """Headers compare case-, space-, punctuation- and script-variant-insensitively."""
    return _HEADER_NOISE.sub("", fold_text(header or "").replace(ZWNJ, ""))


_ALIASES: dict[str, tuple[str, ...]] = {
    "record_id": ("record_id", "record id", "id", "recordno", "record no", "no", "number", "#", "ref",
                  "reference", "code", "serial", "row", "شناسه", "ردیف", "شماره", "کد", "شماره ردیف", "شناسه رکورد"),
    "given_name": ("given_name", "given name", "first name", "firstname", "forename", "first", "prenom",
                   "نام کوچک", "اسم کوچک"),
    "family_name": ("family_name", "family name", "last name", "lastname", "surname", "family", "nom",
                    "نام خانوادگی", "فامیلی", "فامیل", "شهرت"),
    "full_name": ("full_name", "full name", "fullname", "complete name", "victim", "victim name",
                  "name of victim", "names", "نام و نام خانوادگی", "نام کامل", "اسم و فامیل", "نام و فامیل",
                  "نام قربانی", "مشخصات"),
    "father_name": ("father_name", "father name", "father's name", "fathers name", "father", "son of",
                    "patronymic", "نام پدر", "اسم پدر", "پدر", "فرزند"),
    "gender": ("gender", "sex", "جنس", "جنسیت"),
    "birth_date": ("birth_date", "birth date", "date of birth", "dob", "born", "birth", "birth year",
                   "year of birth", "birthdate", "تاریخ تولد", "سال تولد", "تولد", "متولد"),
    "death_date": ("death_date", "death date", "date of death", "executed", "execution date",
                   "date of execution", "date executed", "killed", "date killed", "date of killing", "died",
                   "dod", "تاریخ اعدام", "تاریخ فوت", "تاریخ شهادت", "تاریخ مرگ", "تاریخ قتل", "اعدام",
                   "تاریخ جان باختن", "تاریخ جانباختن", "زمان اعدام"),
    "city": ("city", "town", "place", "location", "city of execution", "place of death", "شهر", "محل",
             "شهرستان", "محل اعدام", "شهر محل اعدام"),
    "prison": ("prison", "jail", "place of detention", "detention", "زندان", "محل بازداشت", "محل زندان",
               "محل حبس"),
    "affiliation": ("affiliation", "political affiliation", "organisation", "organization", "group",
                    "party", "political group", "وابستگی", "وابستگی سیاسی", "وابستگی سازمانی", "گرایش",
                    "گرایش سیاسی", "سازمان", "هواداری", "جریان سیاسی"),
    "notes": ("notes", "note", "remarks", "remark", "comments", "comment", "description", "details",
              "توضیحات", "توضیح", "یادداشت", "ملاحظات", "شرح"),
}
KNOWN_HEADERS: dict[str, str] = {header_key(alias): f for f, aliases in _ALIASES.items() for alias in aliases}
# "Name" / "نام" alone: the given name when the file also has a family-name column, else the full name.
_AMBIGUOUS_NAME = frozenset({header_key(h) for h in ("name", "نام", "اسم")})


@dataclass(frozen=True)
class ColumnSpec:
    field: str
    calendar: str = "auto"
    order: str = "auto"


@dataclass
class Mapping:
    """What a mapping file says: columns by header key, and date defaults."""

    columns: dict[str, ColumnSpec | None] = field(default_factory=dict)  # None = ignore
    headers: dict[str, str] = field(default_factory=dict)  # header key -> header as written in the mapping
    date_calendar: str = "auto"
    date_order: str = "auto"
    path: str | None = None


@dataclass
class ColumnPlan:
    """For each column position of the file, the canonical field it feeds (or None: raw only)."""

    header: list[str]
    specs: list[ColumnSpec | None]
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (field, message), reported on line 1

    def position(self, field_name: str) -> int | None:
        for i, spec in enumerate(self.specs):
            if spec is not None and spec.field == field_name:
                return i
        return None

    def as_dict(self) -> dict[str, str]:
        return {h: s.field for h, s in zip(self.header, self.specs, strict=True) if s is not None}


def _check_choice(value, choices, *, what: str, path: str, column: str | None) -> str:
    if value not in choices:
        raise InputError(f"{what} must be one of {', '.join(choices)}, not {value!r}", file=path, field=column)
    return value


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file; errors name the file and the column."""
    path = str(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise InputError("mapping file not found", file=path) from None
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise InputError(f"not valid TOML: {exc}", file=path, line=int(where.group(1)) if where else None) from None
    unknown = set(data) - {"columns", "dates"}
    if unknown:
        raise InputError(f"unknown section(s) {sorted(unknown)}; expected [columns] and [dates]", file=path)
    dates = data.get("dates", {})
    mapping = Mapping(
        date_calendar=_check_choice(dates.get("calendar", "auto"), CALENDARS, what="[dates] calendar", path=path, column=None),
        date_order=_check_choice(dates.get("order", "auto"), ORDERS, what="[dates] order", path=path, column=None),
        path=path,
    )
    for column, target in data.get("columns", {}).items():
        options = {"field": target} if isinstance(target, str) else target
        if not isinstance(options, dict) or "field" not in options:
            raise InputError("each column maps to a field name or a table with a `field` key", file=path, field=column)
        extra = set(options) - {"field", "calendar", "order"}
        if extra:
            raise InputError(f"unknown option(s) {sorted(extra)}; allowed: field, calendar, order", file=path, field=column)
        target_field = options["field"]
        if target_field == IGNORE:
            spec = None
        else:
            _check_choice(target_field, CANONICAL_FIELDS + (IGNORE,), what="field", path=path, column=column)
            if ("calendar" in options or "order" in options) and target_field not in DATE_FIELDS:
                raise InputError("calendar and order apply to date fields only", file=path, field=column)
            spec = ColumnSpec(
                field=target_field,
                calendar=_check_choice(options.get("calendar", mapping.date_calendar), CALENDARS, what="calendar", path=path, column=column),
                order=_check_choice(options.get("order", mapping.date_order), ORDERS, what="order", path=path, column=column),
            )
        key = header_key(column)
        mapping.columns[key] = spec
        mapping.headers[key] = column
    return mapping


def plan_columns(header: list[str], mapping: Mapping | None = None, *, file: str | None = None) -> ColumnPlan:
    """Decide which column feeds which field. Two columns feeding one field is an error."""
    mapping = mapping or Mapping()
    keys = [header_key(h) for h in header]
    has_family = any(
        (mapping.columns.get(k).field if k in mapping.columns and mapping.columns.get(k) else KNOWN_HEADERS.get(k)) == "family_name"
        for k in keys
    )
    specs: list[ColumnSpec | None] = []
    for key in keys:
        if not key:
            specs.append(None)
            continue
        if key in mapping.columns:
            specs.append(mapping.columns[key])
            continue
        target = KNOWN_HEADERS.get(key)
        if key in _AMBIGUOUS_NAME:
            target = "given_name" if has_family else "full_name"
        if target is None:
            specs.append(None)
        elif target in DATE_FIELDS:
            specs.append(ColumnSpec(target, mapping.date_calendar, mapping.date_order))
        else:
            specs.append(ColumnSpec(target))
    seen: dict[str, str] = {}
    for number, (column, spec) in enumerate(zip(header, specs, strict=True), start=1):
        if spec is None:
            continue
        if spec.field in seen and header_key(seen[spec.field]) == header_key(column):
            # A mapping names columns by their header: it cannot keep one of two of the same name.
            first = next(i for i, other in enumerate(header, start=1) if header_key(other) == header_key(column))
            raise InputError(
                f"columns {first} and {number} are both named {column!r}; rename one of them in the file (a mapping "
                "file names columns by their header, so it cannot tell these two apart)",
                file=file,
                line=1,
                field=column,
            )
        if spec.field in seen:
            raise InputError(
                f"columns {seen[spec.field]!r} and {column!r} both look like {spec.field}; say which one to use "
                f"in a mapping file (e.g. \"{column}\" = \"ignore\")",
                file=file,
                line=1,
                field=column,
            )
        seen[spec.field] = column
    plan = ColumnPlan(header=list(header), specs=specs)
    for key, written in mapping.headers.items():
        if key not in keys:
            plan.warnings.append((written, f"the mapping names column {written!r}, which this file does not have"))
    if not any(s is not None and s.field in ("given_name", "family_name", "full_name") for s in specs):
        given = ", ".join(repr(column) for column in header if column.strip()) or "none"
        raise InputError(
            "no column holds a name (looked for headers such as name, full name, given name, surname, "
            f"نام، نام خانوادگی; this file's columns: {given}); name the columns in a mapping file",
            file=file,
            line=1,
            field="full_name",
        )
    return plan
