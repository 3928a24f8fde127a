"""Per-batch counters: messages per batch and state (sms_batch_states) and per batch, failure
state and reason (sms_batch_reasons), kept as messages change state, so that a batch's
report reads a few rows instead of counting its messages. Filled here for the batches
already stored: one INSERT … SELECT … GROUP BY over the messages (the only full pass).
And the delivery rate's shared window (sms_rate_windows), so that several servers on one
database hand the gateway the configured rate between them, not each.

Revision ID: 0004
Revises: 0003
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FAILURE_STATES = ("failed", "rejected", "expired")


def reason_key(reason):
    """As egactl_sms.server.lifecycle.reason_key (frozen here, as a migration must be)."""
    return hashlib.sha256((reason or "").encode("utf-8")).hexdigest()[:32]


def upgrade() -> None:
    op.create_table(
        "sms_batch_states",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["sms_batches.id"]),
        sa.PrimaryKeyConstraint("batch_id", "state"),
    )
    op.create_table(
        "sms_batch_reasons",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("reason_key", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["sms_batches.id"]),
        sa.PrimaryKeyConstraint("batch_id", "state", "reason_key"),
    )
    op.create_table(
        "sms_rate_windows",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("second", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    bind = op.get_bind()
    bind.execute(sa.text("INSERT INTO sms_batch_states (batch_id, state, messages) "
                         "SELECT batch_id, state, count(*) FROM sms_messages GROUP BY batch_id, state"))
    rows = bind.execute(sa.text("SELECT batch_id, state, reason, count(*) FROM sms_messages "
                                "WHERE state IN ('failed', 'rejected', 'expired') "
                                "GROUP BY batch_id, state, reason")).all()
    reasons = sa.table("sms_batch_reasons", sa.column("batch_id"), sa.column("state"), sa.column("reason_key"),
                       sa.column("reason"), sa.column("messages"))
    if rows:
        op.bulk_insert(reasons, [{"batch_id": b, "state": s, "reason_key": reason_key(r), "reason": r, "messages": n}
                                 for b, s, r, n in rows])


def downgrade() -> None:
    op.drop_table("sms_rate_windows")
    op.drop_table("sms_batch_reasons")
    op.drop_table("sms_batch_states")
