"""sms's first release: senders, groups, opt-outs, batches, messages and the outbox.

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
    op.create_table('sms_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('sender', sa.String(length=11), nullable=False),
    sa.Column('recipient', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('encoding', sa.String(length=5), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id', name='uq_sms_outbox_message')
    )
    op.create_index(op.f('ix_sms_outbox_institution'), 'sms_outbox', ['institution'], unique=False)
    op.create_table('sms_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('sender', sa.String(length=11), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('group_name', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=255), nullable=True),
    sa.Column('client_ref', sa.String(length=100), nullable=True),
    sa.Column('normalize', sa.Boolean(), nullable=False),
    sa.Column('allow_quiet_hours', sa.Boolean(), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deliver_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('price_per_segment', sa.Float(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('messages', sa.Integer(), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('opted_out', sa.Integer(), nullable=False),
    sa.Column('invalid', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('institution', 'client_ref', name='uq_sms_batches_client_ref')
    )
    op.create_index(op.f('ix_sms_batches_institution'), 'sms_batches', ['institution'], unique=False)
    op.create_table('sms_groups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('institution', 'name', name='uq_sms_groups_institution_name')
    )
    op.create_table('sms_optouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('institution', 'phone', name='uq_sms_optouts_institution_phone')
    )
    op.create_index(op.f('ix_sms_optouts_phone'), 'sms_optouts', ['phone'], unique=False)
    op.create_table('sms_senders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=11), nullable=False),
    sa.Column('name_key', sa.String(length=11), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name_key')
    )
    op.create_index(op.f('ix_sms_senders_institution'), 'sms_senders', ['institution'], unique=False)
    op.create_table('sms_group_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['sms_groups.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id', 'phone', name='uq_sms_group_members_group_phone')
    )
    op.create_table('sms_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('recipient', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('encoding', sa.String(length=5), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('quiet_ok', sa.Boolean(), nullable=False),
    sa.Column('deliver_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('gateway_ref', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['sms_batches.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('batch_id', 'recipient', name='uq_sms_messages_batch_recipient')
    )
    op.create_index('ix_sms_messages_batch_state', 'sms_messages', ['batch_id', 'state'], unique=False)
    op.create_index('ix_sms_messages_due', 'sms_messages', ['state', 'deliver_after', 'id'], unique=False)
    op.create_index('ix_sms_messages_recipient', 'sms_messages', ['recipient'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_sms_messages_recipient', table_name='sms_messages')
    op.drop_index('ix_sms_messages_due', table_name='sms_messages')
    op.drop_index('ix_sms_messages_batch_state', table_name='sms_messages')
    op.drop_table('sms_messages')
    op.drop_table('sms_group_members')
    op.drop_index(op.f('ix_sms_senders_institution'), table_name='sms_senders')
    op.drop_table('sms_senders')
    op.drop_index(op.f('ix_sms_optouts_phone'), table_name='sms_optouts')
    op.drop_table('sms_optouts')
    op.drop_table('sms_groups')
    op.drop_index(op.f('ix_sms_batches_institution'), table_name='sms_batches')
    op.drop_table('sms_batches')
    op.drop_index(op.f('ix_sms_outbox_institution'), table_name='sms_outbox')
    op.drop_table('sms_outbox')
