"""Pages: Jinja2 templates with autoescaping, translated strings and both calendars.

A route builds one document (a dict) with a plain function; the page renders it with a template and
its ``/api/v1/`` twin returns it as JSON, so both always say the same thing.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from dadkhah.web.i18n import (
    LANGUAGES,
    RTL,
    current_language,
    format_date,
    gettext,
    ngettext,
    persian_digits,
)
from dadkhah.web.security import LANG_COOKIE, current_viewer

TEMPLATES = Path(__file__).parent / "templates"

# How a page names each field the core may name in an error (the command line says --method instead).
FIELD_LABELS = {
    "witness_name": "Witness's name", "witness_contact": "Witness's contact", "transcript": "Transcript",
    "language": "Language", "consent": "Consent", "about": "Persons it is about", "place": "Place",
    "interviewer": "Interviewer", "files": "Files", "source": "Source", "description": "Description",
    "captured_at": "Captured at", "captured_where": "Captured where", "acquired_how": "How it reached us",
    "release": "Released to", "recipient": "Recipient", "scope": "Scope", "persons": "Persons", "method": "Method",
    "by": "Stratify by", "seed": "Random seed", "level": "Interval level", "iterations": "LCMCR iterations per chain",
    "linkage_thresholds": "Linkage thresholds", "decision": "Your decision", "reason": "Reason",
    "username": "User name", "password": "Password", "password_again": "Password again", "role": "Role",
    "active": "Active", "file": "File", "encoding": "Encoding", "death_from": "Died on or after",
    "death_to": "Died on or before",
    # accountability: the columns of each kind of row (dadkhah.accountability.rows.FILES), the filters
    "institution_id": "Institution's id", "name": "Name", "name_fa": "Name in Persian script", "kind": "Kind",
    "parent_id": "Part of (the institution's id)", "relation": "Relation to it", "from": "From", "to": "To",
    "official_id": "Official's id", "aliases": "Other spellings", "gender": "Gender", "birth_date": "Birth date",
    "site_id": "Site's id", "latitude": "Latitude", "longitude": "Longitude", "certainty": "Certainty",
    "publication": "Publication of its location", "act_id": "Act's id", "act_type": "Type of act", "date": "Date",
    "incident": "Incident", "victims": "Victims", "unnamed_victims": "Victims known by number only",
    "actor_id": "Id of the official or institution", "degree": "Degree of involvement", "likelihood": "Likelihood",
    "observed_on": "Observed on", "status": "Status", "evidence": "Evidence", "victim": "Victim",
    "locator": "Where in the source", "review_status": "Review status", "claim": "Claim", "official": "Official",
    "city": "City", "languages": "Languages", "contact": "Where readers send corrections",
    "institution": "Institution", "person": "Person", "site": "Site", "type": "Type", "on": "On the date",
    "act": "Act", "cells": "Cells", "officials": "Officials",
    # appeals (dadkhah.appeal): the letter, its signatories, moderation, deliveries, purges
    "appeal": "Appeal", "slug": "Address of the public page", "title": "Title", "title_fa": "Title in Persian",
    "text": "Text of the letter", "text_fa": "Text of the letter in Persian", "addressee": "Addressed to",
    "email": "Email", "affiliation": "Affiliation", "country": "Country", "public_name": "Show my name",
    "verified_by": "Verified by", "order": "Order of the signatories",
    "keep_days": "Days after closing before signers' details are erased", "domain": "Email domain",
    "since": "Signed from", "until": "Signed before", "older_than": "Untouched for at least (days)",
    "token": "Link", "signatures": "Signatures", "keys": "Keys", "format": "Format",
    # API tokens (dadkhah.users)
    "expires": "Expires", "token_id": "Token id",
    # standard exports, intake from field tools, trusted timestamps
    "template": "Template", "mapping": "Mapping file (.toml)", "attachments": "Attached files",
    "attachments_zip": "ZIP of the attachments", "files_zip": "ZIP of the shared folder",
    "authorities": "Time-stamping authorities",
    # sources' grades, places' spellings, estimates and linkage, users, jobs
    "alias": "Spelling", "credibility": "Credibility of the information (1–6)",
    "reliability": "Reliability of the source (A–F)", "obtained_on": "Obtained on", "replicates": "Replicates",
    "linkage_uncertainty": "Linkage uncertainty", "delta": "The prior's δ", "table": "Table", "user": "User",
    "threshold": "Threshold", "review_band": "Review band", "person_id": "Person's id", "record_id": "Record id",
    "job": "Job",
}


def field_label(field: str | None) -> str | None:
    """The page's own name for ``field``, translated (None for a field no form shows)."""
    return gettext(FIELD_LABELS[field]) if field in FIELD_LABELS else None


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name: all output escaped
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)
    env.filters["date"] = format_date
    env.filters["moment"] = functools.partial(format_date, with_time=True)
    env.filters["number"] = _number
    env.filters["tojson_pretty"] = lambda value: json.dumps(value, ensure_ascii=False, indent=2, default=str)
    env.globals["field_label"] = field_label
    # Translates a message that may hold what a user typed: the answer stays text to escape (``_()``
    # marks its answer as safe markup, which is right only for the templates' own strings).
    env.globals["translated"] = gettext
    return env


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) < 100 else f"{round(value):,}"
    else:
        text = f"{value:,}" if isinstance(value, int) else str(value)
    return persian_digits(text.replace(",", "٬")) if current_language() == "fa" else text


async def render(request: Request, template: str, document: dict | None = None, *, status_code: int = 200,
                 **extra) -> HTMLResponse:
    """Render ``template`` with ``document`` (as ``doc``) and what every page needs."""
    viewer = await current_viewer(request)
    language = current_language()
    context = {
        "request": request,
        "doc": document or {},
        "viewer": viewer,
        "csrf_token": viewer.csrf_token if viewer else extra.pop("csrf_token", ""),
        "lang": language,
        "dir": "rtl" if language in RTL else "ltr",
        "languages": LANGUAGES,
        "path": request.url.path,
        **extra,
    }
    html = environment().get_template(template).render(context)
    response = HTMLResponse(html, status_code=status_code)
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        response.set_cookie(LANG_COOKIE, asked, httponly=True, samesite="strict",
                            secure=request.app.state.settings.secure_cookies, max_age=365 * 24 * 3600)
    return response
