"""The memorial site: a self-contained static site of the published victims, in Persian and English.

It works from any static host and from a USB stick (every link is relative and names its
``index.html``; nothing is fetched from elsewhere: no font, script or map tile). What it shows is
what :mod:`dadkhah.publish.policy` allows, nothing more. Each person's page sits at an address made
from the person's stable id (``fa/p/P-000123/index.html``), so a citation made today still resolves
after a rebuild; a person merged since leaves a page that sends the reader on to whom they are now.

Rebuilding rewrites only the pages whose bytes changed and removes the pages of persons no longer
published. The folder is then signed (:func:`dadkhah.publish.manifest.sign_site`), so that a mirror
can prove itself unaltered with ``dadkhah verify-site``.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import zipfile
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import sqlalchemy as sa
from markupsafe import Markup

from dadkhah import __version__
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.estimate.stored import latest_estimate
from dadkhah.model import Incident, Person, Place
from dadkhah.publish.manifest import (
    MANIFEST,
    SIGNATURE,
    check_signing_keys,
    sign_site,
    signed_manifest,
)
from dadkhah.publish.maps import published_map
from dadkhah.publish.policy import person_summary, published_accountability, published_persons
from dadkhah.publish.search import person_keys, write_search_index
from dadkhah.publish.words import TERMS, digits, when
from dadkhah.report.charts import estimate_chart
from dadkhah.store import Store
from dadkhah.vault.keys import VaultKeys

LANGUAGES = ("fa", "en")
TEMPLATES = Path(__file__).parent / "templates"
STYLE = "memorial.css"
ICON = "favicon.svg"
PERSONS_PER_PAGE = 1000  # the list of everyone, a thousand to a page
MARK = ".dadkhah-memorial"  # says the folder holds a memorial this tool may rebuild
MARK_TEXT = "A memorial site written by dadkhah publish memorial; rebuilt in place.\n"
ZIP_ROOT = "memorial"  # the folder a zipped site unzips into

# The site's own words, in both languages (the web application's catalogues are the web's).
WORDS = {
    "en": {
        "title": "In memory of the victims", "home": "Home", "named": "Victims named on this site",
        "estimate": "How many were killed", "interval": "between {low} and {high} ({level}% interval)",
        "interval_means": ("The true number is not known. The estimate combines the lists that name the victims; "
                           "the interval is the range that the lists and the model make likely. It may change as "
                           "more lists are found. It counts victims no list names, too."),
        "no_estimate": "No estimate has been published yet.", "numbers": "About the numbers",
        "cities": "Cities", "city": "City", "incident": "Incident", "died": "Died", "born": "Born", "age": "Age", "prison": "Prison",
        "sources": "Named in", "correct": "Correct or complete this entry", "persons": "Victims",
        "father": "Father's name", "unknown": "unknown", "language": "فارسی", "moved": "This entry is now",
        "not_final": "These figures are not final: lists are still being gathered and checked.",
        "estimate_flagged": ("The software that made this estimate raised {n} warnings about it: treat it with "
                             "more caution than its interval suggests."),
        "estimate_flagged_one": ("The software that made this estimate raised a warning about it: treat it with "
                                 "more caution than its interval suggests."),
        "estimate_stale": ("The lists have been linked again since this estimate was made: it counts the victims "
                           "as they were then, and a new estimate may differ."),
        "method": ("The lists were compared with each other; records that name the same person were joined, "
                   "with uncertain pairs checked by people. The total was estimated from how the lists overlap "
                   "(multiple systems estimation)."),
        "observed": "people named in the lists used", "method_name": "method",
        "search": "Search", "search_label": "A name, in Persian or Latin letters", "pages": "Pages",
        "more": "Show more",
        "found": "{n} found.", "shown": "The first {n} are listed.",
        "search_needs_script": "The search needs JavaScript. Without it, see the list of",
        "sites": "Sites", "kind": "Kind", "certainty": "Certainty", "coordinates": "Location",
        "coordinates_withheld": "Not published, to protect the site and the families.", "status": "What has happened to the site",
        "buried": "Said to lie at", "buried_here": "Said to lie here", "unnamed": "and {n} more not named here",
        "what_happened": "What happened", "according_to": "According to", "comma": ",",
        "with_others": "With {n} others.",
        "allegations": "These are accounts from the sources named, reviewed by the documenting team; they are "
                       "allegations, not findings of a court.",
    },
    "fa": {
        "title": "به یاد جان‌باختگان", "home": "خانه", "named": "جان‌باختگانی که نامشان در این تارنما آمده است",
        "estimate": "چند تن کشته شدند", "interval": "میان {low} و {high} (بازهٔ {level} درصد)",
        "interval_means": ("شمار واقعی دانسته نیست. برآورد از کنار هم گذاشتن فهرست‌هایی به دست آمده که نام "
                           "جان‌باختگان را دارند؛ بازه گسترهٔ شمارهایی است که فهرست‌ها و مدل محتمل می‌دانند. با یافته "
                           "شدن فهرست‌های تازه ممکن است دگرگون شود. جان‌باختگانی را که در هیچ فهرستی نیامده‌اند نیز "
                           "می‌شمارد."),
        "no_estimate": "هنوز برآوردی منتشر نشده است.", "numbers": "دربارهٔ شمارها",
        "cities": "شهرها", "city": "شهر", "incident": "رویداد", "died": "تاریخ جان‌باختن", "born": "تاریخ تولد", "age": "سن",
        "prison": "زندان", "sources": "نام‌برده در", "correct": "درست یا کامل کردن این مدخل",
        "persons": "جان‌باختگان", "father": "نام پدر", "unknown": "نامعلوم", "language": "English",
        "moved": "این مدخل اکنون اینجاست", "not_final": "این شمارها نهایی نیستند: فهرست‌ها هنوز گردآوری و بررسی می‌شوند.",
        "estimate_flagged": ("نرم‌افزاری که این برآورد را ساخت {n} هشدار دربارهٔ آن داده است: بیش از آنچه بازه‌اش "
                             "نشان می‌دهد با احتیاط به آن بنگرید."),
        "estimate_flagged_one": ("نرم‌افزاری که این برآورد را ساخت یک هشدار دربارهٔ آن داده است: بیش از آنچه "
                                 "بازه‌اش نشان می‌دهد با احتیاط به آن بنگرید."),
        "estimate_stale": ("پس از این برآورد، فهرست‌ها دوباره به هم پیوند داده شده‌اند: این برآورد جان‌باختگان را "
                           "چنان می‌شمارد که آن هنگام بودند و برآورد تازه ممکن است دیگر باشد."),
        "method": ("فهرست‌ها با هم سنجیده شدند؛ سابقه‌هایی که از یک تن نام می‌برند یکی شدند و جفت‌های نامطمئن را "
                   "آدم‌ها بررسی کردند. شمار کل از چگونگی هم‌پوشانی فهرست‌ها برآورد شد (برآورد چندسامانه‌ای)."),
        "observed": "تن که نامشان در فهرست‌های به‌کاررفته آمده است", "method_name": "روش",
        "search": "جست‌وجو", "search_label": "نامی، به خط فارسی یا لاتین", "pages": "صفحه‌ها",
        "more": "بیشتر",
        "found": "{n} یافته شد.", "shown": "{n} یافتهٔ نخست آمده است.",
        "search_needs_script": "جست‌وجو به جاوااسکریپت نیاز دارد. بی آن، فهرست را ببینید:",
        "sites": "مکان‌ها", "kind": "گونه", "certainty": "قطعیت", "coordinates": "جای دقیق",
        "coordinates_withheld": "برای نگهداری از مکان و خانواده‌ها منتشر نمی‌شود.", "status": "آنچه بر این مکان گذشته است",
        "buried": "گفته می‌شود آرامگاهش اینجاست", "buried_here": "کسانی که گفته می‌شود اینجا آرمیده‌اند",
        "unnamed": "و {n} تن دیگر که نامشان اینجا نیامده است",
        "what_happened": "آنچه رخ داد", "according_to": "به گفتهٔ", "comma": "،", "with_others": "همراه با {n} تن دیگر.",
        "allegations": "این‌ها گزارش‌های منابع نام‌برده‌اند که گروه مستندسازی بررسی کرده است؛ ادعا هستند، نه حکم دادگاه.",
    },
}


def _person(published: dict) -> dict:
    return person_summary(published) | {"keys": person_keys(published["records"])}


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["digits"] = digits
    env.filters["when"] = when
    return env


def _contact_link(contact: str | None, person_id: str) -> str | None:
    if not contact:
        return None
    if contact.startswith("https://"):
        separator = "&" if "?" in contact else "?"
        return f"{contact}{separator}entry={person_id}"
    return f"mailto:{contact}?subject=Correction%3A%20{person_id}"


def check_memorial(languages=LANGUAGES, contact: str | None = None) -> tuple[tuple[str, ...], str | None]:
    """The site's languages (``fa``, ``en`` or both, as a list or ``"fa,en"``) and the address readers
    send corrections to, as :func:`build_memorial` takes them: checked (an :class:`InputError` naming
    ``languages`` or ``contact``) and tidied."""
    asked = languages.split(",") if isinstance(languages, str) else languages
    languages = tuple(dict.fromkeys(code.strip() for code in asked if isinstance(code, str) and code.strip()))
    if not languages or any(language not in LANGUAGES for language in languages):
        raise InputError(f"takes fa, en or both (fa,en), not {','.join(languages) or 'nothing'}", field="languages")
    return languages, _check_contact(contact)


_EMAIL = re.compile(r"[^@\s?&#<>\"',;:/\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")


def _check_contact(contact: str | None) -> str | None:
    """An https address (a correction form; the entry's id is added to its query) or a plain email
    address (a subject naming the entry is added). Plain http is refused: what a reader writes about a
    victim, and that they write at all, would travel unencrypted."""
    contact = (contact or "").strip() or None
    if contact is None:
        return None
    if contact.lower().startswith("http://"):
        raise InputError("is a plain http:// address: what readers send would travel unencrypted; give an https:// "
                         "address", field="contact")
    if contact.lower().startswith("https://"):
        parts = urlsplit(contact)
        if parts.username is not None or parts.password is not None:  # it would be on every page
            raise InputError("holds a user name or password (user:secret@…): every page would publish it; give the "
                             "address readers may see", field="contact")
        if parts.netloc and not parts.fragment and not any(c.isspace() or c in '<>"' for c in contact):
            return "https://" + contact[len("https://"):]
    elif _EMAIL.fullmatch(contact):
        return contact
    raise InputError("is an https:// address or an email address (name@example.org), where readers send corrections",
                     field="contact")


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError("is a file: name a folder for the site", file=str(out), field="out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARK).exists():
        raise InputError("is a folder that holds other files: name an empty folder, or one this command wrote "
                         "before (it is rebuilt)", file=str(out), field="out")


class _Writer:
    """Writes pages whose bytes changed, and remembers every page of this build."""

    def __init__(self, out: Path):
        self.out, self.written, self.unchanged, self.kept = out, 0, 0, set()
        (out / MARK).write_text(MARK_TEXT, encoding="utf-8")

    def copy(self, relative: str, source: Path) -> None:
        shutil.copyfile(source, self.out / relative)
        self.kept.add(relative)

    def write(self, relative: str, text: str) -> None:
        path = self.out / relative
        data = text.encode("utf-8")
        self.kept.add(relative)
        if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
            self.unchanged += 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(path.name + ".part")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        self.written += 1

    def sign(self, keys: VaultKeys) -> dict:
        return sign_site(self.out, keys)

    def sweep(self) -> int:
        """Remove what an earlier build wrote that this one did not (persons no longer published)."""
        removed = 0
        for path in sorted(self.out.rglob("*"), reverse=True):
            relative = path.relative_to(self.out).as_posix()
            if path.is_file() and relative not in self.kept and relative not in (MANIFEST, SIGNATURE, MARK):
                path.unlink()
                removed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        return removed


class _ZipWriter:
    """Writes every file of the build into a zip, under ``root/``, and keeps each one's SHA-256 for
    the manifest: the site, signed, with nothing of it written to disk but the zip."""

    def __init__(self, archive: zipfile.ZipFile, root: str):
        self.archive, self.root, self.written, self.unchanged, self.kept, self.digests = archive, root, 0, 0, set(), {}
        self._put(MARK, MARK_TEXT.encode("utf-8"))

    def _put(self, relative: str, data: bytes) -> None:
        self.archive.writestr(f"{self.root}/{relative}", data)
        self.digests[relative] = hashlib.sha256(data).hexdigest()

    def copy(self, relative: str, source: Path) -> None:
        self._put(relative, source.read_bytes())
        self.kept.add(relative)

    def write(self, relative: str, text: str) -> None:
        self._put(relative, text.encode("utf-8"))
        self.kept.add(relative)
        self.written += 1

    def sign(self, keys: VaultKeys) -> dict:
        body, signature, signed = signed_manifest(self.digests, keys)
        self.archive.writestr(f"{self.root}/{MANIFEST}", body)
        self.archive.writestr(f"{self.root}/{SIGNATURE}", signature)
        return signed

    def sweep(self) -> int:
        return 0  # a new zip holds nothing of an earlier build


def build_memorial(store: Store, keys: VaultKeys, out: str | os.PathLike, *, actor: Actor,
                   languages=LANGUAGES, title: str | None = None, contact: str | None = None,
                   progress=None, zipped: bool = False) -> dict:
    """Write (or rebuild) the memorial site into the folder ``out`` and sign it; returns what was done.

    With ``zipped``, ``out`` is a new zip file instead, which holds the site, signed, under
    ``memorial/`` (unzipped, it is the folder the command writes, and a mirror verifies it alike):
    nothing else is written to disk, which at 100,000 persons spares creating, then removing, some
    400,000 files and folders."""
    out = Path(out)
    languages, contact = check_memorial(languages, contact)
    if not zipped:
        _check_out(out)
        out.mkdir(parents=True, exist_ok=True)
        result = _build(store, keys, _Writer(out), languages=languages, title=title, contact=contact,
                        progress=progress)
    else:
        check_signing_keys(keys)  # before the work, not after it
        if out.exists() or not out.parent.is_dir():
            raise InputError("names a file that exists, or a folder that does not", file=str(out), field="out")
        try:
            with zipfile.ZipFile(out, "x", compression=zipfile.ZIP_DEFLATED) as archive:
                result = _build(store, keys, _ZipWriter(archive, ZIP_ROOT), languages=languages, title=title,
                                contact=contact, progress=progress)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    result = {"out": str(out)} | result
    with store.session() as session:
        record_audit(session, store, actor, action="memorial published", object_kind="memorial",
                     object_id=hashlib.sha256(str(out.resolve()).encode()).hexdigest()[:12],
                     details={k: v for k, v in result.items() if k != "out"})
    return result


def _build(store: Store, keys: VaultKeys, writer: _Writer | _ZipWriter, *, languages: tuple[str, ...],
           title: str | None, contact: str | None, progress) -> dict:
    """Write every file of the site with ``writer``, sign it, and answer what was done."""
    env = _environment()
    with store.session() as session:
        estimate = latest_estimate(session, of_the_total=True)
        incidents = [{"id": i.id, "slug": f"incident-{i.id}", "name": i.name, "description": i.description}
                     for i in session.scalars(sa.select(Incident).order_by(Incident.id))]
        persons = []
        for number, published in enumerate(published_persons(session), start=1):
            persons.append(_person(published))
            if progress and number % 1000 == 0:
                progress(number, 0)
        ids = {p["id"] for p in persons}
        accountability = published_accountability(session, ids)
        merged = dict(session.execute(sa.select(Person.person_id, Person.merged_into)
                                      .where(Person.status == "merged", Person.merged_into.is_not(None))).all())
        places = {p.id: {"id": p.id, "name_en": p.name_en, "name_fa": p.name_fa, "province": p.province_now,
                         "lat": p.lat, "lon": p.lon}
                  for p in session.execute(sa.select(Place.id, Place.name_en, Place.name_fa, Place.province_now,
                                                     Place.lat, Place.lon))}
    moved = {}
    for old in merged:
        current, seen = old, set()
        while current in merged and current not in seen:
            seen.add(current)
            current = merged[current]
        if current in ids:
            moved[old] = current
    by_city: dict[str, list[dict]] = defaultdict(list)
    for person in persons:
        if person["city"] and person["city"].get("place_id"):
            by_city[person["city"]["place_id"]].append(person)
    cities = sorted(({"id": place_id, "slug": place_id.replace(":", "-"), "place": places.get(place_id, {}),
                      "count": len(members)} for place_id, members in by_city.items()), key=lambda c: -c["count"])
    by_incident: dict[str, list[dict]] = defaultdict(list)
    for person in persons:
        for name in person["incidents"]:
            by_incident[name].append(person)
    incidents = [i | {"count": len(by_incident[i["name"]])} for i in incidents if by_incident[i["name"]]]
    acts, sites = accountability["acts"], accountability["sites"]
    for person in persons:
        person["acts"] = [acts[a] for a in accountability["acts_by_person"].get(person["id"], [])]
        person["burials"] = [sites[s] for s in accountability["burials_by_person"].get(person["id"], [])]
    by_id = {p["id"]: p for p in persons}
    site_list = sorted(sites.values(), key=lambda site: site["id"])
    slugs = {i["name"]: i["slug"] for i in incidents}
    for person in persons:
        person["incident_links"] = [{"name": name, "slug": slugs[name]} for name in person["incidents"]]
    for asset in (STYLE, ICON):
        writer.copy(asset, TEMPLATES / asset)
    common = {"estimate": estimate, "incidents": incidents, "named": len(persons), "site_title": title,
              "generator": f"dadkhah {__version__}", "languages": languages, "has_sites": bool(site_list)}
    for language in languages:
        words = WORDS[language]
        other = next((code for code in languages if code != language), None)
        context = common | {"lang": language, "dir": "rtl" if language == "fa" else "ltr", "w": words,
                             "t": TERMS[language],
                            "other": other, "title": title or words["title"]}
        render = functools.partial(_render, env, context)
        writer.write(f"{language}/index.html", render("home.html", depth=1, cities=cities[:50],
                                                      map=Markup(published_map(
                                                          cities, site_list, language=language, link=_link,
                                                          element_id="memorial", standalone=False))))
        writer.write(f"{language}/search/index.html", render("search.html", depth=2))
        if site_list:
            writer.write(f"{language}/sites/index.html", render("sites.html", depth=2, sites=site_list))
        for site in site_list:
            writer.write(f"{language}/sites/{site['slug']}/index.html",
                         render("site.html", depth=3, site=site, persons=[by_id[p] for p in site["persons"]]))
        chart = Markup(estimate_chart({**estimate, "strata": None}, language=language, standalone=False,
                                      element_id="numbers-chart")) if estimate else None
        writer.write(f"{language}/numbers/index.html", render("numbers.html", depth=2, chart=chart))
        pages = max(1, -(-len(persons) // PERSONS_PER_PAGE))
        for page in range(1, pages + 1):
            where = "persons/index.html" if page == 1 else f"persons/{page}/index.html"
            writer.write(f"{language}/{where}", render(
                "persons.html", depth=2 if page == 1 else 3, where=where, page=page, pages=pages,
                first=(page - 1) * PERSONS_PER_PAGE + 1,
                persons=persons[(page - 1) * PERSONS_PER_PAGE:page * PERSONS_PER_PAGE]))
        writer.write(f"{language}/cities/index.html", render("cities.html", depth=2, cities=cities))
        for city in cities:
            writer.write(f"{language}/cities/{city['slug']}/index.html",
                         render("city.html", depth=3, city=city, persons=by_city[city["id"]]))
        for incident in incidents:
            writer.write(f"{language}/incidents/{incident['slug']}/index.html",
                         render("incident.html", depth=3, incident=incident, persons=by_incident[incident["name"]]))
        for person in persons:
            writer.write(f"{language}/p/{person['id']}/index.html",
                         render("person.html", depth=3, person=person,
                                correct=_contact_link(contact, person["id"])))
        for old, current in moved.items():
            writer.write(f"{language}/p/{old}/index.html", render("moved.html", depth=3, old=old, current=current))
    writer.write("index.html", _render(env, common | {"lang": languages[0], "dir": "rtl" if languages[0] == "fa"
                                                      else "ltr", "w": WORDS[languages[0]], "other": None,
                                                      "title": title or WORDS[languages[0]]["title"]},
                                       "root.html", depth=0))
    searched = write_search_index(writer.write, lambda template, **context: env.get_template(template).render(context),
                                  persons)
    removed = writer.sweep()
    signed = writer.sign(keys)
    return {"languages": list(languages), "persons": len(persons), "cities": len(cities),
            "incidents": len(incidents), "sites": len(site_list), "acts": len(acts), "search": searched,
            "redirects": len(moved), "pages_written": writer.written, "pages_unchanged": writer.unchanged,
            "files_removed": removed, "files": signed["files"], "fingerprint": signed["fingerprint"],
            "manifest_sha256": signed["manifest_sha256"],
            # for the team (the site says only how many): the estimator's warnings on the estimate published
            "estimate_warnings": list((estimate or {}).get("warnings") or [])}


def _link(kind: str, slug: str) -> str:
    return f"{'cities' if kind == 'city' else 'sites'}/{slug}/index.html"


def _render(env: jinja2.Environment, context: dict, template: str, *, depth: int, **extra) -> str:
    return env.get_template(template).render(context | {"root": "../" * depth} | extra)
