"""Names are searched through a token table (one row per word of a mailbox's names, indexed by
the word) and a pair table (every two words at different places, for the usual two-word
query): "juma mr", "Mrisho Juma" and "Ngʼwanza" find the names a table shows, from index
ranges only. Both are filled for the existing mailboxes; the two whole-name keys they
replace (name_key, name_key_rev: a search had to start a name's first or last word) go.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from egactl.plugin.rules import name_tokens

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TOKEN_LENGTH = 100
BATCH = 5000


def key(length: int) -> sa.String:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mail_name_tokens",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", key(TOKEN_LENGTH), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mail_mailboxes.id"]),
        sa.PrimaryKeyConstraint("mailbox_id", "position"),
    )
    op.create_index("ix_mail_name_tokens_token_mailbox", "mail_name_tokens", ["token", "mailbox_id"], unique=False)
    op.create_table(
        "mail_name_pairs",
        sa.Column("mailbox_id", sa.Integer(), nullable=False),
        sa.Column("first", key(TOKEN_LENGTH), nullable=False),
        sa.Column("second", key(TOKEN_LENGTH), nullable=False),
        sa.ForeignKeyConstraint(["mailbox_id"], ["mail_mailboxes.id"]),
        sa.PrimaryKeyConstraint("mailbox_id", "first", "second"),
    )
    op.create_index("ix_mail_name_pairs_first_second_mailbox", "mail_name_pairs", ["first", "second", "mailbox_id"],
                    unique=False)
    fill()
    op.drop_index("ix_mail_mailboxes_name_key", table_name="mail_mailboxes")
    op.drop_index("ix_mail_mailboxes_name_key_rev", table_name="mail_mailboxes")
    with op.batch_alter_table("mail_mailboxes") as batch:
        batch.drop_column("name_key")
        batch.drop_column("name_key_rev")


def fill() -> None:
    """The words of every mailbox that still has names (a purged one has none), in id order, a batch at a time."""
    conn = op.get_bind()
    boxes = sa.table("mail_mailboxes", sa.column("id"), sa.column("given_name"), sa.column("family_name"),
                     sa.column("preferred_name"))
    tokens = sa.table("mail_name_tokens", sa.column("mailbox_id"), sa.column("position"), sa.column("token"))
    pairs = sa.table("mail_name_pairs", sa.column("mailbox_id"), sa.column("first"), sa.column("second"))
    last = 0
    while True:
        rows = conn.execute(sa.select(boxes.c.id, boxes.c.given_name, boxes.c.family_name, boxes.c.preferred_name)
                            .where(boxes.c.id > last).order_by(boxes.c.id).limit(BATCH)).all()
        if not rows:
            return
        words, twos = [], []
        for id_, given, family, preferred in rows:
            found = [w[:TOKEN_LENGTH] for name in (preferred, given, family) for w in name_tokens(name)]
            words += [{"mailbox_id": id_, "position": i, "token": w} for i, w in enumerate(found)]
            both = {(a, b) for i, a in enumerate(found) for j, b in enumerate(found) if i != j}
            twos += [{"mailbox_id": id_, "first": a, "second": b} for a, b in sorted(both)]
        if words:
            conn.execute(sa.insert(tokens), words)
        if twos:
            conn.execute(sa.insert(pairs), twos)
        last = rows[-1][0]


def downgrade() -> None:
    # The old keys come back empty: the release before this one finds names again as they are updated.
    with op.batch_alter_table("mail_mailboxes") as batch:
        batch.add_column(sa.Column("name_key", key(300), nullable=True))
        batch.add_column(sa.Column("name_key_rev", key(300), nullable=True))
    op.create_index("ix_mail_mailboxes_name_key", "mail_mailboxes", ["name_key"], unique=False)
    op.create_index("ix_mail_mailboxes_name_key_rev", "mail_mailboxes", ["name_key_rev"], unique=False)
    op.drop_index("ix_mail_name_pairs_first_second_mailbox", table_name="mail_name_pairs")
    op.drop_table("mail_name_pairs")
    op.drop_index("ix_mail_name_tokens_token_mailbox", table_name="mail_name_tokens")
    op.drop_table("mail_name_tokens")
