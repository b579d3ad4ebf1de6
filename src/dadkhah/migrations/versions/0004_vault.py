"""The vault: evidence items, witnesses, testimonies (sealed columns) and the chain of custody.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:50:47.682503
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('custody_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('item_kind', sa.String(length=20), nullable=False),
    sa.Column('item_id', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('occurred_at', sa.String(length=40), nullable=False),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('prev_sha256', sa.String(length=64), nullable=False),
    sa.Column('event_sha256', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_custody_events')),
    sa.UniqueConstraint('event_sha256', name=op.f('uq_custody_events_event_sha256')),
    sa.UniqueConstraint('prev_sha256', name=op.f('uq_custody_events_prev_sha256')),
    sa.UniqueConstraint('seq', name=op.f('uq_custody_events_seq'))
    )
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custody_events_item_id'), ['item_id'], unique=False)

    op.create_table('witnesses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pseudonym', sa.String(length=20), nullable=False),
    sa.Column('name_index', sa.String(length=64), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('name_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('contact_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_witnesses')),
    sa.UniqueConstraint('name_index', name=op.f('uq_witnesses_name_index')),
    sa.UniqueConstraint('pseudonym', name=op.f('uq_witnesses_pseudonym'))
    )
    op.create_table('evidence_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.String(length=20), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=200), nullable=False),
    sa.Column('blob_path', sa.String(length=200), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('original_name_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('metadata_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('captured_at', sa.String(length=40), nullable=True),
    sa.Column('captured_where', sa.String(length=500), nullable=True),
    sa.Column('captured_place_id', sa.String(length=100), nullable=True),
    sa.Column('acquired_how', sa.Text(), nullable=True),
    sa.Column('release', sa.JSON(), nullable=False),
    sa.Column('added_by', sa.String(length=200), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['captured_place_id'], ['places.id'], name=op.f('fk_evidence_items_captured_place_id_places')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_evidence_items_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evidence_items')),
    sa.UniqueConstraint('evidence_id', name=op.f('uq_evidence_items_evidence_id')),
    sa.UniqueConstraint('sha256', name=op.f('uq_evidence_items_sha256'))
    )
    op.create_table('testimonies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('testimony_id', sa.String(length=20), nullable=False),
    sa.Column('witness_pk', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=20), nullable=False),
    sa.Column('consent', sa.JSON(), nullable=False),
    sa.Column('place', sa.String(length=500), nullable=True),
    sa.Column('place_id', sa.String(length=100), nullable=True),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('transcript_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('transcript_sha256', sa.String(length=64), nullable=False),
    sa.Column('interviewer_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['place_id'], ['places.id'], name=op.f('fk_testimonies_place_id_places')),
    sa.ForeignKeyConstraint(['witness_pk'], ['witnesses.id'], name=op.f('fk_testimonies_witness_pk_witnesses')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_testimonies')),
    sa.UniqueConstraint('testimony_id', name=op.f('uq_testimonies_testimony_id'))
    )
    op.create_table('evidence_persons',
    sa.Column('evidence_pk', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['evidence_pk'], ['evidence_items.id'], name=op.f('fk_evidence_persons_evidence_pk_evidence_items')),
    sa.PrimaryKeyConstraint('evidence_pk', 'person_id', name=op.f('pk_evidence_persons'))
    )
    op.create_table('testimony_persons',
    sa.Column('testimony_pk', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['testimony_pk'], ['testimonies.id'], name=op.f('fk_testimony_persons_testimony_pk_testimonies')),
    sa.PrimaryKeyConstraint('testimony_pk', 'person_id', name=op.f('pk_testimony_persons'))
    )


def downgrade() -> None:
    op.drop_table('testimony_persons')
    op.drop_table('evidence_persons')
    op.drop_table('testimonies')
    op.drop_table('evidence_items')
    op.drop_table('witnesses')
    with op.batch_alter_table('custody_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custody_events_item_id'))

    op.drop_table('custody_events')
