"""The publication policy: each source's release level (existing sources stay restricted), and
persons withheld from publication with the reason and their release.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('person_withholdings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('withheld_by', sa.String(length=200), nullable=False),
    sa.Column('withheld_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('released_by', sa.String(length=200), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('release_reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_withholdings'))
    )
    op.create_index(op.f('ix_person_withholdings_person_id'), 'person_withholdings', ['person_id'], unique=False)
    with op.batch_alter_table('sources') as batch:
        batch.add_column(sa.Column('release', sa.String(length=12), server_default='restricted', nullable=False))
        batch.create_check_constraint('release', "release IN ('public','restricted')")


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.drop_constraint('release', type_='check')
        batch.drop_column('release')
    op.drop_index(op.f('ix_person_withholdings_person_id'), table_name='person_withholdings')
    op.drop_table('person_withholdings')
