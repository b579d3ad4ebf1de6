"""Indexes that reading one person, or the names beside a list of victims, needs at scale (measured at
215,172 records).

- A person's registry events are found by either of the event's two person ids: the second one is
  indexed too. A person's page, `persons show` and each person a case file describes read a few
  rows instead of every event (94,939).
- ``persons.merged_into`` is indexed: the ids merged into a person (a person's page with the vault,
  the claims naming a person) were found by reading every person (3.3 ms each at 94,934 persons; a
  case file about an official with 5,165 victims spent 17 s of its 45 there).
- ``person_search.person_id`` is indexed: the names shown beside a list of victims (an official's, an
  act's, a person's acts) were looked up by reading the whole search table (94,939 rows) each time.
- The index on ``records.superseded_by`` (0015) keeps only the records a correction replaced. Nearly
  every record is current, so the full index said nothing useful, and SQLite, which keeps no
  statistics, took it to be selective: reading one person's current records, it read every current
  record (a case file about 5,163 persons took minutes). The search's question, the latest import
  that replaced a record, still reads it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_registry_events_other_person_id", "registry_events", ["other_person_id"])
    op.create_index("ix_persons_merged_into", "persons", ["merged_into"])
    op.create_index("ix_person_search_person_id", "person_search", ["person_id"])
    op.drop_index("ix_records_superseded_by", table_name="records")
    replaced = sa.text("superseded_by IS NOT NULL")
    op.create_index("ix_records_superseded_by", "records", ["superseded_by"], sqlite_where=replaced,
                    postgresql_where=replaced)


def downgrade() -> None:
    op.drop_index("ix_records_superseded_by", table_name="records")
    op.create_index("ix_records_superseded_by", "records", ["superseded_by"])
    op.drop_index("ix_person_search_person_id", table_name="person_search")
    op.drop_index("ix_persons_merged_into", table_name="persons")
    op.drop_index("ix_registry_events_other_person_id", table_name="registry_events")
