"""egactl find reads a system by the host of its primary or DR endpoint: each endpoint's host
is kept in a column of its own with an index (the models write it with every endpoint);
existing systems get theirs from their stored endpoints.

Revision ID: 0003
Revises: 0002
"""

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _host(endpoint):
    """As the models' endpoint_host reads a stored (canonical) endpoint, frozen here with this revision."""
    if not endpoint:
        return None
    return (urlsplit(endpoint if "://" in endpoint else f"tcp://{endpoint}").hostname or "").lower() or None


def upgrade() -> None:
    op.add_column("dr_systems", sa.Column("primary_host", sa.String(length=253), nullable=True))
    op.add_column("dr_systems", sa.Column("dr_host", sa.String(length=253), nullable=True))
    systems = sa.table("dr_systems", sa.column("id", sa.Integer), sa.column("primary_endpoint", sa.String),
                       sa.column("dr_endpoint", sa.String), sa.column("primary_host", sa.String),
                       sa.column("dr_host", sa.String))
    bind = op.get_bind()
    rows = bind.execute(sa.select(systems.c.id, systems.c.primary_endpoint, systems.c.dr_endpoint)).all()
    for row in rows:
        bind.execute(systems.update().where(systems.c.id == row.id)
                     .values(primary_host=_host(row.primary_endpoint), dr_host=_host(row.dr_endpoint)))
    op.create_index("ix_dr_systems_primary_host", "dr_systems", ["primary_host", "institution", "id"], unique=False)
    op.create_index("ix_dr_systems_dr_host", "dr_systems", ["dr_host", "institution", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_dr_systems_dr_host", table_name="dr_systems")
    op.drop_index("ix_dr_systems_primary_host", table_name="dr_systems")
    with op.batch_alter_table("dr_systems") as batch:
        batch.drop_column("dr_host")
        batch.drop_column("primary_host")
