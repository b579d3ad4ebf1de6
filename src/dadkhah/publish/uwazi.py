"""What may be published, as a zip that Uwazi's CSV import reads (Settings › Import CSV, with a .zip):
``import.csv`` at the root, one row per entity of one template (``persons``, ``acts`` or
``officials``), and beside it each row's attachment: a JSON file with the published records or the
claims behind the row, every claim with its citations.

The rules followed are Uwazi's own (``app/api/csv`` in huridocs/uwazi): the first row holds the
columns, each the label of a property (Uwazi matches it to the property's name: lower case, every
character but letters and digits made ``_``); ``Title`` is the entity's title; several values in a
cell (multi-select, multi-date-range) are separated by ``|``; a date range is ``start:end``, dates
written ``YYYY/MM/DD`` (a side left empty when unknown); a geolocation property's column is the
property's name with ``_geolocation`` (``Location_geolocation``) and holds ``lat|lon``; text and
select columns come once per language, ``Title__en`` and ``Title__fa`` (never both with and without
a language); ``attachments`` names files in the zip. The file is UTF-8 without a byte-order mark
(Uwazi would read one as part of the first column's name), comma-separated, each cell made inert
for spreadsheets (:mod:`dadkhah.spreadsheet`), since people open ``import.csv`` before importing it.

Dates are date ranges, always: a date the sources give only in part (a Jalali month, a year) is the
range of days it can mean, never a day made up. The zip also holds ``template.json``: the
properties to create in Uwazi (label and type) before importing, which Uwazi ignores on import.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from dadkhah import __version__
from dadkhah.audit import Actor, record_audit
from dadkhah.errors import InputError
from dadkhah.normalize.script import detect_script
from dadkhah.publish.exports import (
    AUDIENCE,
    actor_names,
    checked_out,
    citation_text,
    deliver,
    grouped,
    joined,
    narrowed,
    places,
    public_record,
    published_victims,
)
from dadkhah.publish.policy import person_name, published_persons
from dadkhah.publish.words import digits, term
from dadkhah.spreadsheet import SafeWriter

TEMPLATES = ("persons", "acts", "officials")
LANGUAGES = ("en", "fa")
MULTI = "|"  # Uwazi's separator of several values in one cell
FORMAT = "dadkhah-uwazi/1"

# Each template's properties: (label, Uwazi property type, one column per language?)
PROPERTIES = {
    "persons": [("Title", "title", True), ("Person ID", "text", False), ("Given name", "text", True),
                ("Family name", "text", True), ("Father name", "text", True), ("Gender", "select", False),
                ("Date of birth", "multidaterange", False), ("Date of birth as given", "text", False),
                ("Date of death", "multidaterange", False), ("Date of death as given", "text", False),
                ("City", "text", True), ("Prison", "text", True), ("Location", "geolocation", False),
                ("Affiliation", "text", False), ("Incident", "multiselect", False),
                ("Sources", "multiselect", False), ("Acts", "text", False), ("Burial sites", "text", True)],
    "acts": [("Title", "title", True), ("Act ID", "text", False), ("Type", "select", False),
             ("Date", "multidaterange", False), ("Date as given", "text", False), ("Place", "text", True),
             ("Location", "geolocation", False), ("Victims", "text", False), ("Unnamed victims", "numeric", False),
             ("Likelihood", "multiselect", False), ("Alleged perpetrators", "text", True),
             ("Sources", "multiselect", False), ("Citations", "text", False)],
    "officials": [("Title", "title", True), ("Official ID", "text", False), ("Aliases", "text", False),
                  ("Gender", "select", False), ("Date of birth", "multidaterange", False),
                  ("Posts", "text", True), ("Institutions", "multiselect", False), ("Status", "text", False),
                  ("Acts", "text", False), ("Sources", "multiselect", False), ("Citations", "text", False)],
}


def columns(template: str) -> list[str]:
    """The header of a template's ``import.csv``."""
    header = []
    for label, kind, translated in PROPERTIES[template]:
        if translated:
            header += [f"{label}__{language}" for language in LANGUAGES]
        else:
            header.append(f"{label}_geolocation" if kind == "geolocation" else label)
    return header + ["attachments"]


def uwazi_day(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%Y/%m/%d") if iso else ""


def date_range(interval: dict | None) -> str | None:
    """``start:end`` for the days a date can mean (an unknown side left empty)."""
    if not interval or not (interval.get("earliest") or interval.get("latest")):
        return None
    return f"{uwazi_day(interval.get('earliest'))}:{uwazi_day(interval.get('latest'))}"


def several(values) -> str:
    """Several values in one cell; a value is never split (a ``|`` in it becomes ``/``)."""
    return MULTI.join(dict.fromkeys(str(v).replace(MULTI, "/") for v in values if v not in (None, "")))


def geolocation(lat, lon) -> str | None:
    """``lat|lon``. A negative latitude is written after a space, which Uwazi's reader trims
    (csvtojson trims cells) and which keeps a spreadsheet from reading the cell as a formula."""
    if lat is None or lon is None:
        return None
    text = f"{float(lat):.6f}".rstrip("0").rstrip(".") + MULTI + f"{float(lon):.6f}".rstrip("0").rstrip(".")
    return " " + text if text.startswith("-") else text


def _both(values: dict[str, object | None]) -> list:
    """A translated column's cells, English then Persian; an empty default falls back to the other."""
    en, fa = values.get("en"), values.get("fa")
    return [en or fa, fa or en]


def scripted(records: list[dict], field: str, script: str) -> str:
    """The values of ``field`` written in ``script`` (``fa`` or ``latin``; a value in both, in both)."""
    return joined(r[field] for r in records if r[field] and detect_script(r[field]) in (script, "mixed"))


def place(records: list[dict], field: str, language: str) -> str:
    """The records' places: the gazetteer's name in ``language``, else (English) as written."""
    key = "name_fa" if language == "fa" else "name"
    return joined(r[field].get(key) or (r[field].get("original") if language == "en" else None)
                  for r in records if r[field])


def _persons(session: Session, record: dict, progress=None):
    gazetteer = places(session)
    sites = record["sites"]
    for number, published in enumerate(published_persons(session), start=1):
        records = published["records"]
        person = published["person_id"]
        latin, persian = person_name(records, "latin"), person_name(records, "fa")

        births = [r["birth_date"] for r in records if r["birth_date"]]
        deaths = [r["death_date"] for r in records if r["death_date"]]
        located = next((gazetteer[r["city"]["place_id"]] for r in records
                        if r["city"] and r["city"].get("place_id") in gazetteer), None)
        burials = [sites[s] for s in record["burials_by_person"].get(person, []) if s in sites]
        row = [*_both({"en": latin, "fa": persian}), person,
               *_both({"en": scripted(records, "given_name", "latin"), "fa": scripted(records, "given_name", "fa")}),
               *_both({"en": scripted(records, "family_name", "latin"), "fa": scripted(records, "family_name", "fa")}),
               *_both({"en": scripted(records, "father_name", "latin"), "fa": scripted(records, "father_name", "fa")}),
               next((r["gender"] for r in records if r["gender"]), None),
               several(date_range(d) for d in births), joined(d["original"] for d in births),
               several(date_range(d) for d in deaths), joined(d["original"] for d in deaths),
               *_both({"en": place(records, "city", "en"), "fa": place(records, "city", "fa")}),
               *_both({"en": place(records, "prison", "en"), "fa": place(records, "prison", "fa")}),
               geolocation(located.lat, located.lon) if located else None,
               joined(r["affiliation"] for r in records), several(r["incident"] for r in records),
               several(published["sources"]), joined(record["acts_by_person"].get(person, [])),
               *_both({"en": joined(s["name"] or s["name_fa"] for s in burials),
                       "fa": joined(s["name_fa"] or s["name"] for s in burials)})]
        attachment = {"id": person, "records": records, "acts": record["acts_by_person"].get(person, []),
                      "burial_sites": [s["id"] for s in burials]}
        if progress and number % 1000 == 0:
            progress(number, 0)
        yield person, row, attachment


def _acts(session: Session, record: dict, progress=None):
    gazetteer = places(session)
    victims = published_victims(session, record)
    involvements = grouped(record["involvements"], "act")
    for act_id in sorted(record["acts"]):
        act = record["acts"][act_id]
        accounts = act["accounts"]
        first = accounts[0] if accounts else {}
        where = first.get("place") or {}
        place_en = where.get("name") or first.get("place_text")
        place_fa = where.get("name_fa") or place_en
        when = (first.get("date") or {}).get("original")
        title_en = ", ".join(p for p in (term(act["type"], "en").capitalize(), place_en, when) if p) + f" ({act_id})"
        title_fa = "، ".join(p for p in (term(act["type"], "fa"), place_fa, digits(when, "fa") if when else None)
                            if p) + f" ({act_id})"
        shown, unnamed = set(), 0
        for account in accounts:
            named, others = narrowed(account, victims)
            shown.update(named)
            unnamed = max(unnamed, others)
        perpetrators = {"en": [], "fa": []}
        for involvement in involvements.get(act_id, []):
            name, name_fa = actor_names(record, involvement["actor"])
            for language, shown_name in (("en", name or name_fa), ("fa", name_fa or name)):
                how = ("، " if language == "fa" else ", ").join(
                    term(w, language) for w in (involvement["degree"], involvement.get("likelihood")) if w)
                perpetrators[language].append(f"{shown_name or ''} ({involvement['actor']}): {how}".strip())
        located = gazetteer.get(where.get("id")) if where.get("id") else None
        citations = [c for account in accounts for c in account["sources"]] + \
                    [c for i in involvements.get(act_id, []) for c in i["citations"]]
        row = [title_en, title_fa, act_id, act["type"], several(date_range(a["date"]) for a in accounts),
               joined((a["date"] or {}).get("original") for a in accounts),
               *_both({"en": joined((a["place"] or {}).get("name") or a["place_text"] for a in accounts),
                       "fa": joined((a["place"] or {}).get("name_fa") for a in accounts)}),
               geolocation(located.lat, located.lon) if located else None, joined(sorted(shown)), unnamed,
               several(a["likelihood"] for a in accounts),
               *_both({"en": "; ".join(perpetrators["en"]), "fa": "; ".join(perpetrators["fa"])}),
               several(c["source"] for c in citations), citation_text(citations)]
        attachment = {"id": act_id, "type": act["type"], "allegation": True,
                      "accounts": [account | {"persons": narrowed(account, victims)[0],
                                              "unnamed": narrowed(account, victims)[1]} for account in accounts],
                      "involvements": involvements.get(act_id, [])}
        yield act_id, row, attachment


def _officials(session: Session, record: dict, progress=None):
    posts = grouped(record["posts"], "official")
    statuses = grouped(record["statuses"], "official")
    acts = grouped(record["involvements"], "actor")
    entities = record["entities"]
    for official_id in sorted(e for e in entities if entities[e]["kind"] == "official"):
        official = entities[official_id]
        held = {"en": [], "fa": []}
        for post in posts.get(official_id, []):
            name, name_fa = actor_names(record, post["institution"])
            span = "–".join(((post[k] or {}).get("original") or "?") for k in ("from", "to"))
            held["en"].append(f"{post['role']}, {name or name_fa or ''} ({post['institution']}), {span}")
            held["fa"].append(f"{post['role']}، {name_fa or name or ''} ({post['institution']})، {span}")
        claims = official["claims"] + posts.get(official_id, []) + statuses.get(official_id, [])
        row = [*_both({"en": official["name"], "fa": official["name_fa"]}), official_id,
               joined(official["aliases"]), official.get("gender"),
               date_range(official.get("birth_date")),
               *_both({"en": "; ".join(held["en"]), "fa": "; ".join(held["fa"])}),
               several(actor_names(record, p["institution"])[0] or p["institution"] for p in posts.get(official_id, [])),
               joined(f"{s['status']} ({(s['on'] or {}).get('original') or '?'})" for s in statuses.get(official_id, [])),
               joined(sorted({i["act"] for i in acts.get(official_id, [])})),
               several(c["source"] for claim in claims for c in claim["citations"]),
               citation_text([c for claim in claims for c in claim["citations"]])]
        if not row[0]:  # an official named by no public claim: Uwazi needs a title
            row[0] = row[1] = official_id
        attachment = {"id": official_id, "claims": official["claims"], "posts": posts.get(official_id, []),
                      "status": statuses.get(official_id, []), "involvements": acts.get(official_id, [])}
        yield official_id, row, attachment


_ROWS = {"persons": _persons, "acts": _acts, "officials": _officials}


def template_description(template: str) -> dict:
    return {"format": FORMAT, "template": template, "languages": list(LANGUAGES),
            "properties": [{"label": label, "type": kind, "multilingual": translated}
                           for label, kind, translated in PROPERTIES[template] if kind != "title"],
            "date_format": "YYYY/MM/DD", "note": "Create a template with these properties (the labels exactly "
            "as here) and install English and Persian, one of them the default, before importing import.csv."}


def export_uwazi(store, out: str | os.PathLike, *, template: str, actor: Actor, overwrite: bool = False,
                 progress=None) -> dict:
    """Write a zip for Uwazi's CSV import: ``import.csv`` of one ``template`` (persons, acts or
    officials), a JSON attachment per row, and ``template.json`` (the properties to create).

    Example:
        >>> export_uwazi(store, "acts.zip", template="acts", actor=Actor("ana", "cli"))
        {'out': 'acts.zip', 'template': 'acts', 'rows': 40, 'attachments': 40, 'sha256': '…', …}
    """
    if template not in TEMPLATES:
        raise InputError(f"must be one of {', '.join(TEMPLATES)}, not {template!r}", field="template")
    target = checked_out(out, overwrite=overwrite)
    header = columns(template)

    def write(session: Session, partial: Path) -> dict:
        record = public_record(session)
        count = 0
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle, \
                tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as table:
            writer = SafeWriter(table)
            writer.writerow(header)
            for entity_id, row, attachment in _ROWS[template](session, record, progress):
                name = f"{entity_id}.json"
                writer.writerow([*row, name])
                bundle.writestr(name, json.dumps(attachment, ensure_ascii=False, indent=1) + "\n")
                count += 1
            table.seek(0)
            with bundle.open("import.csv", "w") as entry:
                for block in iter(lambda: table.read(1 << 16), ""):
                    entry.write(block.encode("utf-8"))
            about = template_description(template) | {
                "generated_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "software": f"dadkhah {__version__}", "audience": AUDIENCE, "public_sources": record["public"]}
            bundle.writestr("template.json", json.dumps(about, ensure_ascii=False, indent=1) + "\n")
        return {"template": template, "rows": count, "attachments": count}

    def audit(session: Session, digest: str, counts: dict) -> None:
        record_audit(session, store, actor, action="uwazi exported", object_kind="export", object_id=digest,
                     details=counts | {"audience": AUDIENCE})

    return deliver(store, target, overwrite=overwrite, write=write, audit=audit)
