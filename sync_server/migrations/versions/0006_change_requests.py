"""Change requests: an edit to a record the bureau accepted, kept for a reviewer (issue 10, protocol 1.5).

Revision ID: 0006
Revises: 0005

A push that changes an accepted record no longer just answers `locked`: the change is kept as a request the
bureau sees on the record's page and in the list, and accepts (the record is reopened with it) or declines
with a reason that reaches the clerk (services.review).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("record_id", sa.String(36), sa.ForeignKey("records.id"), nullable=False),
        sa.Column("school_id", sa.Integer(), sa.ForeignKey("schools.id"), nullable=False),
        sa.Column("op_id", sa.String(64), nullable=False, unique=True),
        sa.Column("device_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("form_version", sa.String(32), nullable=False),
        sa.Column("base_server_revision", sa.Integer(), nullable=True),
        sa.Column("server_revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_change_requests_record_id", "change_requests", ["record_id"])
    op.create_index("ix_change_requests_status", "change_requests", ["status", "school_id"])


def downgrade() -> None:
    op.drop_index("ix_change_requests_status", "change_requests")
    op.drop_index("ix_change_requests_record_id", "change_requests")
    op.drop_table("change_requests")
