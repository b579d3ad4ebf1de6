"""A witness's contact is never replaced: a testimony whose witness's name matches a witness recorded
before keeps the contact it was given beside the earlier one (sealed under that witness's data key),
instead of writing it over the only contact there was.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 05:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("testimonies") as batch:
        batch.add_column(sa.Column("witness_contact_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("testimonies") as batch:
        batch.drop_column("witness_contact_sealed")
