"""The server's generation: which life of the database a device's cursor and acknowledgements belong to.

Like CouchDB's server UUID in a replication checkpoint: a device's pull cursor and the changes it was told
were applied mean something only for the database that handed them out. When that database goes back in time
- restored from a backup, or otherwise rewound - records pushed after the backup are gone while every device
believes them sent, and the server's next changes get sequence numbers the devices have already passed.

So the database has a generation: a random id made with it (migration 0007) and replaced whenever it is
restored (`sync-server restore`) or found to have handed out change numbers it no longer holds (a device's
cursor beyond its counter). Each generation names its parent and `parent_seq`: the parent's changes the
database still holds are exactly those numbered up to it (a backup is one consistent snapshot, and numbers
are taken in commit order, see services.changes).

Devices (protocol revision 1.6) send `Sync-Generation` (and `Sync-Cursor`) with each push and pull. A device
of another generation is answered 409 `generation_changed` with the current generation, the change counter
and `held_through`: up to which change number of the device's generation this database holds everything
(null when it cannot tell). The device then heals by itself (client.sync.healing): it sends again what it
was told applied after that number, under the same op ids (a change the server holds is answered
`duplicate`), and reads its school's records again from 0.

A cursor beyond the counter is believed only with the server's proof that it handed it out (cursor_proof,
protocol revision 1.8); without one - older devices send no header, and a device may make a cursor up - the
counter only moves up to it (never past MAX_COUNTER), so their next pulls see the server's new changes instead
of skipping them, and no generation starts. What older devices pushed after the backup stays lost, as before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sync_server.errors import ApiError
from sync_server.models import (
    Change,
    ChangeCounter,
    Device,
    GenerationDevice,
    ServerGeneration,
)
from sync_server.services.common import audit, iso, naive_utc

log = logging.getLogger(__name__)

# The generation the device's cursor and acknowledgements belong to; its pull cursor (a push has no `since`);
# the generation a device is healing into (its pushes and last pull are counted for the dashboard).
GENERATION_HEADER = "Sync-Generation"
CURSOR_HEADER = "Sync-Cursor"
HEAL_HEADER = "Sync-Heal"
SERVER_SEQ_HEADER = "Sync-Server-Seq"  # in answers: the change counter (with Sync-Generation)
UNKNOWN = "none"  # a device that never learned a generation (an upgraded one) says so
GENERATION_RE = re.compile(r"^[0-9a-f]{32}$")

# A cursor further beyond the counter than this is not taken as a rewind to jump past (it came from elsewhere).
MAX_JUMP = 2**40
# On a device's word the counter never goes past this (exact in every JSON reader, far below 64 bits).
MAX_COUNTER = 2**53
PROOF_HEADER = (
    "Sync-Cursor-Proof"  # the server's proof that it handed out the cursor a device sends
)
PROOF_RE = re.compile(r"^[0-9a-f]{32}$")


def cursor_proof(secret: str, generation: str, cursor: int) -> str:
    """An HMAC of (generation, cursor) with the instance's secret key, sent with every pull answer.

    A device's cursor beyond the counter is evidence of a rewind only with this proof: the secret key lives in
    the instance folder, not in the database, so a database restored from a backup still recognises the
    cursors it handed out before, while a device cannot make one up (issue 9: one forged cursor used to start
    a new generation for the whole county)."""
    message = f"cursor:{generation}:{cursor}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def proof_holds(secret: str, generation: str | None, cursor: int, proof: str | None) -> bool:
    if not proof or not generation or generation == UNKNOWN:
        return False
    return hmac.compare_digest(proof, cursor_proof(secret, generation, cursor))


# A rewind found this soon after a restore or another rewind moves the counter on but starts no generation:
# older devices' cursors, beyond the restored counter one after another, are one rewind, not many.
REWIND_COOLDOWN = dt.timedelta(minutes=10)


class Reason:
    CREATED = "created"  # the database was made (or migrated to 0007)
    RESTORED = "restored"  # `sync-server restore`
    REWOUND = "rewound"  # a device's cursor was beyond the counter: the database went back in time


@dataclass(frozen=True, slots=True)
class Standing:
    """Go on: the current generation and change counter, for the answer."""

    generation: str
    server_seq: int


@dataclass(frozen=True, slots=True)
class Restart:
    """The device must heal before it pushes or pulls again (409 generation_changed)."""

    generation: str
    server_seq: int
    held_through: int | None
    started_at: dt.datetime
    reason: str

    def error(self) -> ApiError:
        return ApiError(
            "generation_changed",
            "县教育局服务器的数据库已从备份恢复（或回退）。本机会自动重新发送服务器缺少的记录，并重新读取本校数据",
            "the bureau server's database was restored from a backup (or went back in time); this "
            "computer sends again what the server lacks and reads its school's data again",
            status=409,
            details={
                "generation": self.generation,
                "server_seq": self.server_seq,
                "held_through": self.held_through,
                "started_at": iso(self.started_at),
                "reason": self.reason,
            },
        )


@dataclass(frozen=True, slots=True)
class Seen:
    """The current generation and the change counter as one read saw them (see seen_from)."""

    generation: str
    parent: str | None
    server_seq: int


_GENERATIONS = cast(Table, ServerGeneration.__table__)
_COUNTER = cast(Table, ChangeCounter.__table__)
_NEWEST = select(_GENERATIONS.c.generation, _GENERATIONS.c.parent).order_by(
    _GENERATIONS.c.number.desc()
)
# The newest generation, its parent and the counter as columns of the request's token statement
# (schools.match_token's `also`): one statement - one snapshot, one round trip - reads the token's device and
# where the server stands (issue 14, goal 3: the token and generation reads were a tenth of a small push).
# Scalar subqueries: none of them can make the token's row go missing.
SNAPSHOT_COLUMNS = (
    _NEWEST.with_only_columns(_GENERATIONS.c.generation).limit(1).scalar_subquery(),
    _NEWEST.with_only_columns(_GENERATIONS.c.parent).limit(1).scalar_subquery(),
    select(_COUNTER.c.value).where(_COUNTER.c.id == 1).scalar_subquery(),
)


def seen_from(values: tuple[Any, ...]) -> Seen:
    """What the SNAPSHOT_COLUMNS read. Nothing is kept between requests: a restore (a new generation
    written by `sync-server restore` or `mark-restored`, another process) is seen by the next request."""
    generation, parent, counter = values
    if generation is None or counter is None:
        raise RuntimeError(
            "the database has no server generation or change counter (migration 0007)"
        )
    return Seen(generation, parent, int(counter))


def current_generation(session: Session) -> ServerGeneration:
    return session.execute(
        select(ServerGeneration).order_by(ServerGeneration.number.desc()).limit(1)
    ).scalar_one()


def _counter(session: Session, *, lock: bool = False) -> int:
    q = select(ChangeCounter.value).where(ChangeCounter.id == 1)
    return int(session.execute(q.with_for_update() if lock else q).scalar_one())


def held_through(session: Session, generation: str) -> int | None:
    """Up to which change number of `generation` the current database holds everything: the parent_seq of
    the step that left it on the way from the current generation back through its ancestors; None when it
    is not an ancestor (or is the current one)."""
    rows = {
        g.generation: g
        for g in session.execute(select(ServerGeneration)).scalars()  # a handful of rows
    }
    step = current_generation(session)
    seen: set[str] = set()
    while step.parent is not None and step.generation not in seen:
        seen.add(step.generation)
        if step.parent == generation:
            return step.parent_seq
        parent = rows.get(step.parent)
        if parent is None:
            return None
        step = parent
    return None


def start_generation(
    session: Session,
    *,
    reason: str,
    now: dt.datetime,
    actor: str,
    jump_to: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> ServerGeneration:
    """A new generation whose parent is the current one, held through the counter as it is; the counter is
    moved up to `jump_to` first when that is higher (past numbers devices were handed before). Call inside
    a write transaction: the counter row stays locked to its commit, so no change is numbered meanwhile."""
    parent = current_generation(session)
    held = _counter(session, lock=True)
    floor = max(held, jump_to or 0)
    if floor != held:
        session.execute(update(ChangeCounter).where(ChangeCounter.id == 1).values(value=floor))
    row = ServerGeneration(
        generation=uuid.uuid4().hex,
        parent=parent.generation,
        parent_seq=held,
        seq_floor=floor,
        reason=reason,
        started_at=naive_utc(now),
        details=dict(details or {}),
    )
    session.add(row)
    session.flush()
    audit(
        session,
        now=now,
        actor=actor,
        action=f"server.{reason}",
        object_id=row.generation,
        details={
            "parent": parent.generation,
            "held_through": held,
            "counter": floor,
            **dict(details or {}),
        },
    )
    log.warning(
        "server generation %s started (%s): holds generation %s through change %d; counter at %d",
        row.generation,
        reason,
        parent.generation,
        held,
        floor,
    )
    return row


# -- the check on each push and pull ----------------------------------------------------------------


def check(
    Session_: sessionmaker[Session],
    ReadSession: sessionmaker[Session],
    *,
    device_id: str,
    school_id: int,
    claimed: str | None,
    cursor: int | None,
    now: dt.datetime,
    proven: bool = False,
    seen: Seen | None = None,
) -> Standing | Restart:
    """Where a device stands. `claimed`: its Sync-Generation header (None: an older device that sends none);
    `cursor`: its pull cursor, when known. A cursor beyond the counter is a rewind (see `_rewound`) when
    `proven` (the device sent the server's proof of it, see cursor_proof); else the counter only moves up.

    `seen`: the generation and counter this request already read (seen_from, with its token). When they say
    the device goes on - the usual case - that is the answer; anything else (another generation, a cursor
    beyond the counter) is decided on a fresh read, exactly as without it."""
    if seen is not None and (cursor is None or cursor <= seen.server_seq):
        if claimed is None or claimed == seen.generation:
            return Standing(seen.generation, seen.server_seq)
        if claimed == UNKNOWN and seen.parent is None:
            return Standing(seen.generation, seen.server_seq)
    restart: Restart | None = None
    with ReadSession.begin() as session:
        cur = current_generation(session)
        seq = _counter(session)
        if claimed is not None and claimed not in (cur.generation, UNKNOWN):
            held = held_through(session, claimed)
            restart = Restart(cur.generation, seq, held, cur.started_at, cur.reason)
        elif claimed == UNKNOWN and cur.parent is not None:
            # Its acknowledgements may be from before a restore: it cannot be told which are held.
            restart = Restart(cur.generation, seq, None, cur.started_at, cur.reason)
    if restart is not None:
        _learned(Session_, restart.generation, device_id, school_id, now)
        return restart
    if cursor is None or cursor <= seq:
        return Standing(cur.generation, seq)
    if not proven:
        return _moved_on(Session_, device_id=device_id, school_id=school_id, cursor=cursor, now=now)
    return _rewound(
        Session_,
        device_id=device_id,
        school_id=school_id,
        claimed=claimed,
        cursor=cursor,
        now=now,
    )


def _moved_on(
    Session_: sessionmaker[Session],
    *,
    device_id: str,
    school_id: int,
    cursor: int,
    now: dt.datetime,
) -> Standing:
    """A cursor beyond the counter without the server's proof: an older client after a restore, or made up.
    The counter moves up to it (never past MAX_COUNTER), so the server's next changes are numbered past what
    the device will ask for; no generation starts, no other device notices."""
    with Session_.begin() as session:
        cur = current_generation(session)
        held = _counter(session, lock=True)
        jump = min(cursor, held + MAX_JUMP, MAX_COUNTER)
        if jump > held:
            session.execute(update(ChangeCounter).where(ChangeCounter.id == 1).values(value=jump))
            audit(
                session,
                now=now,
                actor=f"device:{device_id}",
                action="server.counter_moved",
                school_id=school_id,
                object_id=cur.generation,
                details={"device_id": device_id, "device_cursor": cursor, "from": held, "to": jump},
            )
            log.warning(
                "device %s sent cursor %s beyond the counter %s without proof: counter moved to %s",
                device_id,
                cursor,
                held,
                jump,
            )
        return Standing(cur.generation, max(held, jump))


def _rewound(
    Session_: sessionmaker[Session],
    *,
    device_id: str,
    school_id: int,
    claimed: str | None,
    cursor: int,
    now: dt.datetime,
) -> Standing | Restart:
    """A device holds a cursor beyond the counter: this database handed out numbers it no longer holds.

    A new generation (held through the counter as it is) unless one began by a restore or rewind within
    REWIND_COOLDOWN; either way the counter moves up to the cursor, so changes made from now on are numbered
    past what any device was handed."""
    with Session_.begin() as session:
        cur = current_generation(session)
        held = _counter(session, lock=True)
        if cursor <= held:  # another request moved it meanwhile
            if claimed is None or claimed == cur.generation:
                return Standing(cur.generation, held)
            return Restart(
                cur.generation, held, held_through(session, claimed), cur.started_at, cur.reason
            )
        jump = min(cursor, held + MAX_JUMP, MAX_COUNTER)
        recent = cur.reason != Reason.CREATED and naive_utc(now) - cur.started_at < REWIND_COOLDOWN
        details = {"device_id": device_id, "device_cursor": cursor}
        if recent:
            session.execute(update(ChangeCounter).where(ChangeCounter.id == 1).values(value=jump))
            audit(
                session,
                now=now,
                actor=f"device:{device_id}",
                action="server.counter_moved",
                school_id=school_id,
                object_id=cur.generation,
                details={**details, "from": held, "to": jump},
            )
            generation, started, reason = cur.generation, cur.started_at, cur.reason
        else:
            row = start_generation(
                session,
                reason=Reason.REWOUND,
                now=now,
                actor=f"device:{device_id}",
                jump_to=jump,
                details=details,
            )
            generation, started, reason = row.generation, row.started_at, row.reason
    if claimed is None:
        return Standing(generation, jump)  # an older device: it reads on past the new counter
    _learned(Session_, generation, device_id, school_id, now)
    return Restart(generation, jump, held, started, reason)


def _learned(
    Session_: sessionmaker[Session],
    generation: str,
    device_id: str,
    school_id: int,
    now: dt.datetime,
) -> None:
    """The device was told of this generation (the first time counts)."""
    try:
        with Session_.begin() as session:
            if session.get(GenerationDevice, (generation, device_id)) is None:
                session.add(
                    GenerationDevice(
                        generation=generation,
                        device_id=device_id,
                        school_id=school_id,
                        learned_at=naive_utc(now),
                        healed_at=None,
                        came_back=0,
                        already_held=0,
                        conflicts=0,
                        rejected=0,
                    )
                )
    except IntegrityError:  # told twice at once
        pass


def count_healing_push(
    Session_: sessionmaker[Session],
    *,
    generation: str,
    device_id: str,
    school_id: int,
    results: list[Mapping[str, Any]],
    now: dt.datetime,
) -> None:
    """A push the device sent while healing into `generation`: what came back, what was held already."""
    counts = {"applied": 0, "duplicate": 0, "conflict": 0, "rejected": 0}
    for r in results:
        kind = r.get("result")
        if kind == "superseded":  # the server held that state already (1.12)
            kind = "duplicate"
        if isinstance(kind, str) and kind in counts:
            counts[kind] += 1
    _learned(Session_, generation, device_id, school_id, now)
    with Session_.begin() as session:
        session.execute(
            update(GenerationDevice)
            .where(
                GenerationDevice.generation == generation, GenerationDevice.device_id == device_id
            )
            .values(
                came_back=GenerationDevice.came_back + counts["applied"],
                already_held=GenerationDevice.already_held + counts["duplicate"],
                conflicts=GenerationDevice.conflicts + counts["conflict"],
                rejected=GenerationDevice.rejected + counts["rejected"],
            )
        )


def note_healed(
    Session_: sessionmaker[Session],
    *,
    generation: str,
    device_id: str,
    school_id: int,
    now: dt.datetime,
) -> None:
    """The device read its school's records again to the end: healed."""
    _learned(Session_, generation, device_id, school_id, now)
    with Session_.begin() as session:
        session.execute(
            update(GenerationDevice)
            .where(
                GenerationDevice.generation == generation,
                GenerationDevice.device_id == device_id,
                GenerationDevice.healed_at.is_(None),
            )
            .values(healed_at=naive_utc(now))
        )


# -- what the dashboard and the CLI show ------------------------------------------------------------


def change_time(session: Session, seq: int) -> dt.datetime | None:
    """When the newest change numbered at most `seq` was made (one step down the primary key)."""
    return session.execute(
        select(Change.created_at).where(Change.seq <= seq).order_by(Change.seq.desc()).limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class RestoreNotice:
    """The newest restore (or rewind) and the healing since."""

    generation: str
    reason: str
    started_at: dt.datetime
    held_through: int | None  # the parent's change numbers still held
    backup_time: dt.datetime | None  # when the newest change held was made (the backup's time)
    counter: int  # where numbering went on from
    details: dict[str, Any]
    devices: int  # devices not revoked
    learned: int  # devices told of it
    healed: int  # devices that read their school's records again
    came_back: int  # changes devices sent again that the database did not have
    already_held: int
    conflicts: int
    rejected: int
    current: bool  # it is the current generation


def latest_restore(session: Session) -> RestoreNotice | None:
    row = session.execute(
        select(ServerGeneration)
        .where(ServerGeneration.reason != Reason.CREATED)
        .order_by(ServerGeneration.number.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    backup_time = None if row.parent_seq is None else change_time(session, row.parent_seq)
    totals = session.execute(
        select(
            func.count(),
            func.count(GenerationDevice.healed_at),
            func.coalesce(func.sum(GenerationDevice.came_back), 0),
            func.coalesce(func.sum(GenerationDevice.already_held), 0),
            func.coalesce(func.sum(GenerationDevice.conflicts), 0),
            func.coalesce(func.sum(GenerationDevice.rejected), 0),
        ).where(GenerationDevice.generation == row.generation)
    ).one()
    devices = session.execute(
        select(func.count()).select_from(Device).where(Device.revoked_at.is_(None))
    ).scalar_one()
    return RestoreNotice(
        generation=row.generation,
        reason=row.reason,
        started_at=row.started_at,
        held_through=row.parent_seq,
        backup_time=backup_time,
        counter=row.seq_floor,
        details=dict(row.details or {}),
        devices=int(devices),
        learned=int(totals[0]),
        healed=int(totals[1]),
        came_back=int(totals[2]),
        already_held=int(totals[3]),
        conflicts=int(totals[4]),
        rejected=int(totals[5]),
        current=current_generation(session).generation == row.generation,
    )
