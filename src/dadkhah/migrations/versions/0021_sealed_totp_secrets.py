"""A user's second-factor (TOTP) secret is kept sealed (AES-256-GCM under the login key of the
workspace's key file, see dadkhah.users), which is longer than the base32 secret it was: the column
grows from 64 to 128 characters. Secrets kept in clear before are sealed by `dadkhah serve` when it
starts (this migration cannot reach the key file).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 19:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.alter_column("totp_secret", existing_type=sa.String(64), type_=sa.String(128), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.alter_column("totp_secret", existing_type=sa.String(128), type_=sa.String(64), existing_nullable=True)
