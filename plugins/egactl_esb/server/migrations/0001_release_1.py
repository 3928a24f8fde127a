"""esb's first release: the GovESB emulator's clients, API codes, tokens and key.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('esb_clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('curve', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id')
    )
    op.create_index(op.f('ix_esb_clients_institution'), 'esb_clients', ['institution'], unique=False)
    op.create_table('esb_apis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('institution', sa.String(length=32), nullable=False),
    sa.Column('endpoint', sa.String(length=500), nullable=False),
    sa.Column('format', sa.String(length=4), nullable=False),
    sa.Column('consumers', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_esb_apis_institution'), 'esb_apis', ['institution'], unique=False)
    op.create_table('esb_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client'], ['esb_clients.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_esb_tokens_client'), 'esb_tokens', ['client'], unique=False)
    op.create_table('esb_keys',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('private_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('esb_keys')
    op.drop_index(op.f('ix_esb_tokens_client'), table_name='esb_tokens')
    op.drop_table('esb_tokens')
    op.drop_index(op.f('ix_esb_apis_institution'), table_name='esb_apis')
    op.drop_table('esb_apis')
    op.drop_index(op.f('ix_esb_clients_institution'), table_name='esb_clients')
    op.drop_table('esb_clients')
