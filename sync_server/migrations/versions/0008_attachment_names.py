"""Attachments keep the name they had on the school's PC (issue 11, protocol revision 1.7).

Revision ID: 0008
Revises: 0007

`attachments.filename` is the original file name the client sent with the upload (`Upload-Metadata:
filename <base64>`); NULL for a file an older client sent, which pages and exports call 附件 <short hash>.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("filename", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("filename")
