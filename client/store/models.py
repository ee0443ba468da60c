"""The local store's tables (SQLAlchemy 2 declarative mapping).

The schema itself is made by the migrations in client/store/migrations; a test checks that the migrated
database matches these models.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import BLOB, JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Status:
    DRAFT = "draft"  # local only
    SUBMITTED = "submitted"  # queued for the bureau
    RECEIVED = "received"  # the server has it
    RETURNED = "returned"  # the bureau asks for a correction
    ACCEPTED = "accepted"  # locked unless the bureau reopens it

    ALL = (DRAFT, SUBMITTED, RECEIVED, RETURNED, ACCEPTED)


class Record(Base):
    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # uuid made here
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int]
    period: Mapped[str | None] = mapped_column(String(16))  # reporting period key, e.g. 2026-11
    record_date: Mapped[str | None] = mapped_column(String(10))  # the form's period date, ISO
    summary: Mapped[str] = mapped_column(Text, default="")  # one line for lists
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    deleted: Mapped[bool] = mapped_column(default=False)  # tombstone: never removed
    review_comments: Mapped[dict[str, Any] | None] = mapped_column(
        JSON
    )  # from the bureau, per field

    __table_args__ = (
        Index("ix_records_form_status", "form_id", "deleted", "status"),
        Index("ix_records_form_updated", "form_id", "deleted", "updated_at"),
        Index("ix_records_form_date", "form_id", "deleted", "record_date"),
        # 待办 (migration 0005): returned records newest first, this period's records per form
        Index("ix_records_status_updated", "status", "deleted", "updated_at"),
        Index("ix_records_form_period", "form_id", "deleted", "period", "status"),
    )


class Revision(Base):
    """Every saved state of every record: the audit trail, and what conflict resolution compares."""

    __tablename__ = "record_revisions"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"))
    revision: Mapped[int]
    form_version: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    deleted: Mapped[bool] = mapped_column(default=False)
    saved_at: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("record_id", "revision", name="uq_revision"),)


class OutboxEntry(Base):
    """A change waiting to reach the bureau, written in the same transaction as the change."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    op_id: Mapped[str] = mapped_column(
        String(36), unique=True
    )  # made here; the server keeps it unique
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"))
    revision: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # upsert | delete
    created_at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_outbox_pending", "sent_at", "id"),)


class Attachment(Base):
    """A photo or file, stored once by the sha256 of its content under the data folder."""

    __tablename__ = "attachments"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    created_at: Mapped[dt.datetime]
    uploaded_at: Mapped[dt.datetime | None]


class FormVersion(Base):
    """Form definitions this client knows besides the shipped ones (published by the bureau)."""

    __tablename__ = "form_versions"

    form_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    definition: Mapped[str] = mapped_column(Text)  # YAML
    sha256: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[dt.datetime]


class Setting(Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


# -- sync (migration 0003) ----------------------------------------------------------------------------


class SyncRecord(Base):
    """What this client last knew of a record on the server: the base of its next push."""

    __tablename__ = "sync_records"

    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), primary_key=True)
    server_revision: Mapped[int]
    server_status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime]


class SyncBatch(Base):
    """A push batch in flight, kept until our server's answer to it is applied, so a retry (even after a
    crash) sends the same Idempotency-Key with the same body."""

    __tablename__ = "sync_batches"

    key: Mapped[str] = mapped_column(String(36), primary_key=True)  # the Idempotency-Key
    op_ids: Mapped[list[Any]]
    created_at: Mapped[dt.datetime]
    body: Mapped[bytes] = mapped_column(LargeBinary)  # the JSON sent, uncompressed


class SyncIssue(Base):
    """What the clerk must see after a sync: a change the server rejected, a conflict (both versions kept),
    an attachment that cannot be uploaded. Open while resolved_at is NULL."""

    __tablename__ = "sync_issues"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # rejected | conflict | attachment
    record_id: Mapped[str | None] = mapped_column(String(36))
    op_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(64))
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    resolution: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[
        dict[str, Any]
    ]  # problems, or the server's version {server_revision, status, data, ...}

    __table_args__ = (Index("ix_sync_issues_open", "resolved_at", "record_id"),)


# -- healing after a restore (migration 0004) ---------------------------------------------------------


class SyncAck(Base):
    """A change our server said it applied: the record's server revision it made and the server's change
    counter after that answer, in the generation this store knows (client.store.healing). After the server
    is restored from a backup, the changes acknowledged past what the backup holds are sent again."""

    __tablename__ = "sync_acks"

    op_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36))
    server_revision: Mapped[int]
    seq: Mapped[int]  # 0: held since the generation began (see healing.begin_server_heal)
    acked_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_sync_acks_seq", "seq"),)


# -- what 待办 lists (migration 0005) ------------------------------------------------------------------


class TodoHazard(Base):
    """A hazard not rectified or verified, as 待办 lists it: written only by the triggers on `records`
    (client/store/migrations/versions/0005_todo_hazards.py), in 待办's order (the primary key)."""

    __tablename__ = "todo_hazards"

    # The order: the deadline as an ISO date (9999-99-99: none), the inspection date as text, record, place.
    sort_deadline: Mapped[str] = mapped_column(String(10), primary_key=True)
    sort_inspected: Mapped[str] = mapped_column(Text, primary_key=True)
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idx: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # in the hazards list
    revision: Mapped[int]
    record_status: Mapped[str] = mapped_column(String(16))
    # The answers as json_extract returns them (BLOB: no affinity, nothing converted).
    inspection_date: Mapped[Any] = mapped_column(BLOB, nullable=True)
    category: Mapped[Any] = mapped_column(BLOB, nullable=True)
    location: Mapped[Any] = mapped_column(BLOB, nullable=True)
    description: Mapped[Any] = mapped_column(BLOB, nullable=True)
    severity: Mapped[Any] = mapped_column(BLOB, nullable=True)
    measures: Mapped[Any] = mapped_column(BLOB, nullable=True)
    responsible_person: Mapped[Any] = mapped_column(BLOB, nullable=True)
    deadline: Mapped[Any] = mapped_column(BLOB, nullable=True)
    status: Mapped[Any] = mapped_column(BLOB, nullable=False)

    __table_args__ = (
        Index("ix_todo_hazards_record", "record_id"),
        {"sqlite_with_rowid": False},
    )


class TodoHazardDay(Base):
    """How many todo_hazards rows have each sort_deadline (kept by triggers on todo_hazards): 待办's counts."""

    __tablename__ = "todo_hazard_days"

    sort_deadline: Mapped[str] = mapped_column(String(10), primary_key=True)
    n: Mapped[int]

    __table_args__ = ({"sqlite_with_rowid": False},)


# sync_acks.seq of a change made unsent again by a heal: it goes marked `resent` (protocol revision 1.12)
RESENT_SEQ = -1
# outbox.kind of a record's state offered back to a restored server that lacked it (1.12)
OFFER = "offer"
