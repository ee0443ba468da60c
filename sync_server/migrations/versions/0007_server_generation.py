"""The server's generation: a restored or rewound database is told apart (issue 10, protocol revision 1.6).

Revision ID: 0007
Revises: 0006

`server_generations` holds one row per life of the database; the migration makes the first one (reason
`created`). `generation_devices` records each device's healing after a new generation began. The index
`ix_changes_record_seq` serves compacted pulls (a record's latest change only).
"""

from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    generations = op.create_table(
        "server_generations",
        sa.Column("number", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("generation", sa.String(32), nullable=False, unique=True),
        sa.Column("parent", sa.String(32), nullable=True),
        sa.Column("parent_seq", sa.BigInteger(), nullable=True),
        sa.Column("seq_floor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
    )
    op.create_table(
        "generation_devices",
        sa.Column("generation", sa.String(32), primary_key=True),
        sa.Column("device_id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("learned_at", sa.DateTime(), nullable=False),
        sa.Column("healed_at", sa.DateTime(), nullable=True),
        sa.Column("came_back", sa.Integer(), nullable=False),
        sa.Column("already_held", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
    )
    op.create_index("ix_changes_record_seq", "changes", ["record_id", "seq"])
    counter = op.get_bind().execute(sa.text("SELECT value FROM change_counter WHERE id = 1"))
    op.bulk_insert(
        generations,
        [
            {
                "generation": uuid.uuid4().hex,
                "parent": None,
                "parent_seq": None,
                "seq_floor": int(counter.scalar_one()),
                "reason": "created",
                "started_at": dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0),
                "details": {},
            }
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_changes_record_seq", "changes")
    op.drop_table("generation_devices")
    op.drop_table("server_generations")
