"""Sources, incidents, imports and their warnings, records, places and their names, settings.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 23:37:10.855680
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents')),
    sa.UniqueConstraint('name', name=op.f('uq_incidents_name'))
    )
    op.create_table('places',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=30), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('name_fa', sa.String(length=200), nullable=True),
    sa.Column('parent_id', sa.String(length=100), nullable=True),
    sa.Column('province_now', sa.String(length=100), nullable=True),
    sa.Column('province_1988', sa.String(length=100), nullable=True),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.Column('coord_source', sa.String(length=200), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('origin', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['places.id'], name=op.f('fk_places_parent_id_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_places'))
    )
    op.create_table('settings',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_settings'))
    )
    op.create_table('sources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('producer', sa.String(length=300), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('obtained_on', sa.Date(), nullable=True),
    sa.Column('reliability', sa.String(length=1), nullable=True),
    sa.Column('credibility', sa.SmallInteger(), nullable=True),
    sa.Column('restrictions', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("reliability IS NULL OR reliability IN ('A','B','C','D','E','F')", name=op.f('ck_sources_reliability')),
    sa.CheckConstraint('credibility IS NULL OR credibility BETWEEN 1 AND 6', name=op.f('ck_sources_credibility')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sources')),
    sa.UniqueConstraint('name', name=op.f('uq_sources_name'))
    )
    op.create_table('imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_size', sa.BigInteger(), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('encoding', sa.String(length=40), nullable=True),
    sa.Column('header', sa.JSON(), nullable=False),
    sa.Column('header_line', sa.Integer(), nullable=False),
    sa.Column('columns', sa.JSON(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('blank', sa.Integer(), nullable=False),
    sa.Column('warning_count', sa.Integer(), nullable=False),
    sa.Column('quarantine_path', sa.String(length=1000), nullable=True),
    sa.Column('imported_by', sa.String(length=200), nullable=False),
    sa.Column('software_version', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_imports_incident_id_incidents')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_imports_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imports')),
    sa.UniqueConstraint('source_id', 'file_sha256', name=op.f('uq_imports_source_id_file_sha256'))
    )
    op.create_table('place_names',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('place_id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('normalized', sa.String(length=300), nullable=False),
    sa.Column('origin', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_place_names_place_id_places'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_place_names')),
    sa.UniqueConstraint('place_id', 'normalized', name=op.f('uq_place_names_place_id_normalized'))
    )
    with op.batch_alter_table('place_names', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_place_names_normalized'), ['normalized'], unique=False)
        batch_op.create_index(batch_op.f('ix_place_names_place_id'), ['place_id'], unique=False)

    op.create_table('import_warnings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=100), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['imports.id'], name=op.f('fk_import_warnings_import_id_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_warnings'))
    )
    with op.batch_alter_table('import_warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_warnings_import_id'), ['import_id'], unique=False)

    op.create_table('records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('superseded_by', sa.Integer(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.Column('given_name', sa.Text(), nullable=True),
    sa.Column('given_name_norm', sa.Text(), nullable=True),
    sa.Column('given_name_key', sa.String(length=100), nullable=True),
    sa.Column('family_name', sa.Text(), nullable=True),
    sa.Column('family_name_norm', sa.Text(), nullable=True),
    sa.Column('family_name_key', sa.String(length=100), nullable=True),
    sa.Column('full_name', sa.Text(), nullable=True),
    sa.Column('full_name_norm', sa.Text(), nullable=True),
    sa.Column('full_name_key', sa.String(length=200), nullable=True),
    sa.Column('father_name', sa.Text(), nullable=True),
    sa.Column('father_name_norm', sa.Text(), nullable=True),
    sa.Column('father_name_key', sa.String(length=100), nullable=True),
    sa.Column('name_script', sa.String(length=10), nullable=True),
    sa.Column('titles', sa.String(length=200), nullable=True),
    sa.Column('aliases', sa.Text(), nullable=True),
    sa.Column('gender', sa.Text(), nullable=True),
    sa.Column('gender_norm', sa.String(length=10), nullable=True),
    sa.Column('birth_date', sa.Text(), nullable=True),
    sa.Column('birth_calendar', sa.String(length=10), nullable=True),
    sa.Column('birth_precision', sa.String(length=10), nullable=True),
    sa.Column('birth_earliest', sa.Date(), nullable=True),
    sa.Column('birth_latest', sa.Date(), nullable=True),
    sa.Column('death_date', sa.Text(), nullable=True),
    sa.Column('death_calendar', sa.String(length=10), nullable=True),
    sa.Column('death_precision', sa.String(length=10), nullable=True),
    sa.Column('death_earliest', sa.Date(), nullable=True),
    sa.Column('death_latest', sa.Date(), nullable=True),
    sa.Column('city', sa.Text(), nullable=True),
    sa.Column('city_place_id', sa.String(length=100), nullable=True),
    sa.Column('prison', sa.Text(), nullable=True),
    sa.Column('prison_place_id', sa.String(length=100), nullable=True),
    sa.Column('affiliation', sa.Text(), nullable=True),
    sa.Column('affiliation_norm', sa.Text(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['city_place_id'], ['places.id'], name=op.f('fk_records_city_place_id_places')),
    sa.ForeignKeyConstraint(['import_id'], ['imports.id'], name=op.f('fk_records_import_id_imports')),
    sa.ForeignKeyConstraint(['prison_place_id'], ['places.id'], name=op.f('fk_records_prison_place_id_places')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_records_source_id_sources')),
    sa.ForeignKeyConstraint(['superseded_by'], ['imports.id'], name=op.f('fk_records_superseded_by_imports')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records'))
    )
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_records_import_id'), ['import_id'], unique=False)
        batch_op.create_index('ix_records_source_record', ['source_id', 'record_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('records', schema=None) as batch_op:
        batch_op.drop_index('ix_records_source_record')
        batch_op.drop_index(batch_op.f('ix_records_import_id'))

    op.drop_table('records')
    with op.batch_alter_table('import_warnings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_warnings_import_id'))

    op.drop_table('import_warnings')
    with op.batch_alter_table('place_names', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_place_names_place_id'))
        batch_op.drop_index(batch_op.f('ix_place_names_normalized'))

    op.drop_table('place_names')
    op.drop_table('imports')
    op.drop_table('sources')
    op.drop_table('settings')
    op.drop_table('places')
    op.drop_table('incidents')
