"""What the server acknowledged, to send again after it is restored from a backup (issue 10).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_acks",
        sa.Column("op_id", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(36), nullable=False),
        sa.Column("server_revision", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("acked_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_sync_acks_seq", "sync_acks", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_sync_acks_seq", "sync_acks")
    op.drop_table("sync_acks")
