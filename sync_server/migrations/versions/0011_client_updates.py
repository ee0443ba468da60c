"""Client updates: releases and their rollout, what each device reports (issue 16, protocol revision 1.18).

Revision ID: 0011
Revises: 0010 (enrollment files, issue 13)

`client_releases`: a published client version per platform, its TUF target path and who is offered it
(stage pilot/all/paused, the pilot's school codes). `device_updates`: per device, the version it runs, when
it last checked, its update state, how many updates failed on it and the last error.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_releases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.String(50), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("stage", sa.String(10), nullable=False),
        sa.Column("schools", sa.JSON(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("version", "platform"),
    )
    op.create_table(
        "device_updates",
        sa.Column("device_id", sa.String(36), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("app_version", sa.String(50), nullable=False),
        sa.Column("platform", sa.String(20), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("target_version", sa.String(50), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("device_updates")
    op.drop_table("client_releases")
