"""The printed report: a PDF of what may be published, in Persian (right to left) or English.

It holds the date in both calendars; a summary (how many victims are named in it, the public
sources that name them, how many in each city); the latest overall estimate with its chart and a
paragraph, in plain words, on how it was made and what it cannot say; then either the list of the
published victims by city (names in both scripts, dates of death, stable ids a reader can cite),
narrowed to one city or one incident when asked, or one official's dossier.

What it prints is what :mod:`dadkhah.publish.policy` allows, nothing more, as the memorial site:

- The victims come only from :func:`~dadkhah.publish.policy.published_persons`: public sources'
  records, only their published fields, withheld persons left out.
- An official's dossier is read with the accountability package's own questions, sites as the
  public may see them (``audience="public"``), and each claim passes through
  :func:`~dadkhah.publish.policy.public_claim` (accepted, made and cited by public sources only;
  citations reduced to the source's name and locator). An act is printed when an accepted public
  claim describes it and one says the official took part; its victims are named only when they are
  published persons, else counted. A site is named only when an accepted public claim describes it
  and its policy is ``exact`` or ``city`` (a ``hidden`` grave is not named at all).
- The estimate is the overall one the memorial shows too (a total from every list, restricted ones
  included, with no name in it); estimates by stratum are not printed: a small city's count could
  say more about a restricted list than its total does.

Printing is an audited action (``report printed``, the PDF's SHA-256 as its object), recorded in the
transaction that reads what is printed: the file is put in place (whole, by renaming) before it
commits, and removed again if it cannot commit.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import jdatetime
import sqlalchemy as sa
from sqlalchemy.orm import Session

from dadkhah.accountability.queries import find_entity, official_casefile
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError, NotFound
from dadkhah.estimate.stored import latest_estimate
from dadkhah.model import Incident, Place
from dadkhah.outfiles import checked_out
from dadkhah.places import load_gazetteer
from dadkhah.publish.maps import published_map
from dadkhah.publish.policy import (
    person_summary,
    public_claim,
    public_sources,
    published_accountability,
    published_persons,
)
from dadkhah.publish.words import digits, term, when
from dadkhah.report.charts import estimate_chart
from dadkhah.store import Store
from dadkhah.typeset import render_report
from dadkhah.typeset.compile import day_words, write_pdf

LANGUAGES = ("fa", "en")

WORDS = {
    "en": {
        "title": "The victims: a report",
        "printed": "Printed on {date}",
        "summary": "Summary",
        "named": "Victims named in this report",
        "named_all": "Victims named in published sources",
        "filter_city": "City",
        "filter_incident": "Incident",
        "sources": "Public sources that name them",
        "no_sources": "none yet",
        "by_city": "Named victims by city",
        "map_caption": ("Provinces are shaded by how many named victims lived in their cities; the markers are those "
                        "cities and the graves whose place may be published."),
        "city": "City",
        "count": "Named",
        "city_unknown": "City not known",
        "estimate": "How many were killed",
        "estimate_text": ("The latest estimate ({method}, made on {date}) is that {estimate} people were killed in all, "
                          "between {low} and {high} ({level}% interval). The lists it was made from name {observed} "
                          "of them."),
        "estimate_warnings": ("The estimator gave {n} warnings with this estimate; read them (in the registry, with the "
                              "estimate) before quoting the number."),
        "estimate_warning": ("The estimator gave a warning with this estimate; read it (in the registry, with the "
                             "estimate) before quoting the number."),
        "no_estimate": "No estimate of the total has been made yet.",
        "estimate_stale": ("The lists have been linked again since this estimate was made: it counts the persons "
                           "as they were then. Estimate again before quoting the number."),
        "chart_caption": "The bar is how many people the lists name; the dot is the estimated total and the line its interval.",
        "method": "How the numbers were made, and what they cannot say",
        "method_text": (
            "Several lists of the dead, made by different people at different times, were compared with each other. "
            "Records that name the same person were joined into one; pairs the computer was unsure of were checked "
            "by people. Each person has a stable number (such as P-000123) that stays the same when the lists are "
            "compared again, so a citation of this report keeps its meaning.\n\n"
            "No list is complete. The total was estimated from how much the lists overlap (multiple systems "
            "estimation): when independent lists often name the same people, few were missed; when they rarely do, "
            "many were. The interval is the range of totals that the lists and the model make likely. It does not "
            "cover mistakes in joining records, nor people whom every list was unlikely to find for the same reason; "
            "such people leave no trace in the overlaps, and the estimate is then too low. The figures are not final "
            "and will change as more lists are found."),
        "published_text": (
            "This report names only people whom a source released for publication names, and only what that source "
            "says about them; people whose families asked not to be named are left out. It therefore names fewer "
            "people than the lists do, and fewer than were killed."),
        "list": "The victims, by city",
        "list_city": "The victims in {city}",
        "list_incident": "The victims of: {incident}",
        "none_listed": "No published victim matches.",
        "col_id": "Number", "col_fa": "Name (Persian script)", "col_latin": "Name (Latin script)", "col_death": "Died",
        "official": "Official: {name}",
        "official_id": "Registry number",
        "aliases": "Also known as",
        "acts_period": "Acts, from–to",
        "official_note": ("Only what public sources say and a reviewer accepted is printed here. Each statement is an "
                          "allegation made by the source named beside it, not a finding of a court."),
        "posts": "Posts held",
        "col_role": "Post", "col_institution": "Institution", "col_from": "From", "col_to": "To", "col_sources": "Sources",
        "status": "Since then",
        "col_status": "Status", "col_on": "Observed on",
        "acts": "Acts",
        "col_act": "Act", "col_type": "Type", "col_date": "Date", "col_place": "Place", "col_part": "Part taken",
        "col_victims": "Victims",
        "unnamed": "{n} not named here",
        "sites": "Where the victims may lie",
        "col_site": "Site", "col_kind": "Kind", "col_where": "Where", "col_here": "Of these victims",
        "nothing": "Nothing about this official has been published.",
        "unknown": "not known",
        "footer": "Page {page} of {pages}",
    },
    "fa": {
        "title": "گزارش جان‌باختگان",
        "printed": "تاریخ چاپ: {date}",
        "summary": "خلاصه",
        "named": "جان‌باختگانی که در این گزارش نام برده شده‌اند",
        "named_all": "جان‌باختگانی که منابع منتشرشده نامشان را آورده‌اند",
        "filter_city": "شهر",
        "filter_incident": "رویداد",
        "sources": "منابع منتشرشده‌ای که نامشان را آورده‌اند",
        "no_sources": "هنوز هیچ",
        "by_city": "جان‌باختگان نام‌برده در هر شهر",
        "map_caption": ("رنگ هر استان به شمار جان‌باختگان نام‌برده از شهرهای آن است؛ نشانه‌ها آن شهرها و گورهایی‌اند "
                        "که جایشان را می‌توان منتشر کرد."),
        "city": "شهر",
        "count": "شمار",
        "city_unknown": "شهر نامعلوم",
        "estimate": "چند تن کشته شدند",
        "estimate_text": ("بنا بر تازه‌ترین برآورد ({method}، در {date}) در مجموع {estimate} تن کشته شده‌اند، میان "
                          "{low} و {high} (بازهٔ {level} درصدی). فهرست‌هایی که برآورد از آن‌ها به دست آمده نام "
                          "{observed} تن از آنان را آورده‌اند."),
        "estimate_warnings": ("برآوردگر همراه این برآورد {n} هشدار داده است؛ پیش از نقل این شمار آن‌ها را (در "
                              "سامانه، کنار برآورد) بخوانید."),
        "estimate_warning": ("برآوردگر همراه این برآورد یک هشدار داده است؛ پیش از نقل این شمار آن را (در "
                             "سامانه، کنار برآورد) بخوانید."),
        "no_estimate": "هنوز برآوردی از شمار کل انجام نشده است.",
        "estimate_stale": ("پس از این برآورد، فهرست‌ها دوباره به هم پیوند داده شده‌اند: این برآورد کسان را چنان "
                           "می‌شمارد که آن هنگام بودند. پیش از نقل این شمار، دوباره برآورد کنید."),
        "chart_caption": "ستون شمار کسانی است که فهرست‌ها نام برده‌اند؛ نقطه برآورد کل است و خط بازهٔ آن.",
        "method": "شمارها چگونه به دست آمدند و چه چیزی را نمی‌توانند بگویند",
        "method_text": (
            "چند فهرست از جان‌باختگان، که کسان گوناگون در زمان‌های گوناگون فراهم کرده‌اند، با هم سنجیده شدند. "
            "سابقه‌هایی که از یک تن نام می‌برند یکی شدند و جفت‌هایی را که رایانه درباره‌شان مطمئن نبود آدم‌ها "
            "بررسی کردند. هر تن شماره‌ای پایدار دارد (مانند P-000123) که با سنجش دوبارهٔ فهرست‌ها دگرگون نمی‌شود، "
            "پس ارجاع به این گزارش معنای خود را نگه می‌دارد.\n\n"
            "هیچ فهرستی کامل نیست. شمار کل از اندازهٔ هم‌پوشانی فهرست‌ها برآورد شد (برآورد چندسامانه‌ای): اگر "
            "فهرست‌های مستقل بارها از همان کسان نام ببرند، کمتر کسی از قلم افتاده است، و اگر به‌ندرت چنین باشد، "
            "بسیاری. بازه گسترهٔ شمارهایی است که فهرست‌ها و مدل محتمل می‌دانند. این بازه خطا در یکی کردن سابقه‌ها "
            "را در بر نمی‌گیرد، و نیز کسانی را که به یک دلیل هیچ فهرستی نمی‌توانست بیابد؛ از چنین کسانی ردی در "
            "هم‌پوشانی‌ها نمی‌ماند و برآورد در آن صورت کمتر از واقع است. این شمارها نهایی نیستند و با یافته شدن "
            "فهرست‌های تازه دگرگون می‌شوند."),
        "published_text": (
            "این گزارش تنها نام کسانی را می‌آورد که منبعی که برای انتشار آزاد شده از آنان نام برده است، و تنها آنچه "
            "آن منبع درباره‌شان می‌گوید؛ نام کسانی که خانواده‌شان خواسته‌اند نامشان نیاید آورده نشده است. پس این "
            "گزارش از کسانی کمتر از فهرست‌ها نام می‌برد، و از کسانی کمتر از آنان که کشته شدند."),
        "list": "جان‌باختگان، به تفکیک شهر",
        "list_city": "جان‌باختگان در {city}",
        "list_incident": "جان‌باختگان رویداد: {incident}",
        "none_listed": "هیچ جان‌باختهٔ منتشرشده‌ای با این خواسته جور نیست.",
        "col_id": "شماره", "col_fa": "نام (خط فارسی)", "col_latin": "نام (خط لاتین)", "col_death": "تاریخ جان‌باختن",
        "official": "مقام: {name}",
        "official_id": "شماره در سامانه",
        "aliases": "نام‌های دیگر",
        "acts_period": "بازهٔ زمانی کارها",
        "official_note": ("در اینجا تنها آنچه منابع منتشرشده می‌گویند و بررسی‌کننده‌ای پذیرفته آمده است. هر گفته "
                          "ادعای منبعی است که کنارش نام برده شده، نه حکم دادگاه."),
        "posts": "سمت‌ها",
        "col_role": "سمت", "col_institution": "نهاد", "col_from": "از", "col_to": "تا", "col_sources": "منابع",
        "status": "از آن پس",
        "col_status": "وضعیت", "col_on": "تاریخ مشاهده",
        "acts": "کارها",
        "col_act": "کار", "col_type": "نوع", "col_date": "تاریخ", "col_place": "مکان", "col_part": "نقش",
        "col_victims": "قربانیان",
        "unnamed": "{n} تن بی‌نام در اینجا",
        "sites": "جایی که ممکن است قربانیان در آن به خاک سپرده شده باشند",
        "col_site": "محل", "col_kind": "گونه", "col_where": "کجا", "col_here": "از این قربانیان",
        "nothing": "هیچ چیز دربارهٔ این مقام منتشر نشده است.",
        "unknown": "نامعلوم",
        "footer": "صفحهٔ {page} از {pages}",
    },
}

# The accountability vocabulary (dadkhah.accountability.vocabulary) in Persian; in English, the word itself.
_COMMA = {"en": ", ", "fa": "، "}


def print_report(store: Store, out: str | os.PathLike, *, actor: Actor, language: str = "fa",
                 city: str | None = None, incident: str | None = None, official: str | None = None,
                 as_of: datetime | None = None, overwrite: bool = False, progress=None) -> dict:
    """Write the printed report as a PDF at ``out`` (an existing file only when ``overwrite``, and
    never one of the workspace's own); returns what was printed.

    ``language`` is ``fa`` or ``en``. ``city`` (a place id or a name the gazetteer knows) and
    ``incident`` (its name) narrow the list of victims; ``official`` (a registry id, the files' id,
    or a name) prints that official's dossier instead of the list. ``as_of`` is the date printed
    and the PDF's creation date (now, when not given). Errors name the field (``language``,
    ``city``, ``incident``, ``official``, ``out``).

    Example:
        >>> print_report(store, "report.pdf", actor=Actor("ana", "cli"), language="fa", city="Rasht")
        {'out': 'report.pdf', 'language': 'fa', 'persons': 12, 'pages': 3, 'sha256': '…', …}
    """
    _check_asked(language, city, incident, official)
    path = checked_out(out, overwrite=overwrite, workspace=store.workspace)
    as_of = (as_of or datetime.now(UTC)).replace(microsecond=0)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    words = WORDS[language]
    written = None
    try:
        with store.session() as session:
            public = public_sources(session)
            persons = []
            for number, published in enumerate(published_persons(session), start=1):
                persons.append(person_summary(published))
                if progress and number % 1000 == 0:
                    progress(number, 0)
            if progress:  # all read (and a cancelled job stops here, before the typesetting)
                progress(len(persons), 0)
            places = {row.id: row for row in session.execute(sa.select(Place.id, Place.name_en, Place.name_fa,
                                                                       Place.province_now, Place.lat, Place.lon))}
            place = _find_city(session, city) if city else None
            event = _find_incident(session, incident) if incident else None
            listed = [p for p in persons if (place is None or (p["city"] or {}).get("place_id") == place.id)
                      and (event is None or event in p["incidents"])]
            estimate = latest_estimate(session, of_the_total=True)
            filters = {}
            if place is not None:
                filters[words["filter_city"]] = _place_name(place, language)
            if event is not None:
                filters[words["filter_incident"]] = event
            naming = sorted({source for person in persons for source in person["sources"]})
            blocks = _summary(persons, listed if not official else None, naming, filters, language)
            blocks += _estimate(estimate, language)
            blocks += _method(language)
            sites = published_accountability(session, {p["id"] for p in persons})["sites"]
            blocks += _by_city(persons, places, sites, language)
            dossier_id = None
            if official:
                dossier_id, dossier_blocks = _dossier(session, official, public, persons, language)
                blocks += dossier_blocks
            else:
                blocks += _victims(listed, places, place, event, language)
            report = {"language": language, "title": words["title"],
                      "subtitle": words["printed"].format(date=day_words(as_of.date(), language, both=True)),
                      "as_of": as_of.isoformat(), "footer": words["footer"], "blocks": blocks}
            pdf = render_report(report, progress=progress)
            digest = hashlib.sha256(pdf).hexdigest()
            details = {"language": language, "city": place.id if place is not None else None, "incident": event,
                       "official": dossier_id, "persons": 0 if official else len(listed), "published": len(persons),
                       "estimate": estimate["id"] if estimate else None, "bytes": len(pdf)}
            record_audit(session, store, actor, action="report printed", object_kind="report", object_id=digest,
                         details=details)
            written = write_pdf(pdf, path)
    except BaseException:
        if written is not None:
            Path(written["path"]).unlink(missing_ok=True)
        raise
    return {"out": written["path"], "language": language, "pages": written["pages"], "bytes": written["bytes"],
            "tagged": written["tagged"],
            "sha256": written["sha256"], "persons": details["persons"], "published": len(persons),
            "sources": naming, "city": details["city"], "incident": event, "official": dossier_id,
            "estimate": details["estimate"]}


def check_report(session: Session, *, language: str = "fa", city: str | None = None, incident: str | None = None,
                 official: str | None = None) -> None:
    """Refuse now what :func:`print_report` would refuse in what it is asked: a language it does not
    print in, a city or an incident with an official's dossier, a city, incident or official the
    workspace does not know (an :class:`InputError` naming the field). Whether an official has
    anything published is known only when the dossier is read."""
    _check_asked(language, city, incident, official)
    if city:
        _find_city(session, city)
    if incident:
        _find_incident(session, incident)
    if official:
        try:
            find_entity(session, "official", official)
        except NotFound as exc:
            raise InputError(str(exc), field="official") from None


def _check_asked(language: str, city: str | None, incident: str | None, official: str | None) -> None:
    if language not in LANGUAGES:
        raise InputError(f"must be one of {', '.join(LANGUAGES)}, not {language!r}", field="language")
    if official and (city or incident):
        raise InputError("prints one official's dossier; a city or an incident narrows the list of victims, "
                         "which that report does not print", field="official")


# --- the published persons -----------------------------------------------------------------------

def _find_city(session: Session, text: str) -> sa.Row:
    text = text.strip()
    found = session.get(Place, text)
    if found is None:
        match = load_gazetteer(session).resolve(text, ("city",))
        found = session.get(Place, match.place_id) if match else None
    if found is None:
        raise InputError(f"no city {text!r} in the gazetteer (see places list)", field="city")
    return found


def _find_incident(session: Session, text: str) -> str:
    names = list(session.scalars(sa.select(Incident.name).order_by(Incident.name)))
    wanted = " ".join(text.split()).casefold()
    for name in names:
        if name.casefold() == wanted:
            return name
    known = "; ".join(names[:10]) or "none recorded"
    raise InputError(f"no incident {text!r}; known: {known}", field="incident")


def _place_name(place, language: str) -> str:
    return (place.name_fa if language == "fa" and place.name_fa else place.name_en) or place.id


# --- words, numbers and dates --------------------------------------------------------------------

def _calendarday(iso: str, language: str) -> str:
    """A day in the language's own calendar only: 1405/09/14 in Persian digits, or 2026-12-05."""
    day = date.fromisoformat(iso)
    return digits(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"), "fa") if language == "fa" \
        else day.isoformat()


# --- the blocks ----------------------------------------------------------------------------------

def _summary(persons: list[dict], listed: list[dict] | None, naming: list[str], filters: dict,
             language: str) -> list[dict]:
    words = WORDS[language]
    rows = [[words["named_all"], digits(len(persons), language)]]
    for label, value in filters.items():
        rows.append([label, value])
    if listed is not None and filters:
        rows.append([words["named"], digits(len(listed), language)])
    rows.append([words["sources"], _COMMA[language].join(naming) or words["no_sources"]])
    return [{"kind": "heading", "level": 2, "text": words["summary"]}, {"kind": "facts", "rows": rows}]


def _by_city(persons: list[dict], places: dict, sites: dict, language: str) -> list[dict]:
    """How many published victims each city has, most first (the unknown city last), and the map of
    them with the published sites (the memorial's map)."""
    words = WORDS[language]
    counts: dict = defaultdict(int)
    for person in persons:
        counts[(person["city"] or {}).get("place_id")] += 1
    if not counts:
        return []
    cities = sorted(counts.items(), key=lambda item: (item[0] is None, -item[1], _city_label(item[0], places, language)))
    mapped = [{"id": place_id, "slug": place_id, "count": n,
               "place": {"name_en": places[place_id].name_en, "name_fa": places[place_id].name_fa,
                         "province": places[place_id].province_now, "lat": places[place_id].lat,
                         "lon": places[place_id].lon}}
              for place_id, n in cities if place_id in places]
    return [{"kind": "heading", "level": 2, "text": words["by_city"]},
            {"kind": "chart", "svg": published_map(mapped, sorted(sites.values(), key=lambda site: site["id"]),
                                                   language=language, element_id="report-map"),
             "caption": words["map_caption"]},
            {"kind": "table", "columns": [words["city"], words["count"]], "widths": [2, 1], "share": 0.5,
             "rows": [[_city_label(place_id, places, language), digits(n, language)] for place_id, n in cities]}]


def _city_label(place_id: str | None, places: dict, language: str) -> str:
    if place_id is None:
        return WORDS[language]["city_unknown"]
    place = places.get(place_id)
    return _place_name(place, language) if place is not None else place_id


def _estimate(estimate: dict | None, language: str) -> list[dict]:
    words = WORDS[language]
    blocks = [{"kind": "heading", "level": 2, "text": words["estimate"]}]
    if estimate is None:
        return blocks + [{"kind": "paragraph", "text": words["no_estimate"]}]
    low, high = estimate["interval"]
    text = words["estimate_text"].format(
        method=estimate["method"], date=_calendarday(estimate["created_at"][:10], language),
        estimate=digits(estimate["estimate"], language), low=digits(low, language), high=digits(high, language),
        level=digits(round(100 * estimate["level"]), language), observed=digits(estimate["observed"], language))
    blocks += [{"kind": "paragraph", "text": text},
               {"kind": "chart", "svg": estimate_chart({**estimate, "strata": None}, language=language, text_scale=1.3),
                "caption": words["chart_caption"]}]
    if estimate.get("stale"):
        blocks.append({"kind": "note", "text": words["estimate_stale"]})
    if estimate.get("warnings"):
        count = len(estimate["warnings"])
        blocks.append({"kind": "note", "text": words["estimate_warning"] if count == 1 else
                       words["estimate_warnings"].format(n=digits(count, language))})
    return blocks


def _method(language: str) -> list[dict]:
    words = WORDS[language]
    return [{"kind": "heading", "level": 2, "text": words["method"]},
            {"kind": "paragraph", "text": words["method_text"]},
            {"kind": "paragraph", "text": words["published_text"]}]


def _victims(listed: list[dict], places: dict, place, event: str | None, language: str) -> list[dict]:
    words = WORDS[language]
    if place is not None:
        title = words["list_city"].format(city=_place_name(place, language))
    elif event is not None:
        title = words["list_incident"].format(incident=event)
    else:
        title = words["list"]
    blocks = [{"kind": "page-break"}, {"kind": "heading", "level": 2, "text": title}]
    if not listed:
        return blocks + [{"kind": "paragraph", "text": words["none_listed"]}]
    by_city: dict = defaultdict(list)
    for person in listed:
        by_city[(person["city"] or {}).get("place_id")].append(person)
    own, other = ("name_fa", "name_latin") if language == "fa" else ("name_latin", "name_fa")
    columns = [words["col_id"], words["col_fa"], words["col_latin"], words["col_death"]]
    for place_id in sorted(by_city, key=lambda p: (p is None, _city_label(p, places, language))):
        members = sorted(by_city[place_id], key=lambda p: (p[own] or "\uffff", p[other] or "", p["id"]))
        blocks.append({"kind": "heading", "level": 3,
                       "text": f"{_city_label(place_id, places, language)} ({digits(len(members), language)})"})
        blocks.append({"kind": "table", "columns": columns, "widths": [1.1, 2.2, 2.2, 2.2],
                       "rows": [[p["id"], p["name_fa"] or "", p["name_latin"] or "", _when_text(p["death"], language)]
                                for p in members]})
    return blocks


# --- an official's dossier -----------------------------------------------------------------------

def _cited(claim: dict) -> str:
    """Where a public claim comes from: its sources with their locators."""
    found = []
    for citation in claim.get("citations") or [{"source": claim.get("claimed_by")}]:
        text = citation["source"] + (f" ({citation['locator']})" if citation.get("locator") else "")
        if text not in found:
            found.append(text)
    return "\n".join(found)


def _own_name(name: str | None, name_fa: str | None, language: str) -> str:
    """The name in the report's script, else the other."""
    return (name_fa or name or "") if language == "fa" else (name or name_fa or "")


def _named(name: str | None, name_fa: str | None, language: str) -> str:
    first, second = (name_fa, name) if language == "fa" else (name, name_fa)
    return f"{first} ({second})" if first and second and first != second else (first or second or "")


def _victims_of(account: dict, published: dict[str, dict]) -> tuple[list[dict], int]:
    """An act's victims: the published persons (each once), and how many others (persons not
    published, records no person holds yet, victims known by number only), who are only counted."""
    named, others = {}, set()
    for index, victim in enumerate(account.get("victims") or []):
        person = victim.get("person")
        if person in published:
            named.setdefault(person, published[person])
        else:
            others.add(person or f"record {index}")
    return list(named.values()), len(others) + (account.get("unnamed_victims") or 0)


def _dossier(session: Session, official: str, public: dict, persons: list[dict], language: str) -> tuple[str, list[dict]]:
    """The official's dossier as the public may read it; :class:`InputError` when none of it is published."""
    words = WORDS[language]
    try:
        found = official_casefile(session, official, audience="public")
    except NotFound as exc:
        raise InputError(str(exc), field="official") from None
    dossier = found["dossier"]

    def shown(claims: list[dict]) -> list[dict]:
        return [kept for c in claims if (kept := public_claim(c, public)) is not None]

    described, posts, status = shown(dossier["claims"]), shown(dossier["posts"]), shown(dossier["status"])
    published = {p["id"]: p for p in persons}
    acts = []
    for act in dossier["acts"]:
        part, accounts = shown(act.get("involvement") or []), shown(act["claims"])
        if part and accounts:
            acts.append((act, part, accounts))
    the_official = dossier["official"]
    if not (described or posts or status or acts):
        raise InputError(f"{the_official['id']}: {words['nothing']}", field="official")
    # Names and graves only as accepted public claims give them: the registry's own may come from a
    # restricted source.
    accountability = published_accountability(session, set(published))
    names = accountability["names"]

    def public_name(entity: dict, *, both: bool = False) -> str:
        known = names.get(entity["id"]) or {}
        return (_named if both else _own_name)(known.get("name"), known.get("name_fa"), language) or entity["id"]

    name = public_name(the_official, both=True)
    aliases = sorted({a for c in described for a in (c.get("data") or {}).get("aliases", [])})
    blocks = [{"kind": "page-break"}, {"kind": "heading", "level": 2, "text": words["official"].format(name=name)},
              {"kind": "facts", "rows": [[words["official_id"], the_official["id"]]]
               + ([[words["aliases"], _COMMA[language].join(aliases)]] if aliases else [])},
              {"kind": "note", "text": words["official_note"]}]
    if posts:
        blocks += [{"kind": "heading", "level": 3, "text": words["posts"]},
                   {"kind": "table", "columns": [words["col_role"], words["col_institution"], words["col_from"],
                                                 words["col_to"], words["col_sources"]],
                    "widths": [2, 2.4, 1.6, 1.6, 2],
                    "rows": [[p["role"] or "", public_name(p["institution"]),
                              _when_text(p.get("from"), language), _when_text(p.get("to"), language), _cited(p)]
                             for p in posts]}]
    if status:
        blocks += [{"kind": "heading", "level": 3, "text": words["status"]},
                   {"kind": "table", "columns": [words["col_status"], words["col_on"], words["col_sources"]],
                    "widths": [2, 2, 3],
                    "rows": [[term(s["status"], language), _when_text(s.get("observed_on"), language), _cited(s)]
                             for s in status]}]
    victims_here: set[str] = set()
    if acts:
        rows = []
        for act, part, accounts in acts:
            for account in accounts:
                named, unnamed = _victims_of(account, published)
                victims_here.update(p["id"] for p in named)
                listed = [f"{_own_name(p['name_latin'], p['name_fa'], language)} {p['id']}" for p in named]
                if unnamed:
                    listed.append(words["unnamed"].format(n=digits(unnamed, language)))
                roles = _COMMA[language].join(
                    " ".join(w for w in (term(c.get("degree"), language), f"({term(c['likelihood'], language)})"
                                         if c.get("likelihood") else "") if w) for c in part)
                rows.append([act["id"], term(account.get("value") or act["type"], language),
                             _when_text(account.get("date"), language), account.get("place") or "", roles,
                             "\n".join(listed), _cited(account)])
        blocks += [{"kind": "heading", "level": 3, "text": words["acts"]},
                   {"kind": "table", "columns": [words["col_act"], words["col_type"], words["col_date"],
                                                 words["col_place"], words["col_part"], words["col_victims"],
                                                 words["col_sources"]],
                    "widths": [1, 1.3, 1.6, 1.3, 1.5, 2.6, 1.6], "rows": rows}]
    sites = []
    for site in sorted(accountability["sites"].values(), key=lambda site: site["id"]):
        here = victims_here.intersection(site["persons"])
        if not here:
            continue  # a hidden grave is never among them
        location = site["location"]
        where = _own_name((location["place"] or {}).get("name"), (location["place"] or {}).get("name_fa"), language) \
            if location["place"] else (location["place_text"] or "")
        if "lat" in location:
            where = f"{where} {location['lat']}, {location['lon']}".strip()
        history = [f"{term(s['status'], language)} {_when_text(s['on'], language)}".strip() for s in site["status"]]
        sites.append([_named(site["name"], site["name_fa"], language) or site["id"], term(site["kind"], language),
                      digits(where, language) if language == "fa" else where,
                      "\n".join(history), digits(len(here), language)])
    if sites:
        blocks += [{"kind": "heading", "level": 3, "text": words["sites"]},
                   {"kind": "table", "columns": [words["col_site"], words["col_kind"], words["col_where"],
                                                 words["col_status"], words["col_here"]],
                    "widths": [2, 1.3, 2, 2.4, 1], "rows": sites}]
    return the_official["id"], blocks


def _when_text(interval: dict | None, language: str) -> str:
    return when(interval, language) or ""
