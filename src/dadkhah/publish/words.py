"""Numbers, dates and the accountability vocabulary as what is published writes them, in Persian or
English: the memorial site and the printed report say the same thing the same way."""

from __future__ import annotations

from datetime import date

import jdatetime

from dadkhah.accountability.vocabulary import (
    ACT_TYPES,
    CERTAINTIES,
    DEGREES,
    LIKELIHOODS,
    OFFICIAL_STATUSES,
    SITE_KINDS,
    SITE_STATUSES,
)

PERSIAN_DIGITS = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")

# The words of the accountability vocabulary: act types, degrees, likelihoods, officials' statuses,
# site kinds, certainties and site statuses (English: the word itself, hyphens as spaces).
TERMS = {
    "en": {word: word.replace("-", " ") for word in ACT_TYPES + DEGREES + LIKELIHOODS + OFFICIAL_STATUSES
           + SITE_KINDS + CERTAINTIES + SITE_STATUSES} | {"grave-desecration": "desecration of graves",
                                                         "family-intimidation": "intimidation of families"},
    "fa": {
        "execution": "اعدام", "enforced-disappearance": "ناپدیدسازی قهری", "torture": "شکنجه",
        "arbitrary-detention": "بازداشت خودسرانه", "unfair-trial": "دادرسی ناعادلانه",
        "grave-desecration": "هتک حرمت گورها", "family-intimidation": "ارعاب خانواده‌ها", "other": "دیگر",
        "carried-out": "اجرا کرد", "gave-orders": "دستور داد", "planned": "برنامه‌ریزی کرد", "approved": "تأیید کرد",
        "failed-to-prevent": "از جلوگیری کوتاهی کرد", "political-responsibility": "مسئولیت سیاسی",
        "maybe": "شاید", "likely": "محتمل", "certain": "قطعی",
        "in-post": "در سمت", "promoted": "ارتقا یافته", "retired": "بازنشسته", "charged": "متهم شده",
        "convicted": "محکوم شده", "acquitted": "تبرئه شده", "sanctioned": "تحریم شده", "deceased": "درگذشته",
        "mass-grave": "گور جمعی", "cemetery": "گورستان", "execution-site": "محل اعدام", "prison": "زندان",
        "suspected": "مورد گمان", "probable": "به احتمال قوی", "confirmed": "تأییدشده",
        "intact": "دست‌نخورده", "markers-removed": "نشانه‌ها برداشته شده", "new-burials": "تدفین‌های تازه",
        "bulldozed": "با بولدوزر تخریب شده", "built-over": "رویش ساخت‌وساز شده", "access-denied": "دسترسی ممنوع",
        "exhumed": "نبش قبر شده",
    },
}


def term(value: str | None, language: str) -> str:
    """A vocabulary word in ``language`` (a word the vocabulary does not know, as it is)."""
    if not value:
        return ""
    return TERMS[language].get(value, value if language == "fa" else value.replace("-", " "))


def digits(value, language: str) -> str:
    """A number (rounded, thousands marked) or a text, in Persian digits for ``fa``."""
    text = f"{round(value):,}" if isinstance(value, (int, float)) else str(value)
    return text.translate(PERSIAN_DIGITS) if language == "fa" else text


def day(iso: str | None, language: str) -> str | None:
    """A day in the language's calendar, the other beside it: 1367/05/15 (1988-08-06)."""
    if not iso:
        return None
    gregorian = date.fromisoformat(iso)
    jalali = jdatetime.date.fromgregorian(date=gregorian).strftime("%Y/%m/%d")
    if language == "fa":
        return f"{digits(jalali, 'fa')} ({digits(gregorian.isoformat(), 'fa')})"
    return f"{gregorian.isoformat()} ({jalali})"


def when(interval: dict | None, language: str) -> str | None:
    """A date as the sources know it: a day when they give one, else as they wrote it (never made
    more precise than it is)."""
    if not interval:
        return None
    if interval.get("earliest") and interval.get("earliest") == interval.get("latest"):
        return day(interval["earliest"], language)
    return digits(interval.get("original") or "", language) or None
