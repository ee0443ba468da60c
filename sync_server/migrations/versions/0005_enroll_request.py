"""Enrollment can be retried after a lost answer (issue 10, protocol revision 1.4).

Revision ID: 0005
Revises: 0004

`enrollment_codes.request_hash` is the sha256 of the request id the client sent with the code that used it;
the same code with the same request id again answers the same device (services.schools.enroll).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrollment_codes") as batch:
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrollment_codes") as batch:
        batch.drop_column("request_hash")
