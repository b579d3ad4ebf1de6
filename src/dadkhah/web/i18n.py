"""English and Persian: message catalogues (gettext ``.po`` files read with Babel), and dates.

Every ``.po`` file under ``locale/<language>/`` is read at start-up and merged, so each part of the
app keeps its own catalogue. The language of a request comes from ``?lang=``, else the
``dadkhah_lang`` cookie, else the user's setting, else English. Persian pages are right-to-left
and show the Jalali date beside the Gregorian one.
"""

from __future__ import annotations

import contextvars
import functools
from datetime import date, datetime
from pathlib import Path

LANGUAGES = ("en", "fa")
RTL = {"fa"}
LOCALE_DIR = Path(__file__).parent / "locale"

_language: contextvars.ContextVar[str] = contextvars.ContextVar("dadkhah_language", default="en")


@functools.cache
def catalogue(language: str) -> dict[str, str]:
    """msgid → translation for ``language`` (untranslated and fuzzy entries left out)."""
    from babel.messages.pofile import read_po

    merged: dict[str, str] = {}
    folder = LOCALE_DIR / language
    if not folder.is_dir():
        return merged
    for path in sorted(folder.glob("*.po")):
        with open(path, "rb") as handle:
            for message in read_po(handle, locale=language):
                if message.id and message.string and not message.fuzzy and isinstance(message.id, str):
                    merged[message.id] = message.string
    return merged


def set_language(language: str | None) -> str:
    chosen = language if language in LANGUAGES else "en"
    _language.set(chosen)
    return chosen


def current_language() -> str:
    return _language.get()


def gettext(message: str) -> str:
    language = _language.get()
    if language == "en":
        return message
    return catalogue(language).get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def persian_digits(text: str) -> str:
    return str(text).translate(_PERSIAN_DIGITS)


def format_date(value, *, with_time: bool = False) -> str:
    """A date for the page: Gregorian ISO; on Persian pages the Jalali date first, Gregorian beside it."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
        except ValueError:
            return value
    is_moment = isinstance(value, datetime)
    gregorian = value.strftime("%Y-%m-%d %H:%M" if is_moment and with_time else "%Y-%m-%d")
    if _language.get() != "fa":
        return gregorian + (" UTC" if is_moment and with_time else "")
    import jdatetime

    day = value.date() if is_moment else value
    jalali = jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d")
    return f"{persian_digits(jalali)} ({gregorian})"
