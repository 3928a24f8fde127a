"""egactl find and privacy read a number's group memberships and outbox entries by the
number; retention reads what it has left to pseudonymise, oldest first, from partial
indexes that hold only the rows still keeping a number (or a text), so a run reads
only what it changes however much has expired before.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UNEXPIRED = "recipient < '~'"
KEPT_TEXT = "text <> ''"

PLAIN = {
    "ix_sms_group_members_phone": ("sms_group_members", ["phone"]),
    "ix_sms_outbox_recipient": ("sms_outbox", ["recipient"]),
}
PARTIAL = {
    "ix_sms_messages_unexpired_deliver_after_id": ("sms_messages", ["deliver_after", "id"], UNEXPIRED),
    "ix_sms_outbox_unexpired_sent_id": ("sms_outbox", ["sent_at", "id"], UNEXPIRED),
    "ix_sms_batches_kept_text_created_id": ("sms_batches", ["created_at", "id"], KEPT_TEXT),
}


def upgrade() -> None:
    for name, (table, columns) in PLAIN.items():
        op.create_index(name, table, columns, unique=False)
    for name, (table, columns, where) in PARTIAL.items():
        op.create_index(name, table, columns, unique=False, sqlite_where=sa.text(where),
                        postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, (table, _columns, _where) in PARTIAL.items():
        op.drop_index(name, table_name=table)
    for name, (table, _columns) in PLAIN.items():
        op.drop_index(name, table_name=table)
