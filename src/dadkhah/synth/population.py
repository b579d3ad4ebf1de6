"""A synthetic population of victims: who they were, where and when they were killed.

Frequencies follow the domain primer: common Iranian names with realistic weights (so namesakes
such as Mohammad Mohammadi are frequent), mostly men aged 20-35, cities weighted by size,
prisons that depend on the city, affiliations that depend on the region, and death dates in two
waves (first wave in Mordad 1367 for PMOI and Kurdish prisoners, second in Shahrivar 1367 for the
left) with a thin tail to the end of the window. Nothing here describes a real person.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources

from dadkhah.normalize.places import load_builtin_gazetteer

KURDISH_PROVINCES = ("province:kurdistan", "province:west-azerbaijan", "province:kermanshah")
KURDISH_PARTIES = ("KDPI", "Komala")


@dataclass(frozen=True)
class NameEntry:
    fa: str
    latin: tuple[str, ...]
    weight: int
    compound: bool = False


@dataclass(frozen=True)
class NameTables:
    given_male: tuple[NameEntry, ...]
    given_female: tuple[NameEntry, ...]
    family: tuple[NameEntry, ...]
    affiliations: tuple[dict, ...]
    honorifics: tuple[dict, ...]


@cache
def load_name_tables() -> NameTables:
    data = json.loads(resources.files("dadkhah.synth").joinpath("data/names.json").read_text(encoding="utf-8"))

    def table(key: str) -> tuple[NameEntry, ...]:
        return tuple(
            NameEntry(e["fa"], tuple(e["latin"]), int(e["weight"]), bool(e.get("compound", False))) for e in data[key]
        )

    given_male = table("given_male")
    # The table's surnames count double against the long tail, which puts the most common one
    # (Mohammadi) at about one person in a hundred.
    family = tuple(NameEntry(e.fa, e.latin, 2 * e.weight, e.compound) for e in table("family"))
    return NameTables(
        given_male=given_male,
        given_female=table("given_female"),
        family=family + _derived_surnames(given_male, family),
        affiliations=tuple(data["affiliations"]),
        honorifics=tuple(data["honorifics"]),
    )


_SURNAME_SUFFIXES = (
    ("زاده", "zadeh"), ("پور", "pour"), ("نیا", "nia"), ("فر", "far"), ("نژاد", "nejad"), ("وند", "vand"),
    ("لو", "lou"), ("کیا", "kia"), ("راد", "rad"), ("منش", "manesh"), ("یان", "ian"), ("فرد", "fard"),
    ("مهر", "mehr"), ("پناه", "panah"), ("دوست", "doust"), ("خواه", "khah"), ("زادگان", "zadegan"),
)
_SURNAME_PREFIXES = (("میر", "Mir"), ("حاج", "Haj"), ("آقا", "Agha"), ("شیخ", "Sheikh"), ("پور", "Pour"),
                     ("ملا", "Molla"), ("امیر", "Amir"), ("بنی", "Bani"))
_NON_JOINING = frozenset("اآدذرزژو")


def _join_fa(first: str, second: str) -> str:
    """Persian words written as one name: a joiner after a letter that would otherwise connect."""
    return first + ("" if first[-1] in _NON_JOINING else "\u200c") + second


def _join_latin(first: str, second: str) -> str:
    return first.replace(" ", "").replace("-", "") + second.replace(" ", "").replace("-", "").lower()


def _derived_surnames(given: tuple[NameEntry, ...], family: tuple[NameEntry, ...]) -> tuple[NameEntry, ...]:
    """The long tail of Iranian surnames, made the ways they are made.

    A table of common surnames alone makes namesakes far too frequent in large populations (its
    eleven most common names would be a fifth of everyone). Real surnames come from a given name
    and a suffix (Hassanzadeh, Alipour, Rezanejad, Karimvand), a prefix on a surname (Mirhosseini,
    Hajmohammadi, Aghajani), a place (Tehrani, Karaji) or two given names (Alimohammadi); these add
    some ten thousand rarer names, so that the most common surname is about one person in a hundred.
    """
    known = {e.fa.replace("\u200c", "") for e in family}
    derived: dict[str, NameEntry] = {}

    def add(fa: str, latin: tuple[str, ...], weight: int) -> None:
        key = fa.replace("\u200c", "")
        if key not in known and key not in derived:
            derived[key] = NameEntry(fa, tuple(dict.fromkeys(latin)), weight)

    simple = [e for e in given if not e.compound]
    for entry in simple:
        for fa_suffix, latin_suffix in _SURNAME_SUFFIXES:
            add(_join_fa(entry.fa, fa_suffix), tuple(_join_latin(v, latin_suffix) for v in entry.latin[:3]),
                max(1, entry.weight // 12))
    for fa_prefix, latin_prefix in _SURNAME_PREFIXES:
        for entry in family:
            if " " in entry.fa:
                continue
            add(_join_fa(fa_prefix, entry.fa), tuple(_join_latin(latin_prefix, v) for v in entry.latin[:2]), 1)
    for place in load_builtin_gazetteer().places:
        name_fa, name_en = place.get("name_fa") or "", place["name_en"]
        if place["type"] != "city" or not name_fa or " " in name_fa or name_fa[-1] in "یهاو" or " " in name_en:
            continue
        add(name_fa + "ی", (name_en.replace("-", "") + "i",), 2)
    common = sorted(simple, key=lambda e: -e.weight)[:40]
    for first in common:
        for second in common:
            if first is second:
                continue
            for fa_suffix, latin_suffix in (("ی", "i"), ("زاده", "zadeh"), ("پور", "pour")):
                stem_fa = _join_fa(first.fa, second.fa)
                add(stem_fa + fa_suffix if fa_suffix == "ی" else _join_fa(stem_fa, fa_suffix),
                    (_join_latin(first.latin[0], second.latin[0] + latin_suffix),), 1)
    return tuple(derived[k] for k in sorted(derived))


@dataclass(frozen=True)
class Window:
    """The period deaths are drawn from (Gregorian, inclusive), and its two waves."""

    start: dt.date = dt.date(1988, 7, 19)
    end: dt.date = dt.date(1989, 2, 19)
    first_wave: tuple[dt.date, dt.date] = (dt.date(1988, 7, 27), dt.date(1988, 8, 22))  # ~5-31 Mordad 1367
    second_wave: tuple[dt.date, dt.date] = (dt.date(1988, 8, 27), dt.date(1988, 9, 22))  # ~5-31 Shahrivar 1367
    tail_share: float = 0.06


@dataclass(slots=True)
class Victim:
    person_id: str
    gender: str
    given: NameEntry
    family: NameEntry
    father: NameEntry
    seyyed: bool
    birth: dt.date
    death: dt.date
    city: dict
    prison: dict | None
    affiliation: dict
    visibility: float  # latent: how widely known the case is (drives heterogeneous capture)


def _cum(weights) -> list[float]:
    return list(itertools.accumulate(weights))


def _draw_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    return start + dt.timedelta(days=rng.randint(0, (end - start).days))


def choose_cities(count: int) -> list[dict]:
    """The ``count`` cities to populate: those documented for 1988 first, in the gazetteer's order."""
    places = load_builtin_gazetteer().places
    cities = [p for p in places if p["type"] == "city"]
    ordered = [c for c in cities if c.get("documented_1988")] + [c for c in cities if not c.get("documented_1988")]
    if count > len(ordered):
        raise ValueError(f"the gazetteer has {len(ordered)} cities; asked for {count}")
    return ordered[:count]


def prisons_by_city() -> dict[str, list[dict]]:
    prisons: dict[str, list[dict]] = {}
    for place in load_builtin_gazetteer().places:
        if place["type"] == "prison" and place.get("parent"):
            prisons.setdefault(place["parent"], []).append(place)
    return prisons


def generate_population(
    victims: int, *, seed: int, cities: int = 32, window: Window | None = None
) -> list[Victim]:
    """``victims`` people, reproducibly from ``seed``."""
    window = window or Window()
    rng = random.Random(f"dadkhah-population-{seed}")
    tables = load_name_tables()
    city_list = choose_cities(cities)
    # Zipf-like city sizes over the gazetteer's order (largest first).
    city_cum = _cum([1.0 / (rank + 1) ** 0.9 for rank in range(len(city_list))])
    prisons = prisons_by_city()
    tehran_area = [p for cid in ("city:tehran", "city:karaj") for p in prisons.get(cid, [])]
    male_cum = _cum(e.weight for e in tables.given_male)
    female_cum = _cum(e.weight for e in tables.given_female)
    family_cum = _cum(e.weight for e in tables.family)
    affiliations = [a for a in tables.affiliations if a["code"] not in KURDISH_PARTIES]
    kurdish = [a for a in tables.affiliations if a["code"] in KURDISH_PARTIES]
    aff_cum = _cum(a["weight"] for a in affiliations)
    kurd_cum = _cum(a["weight"] for a in kurdish)
    width = len(str(victims))
    population: list[Victim] = []
    for n in range(1, victims + 1):
        gender = "female" if rng.random() < 0.06 else "male"
        given_table, given_cum = (tables.given_female, female_cum) if gender == "female" else (tables.given_male, male_cum)
        given = rng.choices(given_table, cum_weights=given_cum)[0]
        family = rng.choices(tables.family, cum_weights=family_cum)[0]
        father = rng.choices(tables.given_male, cum_weights=male_cum)[0]
        city = rng.choices(city_list, cum_weights=city_cum)[0]
        if kurdish and city.get("province_now") in KURDISH_PROVINCES and rng.random() < 0.55:
            affiliation = rng.choices(kurdish, cum_weights=kurd_cum)[0]
        else:
            affiliation = rng.choices(affiliations, cum_weights=aff_cum)[0]
        if city["id"] in ("city:tehran", "city:karaj") and tehran_area:
            prison = rng.choice(tehran_area)
        else:
            local = prisons.get(city["id"])
            prison = rng.choice(local) if local and rng.random() < 0.8 else None
        if rng.random() < window.tail_share:
            death = _draw_date(rng, window.start, window.end)
        elif affiliation.get("wave") == "second":
            death = _draw_date(rng, *window.second_wave)
        else:
            death = _draw_date(rng, *window.first_wave)
        age = min(65, max(16, rng.gauss(27.5, 6.5)))
        birth = death - dt.timedelta(days=int(age * 365.25) + rng.randint(0, 364))
        population.append(
            Victim(
                person_id=f"V-{n:0{width}d}",
                gender=gender,
                given=given,
                family=family,
                father=father,
                seyyed=rng.random() < 0.06,
                birth=birth,
                death=death,
                city=city,
                prison=prison,
                affiliation=affiliation,
                visibility=rng.gauss(0.0, 1.0),
            )
        )
    return population
