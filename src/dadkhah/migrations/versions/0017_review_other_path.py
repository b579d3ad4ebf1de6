"""Each pair in the review queue that its run joined says how likely the person's other links make
the two records one person: the chance that the best chain of them between the two is right. The
queue's chances before any decision, and its calibration, start from it where it is higher than the
pair's own score.

Pairs of earlier runs get none; the next run fills its own.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 19:50:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_pairs') as batch:
        batch.add_column(sa.Column('other_path', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_pairs') as batch:
        batch.drop_column('other_path')
