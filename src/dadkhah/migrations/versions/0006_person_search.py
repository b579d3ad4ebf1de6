"""The person search index: one row per active person, the terms that find each, and term counts.

The tables are derived data: :func:`dadkhah.registry.search.build_search_index` fills them at the end of
each linkage run, and on the first search when they are empty or stale, so this migration only
creates them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 02:25:23.002653
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('person_search_keys',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('person_pk', sa.Integer(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('key', 'person_pk', name=op.f('pk_person_search_keys')),
    sqlite_with_rowid=False
    )
    op.create_table('person_search_terms',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('persons', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_person_search_terms')),
    sqlite_with_rowid=False
    )
    op.create_table('person_search',
    sa.Column('person_pk', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('person_id', sa.String(length=20), nullable=False),
    sa.Column('name_fa', sa.Text(), nullable=True),
    sa.Column('name_latin', sa.Text(), nullable=True),
    sa.Column('city_place_id', sa.String(length=100), nullable=True),
    sa.Column('death_earliest', sa.Date(), nullable=True),
    sa.Column('death_latest', sa.Date(), nullable=True),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('sources', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_person_search_person_pk_persons')),
    sa.PrimaryKeyConstraint('person_pk', name=op.f('pk_person_search'))
    )


def downgrade() -> None:
    op.drop_table('person_search')
    op.drop_table('person_search_terms')
    op.drop_table('person_search_keys')
