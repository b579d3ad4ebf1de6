"""The words claims use: kinds of institution, act, site; degrees of involvement; likelihood; statuses.

Values are written in files as the user likes ("Carried out", "carried_out", "CARRIED-OUT"); each
is read into the one spelling kept here. The lists follow HURIDOCS Events Standard Formats (act
types, degrees of involvement), Bayanat (likelihood of a relation) and ICMP / the Bournemouth
Protocol (site certainty, site status, publication of a grave's location).
"""

from __future__ import annotations

import functools
import re

from dadkhah.errors import InputError

INSTITUTION_KINDS = ("commission", "court", "prosecutor", "prison", "ministry", "security-force", "unit", "other")
RELATIONS = ("child-of", "member-of")
ACT_TYPES = ("execution", "enforced-disappearance", "torture", "arbitrary-detention", "unfair-trial",
             "grave-desecration", "family-intimidation", "other")
DEGREES = ("carried-out", "gave-orders", "planned", "approved", "failed-to-prevent", "political-responsibility")
LIKELIHOODS = ("maybe", "likely", "certain")
OFFICIAL_STATUSES = ("in-post", "promoted", "retired", "charged", "convicted", "acquitted", "sanctioned", "deceased",
                     "other")
SITE_KINDS = ("mass-grave", "cemetery", "execution-site", "prison", "other")
CERTAINTIES = ("suspected", "probable", "confirmed")
PUBLICATIONS = ("exact", "city", "hidden")
SITE_STATUSES = ("intact", "markers-removed", "new-burials", "bulldozed", "built-over", "access-denied", "exhumed",
                 "other")
METHODS = ("satellite-image", "photograph", "witness", "official-statement", "visit", "other")
REVIEW_STATUSES = ("accepted", "conflict", "work-needed")

# How restrictive each publication policy is: a site shows the most restrictive any claim gives.
PUBLICATION_RANK = {"exact": 0, "city": 1, "hidden": 2}

_SEPARATORS = re.compile(r"[\s_]+")


@functools.lru_cache(maxsize=4096)
def word(value: str) -> str:
    """The spelling kept for a vocabulary word: lower case, words joined by hyphens."""
    return _SEPARATORS.sub("-", value.strip().lower()).strip("-")


def read_word(value: str | None, allowed: tuple[str, ...], *, field: str, required: bool = True,
              default: str | None = None) -> str | None:
    """``value`` read as one of ``allowed``; a clear error naming ``field`` when it is not."""
    if value is None or not value.strip():
        if required and default is None:
            raise InputError("is required", field=field)
        return default
    spelled = word(value)
    if spelled == "city-only":
        spelled = "city"
    if spelled not in allowed:
        raise InputError(f"must be one of {', '.join(allowed)}, not {value.strip()!r}", field=field)
    return spelled
