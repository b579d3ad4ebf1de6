"""A synthetic accountability set for a synthetic case: bodies, officials, posts, acts, sites.

:func:`generate_accountability` writes, beside a case's lists, the CSV files the accountability
importer reads (``institutions.csv``, ``officials.csv``, ``posts.csv``, ``acts.csv``,
``involvements.csv``, ``official_status.csv``, ``sites.csv``, ``site_status.csv``,
``burials.csv``) and a ``truth.json`` of known answers, so that tests check the importer and the
queries built on it without reimplementing this generator.

The set agrees with the case: one execution act for every victim, on the victim's death date at
the victim's prison (or city), naming the victim by the records the lists hold about them (victims
on no list are only counted, as unnamed victims of group acts); the commission of the victim's 1988
province and the prison's head are involved in it. Like the lists, it is uneven on purpose: dates
in both calendars and at every precision, aliases and spelling variants, likelihoods from *maybe*
to *certain*, claims awaiting review, and a second source that contradicts a few posts and
involvements. Every official is made up from the victims' name tables (never a name a victim of
the case bears, never the family name of an official the domain primer names); places are the
gazetteer's public places. Same seed, same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dadkhah.normalize.dates import parse_date
from dadkhah.normalize.places import Gazetteer, load_builtin_gazetteer, place_names
from dadkhah.spreadsheet import SafeWriter
from dadkhah.synth.lists import PERSIAN_DIGITS, render_date
from dadkhah.synth.population import NameEntry, Victim, _cum, load_name_tables

__all__ = ["generate_accountability", "COLUMNS", "INCIDENT", "SECOND_SOURCE", "CHART_DATE"]

INCIDENT = "Synthetic prison executions"
SECOND_SOURCE = "synthetic-report-2"
CHART_DATE = dt.date(1988, 8, 15)
_TAIL = ["source", "locator", "review_status"]
COLUMNS = {
    "institutions.csv": ["institution_id", "name", "name_fa", "kind", "parent_id", "relation", "from", "to", *_TAIL],
    "officials.csv": ["official_id", "name", "name_fa", "aliases", "gender", "birth_date", *_TAIL],
    "posts.csv": ["official_id", "institution_id", "role", "from", "to", *_TAIL],
    "acts.csv": ["act_id", "act_type", "date", "place", "incident", "victims", "unnamed_victims", *_TAIL],
    "involvements.csv": ["act_id", "actor_id", "degree", "likelihood", *_TAIL],
    "official_status.csv": ["official_id", "observed_on", "status", *_TAIL],
    "sites.csv": ["site_id", "name", "name_fa", "kind", "place", "latitude", "longitude", "certainty", "publication", *_TAIL],
    "site_status.csv": ["site_id", "observed_on", "status", "method", "evidence", *_TAIL],
    "burials.csv": ["site_id", "victim", "likelihood", *_TAIL],
}

# Family names of real officials named in the domain primer (and a few more of the period), in
# both scripts: no synthetic official may bear one, so that no made-up name points at a real person.
_REAL_FAMILY_LATIN = frozenset("""
nayyeri nayeri nayyery eshraghi eshraqi raisi raeesi raeissi raeisi raeesy pourmohammadi poormohammadi
purmohammadi shushtari shoshtari shooshtari choushtari noury nouri noori nuri ghodosi ghodousi ghoddousi
ghodsi molajafar mollajafar halvaei halvaie asgar askar nasseryan naserian nasserian moghayseh moghiseh
moghisseh kabiri araei araee fakor lashkari avaei avaee avaie avai bakhtiari ardebili ardabili fallahian
montazeri khomeini rafsanjani mohseniezhei ezhei reyshahri rayshahri abbasi mousaviardebili
""".split())
_REAL_FAMILY_FA = frozenset("""
نیری رئیسی رییسی اشراقی پورمحمدی شوشتری نوری قدوسی ملاجعفر حلوایی عسگر عسکر ناصریان مقیسه کبیری آرایی
فکور لشکری آوایی بختیاری اردبیلی فلاحیان منتظری خمینی رفسنجانی محسنی‌اژه‌ای اژه‌ای ری‌شهری عباسی
""".replace("\u200c", "").split())

_LIKELIHOODS = ("certain", "likely", "maybe")
_SEASONS_LATIN = ("spring", "summer", "autumn", "winter")
_SEASONS_FA = ("بهار", "تابستان", "پاییز", "زمستان")
_DAY_STYLES = ("gregorian_iso", "jalali_numeric", "jalali_text_fa", "jalali_latin_text", "gregorian_text")
_DAY_WEIGHTS = _cum((30, 25, 20, 15, 10))


def _latin_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalpha())


# --- dates ------------------------------------------------------------------------------------

def _day_text(date: dt.date, rng: random.Random) -> str:
    style = rng.choices(_DAY_STYLES, cum_weights=_DAY_WEIGHTS)[0]
    return render_date(date, style, precision="day", rng=rng)


def _date_text(date: dt.date, precision: str, rng: random.Random) -> str:
    """``date`` written at ``precision`` (day, month, season, year) in a style drawn from ``rng``."""
    if precision == "day":
        return _day_text(date, rng)
    if precision == "month":
        style = rng.choice(("gregorian_iso", "gregorian_text", "jalali_numeric", "jalali_latin_text", "jalali_text_fa"))
        return render_date(date, style, precision="month", rng=rng)
    if precision == "season":  # Jalali seasons: three Jalali months each
        import jdatetime

        j = jdatetime.date.fromgregorian(date=date)
        season = (j.month - 1) // 3
        if rng.random() < 0.3:
            return f"{_SEASONS_FA[season]} {j.year}".translate(PERSIAN_DIGITS)
        return f"{_SEASONS_LATIN[season]} {j.year}"
    style = rng.choice(("gregorian_iso", "jalali_numeric", "jalali_fa_digits"))
    return render_date(date, style, precision="year", rng=rng)


def _bounds(text: str) -> tuple[dt.date | None, dt.date | None]:
    if not text:
        return None, None
    value = parse_date(text)
    return value.earliest, value.latest


def _pick_date(rng: random.Random, lo: dt.date, hi: dt.date, precisions: Sequence[str],
               accept: Callable[[dt.date, dt.date], bool]) -> str:
    """A date text for a day in [lo, hi] at one of ``precisions`` whose interval ``accept`` takes."""
    for _ in range(60):
        day = lo + dt.timedelta(days=rng.randint(0, (hi - lo).days))
        text = _date_text(day, rng.choice(precisions), rng)
        earliest, latest = _bounds(text)
        if earliest is not None and accept(earliest, latest):
            return text
    return hi.isoformat() if accept(hi, hi) else lo.isoformat()


def _certainly_covers(start: str, end: str, day: dt.date) -> bool:
    """Whether a span from ``start`` to ``end`` (texts; empty = open) surely includes ``day``."""
    latest_start = _bounds(start)[1]
    earliest_end = _bounds(end)[0]
    return (latest_start is None or latest_start <= day) and (earliest_end is None or day <= earliest_end)


def _possibly_covers(start: str, end: str, day: dt.date) -> bool:
    earliest_start = _bounds(start)[0]
    latest_end = _bounds(end)[1]
    return (earliest_start is None or earliest_start <= day) and (latest_end is None or day <= latest_end)


# --- the set being built ------------------------------------------------------------------------

@dataclass(eq=False)
class _Official:
    official_id: str
    name: str
    name_fa: str
    posts: list[dict] = field(default_factory=list)
    later_posts: list[dict] = field(default_factory=list)
    acts: set[str] = field(default_factory=set)


@dataclass
class _Set:
    rng: random.Random
    rows: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    institutions: dict[str, dict] = field(default_factory=dict)
    officials: dict[str, _Official] = field(default_factory=dict)
    conflicts: list[dict] = field(default_factory=list)

    def meta(self, *, work_needed: float = 0.08) -> dict:
        """Citation and review cells of a first-source row: mostly accepted."""
        rng = self.rng
        locator = rng.choice((f"p. {rng.randint(3, 240)}", f"annex {rng.randint(1, 6)}, row {rng.randint(1, 400)}", ""))
        roll = rng.random()
        status = "work-needed" if roll < work_needed * 0.7 else "" if roll < work_needed else "accepted"
        return {"source": "", "locator": locator, "review_status": status}

    def second(self) -> dict:
        return {"source": SECOND_SOURCE, "locator": f"ch. {self.rng.randint(1, 9)}, p. {self.rng.randint(5, 300)}",
                "review_status": "conflict"}

    def add(self, file: str, row: dict) -> dict:
        self.rows[file].append(row)
        return row

    def institution(self, name: str, name_fa: str, kind: str, parent: str = "", relation: str = "",
                    start: str = "", end: str = "") -> str:
        institution_id = f"SI-{len(self.institutions) + 1:03d}"
        row = {"institution_id": institution_id, "name": name, "name_fa": name_fa, "kind": kind,
               "parent_id": parent, "relation": relation if parent else "", "from": start if parent else "",
               "to": end if parent else ""} | self.meta(work_needed=0.0)
        self.institutions[institution_id] = row
        self.add("institutions.csv", row)
        return institution_id

    def post(self, official: _Official, institution_id: str, role: str, start: str, end: str, *,
             later: bool = False) -> dict:
        row = {"official_id": official.official_id, "institution_id": institution_id, "role": role,
               "from": start, "to": end} | self.meta(work_needed=0.25 if later else 0.0)
        self.add("posts.csv", row)
        (official.later_posts if later else official.posts).append(row)
        return row


class _Namer:
    """Synthetic officials' names: drawn from the victims' tables, never a victim's or a real official's."""

    def __init__(self, population: Sequence[Victim], rng: random.Random):
        tables = load_name_tables()
        self.rng = rng
        self.male = tables.given_male
        self.female = tables.given_female
        self.male_cum = _cum(e.weight for e in self.male)
        self.female_cum = _cum(e.weight for e in self.female)
        self.family = [e for e in tables.family if not self._real(e)]
        self.family_cum = _cum(e.weight for e in self.family)
        self.taken_fa = {(v.given.fa, v.family.fa) for v in population}
        self.taken_latin = {(_latin_key(g), _latin_key(f)) for v in population
                            for g in v.given.latin for f in v.family.latin}

    @staticmethod
    def _real(entry: NameEntry) -> bool:
        return (entry.fa.replace("\u200c", "") in _REAL_FAMILY_FA
                or any(_latin_key(v) in _REAL_FAMILY_LATIN for v in entry.latin))

    def _free(self, given: NameEntry, family: NameEntry) -> bool:
        return ((given.fa, family.fa) not in self.taken_fa
                and not any((_latin_key(g), _latin_key(f)) in self.taken_latin for g in given.latin for f in family.latin))

    def draw(self, gender: str = "male") -> tuple[NameEntry, NameEntry]:
        table, cum = (self.female, self.female_cum) if gender == "female" else (self.male, self.male_cum)
        while True:
            given = self.rng.choices(table, cum_weights=cum)[0]
            family = self.rng.choices(self.family, cum_weights=self.family_cum)[0]
            if self._free(given, family):
                self.taken_fa.add((given.fa, family.fa))
                self.taken_latin.update((_latin_key(g), _latin_key(f)) for g in given.latin for f in family.latin)
                return given, family

    def alias(self) -> str:
        return self.rng.choices(self.family, cum_weights=self.family_cum)[0].latin[0]


# --- the generator --------------------------------------------------------------------------------

def generate_accountability(
    folder: str | Path,
    population: Sequence[Victim],
    records: Iterable[tuple[str, str, str]],
    *,
    seed: int,
) -> dict:
    """Write a synthetic accountability set for a case into ``folder``; return its row counts.

    ``population`` is the case's population (:func:`~dadkhah.synth.population.generate_population`)
    and ``records`` the rows of its ``truth.csv``: (list name, record id, person id), the list name
    being the list file's base name (``list-1``), which the set cites as ``list-1:NGO-00012``.
    Writes the nine CSV files of :data:`COLUMNS` and ``truth.json``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(f"dadkhah-accountability-{seed}")
    out = _Set(rng)
    places = {p["id"]: p for p in load_builtin_gazetteer().places}
    order = {p["id"]: n for n, p in enumerate(load_builtin_gazetteer().places)}
    capitals = {}
    for place in places.values():
        if place["type"] == "province":
            capitals[place["id"]] = next((c for c in places.values() if c["type"] == "city"
                                          and (c["lat"], c["lon"]) == (place["lat"], place["lon"])), None)

    by_person: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for source, record_id, person_id in records:
        by_person[person_id].append((source, record_id))
    first_death = min(v.death for v in population)
    last_death = max(v.death for v in population)

    def province_of(victim: Victim) -> str:
        return victim.city.get("province_1988") or victim.city.get("province_now") or "province:tehran"

    province_ids = sorted({province_of(v) for v in population}, key=lambda p: order.get(p, 10**6))
    for province_id in province_ids:
        if capitals.get(province_id) is None:  # no capital in the gazetteer: the province's largest city of the case
            capitals[province_id] = next(v.city for v in population if province_of(v) == province_id)
    prison_ids = sorted({v.prison["id"] for v in population if v.prison}, key=lambda p: order[p])
    gazetteer = Gazetteer([(n, p["id"], p["type"]) for p in places.values() for n in place_names(p)])

    def place_text(place_id: str) -> str:
        """A place as the set writes it: its English or Persian name, or its id where a name could be read as
        another place ("Mashhad" is also a name of Vakilabad Prison) whether prisons or cities are tried first."""
        place = places[place_id]
        names = [n for n in (place["name_en"], place.get("name_fa")) if n and all(
            (m := gazetteer.resolve(n, types)) is not None and m.place_id == place_id
            for types in (("prison", "city"), ("city", "prison")))]
        roll = rng.random()
        if not names or roll < 0.1:
            return place_id
        return names[0] if roll < 0.75 or len(names) == 1 else names[1]

    namer = _Namer(population, rng)

    # Institutions ------------------------------------------------------------------------------
    early = ("year", "month")
    national = out.institution("National Judiciary", "قوه قضاییه", "other")
    intelligence = out.institution("Ministry of Intelligence", "وزارت اطلاعات", "ministry")
    prisons_org = out.institution("State Prisons Organisation", "سازمان زندان‌ها", "unit", national, "child-of",
                                  _pick_date(rng, dt.date(1983, 3, 1), dt.date(1985, 3, 1), early, lambda e, la: True))
    supreme_court = out.institution("Supreme Court", "دیوان عالی کشور", "court", national, "child-of", "1980")
    prosecutor_general = out.institution("Prosecutor-General's Office", "دادستانی کل کشور", "prosecutor", national,
                                         "child-of", "1359")
    justice = out.institution("Ministry of Justice", "وزارت دادگستری", "ministry")
    parliament = out.institution("Parliament", "مجلس شورای اسلامی", "other")
    admin_court = out.institution("Administrative Justice Court", "دیوان عدالت اداری", "court", national, "child-of",
                                  _pick_date(rng, dt.date(1982, 6, 1), dt.date(1984, 6, 1), early, lambda e, la: True))

    def before_first(earliest, latest):
        return latest < first_death

    def after_last(earliest, latest):
        return earliest > last_death

    commissions: dict[str, str] = {}
    courts: dict[str, str] = {}
    prosecutors: dict[str, str] = {}
    for index, province_id in enumerate(province_ids):
        province = places[province_id]
        capital = capitals[province_id]
        start = _pick_date(rng, dt.date(1988, 6, 1), first_death - dt.timedelta(days=1), ("day", "day", "month"), before_first)
        end = _pick_date(rng, last_death + dt.timedelta(days=1), dt.date(1989, 4, 30), ("day", "month", "month", "season"), after_last)
        commissions[province_id] = out.institution(
            f"Death Commission of {province['name_en']} (1988)", f"هیئت مرگ {province.get('name_fa') or province['name_en']}",
            "commission", national, "child-of", start, end)
        if index < 3:  # a few courts and prosecutor's offices, in the largest provinces
            courts[province_id] = out.institution(
                f"Islamic Revolutionary Court of {capital['name_en']}", f"دادگاه انقلاب اسلامی {capital.get('name_fa') or capital['name_en']}",
                "court", national, "child-of", _date_text(dt.date(1979, rng.randint(3, 12), 1), "year", rng))
            prosecutors[province_id] = out.institution(
                f"Revolutionary Prosecutor's Office of {capital['name_en']}",
                f"دادسرای انقلاب {capital.get('name_fa') or capital['name_en']}",
                "prosecutor", prosecutor_general, "child-of", _date_text(dt.date(1980, rng.randint(1, 12), 1), "year", rng))
    intel_offices: dict[str, str] = {}
    for province_id in province_ids[:4]:  # provincial offices of the ministry, members of the commission that summer
        province = places[province_id]
        office = out.institution(f"Intelligence Office of {province['name_en']}",
                                 f"اداره کل اطلاعات {province.get('name_fa') or province['name_en']}",
                                 "security-force", intelligence, "child-of", rng.choice(("1984", "1363", "1985")))
        intel_offices[province_id] = office
        commission = out.institutions[commissions[province_id]]
        out.add("institutions.csv", out.institutions[office] | {  # a second relation: a second row of the same body
            "parent_id": commission["institution_id"], "relation": "member-of", "from": commission["from"],
            "to": commission["to"]} | out.meta(work_needed=0.0))
    prisons: dict[str, str] = {}
    for prison_id in prison_ids:
        prison = places[prison_id]
        prisons[prison_id] = out.institution(prison["name_en"], prison.get("name_fa") or "", "prison", prisons_org, "child-of",
                                             _pick_date(rng, dt.date(1979, 6, 1), dt.date(1985, 3, 1), early, lambda e, la: True))

    # Officials and posts -------------------------------------------------------------------------
    def new_official(gender: str = "male", *, cleric: bool = False) -> _Official:
        given, family = namer.draw(gender)
        official = _Official(f"SO-{len(out.officials) + 1:04d}", f"{given.latin[0]} {family.latin[0]}",
                             "" if rng.random() < 0.08 else f"{given.fa} {family.fa}")
        aliases = []
        if rng.random() < 0.45 and (len(given.latin) > 1 or len(family.latin) > 1):
            variant = f"{rng.choice(given.latin[1:] or given.latin)} {rng.choice(family.latin[1:] or family.latin)}"
            if variant != official.name:
                aliases.append(variant)
        if cleric and rng.random() < 0.5:
            aliases.append(f"Hojjat-ol-Eslam {family.latin[0]}")
        if rng.random() < 0.2:
            aliases.append(namer.alias())  # a nom de guerre
        birth = dt.date(rng.randint(1935, 1962), rng.randint(1, 12), rng.randint(1, 28))
        roll = rng.random()
        birth_text = "" if roll < 0.25 else _date_text(birth, "year" if roll < 0.8 else "day", rng)
        out.officials[official.official_id] = official
        out.add("officials.csv", {"official_id": official.official_id, "name": official.name, "name_fa": official.name_fa,
                                  "aliases": "|".join(dict.fromkeys(aliases)), "gender": gender,
                                  "birth_date": birth_text} | out.meta(work_needed=0.05))
        return official

    def member_span() -> tuple[str, str]:
        start = _pick_date(rng, dt.date(1988, 5, 25), first_death - dt.timedelta(days=1), ("day", "month", "season"), before_first)
        end = _pick_date(rng, last_death + dt.timedelta(days=1), dt.date(1989, 4, 30), ("day", "month", "season"), after_last)
        return start, end

    def long_span(first: tuple[int, int], last: tuple[int, int]) -> tuple[str, str]:
        start = _pick_date(rng, dt.date(first[0], 3, 21), dt.date(first[1], 3, 20), ("year", "month", "day"), before_first)
        end = _pick_date(rng, dt.date(last[0], 3, 21), dt.date(last[1], 3, 20), ("year", "month", "day"), after_last)
        return start, end

    heads: dict[str, _Official] = {}
    for prison_id in prison_ids:
        head = new_official()
        heads[prison_id] = head
        out.post(head, prisons[prison_id], "head of prison", *long_span((1984, 1988), (1989, 1992)))
    if prison_ids:  # a deputy for the largest prison, and a woman heading its women's ward
        out.post(new_official(), prisons[prison_ids[0]], "deputy head of prison", *long_span((1985, 1988), (1989, 1991)))
        ward = new_official("female")
        out.post(ward, prisons[prison_ids[0]], "head of the women's ward", "1366",
                 rng.choice(("summer 1367", "تابستان ۱۳۶۷", "1988-08")))
    deputy_head = new_official(cleric=True)
    out.post(deputy_head, national, "deputy head of the judiciary", *long_span((1982, 1987), (1989, 1991)))
    deputy_minister = new_official()
    out.post(deputy_minister, intelligence, "deputy minister", *long_span((1984, 1988), (1989, 1993)))
    prisons_deputy = new_official()
    out.post(prisons_deputy, prisons_org, "deputy head", *long_span((1983, 1987), (1989, 1990)))

    teams: dict[str, list[tuple[_Official, str, tuple[float, float, float]]]] = {}
    roles = (("Sharia judge", "gave-orders", (0.6, 0.3, 0.1)), ("Revolutionary Prosecutor", "approved", (0.5, 0.35, 0.15)),
             ("Intelligence Ministry representative", "approved", (0.3, 0.45, 0.25)))
    for province_id in province_ids:
        commission = commissions[province_id]
        team = []
        for role, degree, weights in roles:
            official = new_official(cleric=role == "Sharia judge")
            out.post(official, commission, role, *member_span())
            team.append((official, degree, weights))
            if role == "Sharia judge" and province_id in courts:
                out.post(official, courts[province_id], "head of the revolutionary court", *long_span((1981, 1986), (1989, 1992)))
            elif role == "Revolutionary Prosecutor" and province_id in prosecutors:
                out.post(official, prosecutors[province_id], "revolutionary prosecutor", *long_span((1983, 1987), (1989, 1991)))
                if rng.random() < 0.7:
                    out.post(official, prosecutor_general, "deputy prosecutor", rng.choice(("1363", "1984", "1364/06")),
                             rng.choice(("summer 1367", "Mordad 1367", "1988-08", "تابستان ۱۳۶۷")))
            elif role == "Intelligence Ministry representative" and province_id in intel_offices:
                out.post(official, intel_offices[province_id], "deputy director-general", *long_span((1984, 1988), (1989, 1993)))
        local = [p for p in prison_ids if province_of_prison(places, p) == province_id]
        if local and rng.random() < 0.5:
            head = heads[local[0]]
            out.post(head, commission, "prison chief (substitute member)", *member_span())
            team.append((head, "approved", (0.4, 0.4, 0.2)))
        teams[province_id] = team

    # Later careers: posts after 1988 for some officials, none of them a post only one person holds at a time.
    later_roles = [(supreme_court, "judge of the Supreme Court"), (supreme_court, "head of a branch"),
                   (justice, "deputy minister"), (prosecutor_general, "deputy prosecutor-general"),
                   (parliament, "member of parliament"), (admin_court, "head of a branch"),
                   (prisons_org, "director-general"), (intelligence, "deputy minister"), (national, "adviser to the head")]
    careers = [o for p in province_ids for o, _, _ in teams[p]]
    careers = list(dict.fromkeys(careers)) + [deputy_head, deputy_minister]
    deceased: dict[str, dt.date] = {}
    statuses: list[tuple[_Official, str, str]] = []
    for official in careers:
        if rng.random() >= 0.45:
            continue
        year = rng.randint(1990, 2012)
        for _ in range(rng.choice((1, 1, 2, 3))):
            institution, role = rng.choice(later_roles)
            length = rng.randint(2, 10)
            start = _date_text(dt.date(year, rng.randint(4, 12), rng.randint(1, 28)), rng.choice(("year", "month", "day")), rng)
            end_year = year + length
            end = "" if end_year >= 2024 else _date_text(dt.date(end_year, rng.randint(1, 12), rng.randint(1, 28)),
                                                          rng.choice(("year", "month", "day")), rng)
            out.post(official, institution, role, start, end, later=True)
            if len(official.later_posts) == 1:
                statuses.append((official, start, "promoted"))
            if not end:
                break
            year = end_year + rng.randint(1, 3)
            if year > 2022:
                break
    for official in out.officials.values():
        if rng.random() < 0.25 and any(_certainly_covers(p["from"], p["to"], CHART_DATE) for p in official.posts):
            statuses.append((official, rng.choice(("1988-08", "Mordad 1367", "summer 1988", "1367/05/25")), "in-post"))
        if official.later_posts and official.later_posts[-1]["to"] == "":
            if rng.random() < 0.3:
                statuses.append((official, _date_text(dt.date(rng.randint(2012, 2023), rng.randint(1, 12), 15), "month", rng),
                                 "sanctioned"))
            continue
        ends = [p["to"] for p in official.posts + official.later_posts]
        last = max((_bounds(e)[1] for e in ends if e), default=dt.date(1990, 1, 1))
        roll = rng.random()
        if roll < 0.15:
            day = max(last, dt.date(1995, 1, 1)) + dt.timedelta(days=rng.randint(200, 4000))
            day = min(day, dt.date(2024, 6, 1))
            deceased[official.official_id] = day
            statuses.append((official, _date_text(day, rng.choice(("day", "month", "year")), rng), "deceased"))
        elif roll < 0.3:
            statuses.append((official, _date_text(last + dt.timedelta(days=rng.randint(30, 900)), "year", rng), "retired"))
        elif roll < 0.4:
            statuses.append((official, _date_text(dt.date(rng.randint(2010, 2023), rng.randint(1, 12), 10), "month", rng),
                             "sanctioned"))
    charged = [o for o in heads.values() if o.official_id not in deceased][:1]
    for official in charged:
        year = rng.randint(2010, 2020)
        statuses.append((official, _date_text(dt.date(year, rng.randint(1, 12), rng.randint(1, 28)), "day", rng), "charged"))
        statuses.append((official, _date_text(dt.date(year + rng.randint(2, 3), rng.randint(1, 12), rng.randint(1, 28)), "day", rng),
                         "convicted"))
    statuses.sort(key=lambda item: (item[0].official_id, _bounds(item[1])[0]))  # each official's history in order
    for official, observed, status in statuses:
        out.add("official_status.csv", {"official_id": official.official_id, "observed_on": observed, "status": status}
                | out.meta(work_needed=0.1))

    # Conflicting posts: a second source dates a few commission memberships otherwise.
    member_posts = [p for p in out.rows["posts.csv"] if p["institution_id"] in set(commissions.values())]
    for post in rng.sample(member_posts, min(len(member_posts), 4)):
        while True:
            start = rng.choice(("1988-08-01", "Mordad 1367", "summer 1367", "1367/05/10", "10 Mordad 1367"))
            end = rng.choice(("Shahrivar 1367", "1988-09-30", "Mehr 1367", "autumn 1367", "1367/06/31"))
            if (start, end) != (post["from"], post["to"]):
                break
        other = out.add("posts.csv", {"official_id": post["official_id"], "institution_id": post["institution_id"],
                                      "role": post["role"], "from": start, "to": end} | out.second())
        post["review_status"] = "accepted"
        out.conflicts.append({"file": "posts.csv",
                              "key": {k: post[k] for k in ("official_id", "institution_id", "role")},
                              "claims": [{k: c[k] for k in ("source", "from", "to")} for c in (post, other)]})

    # Execution acts -------------------------------------------------------------------------------
    # One act per victim: listed victims are named (alone or in groups of one day and place); the
    # victims of no list are counted as unnamed, on a group act of their day and place, or, where
    # no listed victim died that day there, on an act of the unnamed alone spanning up to a week.
    groups: dict[tuple[dt.date, str], list[Victim]] = defaultdict(list)
    for victim in population:
        groups[(victim.death, victim.prison["id"] if victim.prison else victim.city["id"])].append(victim)
    acts: list[dict] = []
    unlisted: dict[str, list[Victim]] = defaultdict(list)

    def add_execution(place_id: str, first: dt.date, last: dt.date, date: str, batch: list[Victim], count: int,
                      province: str) -> None:
        place = places[place_id]
        cited = []
        for victim in batch:
            own = by_person[victim.person_id]
            chosen = rng.choice(own)
            cited.append(chosen)
            others = [r for r in own if r[0] != chosen[0]]
            if others and rng.random() < 0.15:
                cited.append(rng.choice(others))
        row = {"act_id": "", "act_type": "execution", "date": date, "place": place_text(place_id), "incident": INCIDENT,
               "victims": "|".join(f"{s}:{r}" for s, r in cited), "unnamed_victims": str(count)}
        acts.append({"row": row, "persons": [v.person_id for v in batch], "unnamed": count, "province": province,
                     "prison": place_id if place["type"] == "prison" else None, "first": first, "last": last,
                     "order": order[place_id]})

    for (day, place_id), victims in sorted(groups.items(), key=lambda item: (item[0][0], order[item[0][1]])):
        named = [v for v in victims if v.person_id in by_person]
        if not named:
            unlisted[place_id].extend(victims)
            continue
        unnamed = len(victims) - len(named)
        batches: list[list[Victim]] = []
        rest = list(named)
        rng.shuffle(rest)
        while rest:
            size = rng.choice((2, 3, 4, 6, 8)) if len(rest) > 1 and rng.random() < 0.45 else 1
            batches.append(sorted(rest[:size], key=lambda v: v.person_id))
            rest = rest[size:]
        counts = [0] * len(batches)
        if unnamed:
            multi = [i for i, b in enumerate(batches) if len(b) > 1] or list(range(len(batches)))
            counts[rng.choice(multi)] += unnamed
        for batch, count in zip(batches, counts, strict=True):
            add_execution(place_id, day, day, _day_text(day, rng), batch, count, province_of(victims[0]))
    for place_id in sorted(unlisted, key=order.__getitem__):
        victims = unlisted[place_id]
        while victims:
            first = victims[0].death
            span = [v for v in victims if (v.death - first).days <= 6]
            victims = victims[len(span):]
            last = span[-1].death
            if last == first:
                date = _day_text(first, rng)
            else:
                style = rng.choices(_DAY_STYLES, cum_weights=_DAY_WEIGHTS)[0]
                date = (f"{render_date(first, style, precision='day', rng=rng)} – "
                        f"{render_date(last, style, precision='day', rng=rng)}")
            add_execution(place_id, first, last, date, [], len(span), province_of(span[0]))
    acts.sort(key=lambda a: (a["first"], a["order"]))

    # Sites, their histories and burials ---------------------------------------------------------
    sites: dict[str, dict] = {}
    policies = iter(("hidden", "city"))
    for index, province_id in enumerate(province_ids):
        capital = capitals[province_id]
        city_fa = capital.get("name_fa") or capital["name_en"]
        plan = [("cemetery", f"{capital['name_en']} public cemetery", f"آرامستان عمومی {city_fa}")]
        for letter, letter_fa in (("A", "الف"), ("B", "ب"))[: rng.choice((1, 2))]:
            plan.append(("mass-grave", f"{capital['name_en']} mass grave {letter}", f"گور جمعی {city_fa} {letter_fa}"))
        if index == 0:
            plan.append(("execution-site", f"{capital['name_en']} execution yard", f"محل اعدام {city_fa}"))
        for kind, name, name_fa in plan:
            site_id = f"SS-{len(sites) + 1:03d}"
            if kind == "cemetery":
                certainty, publication = "confirmed", "exact"
            else:
                certainty = rng.choices(("suspected", "probable", "confirmed"), weights=(3, 4, 3))[0]
                publication = next(policies, None) or rng.choices(("exact", "city", "hidden"), weights=(4, 3, 3))[0]
            row = out.add("sites.csv", {
                "site_id": site_id, "name": name, "name_fa": name_fa, "kind": kind,
                "place": place_text(capital["id"]),
                "latitude": f"{capital['lat'] + rng.uniform(-0.06, 0.06):.5f}",
                "longitude": f"{capital['lon'] + rng.uniform(-0.06, 0.06):.5f}",
                "certainty": certainty, "publication": publication} | out.meta(work_needed=0.1))
            sites[site_id] = {"row": row, "province": province_id, "city": capital["id"], "persons": set(), "statuses": [],
                              "records": []}
            _site_history(out, site_id, kind, sites[site_id]["statuses"])

    by_province_sites: dict[str, list[str]] = defaultdict(list)
    for site_id, site in sites.items():
        if site["row"]["kind"] != "execution-site":
            by_province_sites[site["province"]].append(site_id)
    for act in acts:
        for person_id in act["persons"]:
            if rng.random() >= 0.35:
                continue
            options = by_province_sites[act["province"]]
            graves = [s for s in options if sites[s]["row"]["kind"] == "mass-grave"]
            site_id = rng.choice(graves) if graves and rng.random() < 0.75 else rng.choice(options)
            claims = [(site_id, rng.choices(_LIKELIHOODS, weights=(2, 4.5, 3.5))[0])]
            others = [s for s in options if s != site_id]
            if others and rng.random() < 0.06:
                claims.append((rng.choice(others), "maybe"))
            for claimed, likelihood in claims:
                source, record_id = rng.choice(by_person[person_id])
                out.add("burials.csv", {"site_id": claimed, "victim": f"{source}:{record_id}", "likelihood": likelihood}
                        | out.meta(work_needed=0.12))
                sites[claimed]["persons"].add(person_id)
                sites[claimed]["records"].append((person_id, f"{source}:{record_id}"))

    # Other acts: desecration of graves, intimidation of families ---------------------------------
    others: list[dict] = []
    municipalities: dict[str, str] = {}
    desecrations = [(site_id, observed) for site_id, site in sites.items() for observed, status in site["statuses"]
                    if status in ("markers-removed", "bulldozed", "built-over", "new-burials")]
    keep = sorted(rng.sample(range(len(desecrations)), min(len(desecrations), 8, 1 + len(province_ids) // 3)))
    for site_id, observed in (desecrations[i] for i in keep):
        site = sites[site_id]
        capital = places[site["city"]]
        if site["city"] not in municipalities:
            municipalities[site["city"]] = out.institution(
                f"Cemeteries Organisation of {capital['name_en']}",
                f"سازمان بهشت‌ها و آرامستان‌های {capital.get('name_fa') or capital['name_en']}", "other")
        cited = list(dict.fromkeys(site["records"]))[:6]
        unnamed = rng.randint(0, 20) if site["row"]["kind"] == "mass-grave" else 0
        others.append({"row": {"act_id": "", "act_type": "grave-desecration", "date": observed, "place": place_text(capital["id"]),
                               "incident": INCIDENT, "victims": "|".join(r for _, r in cited),
                               "unnamed_victims": str(unnamed if cited or unnamed else rng.randint(1, 12))},
                       "persons": sorted({p for p, _ in cited}), "site": site_id,
                       "actors": [(municipalities[site["city"]], "carried-out", "likely"), (intelligence, "gave-orders", "maybe")]})
    for province_id in province_ids[: max(2, len(province_ids) // 2)]:
        listed = [p for a in acts if a["province"] == province_id for p in a["persons"]]
        if not listed:
            continue
        chosen = sorted(rng.sample(listed, min(len(listed), rng.randint(1, 3))))
        year = rng.randint(1989, 2019)
        day = dt.date(year, 8, rng.randint(26, 31))
        roll = rng.random()
        date = (f"{day.isoformat()} – {(day + dt.timedelta(days=2)).isoformat()}" if roll < 0.25
                else _date_text(day, "month" if roll < 0.5 else "day", rng))
        capital = capitals[province_id]
        actors = [(intelligence, "carried-out", "likely")]
        representative = next((o for o, _, _ in teams[province_id] if any(p["role"] == "Intelligence Ministry representative"
                                                                         for p in o.posts)), None)
        if representative is not None and rng.random() < 0.6:
            actors.append((representative.official_id, "gave-orders", "maybe"))
        others.append({"row": {"act_id": "", "act_type": "family-intimidation", "date": date,
                               "place": place_text(capital["id"]),
                               "incident": INCIDENT,
                               "victims": "|".join(f"{s}:{r}" for s, r in (rng.choice(by_person[p]) for p in chosen)),
                               "unnamed_victims": "0"},
                       "persons": chosen, "actors": actors})

    # Ids, involvements, conflicts -----------------------------------------------------------------
    all_acts = acts + others
    for number, act in enumerate(all_acts, start=1):
        act["row"]["act_id"] = f"SA-{number:06d}"
        out.add("acts.csv", act["row"] | out.meta(work_needed=0.08))
    involvement_rows: list[dict] = []

    def involve(act: dict, actor_id: str, degree: str, likelihood: str) -> None:
        row = out.add("involvements.csv", {"act_id": act["row"]["act_id"], "actor_id": actor_id, "degree": degree,
                                           "likelihood": likelihood} | out.meta(work_needed=0.1))
        if actor_id in out.officials:
            out.officials[actor_id].acts.add(act["row"]["act_id"])
            involvement_rows.append(row)

    for act in acts:
        province = act["province"]
        involve(act, commissions[province], "approved", rng.choices(_LIKELIHOODS, weights=(8, 1.5, 0.5))[0])
        head = heads.get(act["prison"]) if act["prison"] else None
        for official, degree, weights in teams[province]:
            if official is head:
                continue
            involve(act, official.official_id, degree, rng.choices(_LIKELIHOODS, weights=weights)[0])
        if head is not None:
            involve(act, head.official_id, "carried-out", rng.choices(_LIKELIHOODS, weights=(5, 3.5, 1.5))[0])
        if len(act["persons"]) + act["unnamed"] >= 6:
            involve(act, deputy_head.official_id, "political-responsibility", rng.choice(("likely", "maybe")))
    for act in others:
        for actor_id, degree, likelihood in act["actors"]:
            involve(act, actor_id, degree, likelihood)
    swaps = {"approved": "gave-orders", "gave-orders": "planned", "carried-out": "failed-to-prevent",
             "political-responsibility": "failed-to-prevent", "planned": "approved", "failed-to-prevent": "carried-out"}
    for row in rng.sample(involvement_rows, min(len(involvement_rows), 5)):
        if rng.random() < 0.5:
            degree, likelihood = swaps[row["degree"]], row["likelihood"]
        else:
            degree, likelihood = row["degree"], rng.choice([x for x in _LIKELIHOODS if x != row["likelihood"]])
        other = out.add("involvements.csv", {"act_id": row["act_id"], "actor_id": row["actor_id"], "degree": degree,
                                             "likelihood": likelihood} | out.second())
        row["review_status"] = "accepted"
        out.conflicts.append({"file": "involvements.csv", "key": {"act_id": row["act_id"], "actor_id": row["actor_id"]},
                              "claims": [{k: c[k] for k in ("source", "degree", "likelihood")} for c in (row, other)]})

    # Files and truth -----------------------------------------------------------------------------
    counts = {}
    for file, columns in COLUMNS.items():
        rows = out.rows.get(file, [])
        counts[file] = len(rows)
        with open(folder / file, "w", encoding="utf-8", newline="") as handle:
            writer = SafeWriter(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([row.get(c, "") for c in columns])
    truth = _truth(out, all_acts, sites, commissions, counts, len(population), seed)
    (folder / "truth.json").write_text(_dumps(truth) + "\n", encoding="utf-8")
    return {"folder": str(folder), "counts": counts, "conflicts": len(out.conflicts)}


def province_of_prison(places: dict[str, dict], prison_id: str) -> str:
    city = places[places[prison_id]["parent"]]
    return city.get("province_1988") or city.get("province_now") or ""


_HISTORIES = (
    ("intact", "markers-removed", "bulldozed", "built-over"),
    ("intact", "new-burials"),
    ("intact", "markers-removed", "access-denied"),
    ("access-denied",),
    ("intact", "bulldozed"),
    ("markers-removed", "new-burials", "built-over"),
    ("intact",),
    ("exhumed",),
)
_METHODS = {
    "intact": ("witness", "visit", "photograph"), "markers-removed": ("photograph", "witness"),
    "bulldozed": ("satellite-image", "photograph"), "built-over": ("satellite-image", "photograph", "visit"),
    "new-burials": ("photograph", "visit", "satellite-image"), "access-denied": ("witness", "official-statement"),
    "exhumed": ("official-statement", "witness"), "other": ("other",),
}


def _site_history(out: _Set, site_id: str, kind: str, history: list[tuple[str, str]]) -> None:
    """Dated status observations of one site, in order, with how each was made."""
    rng = out.rng
    plan = rng.choice(_HISTORIES[:7] if kind == "cemetery" else _HISTORIES)
    year = rng.randint(1989, 2003)
    for status in plan:
        method = rng.choice(_METHODS[status])
        day = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
        if method == "satellite-image" and rng.random() < 0.4:
            later = day + dt.timedelta(days=rng.randint(200, 500))
            observed = f"{day.year}-{day.month:02d} – {later.year}-{later.month:02d}"
        else:
            observed = _date_text(day, rng.choice(("day", "month", "year")), rng)
        history.append((observed, status))
        out.add("site_status.csv", {"site_id": site_id, "observed_on": observed, "status": status, "method": method,
                                    "evidence": ""} | out.meta(work_needed=0.1))
        year = min(2024, year + rng.randint(2, 8))


def _truth(out: _Set, acts: list[dict], sites: dict[str, dict], commissions: dict[str, str], counts: dict[str, int],
           victims: int, seed: int) -> dict:
    persons_of = {a["row"]["act_id"]: a["persons"] for a in acts}
    unnamed_of = {a["row"]["act_id"]: int(a["row"]["unnamed_victims"]) for a in acts}
    commission_ids = set(commissions.values())
    officials = {}
    for official in out.officials.values():
        officials[official.official_id] = {
            "name": official.name,
            "name_fa": official.name_fa,
            "posts": [[p["institution_id"], p["role"], p["from"], p["to"]] for p in official.posts],
            "later_posts": [[p["institution_id"], p["role"], p["from"], p["to"]] for p in official.later_posts],
            "commissions": sorted({p["institution_id"] for p in official.posts if p["institution_id"] in commission_ids}),
            "acts": sorted(official.acts),
            "victims": sorted({p for a in official.acts for p in persons_of[a]}),
            "unnamed": sum(unnamed_of[a] for a in official.acts),
        }
    children: dict[str, list[str]] = defaultdict(list)
    for row in out.rows["institutions.csv"]:
        if row["relation"] and _certainly_covers(row["from"], row["to"], CHART_DATE):  # child-of and member-of
            children[row["parent_id"]].append(row["institution_id"])
    posts = [p for o in out.officials.values() for p in o.posts + o.later_posts]
    institutions = {}
    for institution_id, row in out.institutions.items():
        units, todo = [], list(children[institution_id])
        while todo:
            unit = todo.pop(0)
            units.append(unit)
            todo.extend(children[unit])
        scope = {institution_id, *units}
        held = sorted({p["official_id"] for p in posts if p["institution_id"] in scope
                       and _certainly_covers(p["from"], p["to"], CHART_DATE)})
        maybe = sorted({p["official_id"] for p in posts if p["institution_id"] in scope
                        and _possibly_covers(p["from"], p["to"], CHART_DATE)} - set(held))
        institutions[institution_id] = {"name": row["name"], "kind": row["kind"], "parent": row["parent_id"],
                                        "chart": {"units": sorted(units), "officials": held, "maybe": maybe}}
    executions = [a for a in acts if a["row"]["act_type"] == "execution"]
    by_type: dict[str, int] = defaultdict(int)
    for act in acts:
        by_type[act["row"]["act_type"]] += 1
    return {
        "generator": "dadkhah synth accountability",
        "seed": seed,
        "incident": INCIDENT,
        "second_source": SECOND_SOURCE,
        "chart_date": CHART_DATE.isoformat(),
        "counts": counts,
        "acts_by_type": dict(sorted(by_type.items())),
        "executions": {"acts": len(executions), "named_persons": sum(len(a["persons"]) for a in executions),
                       "unnamed": sum(a["unnamed"] for a in executions), "victims": victims},
        "officials": officials,
        "institutions": institutions,
        "sites": {site_id: {"name": s["row"]["name"], "kind": s["row"]["kind"], "city": s["city"],
                            "publication": s["row"]["publication"], "certainty": s["row"]["certainty"],
                            "victims": sorted(s["persons"]), "statuses": [status for _, status in s["statuses"]]}
                  for site_id, s in sites.items()},
        "desecrations": {a["row"]["act_id"]: a["site"] for a in acts if "site" in a},
        "conflicts": out.conflicts,
    }


def _dumps(value, depth: int = 0) -> str:
    """JSON with one line per entry of the top two levels, compact below: small and still diffable."""
    if depth >= 2 or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_dumps(v, depth + 1)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    return "[\n" + ",\n".join(pad + _dumps(v, depth + 1) for v in value) + "\n" + " " * depth + "]"
