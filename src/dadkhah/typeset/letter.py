"""An open letter and its signatories as a PDF, in English or in Persian (right to left).

Why Typst: its compiler (the ``typst`` wheel bundles it; nothing else to install) shapes Arabic
script with a HarfBuzz port and orders mixed scripts with the Unicode bidirectional algorithm, so
Persian comes out joined and right to left. Its PDF maps every glyph back to the letters it draws
(``/ToUnicode``, with ``/ActualText`` where one glyph stands for different text in two places) and
marks right-to-left runs ``/ReversedChars``: copied text is Persian letters, not presentation
forms. (Readers differ in how far they follow those marks; the tests say what pypdf and Poppler
return. Typst 0.15 still maps a diacritic drawn apart from its letter, a tashdid, to the whole
letter again, so "محمّد" copies with its م twice.)

Why a vendored font: the PDF must look the same on every machine and nothing may be fetched at run
time, so Typst sees only Vazirmatn (``fonts/``, SIL OFL 1.1; see ``docs/data-sources.md``), which
draws Persian and Latin alike: neither the system's fonts nor the fonts built into Typst are used.

Why JSON through ``sys.inputs``: the letter and the signatories' names come from the public.
Placed into Typst markup, a name such as ``#read("/etc/passwd")`` would run, and ``*``, ``$``,
``[`` or ``=`` would change the layout. Here the template (``letter.typ``) is fixed; the data goes
in as one JSON string that the template decodes and places as plain text only. Before that, the
characters that draw nothing are taken out (controls, bidirectional overrides, combining marks the
font cannot draw): next to one another some of them make Typst 0.15 panic, and the public may type
anything.

The signatories are printed as tables, one per group, a field to a cell: each cell is its own
paragraph for the bidirectional algorithm, so an English affiliation in a Persian letter (or a
Persian name in an English one) stays in place, and bidirectional control characters in one field
cannot reorder another.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jdatetime
import typst
from fontTools.ttLib import TTFont

from dadkhah.errors import InputError

HERE = Path(__file__).parent
FONTS = HERE / "fonts"
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
_PERSIAN_NUMBER = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "fa": ("ژانویه", "فوریه", "مارس", "آوریل", "مه", "ژوئن", "ژوئیه", "اوت", "سپتامبر", "اکتبر",
           "نوامبر", "دسامبر"),
}
_GROUP_HEADING = {"person": "people", "organisation": "organisations"}
# Control characters but the line feed, lone surrogates, and the bidirectional overrides (LRO,
# RLO: they force letters against their own direction, which in a name is a spoofing trick).
# None draws anything, and each, beside a combining mark, can make Typst 0.15 panic.
_UNPRINTABLE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202d\u202e]")

_FIELDS = ("role", "affiliation", "country")


def letter_pdf(letter: dict, out: str | os.PathLike) -> dict:
    """Write the letter as a PDF; returns {"path", "pages", "sha256", "bytes"}.

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
    as_of = _moment(letter.get("as_of"))
    pdf = typst.compile(
        str(TEMPLATE),
        root=str(HERE),
        font_paths=_fonts(),
        ignore_system_fonts=True,
        sys_inputs={"letter": json.dumps(_document(letter, language, as_of), ensure_ascii=False)},
        timestamp=int(as_of.timestamp()),
        format="pdf",
    )
    path = Path(out)
    path.write_bytes(pdf)
    return {"path": str(path), "pages": _page_count(pdf), "sha256": hashlib.sha256(pdf).hexdigest(),
            "bytes": len(pdf)}


@cache
def _fonts() -> typst.Fonts:
    return typst.Fonts(include_system_fonts=False, include_embedded_fonts=False, font_paths=[str(FONTS)])


def _document(letter: dict, language: str, as_of: datetime) -> dict:
    """What the template prints: plain strings, numbers already written in the letter's digits."""
    headings = _headings(letter.get("headings"), language)
    counts = letter.get("counts")
    if not isinstance(counts, dict):
        raise InputError("must be a mapping with verified and public_names", field="counts")
    separator = _SEPARATOR[language]
    signed_by = headings["signed_by"]
    for key in ("verified", "public_names"):
        signed_by = signed_by.replace("{" + key + "}", _number(_count(counts.get(key), f"counts.{key}"), language))
    version = _count(letter.get("version"), "version")
    return {
        "lang": language,
        "digits": "۱" if language == "fa" else "1",
        "separator": separator,
        "title": _text(letter.get("title"), "title"),
        "to": headings["to"],
        "addressee": _cell(_text(letter.get("addressee"), "addressee", required=False).strip(), language),
        "edition": f"{headings['version']} {_number(version, language)}{separator}"
                   f"{headings['as_of']} {_date(as_of, language)}",
        "paragraphs": _paragraphs(_text(letter.get("text"), "text", required=False)),
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
    return defaults | {key: _text(value, f"headings.{key}") for key, value in given.items()}


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


def _text(value: object, field: str, *, required: bool = True) -> str:
    """``value`` as printable text: line ends as line feeds, tabs as spaces, no other controls."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InputError("must be a string", field=field)
    text = _drawable(_UNPRINTABLE.sub("", value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")))
    if required and not text.strip():
        raise InputError("must be a non-empty string", field=field)
    return text


def _drawable(text: str) -> str:
    """``text`` composed (NFC) and cut to what the font draws. A character it lacks would be an empty
    box, and beside a zero-width character (a ZWNJ, a bidirectional mark) can make Typst 0.15
    panic: it becomes U+FFFD, or a space if it is one; a mark or a format character is dropped."""
    drawn, kept = _drawn(), []
    for char in unicodedata.normalize("NFC", text):
        if char in drawn or char == "\n":
            kept.append(char)
        elif (category := unicodedata.category(char))[0] not in "MC":
            kept.append(" " if category[0] == "Z" else "\N{REPLACEMENT CHARACTER}")
    return "".join(kept)


@cache
def _drawn() -> frozenset[str]:
    """The characters every bundled font draws."""
    maps = [TTFont(path)["cmap"].getBestCmap() for path in sorted(FONTS.glob("*.ttf"))]
    return frozenset(chr(code) for code in set(maps[0]).intersection(*maps[1:]))


def _field(value: object, field: str, language: str, *, required: bool = False) -> list[str]:
    """A signatory's field as a cell, its whitespace (newlines included) collapsed."""
    text = "" if value is None and not required else " ".join(_text(value, field, required=required).split())
    return _cell(text, language)


def _cell(text: str, language: str) -> list[str]:
    """``[text, direction]``: the direction of the first letter that has one, else the document's."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("L", "R", "AL"):
            return [text, "ltr" if kind == "L" else "rtl"]
    return [text, "rtl" if language == "fa" else "ltr"]


def _paragraphs(text: str) -> list[list[str]]:
    """Paragraphs split at blank lines, each a list of its lines."""
    blocks = re.split(r"\n\s*\n", text)
    return [[line.strip() for line in block.strip().split("\n")] for block in blocks if block.strip()]


def _count(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"must be a whole number, not {value!r}", field=field)
    return value


def _number(value: int, language: str) -> str:
    written = f"{value:,}"
    return written.translate(_PERSIAN_NUMBER) if language == "fa" else written


def _moment(value: object) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(f"must be an ISO date and time, not {value!r}", field="as_of") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date(moment: datetime, language: str) -> str:
    """The day of ``moment`` in its own time zone, as readers of the language write dates."""
    day = moment.date()
    gregorian = f"{day.day} {_MONTHS[language][day.month - 1]} {day.year}"
    if language == "en":
        return gregorian
    jalali = jdatetime.date.fromgregorian(date=day)
    month = jdatetime.date.j_months_fa[jalali.month - 1]
    return f"{jalali.day} {month} {jalali.year} ({gregorian})".translate(_PERSIAN_NUMBER)


def _page_count(pdf: bytes) -> int:
    """The page tree's /Count, as Typst writes it (a test checks it against a PDF reader)."""
    return int(re.search(rb"/Type\s*/Pages\s*/Count\s+(\d+)", pdf).group(1))
