"""The server's tables (SQLAlchemy 2 declarative mapping).

The schema is made by the migrations in sync_server/migrations; a test checks that the migrated database
matches these models, on SQLite and on PostgreSQL. Times are naive UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        dt.datetime: DateTime(),
        str: String(),
    }


class Status:
    """A record's status on the server."""

    RECEIVED = "received"  # the bureau has it (pushed by a school)
    RETURNED = "returned"  # the bureau asks for a correction, with comments per field
    ACCEPTED = "accepted"  # locked unless the bureau reopens it
    DELETED = "deleted"  # a tombstone pushed by the school

    ALL = (RECEIVED, RETURNED, ACCEPTED, DELETED)


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime]


class EnrollmentCode(Base):
    """A single-use code that turns into a device token; only a keyed hash of it is kept."""

    __tablename__ = "enrollment_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "hmac-sha256" (keyed with the server's secret, issue 12); NULL: a plain sha256 made before it.
    code_scheme: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]  # a newer code was issued for the school
    device_id: Mapped[str | None] = mapped_column(String(36))
    # sha256 of the client's enrollment request id: the same request again gets the same device (protocol 1.4)
    request_hash: Mapped[str | None] = mapped_column(String(64))


class Device(Base):
    """One enrolled client installation; its bearer token is kept only as a sha256."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    app_version: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    # Token rotation (protocol 1.9): the token handed out at the end of a sync, valid beside the current one
    # until its first use makes it the current one; the token it replaced then answers 401 token_superseded.
    next_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    next_token_at: Mapped[dt.datetime | None]
    previous_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    token_rotated_at: Mapped[dt.datetime | None]
    # The rotation count of the current token (NULL: 0, the enrollment's random token). Rotated tokens are
    # minted with the server's secret key from (device, epoch), so a device whose token is ahead of a
    # database restored from a backup proves it (services.schools.minted_token).
    token_epoch: Mapped[int | None] = mapped_column(Integer)
    # The device that enrolled this computer again: this one's tokens answer 401 token_replaced.
    replaced_by: Mapped[str | None] = mapped_column(String(36))


class EnrollmentFile(Base):
    """An enrollment file written for a school with no link (protocol revision 1.15): its device was made
    when the file was written; the file binds to the first computer (installation) the server hears from."""

    __tablename__ = "enrollment_files"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the file id in its header
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the file's own token, for ever
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    installation_id: Mapped[str | None] = mapped_column(String(32))  # the computer it is bound to
    bound_at: Mapped[dt.datetime | None]
    bound_via: Mapped[str | None] = mapped_column(String(16))  # online | usb


class FormVersion(Base):
    __tablename__ = "form_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    title_zh: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[dt.datetime]
    definition: Mapped[str] = mapped_column(Text)  # canonical YAML (forms.serialize.to_yaml)
    # Withdrawn: no longer offered to devices; records made with it stay readable (services.forms).
    withdrawn_at: Mapped[dt.datetime | None]
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("form_id", "version", name="uq_form_version"),)


class Record(Base):
    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the uuid made on the client
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    form_id: Mapped[str] = mapped_column(String(64))
    form_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    server_revision: Mapped[int] = mapped_column(Integer)
    # Who made the current revision, from which base and at which client revision: a device whose answer
    # was lost may push on top of its own unacknowledged change without a conflict (see services.push).
    last_device_id: Mapped[str | None] = mapped_column(String(36))
    last_base_revision: Mapped[int | None] = mapped_column(Integer)
    last_client_revision: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    review_comments: Mapped[dict[str, Any]]
    data: Mapped[dict[str, Any]]

    __table_args__ = (
        Index("ix_records_school_form", "school_id", "form_id", "status"),
        Index("ix_records_form", "form_id", "status"),
    )


class RecordRevision(Base):
    """Every applied change of every record: pushes, returns, accepts, deletes."""

    __tablename__ = "record_revisions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"))
    server_revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # push delete return accept
    status: Mapped[str] = mapped_column(String(16))
    form_version: Mapped[str] = mapped_column(String(32))
    device_id: Mapped[str | None] = mapped_column(String(36))
    op_id: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(100))  # the reviewer, for bureau changes
    created_at: Mapped[dt.datetime]
    review_comments: Mapped[dict[str, Any]]
    data: Mapped[dict[str, Any]]

    __table_args__ = (UniqueConstraint("record_id", "server_revision", name="uq_record_revision"),)


class Conflict(Base):
    """A pushed change whose base was not the record's current revision: both versions are kept."""

    __tablename__ = "conflicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    op_id: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # upsert delete
    base_server_revision: Mapped[int | None] = mapped_column(Integer)
    client_revision: Mapped[int | None] = mapped_column(Integer)
    server_revision: Mapped[int] = mapped_column(Integer)
    server_status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    server_data: Mapped[dict[str, Any]]
    client_data: Mapped[dict[str, Any] | None]


class ChangeRequest(Base):
    """A school's change to a record the bureau had accepted (protocol revision 1.5): kept for a reviewer,
    who accepts it (the record is reopened with it) or declines it with a reason the clerk reads."""

    __tablename__ = "change_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a uuid made by the server
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    op_id: Mapped[str] = mapped_column(String(64), unique=True)  # the pushed change it came from
    device_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))  # upsert delete
    form_version: Mapped[str] = mapped_column(String(32))
    base_server_revision: Mapped[int | None] = mapped_column(Integer)
    server_revision: Mapped[int] = mapped_column(Integer)  # the record's revision when it came
    status: Mapped[str] = mapped_column(String(16))  # open accepted declined
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)  # why it was declined
    # The data asked for, as the form engine normalized it ({} for a delete).
    data: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_change_requests_status", "status", "school_id"),)


class AppliedOp(Base):
    """Every operation id the server has acted on: the primary key makes each one happen exactly once."""

    __tablename__ = "applied_ops"

    op_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    device_id: Mapped[str] = mapped_column(String(36))
    record_id: Mapped[str] = mapped_column(String(36))
    result: Mapped[str] = mapped_column(String(16))  # applied conflict
    server_revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    response: Mapped[dict[str, Any]]  # the per-change answer given then


class IdempotencyKey(Base):
    """A push batch's Idempotency-Key: the body's hash and the stored answer, per device."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    key: Mapped[str] = mapped_column(String(100))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime]
    response: Mapped[str | None] = mapped_column(Text)  # the JSON answer, as sent

    __table_args__ = (UniqueConstraint("device_id", "key", name="uq_idempotency_device_key"),)


class ChangeCounter(Base):
    """One row: the last change sequence number handed out. Incremented inside each write transaction."""

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(BigInteger)


class Change(Base):
    """What a school's devices pull, in seq order. school_id NULL: for every school (a new form version)."""

    __tablename__ = "changes"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    type: Mapped[str] = mapped_column(String(16))  # record form
    record_id: Mapped[str | None] = mapped_column(String(36))
    device_id: Mapped[str | None] = mapped_column(
        String(36)
    )  # the device that made it (not echoed back)
    created_at: Mapped[dt.datetime]
    payload: Mapped[str] = mapped_column(Text)  # the JSON object sent in a pull

    __table_args__ = (
        Index("ix_changes_school_seq", "school_id", "seq"),
        # A compacted pull (protocol 1.6) skips a record's change when a later one of the record exists.
        Index("ix_changes_record_seq", "record_id", "seq"),
    )


class ServerGeneration(Base):
    """One life of this database (services.generation). The newest row (highest number) is the current
    generation; a restore from a backup, or a change sequence found behind what devices were handed, starts
    a new one whose parent is the generation the database held then, up to `parent_seq`."""

    __tablename__ = "server_generations"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    generation: Mapped[str] = mapped_column(String(32), unique=True)  # random, 32 hex digits
    parent: Mapped[str | None] = mapped_column(String(32))
    parent_seq: Mapped[int | None] = mapped_column(BigInteger)  # parent's changes held: seq <= it
    seq_floor: Mapped[int] = mapped_column(BigInteger)  # the change counter when it started
    reason: Mapped[str] = mapped_column(String(16))  # created restored rewound
    started_at: Mapped[dt.datetime]
    details: Mapped[dict[str, Any]]  # the backup restored, the counter jump, who did it


class GenerationDevice(Base):
    """A device's healing after a new generation began: when it learned of it, what it sent again (pushes
    it marked as healing), and when it had read the school's records again."""

    __tablename__ = "generation_devices"

    generation: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    school_id: Mapped[int] = mapped_column(Integer)
    learned_at: Mapped[dt.datetime]
    healed_at: Mapped[dt.datetime | None]
    came_back: Mapped[int] = mapped_column(Integer)  # re-sent changes it lacked (applied)
    already_held: Mapped[int] = mapped_column(Integer)  # re-sent changes it had (duplicate)
    conflicts: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)


class Attachment(Base):
    """A file by content (sha256), per school; complete once every byte arrived and the hash matched."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger)
    complete: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime]
    completed_at: Mapped[dt.datetime | None]
    # The last chunk written: an unfinished upload untouched for PARTIAL_UPLOAD_TTL_HOURS is removed.
    updated_at: Mapped[dt.datetime | None]
    # The name the file had on the school's PC (protocol revision 1.7); None from an older client.
    filename: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        UniqueConstraint("school_id", "sha256", name="uq_attachment_school_sha"),
        Index("ix_attachments_partial", "complete", "updated_at"),
    )


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(100))  # device:<id>, cli, or a reviewer's name
    action: Mapped[str] = mapped_column(String(50))
    school_id: Mapped[int | None] = mapped_column(Integer)
    object_id: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_audit_at", "at"),)


class Role:
    """A staff member's role on the dashboard; each includes the ones below it."""

    VIEWER = "viewer"  # sees pages and exports
    REVIEWER = "reviewer"  # ... and returns or accepts records
    ADMIN = "admin"  # ... and manages schools, devices, forms, and reads the audit log

    ALL = (VIEWER, REVIEWER, ADMIN)  # lowest first


class User(Base):
    """A bureau staff account for the dashboard (made by `sync-server add-user`)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # werkzeug scrypt
    role: Mapped[str] = mapped_column(String(16))
    can_view_sensitive: Mapped[bool] = mapped_column(Boolean)  # the ethics permission
    # Changed at logout and password change: every session cookie made before then stops working.
    session_nonce: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_login_at: Mapped[dt.datetime | None]
    disabled_at: Mapped[dt.datetime | None]


class ClientRelease(Base):
    """A client version published to the update channel (issue 16, docs/updates.md). The signed files are in
    the TUF repository (sync_server/updates_repo.py); this row only says who is offered it: `stage` "pilot"
    (the schools in `schools`), "all", or "paused" (nobody)."""

    __tablename__ = "client_releases"
    __table_args__ = (UniqueConstraint("version", "platform"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(50))
    platform: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(300))  # the TUF target path
    stage: Mapped[str] = mapped_column(String(10))
    schools: Mapped[list[Any]]  # school codes of a pilot
    published_at: Mapped[dt.datetime]
    changed_at: Mapped[dt.datetime]


class DeviceUpdate(Base):
    """What a device last said about its updates (its version, what it is doing, failures)."""

    __tablename__ = "device_updates"

    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    app_version: Mapped[str] = mapped_column(String(50))
    platform: Mapped[str] = mapped_column(String(20))
    checked_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(20))
    target_version: Mapped[str | None] = mapped_column(String(50))
    failures: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The report's facts of a failed first start or a withdrawal (protocol 1.21: tries, max_tries,
    # kept_version, blocked_until, withdrawn); None from a 1.18-1.20 client, read from last_error then.
    report_fields: Mapped[dict[str, Any] | None] = mapped_column(JSON)
