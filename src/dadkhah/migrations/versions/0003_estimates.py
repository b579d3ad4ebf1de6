"""Estimates of the total: method, parameters, input digest, software, result, strata, sensitivity.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 01:02:08.244230
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('estimates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('input_name', sa.String(length=500), nullable=True),
    sa.Column('linkage_run_id', sa.Integer(), nullable=True),
    sa.Column('stratified_by', sa.String(length=20), nullable=True),
    sa.Column('method', sa.String(length=30), nullable=False),
    sa.Column('model', sa.Text(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('input_sha256', sa.String(length=64), nullable=False),
    sa.Column('observed', sa.Integer(), nullable=False),
    sa.Column('estimate', sa.Float(), nullable=False),
    sa.Column('interval_low', sa.Float(), nullable=False),
    sa.Column('interval_high', sa.Float(), nullable=False),
    sa.Column('level', sa.Float(), nullable=False),
    sa.Column('diagnostics', sa.JSON(), nullable=False),
    sa.Column('strata', sa.JSON(), nullable=True),
    sa.Column('sensitivity', sa.JSON(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('software', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['linkage_run_id'], ['linkage_runs.id'], name=op.f('fk_estimates_linkage_run_id_linkage_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estimates'))
    )


def downgrade() -> None:
    op.drop_table('estimates')
