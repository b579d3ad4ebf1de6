"""SQLAlchemy tables, one module per concept group. Importing this package registers them all."""

from dadkhah.model.base import Base, Setting
from dadkhah.model.estimates import Estimate
from dadkhah.model.places import Place, PlaceName
from dadkhah.model.registry import (
    LinkageRun,
    MatchDecision,
    Person,
    PersonRecord,
    RegistryEvent,
    ReviewPair,
)
from dadkhah.model.sources import (
    CANONICAL_FIELDS,
    DATE_FIELDS,
    NAME_FIELDS,
    PLACE_FIELDS,
    FieldWarning,
    Import,
    Incident,
    Record,
    Source,
)
from dadkhah.model.vault import (
    CustodyEvent,
    EvidenceItem,
    EvidencePerson,
    Testimony,
    TestimonyPerson,
    Witness,
)

__all__ = [
    "Base",
    "Setting",
    "CANONICAL_FIELDS",
    "DATE_FIELDS",
    "NAME_FIELDS",
    "PLACE_FIELDS",
    "Estimate",
    "FieldWarning",
    "Import",
    "Incident",
    "LinkageRun",
    "MatchDecision",
    "Person",
    "PersonRecord",
    "RegistryEvent",
    "ReviewPair",
    "Place",
    "PlaceName",
    "Record",
    "Source",
    "CustodyEvent",
    "EvidenceItem",
    "EvidencePerson",
    "Testimony",
    "TestimonyPerson",
    "Witness",
]
