"""Messages are listed newest first by when they were queued (created_at, then id): each
filter of `sms list` gets an index holding the filter *and* that order, so a page is one
index range at any number of messages (an institution's few among millions, a state in a
million-message batch), instead of a walk of the table or a sort of what matched.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NEW = {
    "ix_sms_messages_created_id": ["created_at", "id"],
    "ix_sms_messages_institution_created_id": ["institution", "created_at", "id"],
    "ix_sms_messages_batch_created_id": ["batch_id", "created_at", "id"],
    "ix_sms_messages_batch_state_created_id": ["batch_id", "state", "created_at", "id"],
    "ix_sms_messages_recipient_created_id": ["recipient", "created_at", "id"],
}
OLD = {  # each a prefix of a new one: nothing is left unindexed
    "ix_sms_messages_batch_state": ["batch_id", "state"],
    "ix_sms_messages_recipient": ["recipient"],
}


def upgrade() -> None:
    for name, columns in NEW.items():
        op.create_index(name, "sms_messages", columns, unique=False)
    for name in OLD:
        op.drop_index(name, table_name="sms_messages")


def downgrade() -> None:
    for name, columns in OLD.items():
        op.create_index(name, "sms_messages", columns, unique=False)
    for name in NEW:
        op.drop_index(name, table_name="sms_messages")
