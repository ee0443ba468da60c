"""A form version can be withdrawn (issue 9): no longer offered to devices, its records kept.

Revision ID: 0003
Revises: 0002

The next migration takes 0004 (down_revision = "0003") so the chain stays linear.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("form_versions") as batch:
        batch.add_column(sa.Column("withdrawn_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("withdrawn_by", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("form_versions") as batch:
        batch.drop_column("withdrawn_by")
        batch.drop_column("withdrawn_at")
