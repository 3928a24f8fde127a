"""mail's first release: domains, mailboxes, lists, addresses and the roster.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
egactl_schema_version = 1  # what the releases before Alembic recorded for this schema


def upgrade() -> None:
    op.create_table('mail_domains',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('domain', sa.String(length=253).with_variant(sa.String(length=253, collation='C'), 'postgresql'), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('naming_rule', sa.String(length=20), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain')
    )
    op.create_index(op.f('ix_mail_domains_institution'), 'mail_domains', ['institution'], unique=False)
    op.create_table('mail_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('address', sa.String(length=254).with_variant(sa.String(length=254, collation='C'), 'postgresql'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('address')
    )
    op.create_index(op.f('ix_mail_lists_institution'), 'mail_lists', ['institution'], unique=False)
    op.create_table('mail_mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('domain', sa.String(length=253).with_variant(sa.String(length=253, collation='C'), 'postgresql'), nullable=False),
    sa.Column('address', sa.String(length=254).with_variant(sa.String(length=254, collation='C'), 'postgresql'), nullable=False),
    sa.Column('employee_number', sa.String(length=20).with_variant(sa.String(length=20, collation='C'), 'postgresql'), nullable=True),
    sa.Column('given_name', sa.String(length=100), nullable=True),
    sa.Column('family_name', sa.String(length=100), nullable=True),
    sa.Column('preferred_name', sa.String(length=100), nullable=True),
    sa.Column('name_key', sa.String(length=300).with_variant(sa.String(length=300, collation='C'), 'postgresql'), nullable=True),
    sa.Column('name_key_rev', sa.String(length=300).with_variant(sa.String(length=300, collation='C'), 'postgresql'), nullable=True),
    sa.Column('title', sa.String(length=100), nullable=True),
    sa.Column('department', sa.String(length=100), nullable=True),
    sa.Column('quota_mb', sa.Integer(), nullable=False),
    sa.Column('used_mb', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('deleted_from', sa.String(length=12), nullable=True),
    sa.Column('suspended_by', sa.String(length=12), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retain_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('password_set_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('must_change_password', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('employee_number')
    )
    op.create_index(op.f('ix_mail_mailboxes_address'), 'mail_mailboxes', ['address'], unique=False)
    op.create_index('ix_mail_mailboxes_institution_status', 'mail_mailboxes', ['institution', 'status'], unique=False)
    op.create_index(op.f('ix_mail_mailboxes_name_key'), 'mail_mailboxes', ['name_key'], unique=False)
    op.create_index(op.f('ix_mail_mailboxes_name_key_rev'), 'mail_mailboxes', ['name_key_rev'], unique=False)
    op.create_index('ix_mail_mailboxes_retention', 'mail_mailboxes', ['status', 'retain_until'], unique=False)
    op.create_table('mail_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address', sa.String(length=254).with_variant(sa.String(length=254, collation='C'), 'postgresql'), nullable=False),
    sa.Column('local_part', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'), nullable=False),
    sa.Column('domain', sa.String(length=253).with_variant(sa.String(length=253, collation='C'), 'postgresql'), nullable=False),
    sa.Column('stem', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('list_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mail_lists.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mail_mailboxes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('address')
    )
    op.create_index('ix_mail_addresses_domain_stem', 'mail_addresses', ['domain', 'stem'], unique=False)
    op.create_index(op.f('ix_mail_addresses_mailbox_id'), 'mail_addresses', ['mailbox_id'], unique=False)
    op.create_table('mail_list_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('member', sa.String(length=254).with_variant(sa.String(length=254, collation='C'), 'postgresql'), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['mail_lists.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mail_mailboxes.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('list_id', 'member', name='uq_mail_list_members_list_member')
    )
    op.create_index(op.f('ix_mail_list_members_mailbox_id'), 'mail_list_members', ['mailbox_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_mail_list_members_mailbox_id'), table_name='mail_list_members')
    op.drop_table('mail_list_members')
    op.drop_index(op.f('ix_mail_addresses_mailbox_id'), table_name='mail_addresses')
    op.drop_index('ix_mail_addresses_domain_stem', table_name='mail_addresses')
    op.drop_table('mail_addresses')
    op.drop_index('ix_mail_mailboxes_retention', table_name='mail_mailboxes')
    op.drop_index(op.f('ix_mail_mailboxes_name_key_rev'), table_name='mail_mailboxes')
    op.drop_index(op.f('ix_mail_mailboxes_name_key'), table_name='mail_mailboxes')
    op.drop_index('ix_mail_mailboxes_institution_status', table_name='mail_mailboxes')
    op.drop_index(op.f('ix_mail_mailboxes_address'), table_name='mail_mailboxes')
    op.drop_table('mail_mailboxes')
    op.drop_index(op.f('ix_mail_lists_institution'), table_name='mail_lists')
    op.drop_table('mail_lists')
    op.drop_index(op.f('ix_mail_domains_institution'), table_name='mail_domains')
    op.drop_table('mail_domains')
