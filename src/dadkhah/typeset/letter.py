"""An open letter and its signatories as a PDF, in English or in Persian (right to left).

How Typst is used, and why (the shaping, the vendored font, the data passed as JSON and never as
markup, the characters taken out before typesetting), is said once in
:mod:`dadkhah.typeset.compile`, which this module shares with the printed report. The letter and
the signatories' names come from the public: every one of them is printed as text.

The signatories are printed as tables, one per group, a field to a cell: each cell is its own
paragraph for the bidirectional algorithm, so an English affiliation in a Persian letter (or a
Persian name in an English one) stays in place, and bidirectional control characters in one field
cannot reorder another.

A letter with more signatories than :data:`~dadkhah.typeset.parts.WHOLE_ROWS` is set in parts and
joined (:mod:`dadkhah.typeset.parts`): Typst would hold the whole of it while setting it, about 60 KB
a signatory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from dadkhah.errors import InputError
from dadkhah.typeset.compile import (
    FONTS,
    cell,
    compile_pdf,
    day_words,
    moment_of,
    number,
    printable,
    write_pdf,
)
from dadkhah.typeset.parts import PART_ROWS, WHOLE_ROWS, compile_in_parts, plan

__all__ = ["DEFAULT_HEADINGS", "FONTS", "LANGUAGES", "letter_pdf"]

HERE = Path(__file__).parent
TEMPLATE = HERE / "letter.typ"

LANGUAGES = ("en", "fa")
KINDS = ("person", "organisation")

DEFAULT_HEADINGS: dict[str, dict[str, str]] = {
    "en": {
        "to": "To",
        "version": "Version",
        "as_of": "As of",
        "signatories": "Signatories",
        "signed_by": "Signed by {verified} people and organisations, of whom {public_names} are named below.",
        "organisations": "Organisations",
        "people": "People",
        "name": "Name",
        "role": "Role",
        "affiliation": "Affiliation",
        "country": "Country",
        "page": "Page {page} of {pages}",
    },
    "fa": {
        "to": "خطاب به",
        "version": "نسخهٔ",
        "as_of": "تا تاریخ",
        "signatories": "امضاکنندگان",
        "signed_by": "{verified} فرد و سازمان این نامه را امضا کرده‌اند که نام {public_names} تن از آنان در زیر آمده است.",
        "organisations": "سازمان‌ها",
        "people": "افراد",
        "name": "نام",
        "role": "سمت",
        "affiliation": "وابستگی",
        "country": "کشور",
        "page": "صفحهٔ {page} از {pages}",
    },
}

_SEPARATOR = {"en": " · ", "fa": "، "}
_GROUP_HEADING = {"person": "people", "organisation": "organisations"}
_FIELDS = ("role", "affiliation", "country")


def letter_pdf(letter: dict, out: str | os.PathLike, *, progress: Callable[[int, int], None] | None = None,
               part_rows: int | None = None, whole_rows: int | None = None) -> dict:
    """Write the letter as a PDF; returns {"path", "pages", "sha256", "bytes", "tagged"}.

    ``letter`` holds:

    - ``language``: ``"en"``, or ``"fa"`` for Persian: the whole document right to left, and the
      numbers printed here (counts, dates, version, page numbers) in Persian digits.
    - ``title``: a string; ``addressee``: a string, or None or empty for no "To" line.
    - ``text``: the body; paragraphs are separated by blank lines, a single newline is a line break.
    - ``version``: an int; ``as_of``: an ISO datetime, printed as a date (in Persian the Jalali
      date with the Gregorian one beside it). It is also the PDF's creation date, so one version of
      a letter always gives the same bytes.
    - ``counts``: ``{"verified": int, "public_names": int}``, printed in the ``signed_by`` sentence.
    - ``signatories``: dicts with ``name``, ``kind`` (``"person"`` or ``"organisation"``), and
      ``role``, ``affiliation``, ``country`` (each may be None or empty), in the order to print,
      grouped as the caller wants: a group heading is printed wherever ``kind`` changes.
    - ``headings`` (optional): the fixed strings, already translated; missing keys are taken from
      ``DEFAULT_HEADINGS[language]``. Keys: ``to`` (the addressee's label), ``version``, ``as_of``
      (labels of the edition line), ``signatories`` (the section's heading), ``signed_by`` (a
      sentence with ``{verified}`` and ``{public_names}``), ``organisations`` and ``people`` (the
      group headings), ``name``, ``role``, ``affiliation``, ``country`` (the table's columns), and
      ``page`` (the footer, with ``{page}`` and ``{pages}``).

    Every string is printed as text, never read as markup. Raises :class:`InputError` naming the
    field when ``letter`` is malformed.

    With more than ``whole_rows`` signatories (:data:`WHOLE_ROWS` unless given) the letter is set in
    parts of ``part_rows`` (:data:`PART_ROWS`) and joined (:mod:`dadkhah.typeset.parts`: pages
    numbered across the whole, a bookmark per heading, one structure tree for screen readers); ``progress``
    is then told (parts set, parts to set). A part ends between the organisations and the people
    when it is at least half full, else inside a group, which goes on in the next part under the
    table's column headings.

    Example:
        >>> letter_pdf({"language": "en", "title": "Justice for the victims", "addressee": "The UN",
        ...             "text": "We ask...", "version": 1, "as_of": "2025-12-05T10:00:00+00:00",
        ...             "counts": {"verified": 2, "public_names": 1},
        ...             "signatories": [{"name": "Jane Doe", "kind": "person"}]}, "letter.pdf")
        {'path': 'letter.pdf', 'pages': 1, 'sha256': '…', 'bytes': …}
    """
    language = letter.get("language")
    if language not in LANGUAGES:
        raise InputError(f"must be one of {', '.join(LANGUAGES)}, not {language!r}", field="language")
    as_of = moment_of(letter.get("as_of"))
    document = _document(letter, language, as_of)
    parts = plan(document["groups"], rows_of=lambda group: group["rows"], whole_rows=whole_rows or WHOLE_ROWS,
                 part_rows=part_rows or PART_ROWS, continued=lambda group: group | {"heading": ""})
    if len(parts) == 1:
        return write_pdf(compile_pdf(TEMPLATE, {"letter": document}, moment=as_of), out)
    documents = [document | {"groups": groups, "opening": number == 0} for number, groups in enumerate(parts)]
    levels = [([1, 2] if part["opening"] else []) + [3 for group in part["groups"] if group["heading"]]
              for part in documents]
    pdf = compile_in_parts(TEMPLATE, "letter", documents, moment=as_of, levels=levels, progress=progress,
                           what="the letter")
    return write_pdf(pdf, out)


def _document(letter: dict, language: str, as_of: datetime) -> dict:
    """What the template prints: plain strings, numbers already written in the letter's digits."""
    headings = _headings(letter.get("headings"), language)
    counts = letter.get("counts")
    if not isinstance(counts, dict):
        raise InputError("must be a mapping with verified and public_names", field="counts")
    separator = _SEPARATOR[language]
    signed_by = headings["signed_by"]
    for key in ("verified", "public_names"):
        signed_by = signed_by.replace("{" + key + "}", number(_count(counts.get(key), f"counts.{key}"), language))
    version = _count(letter.get("version"), "version")
    return {
        "lang": language,
        "digits": "۱" if language == "fa" else "1",
        "separator": separator,
        "title": printable(letter.get("title"), "title"),
        "to": headings["to"],
        "addressee": cell(printable(letter.get("addressee"), "addressee", required=False).strip(), language),
        "edition": f"{headings['version']} {number(version, language)}{separator}"
                   f"{headings['as_of']} {day_words(as_of.date(), language)}",
        "paragraphs": _paragraphs(printable(letter.get("text"), "text", required=False)),
        "signatories": headings["signatories"],
        "signed_by": signed_by,
        "columns": [headings[key] for key in ("name", *_FIELDS)],
        "groups": _groups(letter.get("signatories"), headings, language),
        "page": headings["page"],
    }


def _headings(given: object, language: str) -> dict[str, str]:
    defaults = DEFAULT_HEADINGS[language]
    if given is None:
        return defaults
    if not isinstance(given, dict):
        raise InputError("must be a mapping of heading names to strings", field="headings")
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InputError(f"unknown heading {unknown[0]!r}; known: {', '.join(defaults)}", field="headings")
    return defaults | {key: printable(value, f"headings.{key}") for key, value in given.items()}


def _groups(signatories: object, headings: dict[str, str], language: str) -> list[dict]:
    if not isinstance(signatories, list):
        raise InputError("must be a list", field="signatories")
    groups: list[dict] = []
    for index, signatory in enumerate(signatories):
        where = f"signatories[{index}]"
        if not isinstance(signatory, dict):
            raise InputError("must be a mapping", field=where)
        kind = signatory.get("kind")
        if kind not in KINDS:
            raise InputError(f"must be one of {', '.join(KINDS)}, not {kind!r}", field=f"{where}.kind")
        row = [_field(signatory.get("name"), f"{where}.name", language, required=True)]
        row += [_field(signatory.get(key), f"{where}.{key}", language) for key in _FIELDS]
        if not groups or groups[-1]["kind"] != kind:
            groups.append({"kind": kind, "heading": headings[_GROUP_HEADING[kind]], "rows": []})
        groups[-1]["rows"].append(row)
    return groups


def _field(value: object, field: str, language: str, *, required: bool = False) -> list[str]:
    """A signatory's field as a cell, its whitespace (newlines included) collapsed."""
    text = "" if value is None and not required else " ".join(printable(value, field, required=required).split())
    return cell(text, language)


def _paragraphs(text: str) -> list[list[str]]:
    """Paragraphs split at blank lines, each a list of its lines."""
    blocks = re.split(r"\n\s*\n", text)
    return [[line.strip() for line in block.strip().split("\n")] for block in blocks if block.strip()]


def _count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"must be a whole number, not {value!r}", field=field)
    return value


