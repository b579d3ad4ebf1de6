"""Dates as victim lists write them, in either calendar and any precision, as Gregorian intervals.

Lists from families, NGOs and archives write the same day as "۸ مرداد ۱۳۶۷", "1367/05/08" or
"30 July 1988", and often know less than a day: "Mordad 67", "summer 1367", "1340". The registry
compares and counts dates, so each becomes one Gregorian interval ``[earliest, latest]``. A court
will ask what the source said, so the original text, its calendar and its precision travel with
the interval, and an imprecise date is never padded into a precise-looking day.

An impossible date (31 Mehr, 30 Esfand of a common year, a day in the future) raises
:class:`DateParseError` with a sentence the importer can show as a warning while it keeps the
record.

Example:
    >>> v = parse_date("Mordad 1367")
    >>> (v.calendar, v.precision, v.earliest.isoformat(), v.latest.isoformat())
    ('jalali', 'month', '1988-07-23', '1988-08-22')
    >>> parse_date("تابستان ۶۷").to_dict()["latest"]
    '1988-09-22'
"""

from __future__ import annotations

import calendar as _gregorian_calendar
import datetime
import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import NamedTuple

import jdatetime

from dadkhah.normalize.script import PERSIAN_FOLD

__all__ = ["DateParseError", "DateValue", "parse_date", "year_last_layout"]

JALALI = "jalali"
GREGORIAN = "gregorian"
CALENDARS = ("auto", JALALI, GREGORIAN)
ORDERS = ("auto", "ymd", "dmy", "mdy")

# Four-digit years are assigned to a calendar by range alone. The ranges do not overlap, and a
# year outside both is more likely a typo or a third calendar than an old date.
JALALI_YEARS = (1200, 1420)
GREGORIAN_YEARS = (1800, 2100)

_JALALI_MONTHS = (
    "Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar",
    "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand",
)  # fmt: skip
_GREGORIAN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# Astronomical seasons, fixed to the dates they fall on in most years so that a season has one
# interval whatever the year. Winter Y starts in December of Y (and ends in March of Y + 1), the
# same way Jalali winter Y (Dey–Esfand Y) starts in December of Gregorian Y + 621.
_GREGORIAN_SEASONS = (
    ((3, 20), (6, 20)),
    ((6, 21), (9, 22)),
    ((9, 23), (12, 20)),
    ((12, 21), (3, 19)),
)


class DateParseError(ValueError):
    """A date that cannot be read or cannot exist.

    Message is user-facing English, e.g. ``"1367/07/31": day 31 does not exist in Jalali month 7
    (Mehr) 1367``. It is a ``ValueError`` so that callers treating bad cell values generically
    still catch it; the importer turns it into a warning and keeps the record.
    """


@dataclass(frozen=True, slots=True)
class DateValue:
    """A date as the source gave it, and the Gregorian days it can mean.

    Attributes:
        original: The text exactly as given, so a reader can always check the reading.
        calendar: ``"jalali"`` or ``"gregorian"``: the calendar the source used, not the storage
            calendar (storage is always Gregorian).
        precision: ``"day"``, ``"month"``, ``"season"``, ``"year"`` or ``"range"``; a month-precise
            Jalali date is still "month" although it spans two Gregorian months.
        earliest: First Gregorian day the text can mean (inclusive).
        latest: Last Gregorian day the text can mean (inclusive).
        approximate: The source hedged ("c.", "حدود"); the interval is then widened by a year on
            each side, and ``precision`` still says what was written.
    """

    original: str
    calendar: str
    precision: str
    earliest: datetime.date
    latest: datetime.date
    approximate: bool = False

    def to_dict(self) -> dict:
        """JSON-ready form; dates as ISO strings so that they sort and compare as text."""
        return {
            "original": self.original,
            "calendar": self.calendar,
            "precision": self.precision,
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "approximate": self.approximate,
        }


# --------------------------------------------------------------------------------------------
# Cleaning

# Start from the shared Persian fold (letters, digits, diacritics, bidi marks), then add what only
# dates need: separators, dashes, and alef-madda folded so that آبان/ابان meet.
_FOLD = dict(PERSIAN_FOLD) | {
    "\u0622": "\u0627",  # ALEF WITH MADDA -> ALEF
    "\u060c": "/",  # ARABIC COMMA, used as a date separator
    "\u066b": "/",  # ARABIC DECIMAL SEPARATOR (٫), likewise
    "\u061f": "?",  # ARABIC QUESTION MARK
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2212": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\u2013": "\u2013",  # EN DASH stays: it always separates a range
    "\u2014": "\u2013",
    "\u2015": "\u2013",
    "\u2044": "/",
    "\u2215": "/",
    "\uff0f": "/",
    "\u200c": None,  # ZWNJ: no meaning inside a date
}
# Latin letters with accents, from transliterations such as "Mordād" or "Ābān".
for _cp in range(0x00C0, 0x0250):
    _base = unicodedata.normalize("NFD", chr(_cp))[0]
    if _base.isascii() and _base.isalpha():
        _FOLD[chr(_cp)] = _base
_TABLE = str.maketrans(_FOLD)


def _clean(text: str) -> str:
    """One spelling for what lists write many ways, so the matchers below stay simple."""
    return " ".join(text.translate(_TABLE).lower().split())


_PLACEHOLDERS = frozenset(
    _clean(p)
    for p in (
        "-", "--", "–", "?", "??", "؟", "unknown", "n/a", "n/k",
        "نامعلوم", "نا معلوم", "نامشخص", "نا مشخص",
    )
)  # fmt: skip

# --------------------------------------------------------------------------------------------
# Words

_LETTER = r"[^\W\d_]"
_NOT_AFTER_LETTER = rf"(?<!{_LETTER})"
_NOT_BEFORE_LETTER = rf"(?!{_LETTER})"


def _words() -> dict[str, tuple[str, int]]:
    """Every month, season and filler word, cleaned the same way as the input."""
    table: dict[str, tuple[str, int]] = {}
    jalali = (
        "فروردین farvardin farvardeen far",
        "اردیبهشت ordibehesht ordibehest urdibehesht ordibehisht ord",
        "خرداد khordad khordaad khurdad kho",
        "تیر tir teer",
        "مرداد امرداد mordad mordaad amordad amordaad murdad mor",
        "شهریور shahrivar shahriwar shahrewar shahrevar sha",
        "مهر mehr mihr meh",
        "آبان aban aabaan abaan aaban aba",
        "آذر azar aazar adhar aza",
        "دی dey dei day dai",
        "بهمن bahman bah",
        "اسفند esfand isfand espand esf",
    )
    gregorian = (
        "january jan ژانویه",
        "february feb فوریه",
        "march mar مارس",
        "april apr آوریل",
        "may مه می",
        "june jun ژوئن",
        "july jul ژوئیه جولای",
        "august aug اوت آگوست اوگوست",
        "september sep sept سپتامبر",
        "october oct اکتبر",
        "november nov نوامبر",
        "december dec دسامبر",
    )
    seasons = (
        "spring بهار",
        "summer تابستان",
        "autumn fall پاییز پائیز",
        "winter زمستان",
    )
    for kind, groups in (("jalali", jalali), ("gregorian", gregorian), ("season", seasons)):
        for number, words in enumerate(groups, start=1):
            for word in words.split():
                table[_clean(word)] = (kind, number)
    for word in ("ماه", "سال", "روز", "فصل", "of", "the", "in", "year", "month"):
        table[_clean(word)] = ("filler", 0)
    # Lunar Hijri months, so that a clerical date gets a clear refusal, not "unknown word".
    lunar = (
        "محرم صفر ربیع جمادی رجب شعبان رمضان شوال ذیقعده ذیحجه "
        "muharram moharram safar rabi jumada rajab shaban ramadan ramazan shawwal"
    )
    for word in lunar.split():
        table[_clean(word)] = ("lunar", 0)
    return table


_WORDS = _words()

# --------------------------------------------------------------------------------------------
# Patterns (compiled once: parsing runs once per cell of lists with tens of thousands of rows)

_TIME = re.compile(
    r"(\d{4}[-/.]\d{1,2}[-/.]\d{1,2})"  # the date part is kept
    r"(?:t|\s+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*(?:z|[+-]\d{2}:?\d{2}))?"
)
_FLOAT_YEAR = re.compile(r"(\d{4})\.0+")
_ORDINAL_EN = re.compile(rf"(?<=\d)(?:st|nd|rd|th){_NOT_BEFORE_LETTER}")
# "۸ام مرداد", "۸م مرداد": only after a one- or two-digit number, so "۱۹۸۸ م" stays an era marker.
_ORDINAL_FA = re.compile(rf"(?<!\d)(\d{{1,2}})\s?(?:ام|م){_NOT_BEFORE_LETTER}")
_APPROX = re.compile(
    r"(?:circa|approximately|approx|about|around|abt|ca|c|~|حدودا|حدود|در\s+حدود|تقریبا)"
    rf"{_NOT_BEFORE_LETTER}[\s.]*"
)
_RANGE_PREFIX = re.compile(r"(?:from|between|از|بین)\s+")
_RANGE_SPLIT = re.compile(r"\s(?:to|till|until|and|تا|الی|لغایت|و)\s|\s*\u2013\s*|\s-\s")
_RANGE_NUMERIC = re.compile(
    r"(\d{4}|\d{1,4}[/.]\d{1,2}(?:[/.]\d{1,4})?)-(\d{4}|\d{1,4}[/.]\d{1,2}(?:[/.]\d{1,4})?)"
)
_HYPHEN_BY_LETTER = re.compile(rf"(?<={_LETTER})-|-(?={_LETTER})")
_MARK = rf"{_NOT_AFTER_LETTER}(?:%s)\.?{_NOT_BEFORE_LETTER}"
_LUNAR_MARK = re.compile(_MARK % r"هجری\s*قمری|قمری|ه\s*\.?\s*ق|a\.?h")
_JALALI_MARK = re.compile(
    _MARK % r"هجری\s*شمسی|هجری\s*خورشیدی|خورشیدی|شمسی|ه\s*\.?\s*ش|ش|s\.?h|a\.?p|h\.?s"
)
_GREGORIAN_MARK = re.compile(_MARK % r"میلادی|م|a\.?d|c\.?e")
_TOKEN = re.compile(rf"\d+|{_LETTER}+|\S")
_SEPARATORS = "/.-"
_LUNAR_REFUSAL = "Lunar Hijri (qamari) dates are not supported; give the Jalali or Gregorian date"


# --------------------------------------------------------------------------------------------
# Internal results


class _Problem(Exception):
    """Why the text is not a date; :func:`_parse` adds the quoted text to make the message."""

    def __init__(self, reason: str, *, several_names: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.several_names = several_names


class _Failed(NamedTuple):
    message: str


class _Parsed(NamedTuple):
    value: DateValue
    newest_start: datetime.date  # the latest "earliest" of any part: what must not be in the future


@dataclass(slots=True)
class _Reading:
    """What one date (one side of a range) says, before its calendar and year are settled."""

    approximate: bool = False
    name_calendar: str | None = None  # calendar implied by a month name
    name: str | None = None
    marker_calendar: str | None = None  # calendar named by an era marker ("ه.ش", "AD")
    marker: str | None = None
    season: int | None = None  # 0 spring … 3 winter
    month: int | None = None
    day: int | None = None
    year: str | None = None  # digits as written: "1367" or "67"
    # A bare one- or two-digit number: the day in "8 – 10 Mordad 1367", otherwise a year.
    lone: str | None = None


class _Interval(NamedTuple):
    calendar: str
    precision: str
    earliest: datetime.date
    latest: datetime.date
    approximate: bool


# --------------------------------------------------------------------------------------------
# Public entry point


def parse_date(
    text: str | None, *, calendar: str = "auto", order: str = "auto"
) -> DateValue | None:
    """Read one date cell as a Gregorian interval, or ``None`` when the cell says "unknown".

    Lists repeat the same few hundred dates thousands of times, so readings (and failures) are
    cached on ``(text, calendar, order)``. Only the "not in the future" check runs on every call,
    so that a long-running process never keeps a verdict from yesterday.

    Args:
        text: The cell as given. ``None``, blank text and placeholders meaning unknown ("-", "?",
            "unknown", "نامعلوم", "نامشخص", "؟") give ``None``: an empty cell is not an error.
        calendar: ``"auto"`` detects the calendar from month names, era markers ("ه.ش", "AD") or
            the year (1200–1420 Jalali, 1800–2100 Gregorian); ``"jalali"`` or ``"gregorian"``
            (from a mapping file) also lets two-digit years through (13yy or 19yy).
        order: For all-numeric dates with the year last: ``"auto"`` reads day-month-year unless
            the middle number exceeds 12; ``"dmy"`` or ``"mdy"`` force one reading, and ``"ymd"``
            says two-digit years come first. A four-digit year written first is always Y-M-D.

    Seasons: a Jalali season is its three months (summer = Tir–Shahrivar). A Gregorian season
    uses fixed astronomical bounds so that it has the same interval every year: spring 20 Mar–20
    Jun, summer 21 Jun–22 Sep, autumn 23 Sep–20 Dec, and winter Y runs from 21 Dec Y to 19 Mar
    Y + 1 (the winter that *starts* in Y, as Jalali winter 1367 starts in December 1988).

    Returns:
        A :class:`DateValue`, or ``None`` for an empty or unknown cell.

    Raises:
        DateParseError: The text cannot be read, or names a date that cannot exist.
        ValueError: ``calendar`` or ``order`` is not one of the accepted values (a caller bug).

    Example:
        >>> parse_date("۸ مرداد ۱۳۶۷").earliest
        datetime.date(1988, 7, 30)
        >>> parse_date("7/30/1988").precision
        'day'
    """
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError(f"parse_date expects text, not {type(text).__name__}")
    if calendar not in CALENDARS:
        raise ValueError(f"calendar must be one of {', '.join(CALENDARS)}, not {calendar!r}")
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    result = _parse_cached(text, calendar, order)
    if result is None:
        return None
    if isinstance(result, _Failed):
        raise DateParseError(result.message)
    if result.newest_start > datetime.date.today():
        raise DateParseError(f"{_quote(text)}: {result.newest_start.isoformat()} is in the future")
    return result.value


_YEAR_LAST = re.compile(r"\s*(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(?:\d{2}|\d{4})\s*")


def year_last_layout(text: str) -> str | None:
    """How an all-numeric date with the year last can be read, in any script's digits: ``"dmy"``
    when only day first can be meant (``13/04/1988``), ``"mdy"`` when only month first
    (``04/13/1988``), ``"either"`` when both can (``03/04/1988``; the same number twice is not in
    doubt), None for any other text. ``order="auto"`` reads "either" day first, one value at a time:
    a column that elsewhere can only be month first is then read wrongly (see the importer)."""
    match = _YEAR_LAST.fullmatch(text)
    if match is None:
        return None
    first, second = int(match[1]), int(match[2])
    if first > 12:
        return "dmy" if second <= 12 else None
    if second > 12:
        return "mdy"
    return "either" if first != second else None


@functools.lru_cache(maxsize=65536)
def _parse_cached(text: str, calendar: str, order: str) -> _Parsed | _Failed | None:
    try:
        return _parse(text, calendar, order)
    except _Problem as problem:
        return _Failed(f"{_quote(text)}: {problem.reason}")


def _quote(text: str) -> str:
    shown = text.strip()
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return f'"{shown}"'


# --------------------------------------------------------------------------------------------
# Whole text: placeholders, hedges, ranges


def _parse(text: str, calendar: str, order: str) -> _Parsed | None:
    s = _clean(text)
    if not s or s in _PLACEHOLDERS:
        return None
    approximate = False
    if match := _APPROX.match(s):
        approximate, s = True, s[match.end() :]
    if len(s) > 1 and s.endswith("?"):  # "1367?": the source is unsure
        approximate, s = True, s[:-1].rstrip()
    if not s:
        raise _Problem("there is no date after the hedge word")
    if match := _TIME.fullmatch(s):
        s = match.group(1)
    elif match := _FLOAT_YEAR.fullmatch(s):  # a year read from a spreadsheet as 1367.0
        s = match.group(1)
    if not s.isascii() or not s.replace("/", "").replace("-", "").isdigit():
        s = _ORDINAL_EN.sub("", s)
        s = _ORDINAL_FA.sub(r"\1", s)

    sides = _split_range(s)
    if sides is not None:
        interval, newest = _range(*sides, calendar=calendar, order=order)
    else:
        try:
            interval, newest = _single(s, calendar=calendar, order=order)
        except _Problem as problem:
            # "Mordad-Shahrivar 1367": a hyphen beside a letter is a range only if reading the
            # whole as one date fails ("30-Jul-1988" is one date).
            hyphens = list(_HYPHEN_BY_LETTER.finditer(s))
            if len(hyphens) != 1:
                raise
            at = hyphens[0].start()
            try:
                interval, newest = _range(s[:at], s[at + 1 :], calendar=calendar, order=order)
            except _Problem as range_problem:
                # Say what is wrong with the range only if the text reads as one ("two month
                # names"); otherwise the one-date reason ("no year in 8-Mordad") is clearer.
                raise (range_problem if problem.several_names else problem) from None
    if approximate and not interval.approximate:
        interval = _widen(interval)
    value = DateValue(
        text,
        interval.calendar,
        interval.precision,
        interval.earliest,
        interval.latest,
        interval.approximate,
    )
    return _Parsed(value, newest)


def _split_range(s: str) -> tuple[str, str] | None:
    """The two ends of a range, or None: a hyphen between digits separates a date's parts."""
    if match := _RANGE_PREFIX.match(s):
        rest = s[match.end() :]
        split = _RANGE_SPLIT.search(rest) or _RANGE_NUMERIC.fullmatch(rest)
        if split is None:
            raise _Problem(f'"{match.group().strip()}" starts a range, but no second date follows')
        if isinstance(split, re.Match) and split.re is _RANGE_NUMERIC:
            return split.group(1), split.group(2)
        return rest[: split.start()], rest[split.end() :]
    if split := _RANGE_SPLIT.search(s):
        if s[split.start() : split.end()].strip() in ("and", "و"):
            return None  # "and" only joins the ends after "between"
        return s[: split.start()], s[split.end() :]
    if match := _RANGE_NUMERIC.fullmatch(s):
        return match.group(1), match.group(2)
    return None


def _single(s: str, *, calendar: str, order: str) -> tuple[_Interval, datetime.date]:
    interval = _resolve(_read(s, order), calendar)
    newest = interval.earliest
    return (_widen(interval) if interval.approximate else interval), newest


def _range(
    left_text: str, right_text: str, *, calendar: str, order: str
) -> tuple[_Interval, datetime.date]:
    if not left_text.strip() or not right_text.strip():
        raise _Problem("a range needs a date on each side")
    left, right = _read(left_text, order), _read(right_text, order)
    # An era marker written once ("۱۳۶۶ تا ۱۳۶۷ ش") belongs to the whole range.
    if left.marker_calendar is None:
        left.marker_calendar, left.marker = right.marker_calendar, right.marker
    elif right.marker_calendar is None:
        right.marker_calendar, right.marker = left.marker_calendar, left.marker
    _share_year(left, right)
    a, b = _resolve(left, calendar), _resolve(right, calendar)
    if a.calendar != b.calendar:
        raise _Problem(
            f"the range starts in the {a.calendar.title()} calendar "
            f"and ends in the {b.calendar.title()} one"
        )
    if b.latest < a.earliest:
        raise _Problem(
            f"the range ends ({b.latest.isoformat()}) before it starts ({a.earliest.isoformat()})"
        )
    newest = max(a.earliest, b.earliest)
    if a.approximate:
        a = _widen(a)
    if b.approximate:
        b = _widen(b)
    interval = _Interval(a.calendar, "range", a.earliest, b.latest, a.approximate or b.approximate)
    return interval, newest


def _share_year(left: _Reading, right: _Reading) -> None:
    """Let one end borrow the other's year: "Mordad–Shahrivar 1367", "8–10 Mordad 1367".

    Only named months of one calendar (or seasons) share a year, because "5 – 8/1367" is too
    ambiguous to guess. A month after the other end's month goes back a year: "Esfand – Farvardin
    1368" starts in Esfand 1367.
    """
    if left.year is None and right.year is not None:
        if left.lone is not None and right.day is not None and right.name is not None:
            left.day, left.lone = int(left.lone), None
            left.month, left.name, left.name_calendar = right.month, right.name, right.name_calendar
            left.year = right.year
        elif _same_kind(left, right):
            behind = _position(left) > _position(right)
            left.year = _shift_year(right.year, -1) if behind else right.year
    elif right.year is None and left.year is not None and _same_kind(left, right):
        ahead = _position(right) < _position(left)
        right.year = _shift_year(left.year, +1) if ahead else left.year


def _same_kind(a: _Reading, b: _Reading) -> bool:
    if a.season is not None and b.season is not None:
        return True
    return (
        a.name is not None
        and a.name_calendar == b.name_calendar
        and a.season is None
        and b.season is None
    )


def _position(r: _Reading) -> int:
    return r.season if r.season is not None else (r.month or 0)


def _shift_year(year: str, step: int) -> str:
    shifted = int(year) + step
    return f"{shifted:0{len(year)}d}" if 0 <= shifted < 10 ** len(year) else year


def _widen(interval: _Interval) -> _Interval:
    """One year either side: the hedge says "about", not "within a few weeks"."""
    earliest, latest = interval.earliest, interval.latest
    if earliest.month == 2 and earliest.day == 29:
        earliest = earliest.replace(day=28)
    if latest.month == 2 and latest.day == 29:
        latest = latest.replace(month=3, day=1, year=latest.year + 1)
    else:
        latest = latest.replace(year=latest.year + 1)
    return interval._replace(
        earliest=earliest.replace(year=earliest.year - 1), latest=latest, approximate=True
    )


# --------------------------------------------------------------------------------------------
# One date: words and numbers


def _read(side: str, order: str) -> _Reading:
    side = side.strip()
    r = _Reading()
    if match := _APPROX.match(side):
        r.approximate, side = True, side[match.end() :]
    if _LUNAR_MARK.search(side):
        raise _Problem(_LUNAR_REFUSAL)
    for cal, pattern in ((JALALI, _JALALI_MARK), (GREGORIAN, _GREGORIAN_MARK)):
        if match := pattern.search(side):
            if r.marker_calendar is not None:
                raise _Problem(
                    f'it has both a Jalali marker ("{r.marker}") '
                    f'and a Gregorian one ("{match.group()}")'
                )
            r.marker_calendar, r.marker = cal, match.group()
            side = pattern.sub(" ", side)

    numbers: list[str] = []
    shape: list[str] = []  # "n" a number, "w" a month or season word, else the separator
    names: list[tuple[str, str, int]] = []
    before_name = 0  # how many numbers come before the month or season word
    for token in _TOKEN.findall(side):
        first = token[0]
        if first.isdigit():
            if not token.isascii():
                raise _Problem(f'the digits "{token}" are not Persian, Arabic or Latin digits')
            numbers.append(token)
            shape.append("n")
        elif first in _SEPARATORS or first == ",":
            shape.append(first)
        elif first.isalpha():
            entry = _WORDS.get(token)
            if entry is None:
                raise _Problem(f'this is not a date the parser can read (unknown word "{token}")')
            kind, number = entry
            if kind == "filler":
                continue
            if kind == "lunar":
                raise _Problem(_LUNAR_REFUSAL)
            if not names:
                before_name = len(numbers)
            names.append((token.title() if token.isascii() else token, kind, number))
            shape.append("w")
        else:
            raise _Problem(f'this is not a date the parser can read (unexpected "{token}")')

    if not names:
        _read_numeric(r, numbers, shape, order)
    else:
        _read_named(r, names, numbers, before_name)
    return r


def _read_named(
    r: _Reading, names: list[tuple[str, str, int]], numbers: list[str], before: int
) -> None:
    if len(names) > 1:
        kinds = {kind for _, kind, _ in names}
        if {JALALI, GREGORIAN} <= kinds:
            jal = next(w for w, k, _ in names if k == JALALI)
            gre = next(w for w, k, _ in names if k == GREGORIAN)
            raise _Problem(
                f'it names both a Jalali month ("{jal}") and a Gregorian one ("{gre}")',
                several_names=True,
            )
        listed = ", ".join(f'"{w}"' for w, _, _ in names)
        raise _Problem(f"it names more than one month or season ({listed})", several_names=True)
    word, kind, number = names[0]
    r.name = word
    if len(numbers) > 2:
        raise _Problem(f'this is not a date the parser can read (too many numbers around "{word}")')
    if any(len(n) not in (1, 2, 4) for n in numbers):
        bad = next(n for n in numbers if len(n) not in (1, 2, 4))
        raise _Problem(
            f'this is not a date the parser can read ("{bad}" is neither a day nor a year)'
        )
    if kind == "season":
        r.season = number - 1
        if len(numbers) > 1:
            raise _Problem(f'a season ("{word}") takes a year only, not a day')
        if numbers:
            r.year = numbers[0]
        return
    r.name_calendar, r.month = kind, number
    if len(numbers) == 1:
        n = numbers[0]
        # "Mordad 1367", "1367 مرداد", "Mordad 67": a year. "8 Mordad", "Mordad 8": a day only.
        if len(n) == 4 or (len(n) == 2 and before == 0):
            r.year = n
        else:
            r.day = int(n)
    elif len(numbers) == 2:
        # The four-digit number is the year; failing one, the last ("۸ مرداد ۶۷").
        at = 0 if len(numbers[0]) == 4 and len(numbers[1]) != 4 else 1
        year, day = numbers[at], numbers[1 - at]
        if len(day) > 2:
            raise _Problem(f'this is not a date the parser can read (two years around "{word}")')
        r.year, r.day = year, int(day)


def _read_numeric(r: _Reading, numbers: list[str], shape: list[str], order: str) -> None:
    # Numbers must alternate with single separators: "1367/05/08" yes, "1367 05 08" no.
    while shape and shape[0] != "n":
        shape.pop(0)
    while shape and shape[-1] != "n":
        shape.pop()
    if not numbers:
        raise _Problem("this is not a date the parser can read (no numbers)")
    for i, part in enumerate(shape):
        if (part == "n") != (i % 2 == 0) or part == ",":
            raise _Problem(
                "this is not a date the parser can read (separate the numbers with / - or .)"
            )
    lengths = [len(n) for n in numbers]
    if len(numbers) == 1:
        n = numbers[0]
        if len(n) == 4:
            r.year = n
        elif len(n) == 8:  # 13670508: a year-first date without separators
            r.year, r.month, r.day = n[:4], int(n[4:6]), int(n[6:])
        elif len(n) <= 2:
            r.lone = n
        else:
            raise _Problem(f'this is not a date the parser can read ("{n}" is not a year)')
        return
    if any(length not in (1, 2, 4) for length in lengths) or len(numbers) > 3:
        raise _Problem("this is not a date the parser can read")
    if lengths.count(4) > 1:
        raise _Problem("this is not a date the parser can read (more than one four-digit year)")
    if len(numbers) == 2:
        a, b = numbers
        if len(a) == 4 or (len(b) != 4 and order == "ymd"):
            r.year, r.month = a, int(b)
        else:
            if len(b) == 4 and order == "ymd":
                raise _Problem("the year comes last, but the date order is set to year-month-day")
            r.year, r.month = b, int(a)
        return
    a, b, c = numbers
    if len(b) == 4:
        raise _Problem("this is not a date the parser can read (the year is in the middle)")
    if len(a) == 4 or (len(c) != 4 and (order == "ymd" or (order == "auto" and int(a) > 31))):
        r.year, r.month, r.day = a, int(b), int(c)
        return
    if order == "ymd":
        raise _Problem("the year comes last, but the date order is set to year-month-day")
    layout = order if order != "auto" else ("mdy" if int(b) > 12 else "dmy")
    r.year = c
    r.day, r.month = (int(a), int(b)) if layout == "dmy" else (int(b), int(a))


# --------------------------------------------------------------------------------------------
# Calendar, year and interval


def _resolve(r: _Reading, calendar: str) -> _Interval:
    if r.year is None and r.lone is not None:
        r.year, r.lone = r.lone, None
    if r.year is None:
        what = f'"{r.name}"' if r.name else "it"
        raise _Problem(f"{what} has no year; give the year (for example 1367 or 1988)")
    # Registry exports write an unknown month or day as 00: "1367/00/00" is a year, "1367/05/00" a month.
    if r.month == 0 and not r.day:
        r.month = r.day = None
    elif r.day == 0 and r.month:
        r.day = None
    cal = _calendar_of(r, calendar)
    cal, year = _year_of(r, cal, calendar)
    if r.season is not None:
        earliest, latest = _season_bounds(cal, year, r.season)
        return _Interval(cal, "season", earliest, latest, r.approximate)
    if r.month is None:
        last = _month_length(cal, year, 12)
        return _Interval(
            cal,
            "year",
            _to_gregorian(cal, year, 1, 1),
            _to_gregorian(cal, year, 12, last),
            r.approximate,
        )
    month = r.month
    if not 1 <= month <= 12:
        raise _Problem(f"month {month} does not exist (months run from 1 to 12)")
    length = _month_length(cal, year, month)
    if r.day is None:
        return _Interval(
            cal,
            "month",
            _to_gregorian(cal, year, month, 1),
            _to_gregorian(cal, year, month, length),
            r.approximate,
        )
    if not 1 <= r.day <= length:
        names = _JALALI_MONTHS if cal == JALALI else _GREGORIAN_MONTHS
        reason = (
            f"day {r.day} does not exist in {cal.title()} month {month} ({names[month - 1]}) {year}"
        )
        if month in (2, 12) and r.day == length + 1 and length == (29 if cal == JALALI else 28) \
                and (month == 12) == (cal == JALALI):
            reason += f": {year} is not a leap year"
        raise _Problem(reason)
    day = _to_gregorian(cal, year, month, r.day)
    return _Interval(cal, "day", day, day, r.approximate)


def _calendar_of(r: _Reading, calendar: str) -> str | None:
    if r.name_calendar and r.marker_calendar and r.name_calendar != r.marker_calendar:
        raise _Problem(
            f'"{r.name}" is a {r.name_calendar.title()} month '
            f'but "{r.marker}" marks a {r.marker_calendar.title()} date'
        )
    if calendar != "auto":
        for found, what in (
            (r.name_calendar, f'the month "{r.name}"'),
            (r.marker_calendar, f'the marker "{r.marker}"'),
        ):
            if found is not None and found != calendar:
                raise _Problem(
                    f"{what} is {found.title()}, but this column's calendar is set to {calendar}"
                )
        return calendar
    return r.name_calendar or r.marker_calendar


def _year_of(r: _Reading, cal: str | None, calendar: str) -> tuple[str, int]:
    digits = r.year or ""
    if len(digits) == 4:
        year = int(digits)
        if cal is None:
            if JALALI_YEARS[0] <= year <= JALALI_YEARS[1]:
                return JALALI, year
            if GREGORIAN_YEARS[0] <= year <= GREGORIAN_YEARS[1]:
                return GREGORIAN, year
            raise _Problem(
                f"year {year} is neither a Jalali year ({JALALI_YEARS[0]}–{JALALI_YEARS[1]}) "
                f"nor a Gregorian one ({GREGORIAN_YEARS[0]}–{GREGORIAN_YEARS[1]}); "
                "if it is right, set the column's calendar in a mapping file"
            )
        low, high = JALALI_YEARS if cal == JALALI else GREGORIAN_YEARS
        if not low <= year <= high:
            raise _Problem(
                f"year {year} is outside the {cal.title()} years accepted ({low}–{high})"
            )
        return cal, year
    if len(digits) == 2:
        # "Mordad 67" and "تابستان ۶۷" are 1367: in these lists a two-digit year beside a Jalali
        # month or a season is the Jalali century. Otherwise only the column's calendar settles it.
        known = (
            calendar != "auto"
            or r.marker_calendar is not None
            or r.name_calendar == JALALI
            or r.season is not None
        )
        if not known:
            raise _Problem(
                f"the two-digit year {digits} leaves the century unknown; write the full year "
                f"(13{digits} or 19{digits}) or set the column's calendar in a mapping file"
            )
        cal = cal or JALALI
        return cal, (1300 if cal == JALALI else 1900) + int(digits)
    raise _Problem(f'this is not a date the parser can read ("{digits}" is not a year)')


def _to_gregorian(cal: str, year: int, month: int, day: int) -> datetime.date:
    if cal == JALALI:
        return _jalali_to_gregorian(year, month, day)
    return datetime.date(year, month, day)


@functools.lru_cache(maxsize=8192)
def _jalali_to_gregorian(year: int, month: int, day: int) -> datetime.date:
    return jdatetime.date(year, month, day).togregorian()


@functools.lru_cache(maxsize=1024)
def _jalali_leap(year: int) -> bool:
    return jdatetime.date(year, 1, 1).isleap()


def _month_length(cal: str, year: int, month: int) -> int:
    if cal == JALALI:
        return jdatetime.j_days_in_month[month - 1] + (month == 12 and _jalali_leap(year))
    return _gregorian_calendar.monthrange(year, month)[1]


def _season_bounds(cal: str, year: int, season: int) -> tuple[datetime.date, datetime.date]:
    if cal == JALALI:
        first, last = 3 * season + 1, 3 * season + 3
        return _to_gregorian(cal, year, first, 1), _to_gregorian(
            cal, year, last, _month_length(cal, year, last)
        )
    (m1, d1), (m2, d2) = _GREGORIAN_SEASONS[season]
    return datetime.date(year, m1, d1), datetime.date(year + (m2 < m1), m2, d2)
