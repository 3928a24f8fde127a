"""egactl find finds contact-group members by name ("neema kw", "Kweka Neema") from
index ranges: one row per word of a member's name, indexed by the word, filled for
the members there are.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from egactl.plugin.rules import name_tokens

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TOKEN_LENGTH = 100
BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "sms_member_name_tokens",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(TOKEN_LENGTH).with_variant(sa.String(TOKEN_LENGTH, collation="C"), "postgresql"),
                  nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["sms_group_members.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("member_id", "position"),
    )
    op.create_index("ix_sms_member_name_tokens_token_member", "sms_member_name_tokens", ["token", "member_id"],
                    unique=False)
    fill()


def fill() -> None:
    """The words of every member with a name, in id order, a batch at a time."""
    conn = op.get_bind()
    members = sa.table("sms_group_members", sa.column("id"), sa.column("name"))
    tokens = sa.table("sms_member_name_tokens", sa.column("member_id"), sa.column("position"), sa.column("token"))
    last = 0
    while True:
        rows = conn.execute(sa.select(members.c.id, members.c.name).where(members.c.id > last)
                            .order_by(members.c.id).limit(BATCH)).all()
        if not rows:
            return
        words = [{"member_id": id_, "position": i, "token": w[:TOKEN_LENGTH]}
                 for id_, name in rows for i, w in enumerate(name_tokens(name))]
        if words:
            conn.execute(sa.insert(tokens), words)
        last = rows[-1][0]


def downgrade() -> None:
    op.drop_index("ix_sms_member_name_tokens_token_member", table_name="sms_member_name_tokens")
    op.drop_table("sms_member_name_tokens")
