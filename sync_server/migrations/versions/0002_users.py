"""Staff accounts for the dashboard.

Revision ID: 0002
Revises: 0001

Note to the other dashboard engineer (data pages): this is 0002; a migration of yours takes the next free
number (0003, down_revision = "0002") so the chain stays linear.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("can_view_sensitive", sa.Boolean(), nullable=False),
        sa.Column("session_nonce", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("users")
