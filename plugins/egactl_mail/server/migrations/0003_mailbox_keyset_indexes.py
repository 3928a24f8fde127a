"""Mailboxes are listed in id order: an institution's page is read from one index range
that holds the institution *and* that order, whatever the state filter (`status <>
'purged'` used to defeat the (institution, status) index, so a late institution's page
walked the whole table).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NEW = {
    "ix_mail_mailboxes_institution_id": ["institution", "id"],
    "ix_mail_mailboxes_institution_status_id": ["institution", "status", "id"],
}
OLD = {"ix_mail_mailboxes_institution_status": ["institution", "status"]}  # a prefix of a new one


def upgrade() -> None:
    for name, columns in NEW.items():
        op.create_index(name, "mail_mailboxes", columns, unique=False)
    for name in OLD:
        op.drop_index(name, table_name="mail_mailboxes")


def downgrade() -> None:
    for name, columns in OLD.items():
        op.create_index(name, "mail_mailboxes", columns, unique=False)
    for name in NEW:
        op.drop_index(name, table_name="mail_mailboxes")
