"""Batches can be cancelled (who and when), and sends are guarded against running twice (sms_send_guards).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
egactl_schema_version = 2  # what the releases before Alembic recorded for this schema


def upgrade() -> None:
    op.add_column("sms_batches", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sms_batches", sa.Column("cancelled_by", sa.String(length=200), nullable=True))
    op.create_table('sms_send_guards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('identity', sa.String(length=64), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['sms_batches.id'], ),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('institution', 'identity', name='uq_sms_send_guards')
    )


def downgrade() -> None:
    op.drop_table("sms_send_guards")
    with op.batch_alter_table("sms_batches") as batch:
        batch.drop_column("cancelled_by")
        batch.drop_column("cancelled_at")
