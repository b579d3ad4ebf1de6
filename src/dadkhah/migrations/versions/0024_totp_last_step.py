"""A second-factor (TOTP) code logs in once: each user keeps the time step of the last code accepted,
and a code of that step or an earlier one is refused (RFC 6238, section 5.2). Before, the same code
logged in again for as long as it was valid (up to 90 seconds, a step either side).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 05:10:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_last_step")
