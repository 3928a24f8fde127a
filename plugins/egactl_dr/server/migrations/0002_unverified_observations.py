"""Help-desk checks are unverified observations: observed_* on systems, verified on check runs
(the help desk's earlier runs become unverified).

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
    op.add_column("dr_systems", sa.Column("observed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("dr_systems", sa.Column("observed_status", sa.String(length=16), nullable=True))
    op.add_column("dr_systems", sa.Column("observed_by", sa.String(length=200), nullable=True))
    # Existing runs need a value: verified unless the help desk ran them. The
    # default only fills them: the models (and a fresh database) have none.
    op.add_column("dr_check_runs", sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.execute("UPDATE dr_check_runs SET verified = FALSE WHERE role = 'helpdesk'")
    if op.get_bind().dialect.name != "sqlite":
        # SQLite can drop a default only by rebuilding the table, which its
        # foreign keys forbid inside this transaction; the default stays there.
        op.alter_column("dr_check_runs", "verified", server_default=None, existing_type=sa.Boolean(),
                        existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("dr_check_runs") as batch:
        batch.drop_column("verified")
    with op.batch_alter_table("dr_systems") as batch:
        batch.drop_column("observed_by")
        batch.drop_column("observed_status")
        batch.drop_column("observed_at")
