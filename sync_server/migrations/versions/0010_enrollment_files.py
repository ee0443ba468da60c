"""Enrollment by file (issue 13, protocol revision 1.15).

Revision ID: 0010
Revises: 0009

`enrollment_files`: a file written for a school with no link; its device (made with the file) binds to the
first computer - `installation_id` - the server hears from, online or by USB stick.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrollment_files",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("school_id", sa.Integer(), sa.ForeignKey("schools.id"), nullable=False),
        sa.Column(
            "device_id", sa.String(36), sa.ForeignKey("devices.id"), nullable=False, unique=True
        ),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("installation_id", sa.String(32), nullable=True),
        sa.Column("bound_at", sa.DateTime(), nullable=True),
        sa.Column("bound_via", sa.String(16), nullable=True),
    )
    op.create_index("ix_enrollment_files_school_id", "enrollment_files", ["school_id"])


def downgrade() -> None:
    op.drop_index("ix_enrollment_files_school_id", "enrollment_files")
    op.drop_table("enrollment_files")
