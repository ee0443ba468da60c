"""The update report's fields (issue 16 follow-up, protocol revision 1.21).

Revision ID: 0012
Revises: 0011 (client updates)

`device_updates.report_fields`: what a 1.21 client states of a failed first start or a withdrawn release
(tries, max_tries, kept_version, blocked_until, withdrawn), so the dashboard no longer reads them from the
client's English error line; null for a report of an older client.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_updates") as batch:
        batch.add_column(sa.Column("report_fields", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_updates") as batch:
        batch.drop_column("report_fields")
