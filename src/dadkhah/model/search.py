"""The person search index: one row per active person, and the terms that find each person.

It is derived data, made from the registry by :func:`dadkhah.registry.search.build_search_index` (on
first use when missing or stale, and at the end of a linkage run) or, for the persons a linkage run
changed, :func:`dadkhah.registry.search.update_search_index`; nothing else writes it.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dadkhah.model.base import Base

# The setting that says what the index was built for; without it the next search rebuilds the index
# (what a change to many persons' records at once, such as places resolved anew, does).
SEARCH_INDEX_SETTING = "person_search_built_for"


class PersonSearch(Base):
    """What a search hit shows about one active person, read from the person's current records.

    ``person_pk`` is the person's row id; persons are numbered in the order their row ids were
    given, so ordering by it orders by person id. Names are the spelling most of the person's
    records give, one per script; ``city_place_id`` the city most records name; the death dates
    span every record's interval; ``sources`` are the source names, separated by U+001F.
    """

    __tablename__ = "person_search"

    person_pk: Mapped[int] = mapped_column(sa.ForeignKey("persons.id"), primary_key=True, autoincrement=False)
    person_id: Mapped[str] = mapped_column(sa.String(20), index=True)
    name_fa: Mapped[str | None] = mapped_column(sa.Text)
    name_latin: Mapped[str | None] = mapped_column(sa.Text)
    city_place_id: Mapped[str | None] = mapped_column(sa.String(100))
    death_earliest: Mapped[date | None] = mapped_column(sa.Date)
    death_latest: Mapped[date | None] = mapped_column(sa.Date)
    records: Mapped[int] = mapped_column(sa.Integer)
    sources: Mapped[str | None] = mapped_column(sa.Text)


class PersonSearchKey(Base):
    """One term that finds a person: a cross-script name key word (``MHMD``, ``RZI``), a whole full
    name (``=MHMD RZI``), a city's place id (``city:rasht``) or a source (``source:3``). The primary
    key is the look-up index; ``field`` says where in the person's names the term stands at best
    (:data:`dadkhah.registry.search.MATCH_FIELDS`: 1 the whole given name ... 6 the father's name; 0
    for a whole name, a city or a source), and the index on (key, field) lets a one-word search walk
    its persons in order of relevance."""

    __tablename__ = "person_search_keys"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    person_pk: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    field: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")

    __table_args__ = (sa.Index("ix_person_search_keys_ranked", "key", "field", "person_pk"),
                      {"sqlite_with_rowid": False})


class PersonSearchTerm(Base):
    """How many persons each term finds: lets a search start from its rarest term."""

    __tablename__ = "person_search_terms"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    persons: Mapped[int] = mapped_column(sa.Integer)

    __table_args__ = ({"sqlite_with_rowid": False},)
