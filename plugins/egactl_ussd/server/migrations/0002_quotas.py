"""Per-institution quotas on codes held (ussd_quotas): where e-GA granted other than the default.

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
    op.create_table('ussd_quotas',
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('set_by', sa.String(length=200), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('quota BETWEEN 0 AND 99', name='ck_ussd_quotas_range'),
    sa.PrimaryKeyConstraint('institution')
    )


def downgrade() -> None:
    op.drop_table("ussd_quotas")
