"""Review pairs get an index on ``record_l``: calibrating the queue looks up, at every decision, how
each decided pair was scored in every run, which read every run's queue without it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 04:40:00.000000
"""

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_review_pairs_record_l'), 'review_pairs', ['record_l'])


def downgrade() -> None:
    op.drop_index(op.f('ix_review_pairs_record_l'), table_name='review_pairs')
