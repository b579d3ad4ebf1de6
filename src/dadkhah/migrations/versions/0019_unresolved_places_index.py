"""Records whose city or prison names no known place are indexed by their text (partial indexes):
`places unknown`, the Places page and teaching a spelling find them without reading every record
(0.25 s and 0.15 s of every Places page at 215,172 records before).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

_INDEXES = (("ix_records_unresolved_city", "city"), ("ix_records_unresolved_prison", "prison"))


def upgrade() -> None:
    for name, column in _INDEXES:
        where = sa.text(f"{column}_place_id IS NULL AND {column} IS NOT NULL")
        op.create_index(name, "records", [column], sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, _ in _INDEXES:
        op.drop_index(name, table_name="records")
