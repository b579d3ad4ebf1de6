"""Typst, used safely: the one module that imports it, and what every printed document shares.

Why Typst: its compiler (the ``typst`` wheel bundles it; nothing else to install) shapes Arabic
script with a HarfBuzz port and orders mixed scripts with the Unicode bidirectional algorithm, so
Persian comes out joined and right to left. Its PDF maps every glyph back to the letters it draws
(``/ToUnicode``, with ``/ActualText`` where one glyph stands for different text in two places) and
marks right-to-left runs ``/ReversedChars``: copied text is Persian letters, not presentation
forms. (Readers differ in how far they follow those marks; the tests say what pypdf and Poppler
return. Typst 0.15 still maps a diacritic drawn apart from its letter, a tashdid, to the whole
letter again, so "محمّد" copies with its م twice.)

Why a vendored font: a PDF must look the same on every machine and nothing may be fetched at run
time, so Typst sees only Vazirmatn (``fonts/``, SIL OFL 1.1; see ``docs/data-sources.md``), which
draws Persian and Latin alike: neither the system's fonts nor the fonts built into Typst are used.
That holds inside an SVG image too: Typst draws an SVG's ``<text>`` with the fonts it was given.

Why JSON through ``sys.inputs``: what is printed comes from people (a signatory's name, a victim's,
a stratum's). Placed into Typst markup, a name such as ``#read("/etc/passwd")`` would run, and
``*``, ``$``, ``[`` or ``=`` would change the layout. Here each template is fixed; the data go in
as JSON strings the template decodes and places as plain text only. Before that, the characters
that draw nothing are taken out (:func:`printable`): controls, bidirectional overrides, combining
marks the font cannot draw; next to one another some of them make Typst 0.15 panic.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import jdatetime
import typst
from fontTools.ttLib import TTFont

from dadkhah.errors import InputError

HERE = Path(__file__).parent
FONTS = HERE / "fonts"

PERSIAN_NUMBER = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "fa": ("ژانویه", "فوریه", "مارس", "آوریل", "مه", "ژوئن", "ژوئیه", "اوت", "سپتامبر", "اکتبر",
           "نوامبر", "دسامبر"),
}
# Control characters but the line feed, lone surrogates, and the bidirectional overrides (LRO,
# RLO: they force letters against their own direction, which in a name is a spoofing trick).
# None draws anything, and each, beside a combining mark, can make Typst 0.15 panic.
_UNPRINTABLE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202d\u202e]")


def compile_pdf(template: Path, inputs: dict[str, object], *, moment: datetime, tagged: bool = True) -> bytes:
    """``template`` (a ``.typ`` file beside this module) compiled with ``inputs``, each passed as one
    JSON string in ``sys.inputs``; ``moment`` is the PDF's creation date, so one input gives the
    same bytes every time. ``tagged``: with the structure screen readers follow (Typst's default)."""
    return typst.compile(
        str(template),
        root=str(HERE),
        font_paths=fonts(),
        ignore_system_fonts=True,
        sys_inputs={name: json.dumps(value, ensure_ascii=False) for name, value in inputs.items()},
        timestamp=int(moment.timestamp()),
        format="pdf",
        pdf_tags=tagged,
    )


@cache
def fonts() -> typst.Fonts:
    return typst.Fonts(include_system_fonts=False, include_embedded_fonts=False, font_paths=[str(FONTS)])


def write_pdf(pdf: bytes, out: str | os.PathLike) -> dict:
    """Write ``pdf`` at ``out`` whole or not at all (a temporary file beside it, then renamed), so a
    reader never opens half a report; returns {"path", "pages", "sha256", "bytes", "tagged"}."""
    path = Path(out)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(pdf)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return {"path": str(path), "pages": page_count(pdf), "sha256": hashlib.sha256(pdf).hexdigest(), "bytes": len(pdf),
            "tagged": is_tagged(pdf)}


def is_tagged(pdf: bytes) -> bool:
    """Whether the PDF carries the structure screen readers follow (a document set whole does, and
    one joined from tagged parts, see :mod:`dadkhah.typeset.parts`)."""
    return re.search(rb"/StructTreeRoot\s", pdf) is not None


def page_count(pdf: bytes) -> int:
    """The page tree's /Count, as Typst writes it (a test checks it against a PDF reader); of another
    PDF (one joined from parts), as a PDF reader counts its pages."""
    found = re.search(rb"/Type\s*/Pages\s*/Count\s+(\d+)", pdf)
    if found:
        return int(found.group(1))
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        return len(document.pages)


# --- text -----------------------------------------------------------------------------------------

def printable(value: object, field: str, *, required: bool = True) -> str:
    """``value`` as printable text: line ends as line feeds, tabs as spaces, no other controls, and
    only characters the font draws. Raises :class:`InputError` naming ``field`` when it is not a
    string (or, when ``required``, is empty)."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InputError("must be a string", field=field)
    text = drawable(_UNPRINTABLE.sub("", value.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")))
    if required and not text.strip():
        raise InputError("must be a non-empty string", field=field)
    return text


def drawable(text: str) -> str:
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


def cell(text: str, language: str) -> list[str]:
    """``[text, direction]``: the direction of the first letter that has one, else the document's,
    as HTML's ``dir="auto"``: an English name in a Persian table keeps its full stop at its end."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("L", "R", "AL"):
            return [text, "ltr" if kind == "L" else "rtl"]
    return [text, "rtl" if language == "fa" else "ltr"]


# --- numbers and dates ----------------------------------------------------------------------------

def number(value: int | float, language: str) -> str:
    """A count as readers of ``language`` write it: 12,345, or ۱۲٬۳۴۵ in Persian."""
    written = f"{round(value):,}"
    return written.translate(PERSIAN_NUMBER) if language == "fa" else written


def moment_of(value: object, field: str = "as_of") -> datetime:
    """An ISO date and time (UTC when it names no zone), or :class:`InputError` naming ``field``."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(f"must be an ISO date and time, not {value!r}", field=field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def day_words(day: date, language: str, *, both: bool = False) -> str:
    """A day as readers of ``language`` write it. Persian: the Jalali date with the Gregorian beside
    it, in Persian digits; English: the Gregorian date, with ``both`` the Jalali one beside it."""
    gregorian = f"{day.day} {MONTHS[language][day.month - 1]} {day.year}"
    jalali = jdatetime.date.fromgregorian(date=day)
    if language == "fa":
        month = jdatetime.date.j_months_fa[jalali.month - 1]
        return f"{jalali.day} {month} {jalali.year} ({gregorian})".translate(PERSIAN_NUMBER)
    if not both:
        return gregorian
    return f"{gregorian} ({jalali.day} {jdatetime.date.j_months_en[jalali.month - 1]} {jalali.year} SH)"
