"""The audit log records the channel of each action (cli or web) and, when the keys were at hand,
an Ed25519 signature of the event.

Events written before this revision have neither; their hashes did not cover a channel, and
still verify as they were written (the channel is hashed only when it is set).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 03:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('signature', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_events') as batch:
        batch.drop_column('signature')
        batch.drop_column('channel')
