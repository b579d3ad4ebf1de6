"""Registry: linkage runs, persons with stable ids, their records, events, decisions, review pairs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:19:00.189142
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('linkage_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('engine', sa.String(length=20), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('review_low', sa.Float(), nullable=False),
    sa.Column('review_high', sa.Float(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('model', sa.JSON(), nullable=True),
    sa.Column('features_sha256', sa.String(length=64), nullable=True),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('persons', sa.Integer(), nullable=False),
    sa.Column('pairs_planned', sa.BigInteger(), nullable=False),
    sa.Column('pairs_scored', sa.BigInteger(), nullable=False),
    sa.Column('pairs_linked', sa.BigInteger(), nullable=False),
    sa.Column('pairs_for_review', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('run_by', sa.String(length=200), nullable=False),
    sa.Column('software_version', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linkage_runs'))
    )
    op.create_table('match_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_a', sa.Integer(), nullable=False),
    sa.Column('record_a', sa.String(length=200), nullable=False),
    sa.Column('source_b', sa.Integer(), nullable=False),
    sa.Column('record_b', sa.String(length=200), nullable=False),
    sa.Column('decision', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('replaced_by', sa.Integer(), nullable=True),
    sa.CheckConstraint("decision IN ('same', 'different')", name=op.f('ck_match_decisions_decision')),
    sa.ForeignKeyConstraint(['replaced_by'], ['match_decisions.id'], name=op.f('fk_match_decisions_replaced_by_match_decisions')),
    sa.ForeignKeyConstraint(['source_a'], ['sources.id'], name=op.f('fk_match_decisions_source_a_sources')),
    sa.ForeignKeyConstraint(['source_b'], ['sources.id'], name=op.f('fk_match_decisions_source_b_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_match_decisions'))
    )
    with op.batch_alter_table('match_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_match_decisions_pair', ['source_a', 'record_a', 'source_b', 'record_b'], unique=False)

    op.create_table('persons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('merged_into', sa.String(length=20), nullable=True),
    sa.Column('created_in_run', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_in_run', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_in_run'], ['linkage_runs.id'], name=op.f('fk_persons_created_in_run_linkage_runs')),
    sa.ForeignKeyConstraint(['updated_in_run'], ['linkage_runs.id'], name=op.f('fk_persons_updated_in_run_linkage_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons')),
    sa.UniqueConstraint('person_id', name=op.f('uq_persons_person_id'))
    )
    op.create_table('registry_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('person_id', sa.String(length=20), nullable=False),
    sa.Column('other_person_id', sa.String(length=20), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['linkage_runs.id'], name=op.f('fk_registry_events_run_id_linkage_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_events'))
    )
    with op.batch_alter_table('registry_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_events_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_events_run_id'), ['run_id'], unique=False)

    op.create_table('person_records',
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('record_id', sa.String(length=200), nullable=False),
    sa.Column('person_pk', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_pk'], ['persons.id'], name=op.f('fk_person_records_person_pk_persons')),
    sa.ForeignKeyConstraint(['run_id'], ['linkage_runs.id'], name=op.f('fk_person_records_run_id_linkage_runs')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_person_records_source_id_sources')),
    sa.PrimaryKeyConstraint('source_id', 'record_id', name=op.f('pk_person_records'))
    )
    with op.batch_alter_table('person_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_records_person_pk'), ['person_pk'], unique=False)

    op.create_table('review_pairs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('record_l', sa.Integer(), nullable=False),
    sa.Column('record_r', sa.Integer(), nullable=False),
    sa.Column('match_probability', sa.Float(), nullable=False),
    sa.Column('match_weight', sa.Float(), nullable=False),
    sa.Column('weights', sa.JSON(), nullable=False),
    sa.Column('linked', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['record_l'], ['records.id'], name=op.f('fk_review_pairs_record_l_records')),
    sa.ForeignKeyConstraint(['record_r'], ['records.id'], name=op.f('fk_review_pairs_record_r_records')),
    sa.ForeignKeyConstraint(['run_id'], ['linkage_runs.id'], name=op.f('fk_review_pairs_run_id_linkage_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_pairs'))
    )
    with op.batch_alter_table('review_pairs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_pairs_run_id'), ['run_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('review_pairs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_pairs_run_id'))

    op.drop_table('review_pairs')
    with op.batch_alter_table('person_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_records_person_pk'))

    op.drop_table('person_records')
    with op.batch_alter_table('registry_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_events_run_id'))
        batch_op.drop_index(batch_op.f('ix_registry_events_person_id'))

    op.drop_table('registry_events')
    op.drop_table('persons')
    with op.batch_alter_table('match_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_match_decisions_pair')

    op.drop_table('match_decisions')
    op.drop_table('linkage_runs')
