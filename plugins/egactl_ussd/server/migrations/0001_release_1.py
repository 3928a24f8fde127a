"""ussd's first release: the code registry and its provisioning per network.

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
    op.create_table('ussd_codes',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=True),
    sa.Column('application_reference', sa.String(length=64), nullable=True),
    sa.Column('service_name', sa.String(length=80), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('callback_url', sa.String(length=500), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('reserved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('quarantine_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("state <> 'released' OR quarantine_until IS NOT NULL", name='ck_ussd_codes_quarantine'),
    sa.CheckConstraint("state = 'available' OR institution IS NOT NULL", name='ck_ussd_codes_holder'),
    sa.CheckConstraint("state IN ('available', 'reserved', 'assigned', 'suspended', 'released')", name='ck_ussd_codes_state'),
    sa.CheckConstraint('id BETWEEN 0 AND 99', name='ck_ussd_codes_range'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_ussd_codes_institution'), 'ussd_codes', ['institution'], unique=False)
    op.create_index(op.f('ix_ussd_codes_quarantine_until'), 'ussd_codes', ['quarantine_until'], unique=False)
    op.create_index(op.f('ix_ussd_codes_state'), 'ussd_codes', ['state'], unique=False)
    # The whole range exists from the moment the table does (*152*00# to *152*99#),
    # *152*00# reserved for e-GA's gateway.
    codes = sa.table("ussd_codes", sa.column("id", sa.Integer), sa.column("state", sa.String),
                     sa.column("institution", sa.String), sa.column("application_reference", sa.String),
                     sa.column("service_name", sa.String), sa.column("purpose", sa.Text),
                     sa.column("version", sa.Integer))
    rows = [{"id": n, "state": "available", "institution": None, "application_reference": None,
             "service_name": None, "purpose": None, "version": 1} for n in range(100)]
    rows[0] = {"id": 0, "state": "reserved", "institution": "EGA", "application_reference": "e-GA USSD gateway",
               "service_name": "e-GA USSD gateway",
               "purpose": "The government USSD gateway that routes *152*NN# to institutions", "version": 1}
    op.bulk_insert(codes, rows)
    op.create_table('ussd_provisioning',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_id', sa.Integer(), nullable=False),
    sa.Column('network', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'live', 'failed')", name='ck_ussd_provisioning_state'),
    sa.ForeignKeyConstraint(['code_id'], ['ussd_codes.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_id', 'network', name='uq_ussd_provisioning_code_network')
    )
    op.create_index(op.f('ix_ussd_provisioning_code_id'), 'ussd_provisioning', ['code_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_ussd_provisioning_code_id'), table_name='ussd_provisioning')
    op.drop_table('ussd_provisioning')
    op.drop_index(op.f('ix_ussd_codes_state'), table_name='ussd_codes')
    op.drop_index(op.f('ix_ussd_codes_quarantine_until'), table_name='ussd_codes')
    op.drop_index(op.f('ix_ussd_codes_institution'), table_name='ussd_codes')
    op.drop_table('ussd_codes')
