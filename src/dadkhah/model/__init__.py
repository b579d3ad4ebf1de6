"""SQLAlchemy tables, one module per concept group. Importing this package registers them all."""

from dadkhah.model.accountability import (
    Claim,
    ClaimCitation,
    ClaimImport,
    ClaimReview,
    ClaimVictim,
    Entity,
    EntityName,
)
from dadkhah.model.appeal import (
    Appeal,
    AppealDelivery,
    AppealMail,
    AppealRequest,
    AppealVersion,
    Signature,
)
from dadkhah.model.base import Base, Setting
from dadkhah.model.estimates import Estimate
from dadkhah.model.intake import Intake, IntakeSubmission
from dadkhah.model.jobs import JOB_STATUSES, Job
from dadkhah.model.places import PLACES_REVISION_SETTING, Place, PlaceName
from dadkhah.model.registry import (
    LinkageRun,
    MatchDecision,
    Person,
    PersonRecord,
    PersonWithholding,
    RegistryEvent,
    ReviewPair,
)
from dadkhah.model.search import PersonSearch, PersonSearchKey, PersonSearchTerm
from dadkhah.model.sources import (
    CANONICAL_FIELDS,
    DATE_FIELDS,
    NAME_FIELDS,
    PLACE_FIELD_TYPES,
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
from dadkhah.model.web import ApiToken, AuditEvent, LoginAttempt, User, WebSession

__all__ = [
    "Appeal",
    "AppealDelivery",
    "AppealMail",
    "AppealRequest",
    "AppealVersion",
    "Base",
    "Claim",
    "ClaimCitation",
    "ClaimImport",
    "ClaimReview",
    "ClaimVictim",
    "Entity",
    "EntityName",
    "Setting",
    "Signature",
    "CANONICAL_FIELDS",
    "DATE_FIELDS",
    "NAME_FIELDS",
    "PLACE_FIELDS",
    "PLACE_FIELD_TYPES",
    "PLACES_REVISION_SETTING",
    "Estimate",
    "Intake",
    "IntakeSubmission",
    "JOB_STATUSES",
    "Job",
    "FieldWarning",
    "Import",
    "Incident",
    "LinkageRun",
    "MatchDecision",
    "Person",
    "PersonRecord",
    "PersonWithholding",
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
    "PersonSearch",
    "PersonSearchKey",
    "PersonSearchTerm",
    "ApiToken",
    "AuditEvent",
    "LoginAttempt",
    "User",
    "WebSession",
]
