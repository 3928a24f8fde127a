"""The audit log's indexes match each filter *and* the order a page is read in (time, then
id): `audit list --actor X`, `--action purge`, `-i CODE`, a resource's history and a
`--since` window each read a page from one index range, flat in the log's size, instead
of walking the whole log filtering rows or sorting them.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# name -> columns: a filter's columns followed by the page order (at, id)
NEW = {
    "ix_core_audit_at_id": ["at", "id"],
    "ix_core_audit_actor_at_id": ["actor", "at", "id"],
    "ix_core_audit_action_at_id": ["action", "at", "id"],
    "ix_core_audit_institution_at_id": ["institution", "at", "id"],
    "ix_core_audit_resource_at_id": ["resource_type", "resource_id", "at", "id"],
}
OLD = {
    "ix_core_audit_at": ["at"],
    "ix_core_audit_institution": ["institution"],
    "ix_core_audit_resource": ["resource_type", "resource_id"],
}


def upgrade() -> None:
    for name, columns in NEW.items():
        op.create_index(name, "core_audit", columns, unique=False)
    for name in OLD:  # each is a prefix of a new one: nothing is left unindexed
        op.drop_index(name, table_name="core_audit")


def downgrade() -> None:
    for name, columns in OLD.items():
        op.create_index(name, "core_audit", columns, unique=False)
    for name in NEW:
        op.drop_index(name, table_name="core_audit")
