"""Accountability: institutions, officials, acts and sites (entities), and the sourced claims about them,
with their citations, victims, reviews and the imports that brought them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 06:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('claim_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('path_name', sa.String(length=500), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('quarantine_path', sa.String(length=1000), nullable=True),
    sa.Column('imported_by', sa.String(length=200), nullable=False),
    sa.Column('software_version', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_claim_imports_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_imports')),
    sa.UniqueConstraint('source_id', 'content_sha256', name=op.f('uq_claim_imports_source_id_content_sha256'))
    )
    op.create_table('entities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('name_fa', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('place_id', sa.String(length=100), nullable=True),
    sa.Column('publication', sa.String(length=10), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('institution', 'official', 'act', 'site')", name=op.f('ck_entities_kind')),
    sa.CheckConstraint("publication IS NULL OR publication IN ('exact', 'city', 'hidden')",
                       name=op.f('ck_entities_publication')),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_entities_place_id_places')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entities')),
    sa.UniqueConstraint('entity_id', name=op.f('uq_entities_entity_id')),
    sa.UniqueConstraint('kind', 'external_id', name=op.f('uq_entities_kind_external_id'))
    )
    op.create_table('entity_names',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('entity_pk', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['entity_pk'], ['entities.id'], name=op.f('fk_entity_names_entity_pk_entities')),
    sa.PrimaryKeyConstraint('key', 'entity_pk', name=op.f('pk_entity_names'))
    )
    op.create_index(op.f('ix_entity_names_entity_pk'), 'entity_names', ['entity_pk'], unique=False)
    op.create_table('claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject_pk', sa.Integer(), nullable=False),
    sa.Column('object_pk', sa.Integer(), nullable=True),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('likelihood', sa.String(length=10), nullable=True),
    sa.Column('from_text', sa.Text(), nullable=True),
    sa.Column('from_earliest', sa.Date(), nullable=True),
    sa.Column('from_latest', sa.Date(), nullable=True),
    sa.Column('to_text', sa.Text(), nullable=True),
    sa.Column('to_earliest', sa.Date(), nullable=True),
    sa.Column('to_latest', sa.Date(), nullable=True),
    sa.Column('place_id', sa.String(length=100), nullable=True),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=True),
    sa.Column('claim_key', sa.String(length=64), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('superseded_by', sa.Integer(), nullable=True),
    sa.Column('review_status', sa.String(length=12), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('file', sa.String(length=100), nullable=True),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('added_by', sa.String(length=200), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("likelihood IS NULL OR likelihood IN ('maybe', 'likely', 'certain')",
                       name=op.f('ck_claims_likelihood')),
    sa.CheckConstraint("review_status IN ('accepted', 'conflict', 'work-needed')", name=op.f('ck_claims_review_status')),
    sa.ForeignKeyConstraint(['import_id'], ['claim_imports.id'], name=op.f('fk_claims_import_id_claim_imports')),
    sa.ForeignKeyConstraint(['object_pk'], ['entities.id'], name=op.f('fk_claims_object_pk_entities')),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_claims_place_id_places')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_claims_source_id_sources')),
    sa.ForeignKeyConstraint(['subject_pk'], ['entities.id'], name=op.f('fk_claims_subject_pk_entities')),
    sa.ForeignKeyConstraint(['superseded_by'], ['claims.id'], name=op.f('fk_claims_superseded_by_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claims'))
    )
    op.create_index('ix_claims_subject', 'claims', ['subject_pk', 'kind'], unique=False)
    op.create_index('ix_claims_object', 'claims', ['object_pk', 'kind'], unique=False)
    op.create_table('claim_citations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_pk', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('locator', sa.Text(), nullable=True),
    sa.Column('testimony_id', sa.String(length=20), nullable=True),
    sa.Column('evidence_id', sa.String(length=20), nullable=True),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('added_by', sa.String(length=200), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_pk'], ['claims.id'], name=op.f('fk_claim_citations_claim_pk_claims')),
    sa.ForeignKeyConstraint(['import_id'], ['claim_imports.id'], name=op.f('fk_claim_citations_import_id_claim_imports')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_claim_citations_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_citations'))
    )
    op.create_index(op.f('ix_claim_citations_claim_pk'), 'claim_citations', ['claim_pk'], unique=False)
    op.create_table('claim_victims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_pk', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('record_id', sa.String(length=200), nullable=True),
    sa.Column('person_id', sa.String(length=20), nullable=True),
    sa.ForeignKeyConstraint(['claim_pk'], ['claims.id'], name=op.f('fk_claim_victims_claim_pk_claims')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_claim_victims_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_victims'))
    )
    op.create_index(op.f('ix_claim_victims_claim_pk'), 'claim_victims', ['claim_pk'], unique=False)
    op.create_index(op.f('ix_claim_victims_person_id'), 'claim_victims', ['person_id'], unique=False)
    op.create_index('ix_claim_victims_record', 'claim_victims', ['source_id', 'record_id'], unique=False)
    op.create_table('claim_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_pk', sa.Integer(), nullable=False),
    sa.Column('review_status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_pk'], ['claims.id'], name=op.f('fk_claim_reviews_claim_pk_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_reviews'))
    )
    op.create_index(op.f('ix_claim_reviews_claim_pk'), 'claim_reviews', ['claim_pk'], unique=False)


def downgrade() -> None:
    op.drop_table('claim_reviews')
    op.drop_table('claim_victims')
    op.drop_table('claim_citations')
    op.drop_table('claims')
    op.drop_table('entity_names')
    op.drop_table('entities')
    op.drop_table('claim_imports')
