"""Intake from field tools: the runs of ``dadkhah intake`` and the submissions each took in (unique
by tool and submission id, so that the same export taken in again adds nothing).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-12 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intakes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tool', sa.String(length=10), nullable=False),
    sa.Column('form_id', sa.String(length=200), nullable=True),
    sa.Column('file_name', sa.String(length=500), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('mapping_sha256', sa.String(length=64), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('already_held', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('quarantine_path', sa.String(length=1000), nullable=True),
    sa.Column('taken_by', sa.String(length=200), nullable=False),
    sa.Column('software_version', sa.String(length=40), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['import_id'], ['imports.id'], name=op.f('fk_intakes_import_id_imports')),
    sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_intakes_source_id_sources')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intakes'))
    )
    op.create_table('intake_submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('intake_id', sa.Integer(), nullable=False),
    sa.Column('tool', sa.String(length=10), nullable=False),
    sa.Column('submission_id', sa.String(length=200), nullable=False),
    sa.Column('version_id', sa.String(length=200), nullable=True),
    sa.Column('submitted_at', sa.String(length=40), nullable=True),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('testimony_id', sa.String(length=20), nullable=True),
    sa.Column('evidence_ids', sa.JSON(), nullable=False),
    sa.Column('record_ids', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['intake_id'], ['intakes.id'], name=op.f('fk_intake_submissions_intake_id_intakes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_submissions')),
    sa.UniqueConstraint('tool', 'submission_id', name=op.f('uq_intake_submissions_tool_submission_id'))
    )
    op.create_index(op.f('ix_intake_submissions_intake_id'), 'intake_submissions', ['intake_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_intake_submissions_intake_id'), table_name='intake_submissions')
    op.drop_table('intake_submissions')
    op.drop_table('intakes')
