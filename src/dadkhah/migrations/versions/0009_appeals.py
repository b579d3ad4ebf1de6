"""Appeals: open letters with versioned texts, their signatures (identities sealed), deliveries,
the confirmation mail queue and the signing requests kept for throttling.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('appeal_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address_index', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_requests'))
    )
    op.create_index('ix_appeal_requests_address', 'appeal_requests', ['address_index', 'at'], unique=False)
    op.create_index(op.f('ix_appeal_requests_at'), 'appeal_requests', ['at'], unique=False)
    op.create_table('appeals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appeal_id', sa.String(length=20), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('addressee', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('signatory_order', sa.String(length=24), nullable=False),
    sa.Column('keep_days', sa.Integer(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals')),
    sa.UniqueConstraint('appeal_id', name=op.f('uq_appeals_appeal_id')),
    sa.UniqueConstraint('slug', name=op.f('uq_appeals_slug'))
    )
    op.create_table('appeal_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appeal_pk', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('delivered_to', sa.Text(), nullable=False),
    sa.Column('delivered_on', sa.String(length=10), nullable=False),
    sa.Column('verified_count', sa.Integer(), nullable=False),
    sa.Column('evidence_id', sa.String(length=20), nullable=True),
    sa.Column('recorded_by', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appeal_pk'], ['appeals.id'], name=op.f('fk_appeal_deliveries_appeal_pk_appeals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_deliveries'))
    )
    op.create_table('appeal_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appeal_pk', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('title_fa', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_fa', sa.Text(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['appeal_pk'], ['appeals.id'], name=op.f('fk_appeal_versions_appeal_pk_appeals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_versions')),
    sa.UniqueConstraint('appeal_pk', 'version', name=op.f('uq_appeal_versions_appeal_pk_version'))
    )
    op.create_table('signatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('appeal_pk', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('flag', sa.String(length=20), nullable=True),
    sa.Column('flag_detail', sa.Text(), nullable=True),
    sa.Column('wants_public', sa.Boolean(), nullable=False),
    sa.Column('public_name', sa.String(length=300), nullable=True),
    sa.Column('public_role', sa.String(length=300), nullable=True),
    sa.Column('public_affiliation', sa.String(length=300), nullable=True),
    sa.Column('country', sa.String(length=100), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('email_index', sa.String(length=64), nullable=True),
    sa.Column('domain_index', sa.String(length=64), nullable=True),
    sa.Column('name_index', sa.String(length=64), nullable=True),
    sa.Column('address_index', sa.String(length=64), nullable=True),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('identity_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('confirm_token_hash', sa.String(length=64), nullable=True),
    sa.Column('withdraw_token_hash', sa.String(length=64), nullable=True),
    sa.Column('mails_sent', sa.Integer(), nullable=False),
    sa.Column('last_mail_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_by', sa.String(length=200), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['appeal_pk'], ['appeals.id'], name=op.f('fk_signatures_appeal_pk_appeals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signatures')),
    sa.UniqueConstraint('appeal_pk', 'email_index', name=op.f('uq_signatures_appeal_pk_email_index')),
    sa.UniqueConstraint('confirm_token_hash', name=op.f('uq_signatures_confirm_token_hash')),
    sa.UniqueConstraint('withdraw_token_hash', name=op.f('uq_signatures_withdraw_token_hash'))
    )
    op.create_index('ix_signatures_address', 'signatures', ['address_index', 'created_at'], unique=False)
    op.create_index('ix_signatures_counts', 'signatures', ['appeal_pk', 'status', 'kind', 'country'], unique=False)
    op.create_index('ix_signatures_name_index', 'signatures', ['appeal_pk', 'name_index'], unique=False)
    op.create_index('ix_signatures_public', 'signatures', ['appeal_pk', 'status', 'kind', 'public_name'], unique=False)
    op.create_index('ix_signatures_alphabetical', 'signatures', ['appeal_pk', 'status', 'public_name'], unique=False)
    op.create_table('appeal_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('signature_pk', sa.Integer(), nullable=False),
    sa.Column('base_url', sa.String(length=300), nullable=False),
    sa.Column('tokens_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['signature_pk'], ['signatures.id'], name=op.f('fk_appeal_mail_signature_pk_signatures')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeal_mail'))
    )
    op.create_index(op.f('ix_appeal_mail_next_try_at'), 'appeal_mail', ['next_try_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_appeal_mail_next_try_at'), table_name='appeal_mail')
    op.drop_table('appeal_mail')
    op.drop_index('ix_signatures_public', table_name='signatures')
    op.drop_index('ix_signatures_alphabetical', table_name='signatures')
    op.drop_index('ix_signatures_name_index', table_name='signatures')
    op.drop_index('ix_signatures_counts', table_name='signatures')
    op.drop_index('ix_signatures_address', table_name='signatures')
    op.drop_table('signatures')
    op.drop_table('appeal_versions')
    op.drop_table('appeal_deliveries')
    op.drop_table('appeals')
    op.drop_index(op.f('ix_appeal_requests_at'), table_name='appeal_requests')
    op.drop_index('ix_appeal_requests_address', table_name='appeal_requests')
    op.drop_table('appeal_requests')
