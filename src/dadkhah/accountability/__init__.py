"""Who did what: institutions, officials, their posts, acts and who took part in them, sites and
who may lie there; every statement a sourced claim with a review status.

Reading: :mod:`~dadkhah.accountability.rows` (one row into a draft claim),
:mod:`~dadkhah.accountability.claims` (writing claims: versions, agreement, conflict),
:mod:`~dadkhah.accountability.importer` (files in, and one row from a form),
:mod:`~dadkhah.accountability.review` (a reviewer's decision), :mod:`~dadkhah.accountability.queries`
(the questions), :mod:`~dadkhah.accountability.graph` (the network for analysts' tools).
"""

from dadkhah.accountability.importer import AccountabilitySummary, add_claim, import_accountability
from dadkhah.accountability.queries import (
    AUDIENCES,
    audience_for,
    find_entity,
    institution_chart,
    list_acts,
    list_entities,
    list_sites,
    person_accountability,
    show_act,
    show_claim,
    show_official,
    show_site,
    site_location,
)
from dadkhah.accountability.review import review_claim

__all__ = [
    "AUDIENCES",
    "AccountabilitySummary",
    "add_claim",
    "audience_for",
    "find_entity",
    "import_accountability",
    "institution_chart",
    "list_acts",
    "list_entities",
    "list_sites",
    "person_accountability",
    "review_claim",
    "show_act",
    "show_claim",
    "show_official",
    "show_site",
    "site_location",
]
