"""Device credentials with a lifetime, enrollment codes as a keyed hash (issue 12, protocol revision 1.9).

Revision ID: 0009
Revises: 0008

`devices.next_token_hash` is the token handed out at the end of a sync, valid beside the current one until
its first use; `previous_token_hash` the token it replaced (401 token_superseded); `token_rotated_at` when
that last happened, `token_epoch` how many times (rotated tokens are minted from the device and the epoch
with the server's secret, so a token ahead of a restored database is still recognised); `replaced_by` the
device that enrolled the same computer again (401 token_replaced).
`enrollment_codes.code_scheme` is "hmac-sha256" for codes keyed with the server's secret; the existing rows
keep NULL: a plain sha256, still accepted until they are used or expire (their text is not known, so they
cannot be re-hashed).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("next_token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("next_token_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("previous_token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("token_rotated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("token_epoch", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("replaced_by", sa.String(36), nullable=True))
        batch.create_index("ix_devices_next_token_hash", ["next_token_hash"])
        batch.create_index("ix_devices_previous_token_hash", ["previous_token_hash"])
    with op.batch_alter_table("enrollment_codes") as batch:
        batch.add_column(sa.Column("code_scheme", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enrollment_codes") as batch:
        batch.drop_column("code_scheme")
    with op.batch_alter_table("devices") as batch:
        batch.drop_index("ix_devices_previous_token_hash")
        batch.drop_index("ix_devices_next_token_hash")
        batch.drop_column("replaced_by")
        batch.drop_column("token_epoch")
        batch.drop_column("token_rotated_at")
        batch.drop_column("previous_token_hash")
        batch.drop_column("next_token_at")
        batch.drop_column("next_token_hash")
