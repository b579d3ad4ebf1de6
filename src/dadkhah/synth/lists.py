"""Synthetic lists: who each list recorded, and how it wrote them down.

Each list has a *profile*: its script (Persian, Latin, or both), how it writes names (given and
family apart, or one full-name column), dates (Jalali or Gregorian, numeric or with month names,
Persian or ASCII digits, day or only month), which fields it tends to leave empty, and how often it
errs (typos, transliteration variants, swapped given/family names, duplicates of one person).

Capture is uneven on purpose, because that is what multiple systems estimation must cope with:
each person has a latent visibility, lists favour some cities and some affiliations, and some
lists copy from others (positive dependence).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field, replace

import jdatetime

from dadkhah.synth.population import KURDISH_PROVINCES, NameEntry, Victim

JALALI_MONTHS_FA = ("فروردین", "اردیبهشت", "خرداد", "تیر", "مرداد", "شهریور", "مهر", "آبان", "آذر", "دی", "بهمن", "اسفند")
JALALI_MONTHS_LATIN = ("Farvardin", "Ordibehesht", "Khordad", "Tir", "Mordad", "Shahrivar", "Mehr", "Aban", "Azar", "Dey", "Bahman", "Esfand")
GREGORIAN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_LETTERS = str.maketrans({"ی": "ي", "ک": "ك"})
# Letters a hand or an OCR pass confuses (same skeleton, different dots).
PERSIAN_CONFUSIONS = {
    "ب": "پت", "پ": "بت", "ت": "بثن", "ث": "ت", "ن": "تب", "ج": "چحخ", "چ": "ج", "ح": "جخ", "خ": "حج",
    "د": "ذ", "ذ": "د", "ر": "زژ", "ز": "رژ", "ژ": "ز", "س": "ش", "ش": "س", "ص": "ض", "ض": "ص",
    "ط": "ظ", "ظ": "ط", "ع": "غ", "غ": "ع", "ف": "ق", "ق": "ف", "ک": "گ", "گ": "ک", "ی": "ئ",
}
_NON_JOINING = set("اآدذرزژو")
LATIN_RULES = (
    ("ou", "u"), ("u", "ou"), ("oo", "u"), ("gh", "q"), ("q", "gh"), ("ei", "ey"), ("ey", "ei"),
    ("ss", "s"), ("mm", "m"), ("zadeh", "zade"), ("eh", "e"), ("i", "ee"), ("e", "a"), ("a", "e"), ("kh", "x"),
)


@dataclass(frozen=True)
class Difficulty:
    typo: float          # chance a name field gets a typo
    variant: float       # chance a Latin name uses a less common spelling
    swap: float          # chance given and family name change places
    duplicate: float     # chance a recorded person appears again in the same list
    missing: float       # multiplier on each profile's missing-field rates
    date_noise: float    # chance a date is shifted, degraded or made impossible
    full_name_lists: float  # share of lists that have only a full-name column


DIFFICULTIES = {
    "easy": Difficulty(typo=0.01, variant=0.15, swap=0.0, duplicate=0.005, missing=0.5, date_noise=0.0, full_name_lists=0.0),
    "realistic": Difficulty(typo=0.05, variant=0.35, swap=0.02, duplicate=0.02, missing=1.0, date_noise=0.06, full_name_lists=0.3),
    "hard": Difficulty(typo=0.12, variant=0.55, swap=0.06, duplicate=0.04, missing=1.4, date_noise=0.15, full_name_lists=0.4),
}


@dataclass
class ListProfile:
    """How one list was compiled and written."""

    name: str
    kind: str
    script: str             # "fa", "latin" or "mixed"
    names: str              # "split" or "full"
    date_style: str         # see render_date
    birth_style: str        # "year", "date" or "none"
    coverage: float         # mean share of the population recorded
    missing: dict[str, float] = field(default_factory=dict)
    arabic_letters: bool = False
    shahid_prefix: float = 0.0
    month_only: float = 0.1
    city_bias: dict[str, float] = field(default_factory=dict)     # province or city id -> logit shift
    affiliation_bias: dict[str, float] = field(default_factory=dict)  # code -> logit shift
    depends_on: str | None = None
    dependence: float = 0.0
    id_prefix: str = ""

    def describe(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "script": self.script, "names": self.names,
            "date_style": self.date_style, "birth_style": self.birth_style, "coverage": self.coverage,
            "missing": self.missing, "arabic_letters": self.arabic_letters, "depends_on": self.depends_on,
            "city_bias": self.city_bias, "affiliation_bias": self.affiliation_bias,
        }


_ARCHETYPES = (
    ListProfile("", "ngo-persian", "fa", "split", "jalali_numeric", "year", 0.30,
                {"father_name": 0.2, "birth_date": 0.35, "death_date": 0.1, "city": 0.05, "prison": 0.5, "gender": 0.3, "affiliation": 0.2},
                affiliation_bias={"PMOI": 0.3}, id_prefix="NGO-"),
    ListProfile("", "un-latin", "latin", "full", "gregorian_text", "year", 0.22,
                {"father_name": 0.6, "birth_date": 0.5, "death_date": 0.15, "city": 0.05, "prison": 0.7, "gender": 0.5, "affiliation": 0.4},
                city_bias={"city:tehran": 0.8, "city:karaj": 0.6, "city:mashhad": 0.4}, id_prefix="UN/"),
    ListProfile("", "family-reports", "latin", "split", "jalali_latin_text", "year", 0.15,
                {"father_name": 0.45, "birth_date": 0.4, "death_date": 0.25, "city": 0.1, "prison": 0.6, "gender": 0.4, "affiliation": 0.5},
                month_only=0.45, id_prefix="FR"),
    ListProfile("", "prison-ledger", "fa", "split", "jalali_text_fa", "date", 0.20,
                {"father_name": 0.1, "birth_date": 0.2, "death_date": 0.05, "city": 0.2, "prison": 0.0, "gender": 0.6, "affiliation": 0.3},
                arabic_letters=True, city_bias={"city:tehran": 0.9, "city:karaj": 0.9}, id_prefix=""),
    ListProfile("", "regional-persian", "fa", "full", "jalali_fa_digits", "year", 0.06,
                {"father_name": 0.3, "birth_date": 0.5, "death_date": 0.2, "city": 0.0, "prison": 0.6, "gender": 0.5, "affiliation": 0.2},
                shahid_prefix=0.3, city_bias={p: 3.0 for p in KURDISH_PROVINCES}, affiliation_bias={"KDPI": 1.5, "Komala": 1.5}, id_prefix="R-"),
    ListProfile("", "opposition-mixed", "mixed", "split", "mixed", "year", 0.25,
                {"father_name": 0.3, "birth_date": 0.45, "death_date": 0.15, "city": 0.1, "prison": 0.5, "gender": 0.5, "affiliation": 0.05},
                affiliation_bias={"PMOI": 1.2}, dependence=1.5, id_prefix="OPP-"),
)


def make_profiles(count: int, difficulty: Difficulty, rng: random.Random, coverage: float | None = None) -> list[ListProfile]:
    """``count`` list profiles: the six archetypes, then variations of them."""
    profiles = []
    for index in range(count):
        base = _ARCHETYPES[index % len(_ARCHETYPES)]
        profile = replace(base, name=f"list-{index + 1}", missing=dict(base.missing),
                          city_bias=dict(base.city_bias), affiliation_bias=dict(base.affiliation_bias))
        if index >= len(_ARCHETYPES):
            profile.coverage = min(0.8, max(0.08, base.coverage * rng.uniform(0.5, 1.3)))
            profile.id_prefix = f"{base.id_prefix or 'L'}{index + 1}-"
        if base.kind == "opposition-mixed" and index > 0:
            profile.depends_on = "list-1"
        if profile.names == "split" and index > 0 and rng.random() < difficulty.full_name_lists:
            profile.names = "full"
        if coverage is not None:
            profile.coverage = coverage
        profile.missing = {f: min(0.95, r * difficulty.missing) for f, r in profile.missing.items()}
        profiles.append(profile)
    return profiles


# --- rendering ------------------------------------------------------------------------------

def _persian_typo(text: str, rng: random.Random) -> str:
    positions = [i for i, ch in enumerate(text) if ch in PERSIAN_CONFUSIONS]
    op = rng.random()
    if positions and op < 0.6:
        i = rng.choice(positions)
        return text[:i] + rng.choice(PERSIAN_CONFUSIONS[text[i]]) + text[i + 1:]
    if len(text) > 3 and op < 0.85:
        i = rng.randrange(1, len(text) - 1)
        return text[:i] + text[i + 1:]
    i = rng.randrange(len(text))
    return text[:i] + text[i] + text[i:]


def _latin_typo(text: str, rng: random.Random) -> str:
    if len(text) < 3:
        return text
    op = rng.random()
    i = rng.randrange(1, len(text) - 1)
    if op < 0.3:
        return text[:i] + text[i + 1:]
    if op < 0.55:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    if op < 0.8:
        vowels = "aeiou"
        if text[i].lower() in vowels:
            return text[:i] + rng.choice(vowels.replace(text[i].lower(), "")) + text[i + 1:]
        return text[:i] + text[i] + text[i:]
    return text[:i] + rng.choice("aeioumnrst") + text[i + 1:]


def _latin_variant(text: str, rng: random.Random) -> str:
    rules = [(a, b) for a, b in LATIN_RULES if a in text.lower()]
    if not rules:
        return text
    a, b = rng.choice(rules)
    lower = text.lower()
    i = lower.find(a, 1) if lower.find(a, 1) > 0 else lower.find(a)
    out = text[:i] + b + text[i + len(a):]
    return out[:1].upper() + out[1:]


def _persian_spacing(text: str, rng: random.Random) -> str:
    """Compound names and suffixes written joined, with a joiner, or with a space."""
    if "\u200c" in text:
        return text.replace("\u200c", rng.choice(("", " ", "\u200c")))
    for prefix in ("محمد", "غلام", "علی", "عبد", "حسین", "امیر"):
        if text.startswith(prefix) and len(text) > len(prefix) + 1 and rng.random() < 0.5:
            return prefix + rng.choice((" ", "\u200c")) + text[len(prefix):]
    for suffix in ("زاده", "پور", "نیا", "نژاد"):
        if text.endswith(suffix) and len(text) > len(suffix) + 1 and rng.random() < 0.5:
            return text[: -len(suffix)] + rng.choice((" ", "\u200c")) + suffix
    return text


def render_name(entry: NameEntry, script: str, profile: ListProfile, difficulty: Difficulty, rng: random.Random) -> str:
    if script == "fa":
        text = entry.fa
        if rng.random() < 0.3:
            text = _persian_spacing(text, rng)
        if rng.random() < difficulty.typo:
            text = _persian_typo(text, rng)
        if rng.random() < 0.03:
            text = text.replace("آ", "ا")
        return text.translate(ARABIC_LETTERS) if profile.arabic_letters else text
    latin = entry.latin
    if rng.random() < difficulty.variant and len(latin) > 1:
        text = rng.choice(latin[1:])
    else:
        text = latin[0]
    if rng.random() < difficulty.variant * 0.4:
        text = _latin_variant(text, rng)
    if rng.random() < difficulty.typo:
        text = _latin_typo(text, rng)
    return text


def _jalali(date: dt.date) -> jdatetime.date:
    return jdatetime.date.fromgregorian(date=date)


def render_date(date: dt.date, style: str, *, precision: str, rng: random.Random) -> str:
    """A date as a list of this style writes it, at day, month or year precision."""
    if style == "mixed":
        style = rng.choice(("jalali_numeric", "gregorian_iso", "jalali_latin_text", "gregorian_text"))
    j = _jalali(date)
    if style.startswith("jalali"):
        fa_digits = style in ("jalali_fa_digits", "jalali_text_fa")
        if precision == "year":
            text = f"{j.year}"
        elif style == "jalali_text_fa":
            text = f"{JALALI_MONTHS_FA[j.month - 1]} {j.year}" if precision == "month" else f"{j.day} {JALALI_MONTHS_FA[j.month - 1]} {j.year}"
        elif style == "jalali_latin_text":
            text = f"{JALALI_MONTHS_LATIN[j.month - 1]} {j.year}" if precision == "month" else f"{j.day} {JALALI_MONTHS_LATIN[j.month - 1]} {j.year}"
        else:
            text = f"{j.year}/{j.month:02d}" if precision == "month" else f"{j.year}/{j.month:02d}/{j.day:02d}"
        return text.translate(PERSIAN_DIGITS) if fa_digits else text
    if precision == "year":
        return f"{date.year}"
    if style == "gregorian_text":
        return f"{GREGORIAN_MONTHS[date.month - 1]} {date.year}" if precision == "month" else f"{date.day} {GREGORIAN_MONTHS[date.month - 1]} {date.year}"
    return f"{date.year}-{date.month:02d}" if precision == "month" else date.isoformat()


def _impossible_jalali(date: dt.date) -> str:
    j = _jalali(date)
    month = j.month if j.month >= 7 else 7
    return f"{j.year}/{month:02d}/31"  # months 7-12 have at most 30 days


@dataclass
class RenderedRecord:
    person_id: str
    cells: dict[str, str]


def render_record(victim: Victim, profile: ListProfile, difficulty: Difficulty, rng: random.Random, *,
                  city_names: dict[str, list[str]]) -> dict[str, str]:
    """One row of ``profile``'s list about ``victim``, with the list's habits and errors."""
    script = profile.script if profile.script != "mixed" else rng.choice(("fa", "latin"))
    missing = profile.missing

    def keep(field_name: str) -> bool:
        return rng.random() >= missing.get(field_name, 0.0)

    given = render_name(victim.given, script, profile, difficulty, rng)
    family = render_name(victim.family, script, profile, difficulty, rng)
    if rng.random() < difficulty.swap:
        given, family = family, given
    cells: dict[str, str] = {}
    titles = []
    if victim.seyyed and rng.random() < 0.5:
        titles.append(("سیده" if victim.gender == "female" else "سید") if script == "fa" else ("Seyyedeh" if victim.gender == "female" else "Seyyed"))
    if profile.shahid_prefix and rng.random() < profile.shahid_prefix:
        titles.insert(0, "شهید" if script == "fa" else "Shahid")
    if profile.names == "full":
        if script == "latin" and rng.random() < 0.25:
            cells["full_name"] = f"{family}, {' '.join(titles + [given])}"
        else:
            cells["full_name"] = " ".join(titles + [given, family])
    else:
        cells["given_name"] = " ".join(titles + [given])
        cells["family_name"] = family
    cells["father_name"] = render_name(victim.father, script, profile, difficulty, rng) if keep("father_name") else ""
    if keep("gender"):
        cells["gender"] = (("مرد" if victim.gender == "male" else "زن") if script == "fa"
                           else rng.choice((("M", "F"), ("male", "female")))[0 if victim.gender == "male" else 1])
    else:
        cells["gender"] = ""

    cells["birth_date"] = ""
    if profile.birth_style != "none" and keep("birth_date"):
        birth = victim.birth
        if rng.random() < difficulty.date_noise:
            birth = birth + dt.timedelta(days=365 * rng.choice((-1, 1)))
        if profile.birth_style == "date" and rng.random() < 0.5:
            cells["birth_date"] = render_date(birth, profile.date_style, precision="day", rng=rng)
        elif script == "fa" or profile.date_style.startswith("jalali"):
            year = _jalali(birth).year
            cells["birth_date"] = str(year).translate(PERSIAN_DIGITS) if script == "fa" and rng.random() < 0.5 else str(year)
        else:
            cells["birth_date"] = str(birth.year)

    cells["death_date"] = ""
    if keep("death_date"):
        death = victim.death
        precision = "month" if rng.random() < profile.month_only else "day"
        noise = rng.random()
        if noise < difficulty.date_noise * 0.05 and profile.date_style.startswith("jalali"):
            cells["death_date"] = _impossible_jalali(death)
        else:
            if noise < difficulty.date_noise:
                death = death + dt.timedelta(days=rng.choice((-3, -2, -1, 1, 2, 3, 10, -10)))
            style = profile.date_style
            if script == "fa" and style.startswith("gregorian"):
                style = "jalali_numeric"
            cells["death_date"] = render_date(death, style, precision=precision, rng=rng)

    cells["city"] = ""
    if keep("city"):
        names = city_names[victim.city["id"]]
        if script == "fa":
            city = names[1] if len(names) > 1 and names[1] else names[0]
            city = city.translate(ARABIC_LETTERS) if profile.arabic_letters else city
        else:
            latin = [n for n in names if n and n.isascii()]
            city = rng.choice(latin) if latin and rng.random() < difficulty.variant else names[0]
        if rng.random() < difficulty.typo * 0.3:
            city = _persian_typo(city, rng) if script == "fa" else _latin_typo(city, rng)
        cells["city"] = city
    cells["prison"] = ""
    if victim.prison is not None and keep("prison"):
        prison = victim.prison
        if script == "fa" and prison.get("name_fa"):
            cells["prison"] = prison["name_fa"].translate(ARABIC_LETTERS) if profile.arabic_letters else prison["name_fa"]
        else:
            options = [prison["name_en"], *[v for v in prison.get("variants") or () if v.isascii()]]
            cells["prison"] = rng.choice(options) if rng.random() < difficulty.variant else options[0]
    cells["affiliation"] = ""
    if keep("affiliation"):
        aff = victim.affiliation
        cells["affiliation"] = aff["fa"] if script == "fa" else rng.choice(aff["latin"])
    return cells


HETEROGENEITY = 0.9  # default spread of visibility on the log-odds of capture (see capture_logit)


def capture_logit(victim: Victim, profile: ListProfile, heterogeneity: float = HETEROGENEITY) -> float:
    """Log-odds that ``profile``'s list records ``victim`` (before dependence on other lists).

    ``heterogeneity`` scales the victim's visibility (a standard normal shared by every list): the
    standard deviation, on the log-odds, of how much more or less findable one person is than
    another on *every* list. 0 leaves only the differences by city, affiliation and list dependence.
    """
    base = math.log(profile.coverage / (1 - profile.coverage)) if 0 < profile.coverage < 1 else (20.0 if profile.coverage >= 1 else -20.0)
    shift = heterogeneity * victim.visibility
    shift += profile.city_bias.get(victim.city["id"], 0.0) + profile.city_bias.get(victim.city.get("province_now") or "", 0.0)
    shift += profile.affiliation_bias.get(victim.affiliation["code"], 0.0)
    return base + shift
