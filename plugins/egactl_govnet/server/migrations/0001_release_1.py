"""govnet's first release: address pools, VLANs, sites and onboardings.

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
    op.create_table('govnet_pools',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('cidr', sa.String(length=18), nullable=False),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('stop', sa.BigInteger(), nullable=False),
    sa.Column('default_prefix_length', sa.Integer(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('start')
    )
    op.create_index(op.f('ix_govnet_pools_region'), 'govnet_pools', ['region'], unique=False)
    op.create_table('govnet_free_blocks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['govnet_pools.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('start', name='uq_govnet_free_blocks_start')
    )
    op.create_index('ix_govnet_free_blocks_order', 'govnet_free_blocks', ['pool_id', 'start', 'length'], unique=False)
    op.create_table('govnet_free_vlans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('pop', sa.String(length=32), nullable=False),
    sa.Column('first', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['govnet_pools.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pop', 'first', name='uq_govnet_free_vlans_first')
    )
    op.create_index('ix_govnet_free_vlans_order', 'govnet_free_vlans', ['pool_id', 'pop', 'first', 'last'], unique=False)
    op.create_table('govnet_pool_vlans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('pop', sa.String(length=32), nullable=False),
    sa.Column('first', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['govnet_pools.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pool_id', 'pop', name='uq_govnet_pool_vlans_pop')
    )
    op.create_index(op.f('ix_govnet_pool_vlans_pop'), 'govnet_pool_vlans', ['pop'], unique=False)
    op.create_table('govnet_sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('district', sa.String(length=64), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('contact_name', sa.String(length=120), nullable=True),
    sa.Column('contact_phone', sa.String(length=20), nullable=True),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['institution'], ['core_institutions.code'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('institution', 'name', name='uq_govnet_sites_name')
    )
    op.create_index(op.f('ix_govnet_sites_institution'), 'govnet_sites', ['institution'], unique=False)
    op.create_table('govnet_onboardings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('open', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('pop', sa.String(length=32), nullable=False),
    sa.Column('prefix_length', sa.Integer(), nullable=False),
    sa.Column('bandwidth_bps', sa.BigInteger(), nullable=False),
    sa.Column('prefix', sa.String(length=18), nullable=True),
    sa.Column('vlan', sa.Integer(), nullable=True),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('circuit_id', sa.String(length=64), nullable=True),
    sa.Column('committed_bps', sa.BigInteger(), nullable=True),
    sa.Column('link_test', sa.JSON(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('requested_by', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provisioned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decommissioned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('hold_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['govnet_pools.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['govnet_sites.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider', 'circuit_id', 'open', name='uq_govnet_onboardings_circuit'),
    sa.UniqueConstraint('site_id', 'open', name='uq_govnet_onboardings_open')
    )
    op.create_index(op.f('ix_govnet_onboardings_site_id'), 'govnet_onboardings', ['site_id'], unique=False)
    op.create_index('ix_govnet_onboardings_state', 'govnet_onboardings', ['state', 'state_since'], unique=False)
    op.create_table('govnet_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pool_id', sa.Integer(), nullable=False),
    sa.Column('onboarding_id', sa.Integer(), nullable=False),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('length', sa.Integer(), nullable=False),
    sa.Column('pop', sa.String(length=32), nullable=False),
    sa.Column('vlan', sa.Integer(), nullable=False),
    sa.Column('hold_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['onboarding_id'], ['govnet_onboardings.id'], ),
    sa.ForeignKeyConstraint(['pool_id'], ['govnet_pools.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('onboarding_id'),
    sa.UniqueConstraint('pop', 'vlan', name='uq_govnet_allocations_vlan'),
    sa.UniqueConstraint('start', name='uq_govnet_allocations_start')
    )
    op.create_index('ix_govnet_allocations_pool', 'govnet_allocations', ['pool_id', 'hold_until'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_govnet_allocations_pool', table_name='govnet_allocations')
    op.drop_table('govnet_allocations')
    op.drop_index('ix_govnet_onboardings_state', table_name='govnet_onboardings')
    op.drop_index(op.f('ix_govnet_onboardings_site_id'), table_name='govnet_onboardings')
    op.drop_table('govnet_onboardings')
    op.drop_index(op.f('ix_govnet_sites_institution'), table_name='govnet_sites')
    op.drop_table('govnet_sites')
    op.drop_index(op.f('ix_govnet_pool_vlans_pop'), table_name='govnet_pool_vlans')
    op.drop_table('govnet_pool_vlans')
    op.drop_index('ix_govnet_free_vlans_order', table_name='govnet_free_vlans')
    op.drop_table('govnet_free_vlans')
    op.drop_index('ix_govnet_free_blocks_order', table_name='govnet_free_blocks')
    op.drop_table('govnet_free_blocks')
    op.drop_index(op.f('ix_govnet_pools_region'), table_name='govnet_pools')
    op.drop_table('govnet_pools')
