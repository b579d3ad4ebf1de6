"""An admin's password reset (users must choose a new password at their next login) and search by
relevance (each search term says where in a person's names it stands at best, indexed for walking
in that order).

The search index is derived data: the new column is filled by the next rebuild, which this migration
asks for by forgetting what the index was built for (the next search rebuilds it).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 15:30:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('person_search_keys') as batch:
        batch.add_column(sa.Column('field', sa.SmallInteger(), server_default='0', nullable=False))
    op.create_index('ix_person_search_keys_ranked', 'person_search_keys', ['key', 'field', 'person_pk'])
    op.execute("DELETE FROM settings WHERE key = 'person_search_built_for'")


def downgrade() -> None:
    op.drop_index('ix_person_search_keys_ranked', table_name='person_search_keys')
    with op.batch_alter_table('person_search_keys') as batch:
        batch.drop_column('field')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('must_change_password')
