"""egactl find reads a site by its contact's number and a request by its circuit id from an
index each (a site's prefix is found by the allocations' first-address index it already has).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEW = {
    "ix_govnet_sites_contact_phone": ("govnet_sites", ["contact_phone", "institution", "id"]),
    "ix_govnet_onboardings_circuit": ("govnet_onboardings", ["circuit_id", "id"]),
}


def upgrade() -> None:
    for name, (table, columns) in NEW.items():
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, (table, _) in NEW.items():
        op.drop_index(name, table_name=table)
