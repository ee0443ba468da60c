"""Unfinished attachment uploads expire (issue 9): when each was last written to.

Revision ID: 0004
Revises: 0003

`attachments.updated_at` is set at every chunk; an upload left unfinished for PARTIAL_UPLOAD_TTL_HOURS is
removed (services.attachments). The index finds them without reading every complete attachment.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.create_index("ix_attachments_partial", "attachments", ["complete", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_attachments_partial", table_name="attachments")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("updated_at")
