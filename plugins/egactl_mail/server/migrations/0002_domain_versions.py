"""Mail domains can be changed (naming rule, primary) and deleted: they carry a version (ETag, If-Match).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing domains start at version 1. The default only fills them: the models
    # (and a fresh database) have none.
    op.add_column("mail_domains", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    if op.get_bind().dialect.name != "sqlite":
        # SQLite can drop a default only by rebuilding the table, which its
        # foreign keys forbid inside this transaction; the default stays there.
        op.alter_column("mail_domains", "version", server_default=None, existing_type=sa.Integer(),
                        existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("mail_domains") as batch:
        batch.drop_column("version")
