"""Sources, the import batches that brought their rows in, and the records themselves.

A record is one row of a source about one person, kept exactly as given (``raw``) beside the
normalised fields. Records are never edited: a corrected list imported later adds a new version of
each record it repeats, and marks the older one ``superseded_by`` that import.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base, UTCDateTime, utcnow


class Source(Base):
    """Where information came from: a list, an archive, an interview series."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    producer: Mapped[str | None] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    obtained_on: Mapped[date | None] = mapped_column(sa.Date)
    # Admiralty grading: reliability of the source A-F, credibility of its information 1-6.
    reliability: Mapped[str | None] = mapped_column(sa.String(1))
    credibility: Mapped[int | None] = mapped_column(sa.SmallInteger)
    restrictions: Mapped[str | None] = mapped_column(sa.Text)
    # Whether its records may be published (memorial site, printed reports): ``public`` or ``restricted``.
    release: Mapped[str] = mapped_column(sa.String(12), default="restricted", server_default="restricted")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("release IN ('public','restricted')", name="release"),
        sa.CheckConstraint("reliability IS NULL OR reliability IN ('A','B','C','D','E','F')", name="reliability"),
        sa.CheckConstraint("credibility IS NULL OR credibility BETWEEN 1 AND 6", name="credibility"),
    )


class Incident(Base):
    """A named event with a period ("1988 prison executions")."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(300), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    start_date: Mapped[date | None] = mapped_column(sa.Date)
    end_date: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Import(Base):
    """One import batch: which file, how it was read, what came in and what was refused."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"))
    incident_id: Mapped[int | None] = mapped_column(sa.ForeignKey("incidents.id"))
    file_name: Mapped[str] = mapped_column(sa.String(500))
    file_sha256: Mapped[str] = mapped_column(sa.String(64))
    file_size: Mapped[int] = mapped_column(sa.BigInteger)
    format: Mapped[str] = mapped_column(sa.String(10))
    encoding: Mapped[str | None] = mapped_column(sa.String(40))
    header: Mapped[list] = mapped_column(sa.JSON)  # the file's column names, in order; records' raw cells follow it
    header_line: Mapped[int] = mapped_column(sa.Integer, default=1)  # rows above it (titles, notes) are not data
    columns: Mapped[dict] = mapped_column(sa.JSON)  # header -> canonical field, as resolved
    rows: Mapped[int] = mapped_column(sa.Integer, default=0)
    imported: Mapped[int] = mapped_column(sa.Integer, default=0)
    rejected: Mapped[int] = mapped_column(sa.Integer, default=0)
    blank: Mapped[int] = mapped_column(sa.Integer, default=0)
    warning_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    quarantine_path: Mapped[str | None] = mapped_column(sa.String(1000))
    imported_by: Mapped[str] = mapped_column(sa.String(200))
    software_version: Mapped[str] = mapped_column(sa.String(40))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.UniqueConstraint("source_id", "file_sha256"),)


class FieldWarning(Base):
    """A problem with one field of one row that did not cost the record (kept, value left empty)."""

    __tablename__ = "import_warnings"

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("imports.id", ondelete="CASCADE"), index=True)
    line: Mapped[int] = mapped_column(sa.Integer)
    field: Mapped[str] = mapped_column(sa.String(100))
    message: Mapped[str] = mapped_column(sa.Text)
    value: Mapped[str | None] = mapped_column(sa.Text)


NAME_FIELDS = ("given_name", "family_name", "full_name", "father_name")
DATE_FIELDS = ("birth_date", "death_date")
PLACE_FIELDS = ("city", "prison")
# The kinds of place a record's field may name, tried in order (a city cell may name a province).
PLACE_FIELD_TYPES = {"city": ("city", "province"), "prison": ("prison",)}
CANONICAL_FIELDS = (
    "record_id",
    "given_name",
    "family_name",
    "full_name",
    "father_name",
    "gender",
    "birth_date",
    "death_date",
    "city",
    "prison",
    "affiliation",
    "notes",
)


class Record(Base):
    """One row of a source about one person: as given, plus what normalisation made of it."""

    __tablename__ = "records"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"))
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("imports.id"))  # indexed by ix_records_import_places
    line: Mapped[int] = mapped_column(sa.Integer)
    record_id: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(sa.Integer, default=1)
    superseded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("imports.id"))
    raw: Mapped[list] = mapped_column(sa.JSON)  # the row's cells exactly as given, in the import's header order

    # Names: original text, normalised form, cross-script comparison key.
    given_name: Mapped[str | None] = mapped_column(sa.Text)
    given_name_norm: Mapped[str | None] = mapped_column(sa.Text)
    given_name_key: Mapped[str | None] = mapped_column(sa.String(100))
    family_name: Mapped[str | None] = mapped_column(sa.Text)
    family_name_norm: Mapped[str | None] = mapped_column(sa.Text)
    family_name_key: Mapped[str | None] = mapped_column(sa.String(100))
    full_name: Mapped[str | None] = mapped_column(sa.Text)
    full_name_norm: Mapped[str | None] = mapped_column(sa.Text)
    full_name_key: Mapped[str | None] = mapped_column(sa.String(200))
    father_name: Mapped[str | None] = mapped_column(sa.Text)
    father_name_norm: Mapped[str | None] = mapped_column(sa.Text)
    father_name_key: Mapped[str | None] = mapped_column(sa.String(100))
    name_script: Mapped[str | None] = mapped_column(sa.String(10))
    titles: Mapped[str | None] = mapped_column(sa.String(200))
    aliases: Mapped[str | None] = mapped_column(sa.Text)

    gender: Mapped[str | None] = mapped_column(sa.Text)
    gender_norm: Mapped[str | None] = mapped_column(sa.String(10))

    birth_date: Mapped[str | None] = mapped_column(sa.Text)
    birth_calendar: Mapped[str | None] = mapped_column(sa.String(10))
    birth_precision: Mapped[str | None] = mapped_column(sa.String(20))
    birth_earliest: Mapped[date | None] = mapped_column(sa.Date)
    birth_latest: Mapped[date | None] = mapped_column(sa.Date)

    death_date: Mapped[str | None] = mapped_column(sa.Text)
    death_calendar: Mapped[str | None] = mapped_column(sa.String(10))
    death_precision: Mapped[str | None] = mapped_column(sa.String(20))
    death_earliest: Mapped[date | None] = mapped_column(sa.Date)
    death_latest: Mapped[date | None] = mapped_column(sa.Date)

    city: Mapped[str | None] = mapped_column(sa.Text)
    city_place_id: Mapped[str | None] = mapped_column(sa.ForeignKey("places.id"))
    prison: Mapped[str | None] = mapped_column(sa.Text)
    prison_place_id: Mapped[str | None] = mapped_column(sa.ForeignKey("places.id"))
    affiliation: Mapped[str | None] = mapped_column(sa.Text)
    affiliation_norm: Mapped[str | None] = mapped_column(sa.Text)
    notes: Mapped[str | None] = mapped_column(sa.Text)

    __table_args__ = (
        sa.Index("ix_records_source_record", "source_id", "record_id"),
        # An import's records; and every count of current records by import, source, city, prison
        # or incident (the dashboard, Places, `report summary`) read from this index alone, in its
        # order, without reading a record or sorting (0022).
        sa.Index("ix_records_import_places", "import_id", "city_place_id", "prison_place_id", "superseded_by"),
        # Only the records a correction replaced: nearly every record is current, and a full index
        # made SQLite (no statistics) read every current record to find one person's (0020).
        sa.Index("ix_records_superseded_by", "superseded_by", sqlite_where=sa.text("superseded_by IS NOT NULL"),
                 postgresql_where=sa.text("superseded_by IS NOT NULL")),
        # The few records whose city or prison names no known place, by their text: what `places
        # unknown` lists and teaching a spelling resolves, found without reading every record.
        sa.Index("ix_records_unresolved_city", "city", sqlite_where=sa.text("city_place_id IS NULL AND city IS NOT NULL"),
                 postgresql_where=sa.text("city_place_id IS NULL AND city IS NOT NULL")),
        sa.Index("ix_records_unresolved_prison", "prison",
                 sqlite_where=sa.text("prison_place_id IS NULL AND prison IS NOT NULL"),
                 postgresql_where=sa.text("prison_place_id IS NULL AND prison IS NOT NULL")),
    )
