"""Each pair in the review queue says whether its records are now one person and how many records a
decision on it would move, so the queue can be ordered by what a decision would change.

Pairs of earlier runs get neither (they were queued by closeness to even odds); the next run fills
its own. Records get an index on ``superseded_by``: the person search asks for the latest import
that replaced a record some person holds, at every search. A record's date precisions widen from 10
to 20 characters: "approximate" has 11, and PostgreSQL refused every list holding such a date.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 15:45:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('review_pairs') as batch:
        batch.add_column(sa.Column('together', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('records_affected', sa.Integer(), nullable=True))
    op.create_index(op.f('ix_records_superseded_by'), 'records', ['superseded_by'])
    with op.batch_alter_table('records') as batch:
        batch.alter_column('birth_precision', type_=sa.String(20), existing_type=sa.String(10))
        batch.alter_column('death_precision', type_=sa.String(20), existing_type=sa.String(10))


def downgrade() -> None:
    with op.batch_alter_table('records') as batch:
        batch.alter_column('birth_precision', type_=sa.String(10), existing_type=sa.String(20))
        batch.alter_column('death_precision', type_=sa.String(10), existing_type=sa.String(20))
    op.drop_index(op.f('ix_records_superseded_by'), table_name='records')
    with op.batch_alter_table('review_pairs') as batch:
        batch.drop_column('records_affected')
        batch.drop_column('together')
