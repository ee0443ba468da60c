"""What the sync keeps to heal after a restore: of the server's database, or of this store itself.

Repository functions (they take a Session, never commit); client.sync.healing drives them.

- `sync.generation`: the server generation this store's cursor and acknowledgements belong to (protocol
  revision 1.6). Learned from the first answer; None in a store that never met a server of revision 1.6.
- sync_acks: each change our server acknowledged (applied or duplicate): the record's server revision it
  made and the server's change counter after that answer (`seq`).
- `sync.heal`: a heal in progress; while it is set, pulls read the school's records again (include_own,
  compacted) and, when the pull reaches the end, the heal is over (`sync.last_heal` says what came back).
- `sync.restored_store`: written into a store restored from its own backup (client.store.backup); the next
  sync turns it into a heal that reads again, from the backup's cursor, what this computer sent after it.

A restored server tells (409 generation_changed) up to which change number of our generation it holds
everything (`held_through`). A change acknowledged with a higher number is gone from it: its outbox entry is
made unsent again, under the same op id, with the base it was first applied on (the server revision it made,
minus one); one it holds is answered `duplicate`. A change acknowledged at or below it is held; it counts as
held from the start of the new generation (seq 0), so a later restore of a backup of that generation keeps
it too. Nothing is sent twice by mistake: the op ids make sending again safe.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from client.store.issues import IssueKind, mark_conflicts_stale
from client.store.models import (
    OFFER,
    RESENT_SEQ,
    Attachment,
    OutboxEntry,
    Record,
    Revision,
    Status,
    SyncAck,
    SyncBatch,
    SyncIssue,
    SyncRecord,
)
from client.store.op_ids import new_op_id
from client.store.outbox import attachment_refs
from client.store.prefs import get_setting, set_setting
from client.store.pull import get_cursor, set_cursor

log = logging.getLogger(__name__)

K_GENERATION = "sync.generation"
K_HEAL = "sync.heal"
K_LAST_HEAL = "sync.last_heal"
K_RESTORED = "sync.restored_store"
# record id -> the server revision this store knew of it before a heal set its base back (1.12): a later
# state another PC made, read here, that the restored server may lack
K_HEAL_KNOWN = "sync.heal_known"
# sync_records.updated_at of a record not yet read again in a server heal
UNSEEN = dt.datetime(1970, 1, 1)


class HealKind:
    SERVER_RESTORED = "server_restored"  # the server's database went back: send again, read again
    PC_RESTORED = (
        "pc_restored"  # this store came from its own backup: read again what was sent since
    )


@dataclass(frozen=True)
class Heal:
    kind: str
    generation: str | None  # the server generation being healed into (server_restored)
    started_at: str
    since: int  # where the reading again began
    resent: int  # changes made unsent again
    came_back: int  # records this store did not have that the reading again brought


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


def get_generation(session: Session) -> str | None:
    value = get_setting(session, K_GENERATION)
    return str(value) if value else None


def learn_generation(session: Session, generation: str) -> None:
    """The first generation this store hears of, from an answer that did not refuse it: what it was told
    before (with no generation) is held by it."""
    if get_generation(session) is None and generation:
        set_setting(session, K_GENERATION, generation)


def current_heal(session: Session) -> Heal | None:
    value = get_setting(session, K_HEAL)
    if not isinstance(value, Mapping):
        return None
    return Heal(
        kind=str(value.get("kind") or HealKind.SERVER_RESTORED),
        generation=value.get("generation") or None,
        started_at=str(value.get("started_at") or ""),
        since=int(value.get("since") or 0),
        resent=int(value.get("resent") or 0),
        came_back=int(value.get("came_back") or 0),
    )


def _set_heal(session: Session, heal: Heal) -> None:
    set_setting(
        session,
        K_HEAL,
        {
            "kind": heal.kind,
            "generation": heal.generation,
            "started_at": heal.started_at,
            "since": heal.since,
            "resent": heal.resent,
            "came_back": heal.came_back,
        },
    )


# -- acknowledgements ---------------------------------------------------------------------------------


def stamp_acks(
    session: Session,
    *,
    changes: Sequence[Mapping[str, Any]],
    results: Sequence[Mapping[str, Any]],
    acknowledged: Iterable[str],
    seq: int | None,
    now: dt.datetime,
) -> None:
    """Keep, for each change the server's answer acknowledged, the server revision it made and the
    counter after the answer (`seq`: the answer's cursor; unknown - an answer without one - counts as
    "not known to be held", so it is sent again after any restore)."""
    ops = set(acknowledged)
    if not ops:
        return
    # The revision a change made (applied or duplicate); 0 for one kept otherwise (a change request).
    revisions = {
        str(r.get("op_id")): r.get("server_revision")
        for r in results
        if str(r.get("op_id")) in ops
        and r.get("result") in ("applied", "duplicate")
        and isinstance(r.get("server_revision"), int)
    }
    records = {str(c["op_id"]): str(c["record_id"]) for c in changes if str(c["op_id"]) in ops}
    stamp = seq if isinstance(seq, int) and seq >= 0 else 2**62
    rows = [
        {
            "op_id": op,
            "record_id": records[op],
            "server_revision": int(revisions.get(op) or 0),
            "seq": stamp,
            "acked_at": now,
        }
        for op in sorted(ops)
        if op in records
    ]
    if not rows:
        return
    # One cached Core statement, executemany on the session's connection (the ORM's bulk path built and
    # tracked the rows each answer: ~1.2 s per 10,000 acknowledged changes).
    session.connection().execute(_UPSERT_ACKS, rows)


def _upsert_acks() -> Any:
    acks = cast(Table, SyncAck.__table__)
    ins = sqlite_insert(acks)
    return ins.on_conflict_do_update(
        index_elements=[acks.c.op_id],
        set_={
            "server_revision": ins.excluded.server_revision,
            "seq": ins.excluded.seq,
            "acked_at": ins.excluded.acked_at,
        },
    )


_UPSERT_ACKS = _upsert_acks()


# -- the server was restored -------------------------------------------------------------------------


def begin_server_heal(
    session: Session,
    *,
    generation: str,
    held_through: int | None,
    now: dt.datetime,
) -> Heal:
    """The server (now in `generation`) holds this store's generation's changes up to `held_through` (None:
    it cannot tell). In one transaction: the changes acknowledged past it are made unsent again with their
    first base, the photos they use are checked again, the batch in flight is dropped (it may be built on
    what the server lost), and the cursor goes back to 0 for reading the school's records again."""
    knew = get_generation(session)
    lost_q = select(SyncAck.op_id, SyncAck.record_id, SyncAck.server_revision)
    if held_through is not None:
        lost_q = lost_q.where(SyncAck.seq > held_through)
    lost = list(session.execute(lost_q).all())
    lost_ops = [op for op, _, _ in lost]
    # The base each record's oldest lost change was applied on: the revision it made, minus one.
    first_base: dict[str, int] = {}
    for _, record_id, revision in lost:
        if revision > 0:  # unknown (a change request): the base stays what this store knows
            first_base[record_id] = min(first_base.get(record_id, revision), revision)
    if knew is None and held_through is None:
        # A store that acknowledged changes before it knew of generations, meeting a restored server: the
        # newest sent change of each record goes again (the server answers duplicate if it has it).
        legacy = _legacy_newest(session, exclude=set(lost_ops))
        for op_id, record_id in legacy:
            lost_ops.append(op_id)
            known = session.get(SyncRecord, record_id)
            if known is not None and record_id not in first_base:
                first_base[record_id] = known.server_revision
    made = {op: (rid, rev) for op, rid, rev in lost}
    for chunk in _chunks(lost_ops):
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.op_id.in_(chunk), OutboxEntry.sent_at.is_not(None))
            .values(sent_at=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(delete(SyncAck).where(SyncAck.op_id.in_(chunk)))
    # Each goes marked `resent`, keeping the revision it made (1.12): a server that took another PC's
    # offer of a later state answers it `superseded` instead of a conflict.
    records_of = dict(
        session.execute(
            select(OutboxEntry.op_id, OutboxEntry.record_id).where(
                OutboxEntry.op_id.in_([op for op in lost_ops if op not in made])
            )
        ).all()
    )
    marks = [
        {
            "op_id": op,
            "record_id": made[op][0] if op in made else records_of.get(op, ""),
            "server_revision": made[op][1] if op in made else 0,
            "seq": RESENT_SEQ,
            "acked_at": now,
        }
        for op in lost_ops
        if op in made or op in records_of
    ]
    if marks:
        session.execute(sqlite_insert(SyncAck).on_conflict_do_nothing(), marks)
    # Every record's server state is read again; one the reading again does not bring, the server lost
    # (finish_heal). The records whose changes go again are seen already (their bases are set below).
    session.execute(update(SyncRecord).values(updated_at=UNSEEN))
    _keep_known(session, first_base)
    _set_bases(session, first_base, now=now)
    mark_conflicts_stale(session)
    _check_photos_again(session, lost_ops)
    # held from the new generation's start
    session.execute(update(SyncAck).where(SyncAck.seq >= 0).values(seq=0))
    session.execute(delete(SyncBatch))
    set_cursor(session, 0)
    set_setting(session, K_GENERATION, generation)
    before = current_heal(session)
    heal = Heal(
        kind=HealKind.SERVER_RESTORED,
        generation=generation,
        started_at=_iso(now),
        since=0,
        resent=len(lost_ops) + (before.resent if before is not None else 0),
        came_back=before.came_back if before is not None else 0,
    )
    _set_heal(session, heal)
    log.warning(
        "the server is in generation %s (held through %s, ours %s): %d changes go again",
        generation,
        held_through,
        knew,
        len(lost_ops),
    )
    return heal


def _keep_known(session: Session, first_base: Mapping[str, int]) -> None:
    """Before the bases of the changes sent again are set: the revisions known here beyond them."""
    known = dict(get_setting(session, K_HEAL_KNOWN) or {})
    for chunk in _chunks(sorted(first_base)):
        for rid, revision in session.execute(
            select(SyncRecord.record_id, SyncRecord.server_revision).where(
                SyncRecord.record_id.in_(chunk)
            )
        ):
            if revision >= first_base[rid]:
                known[rid] = max(int(known.get(rid) or 0), revision)
    set_setting(session, K_HEAL_KNOWN, known or None)


def _set_bases(session: Session, first_base: Mapping[str, int], *, now: dt.datetime) -> None:
    """Each record's base for its first change sent again: the revision that change made, minus one (no
    base for a change that made the record)."""
    made = sorted(rid for rid, rev in first_base.items() if rev <= 1)
    for chunk in _chunks(made):  # it made the record: no base
        session.execute(delete(SyncRecord).where(SyncRecord.record_id.in_(chunk)))
    rows = [
        {
            "record_id": rid,
            "server_revision": rev - 1,
            "server_status": "received",
            "updated_at": now,
        }
        for rid, rev in sorted(first_base.items())
        if rev > 1
    ]
    if rows:
        ins = sqlite_insert(SyncRecord)
        session.execute(
            ins.on_conflict_do_update(
                index_elements=[SyncRecord.record_id],
                set_={"server_revision": ins.excluded.server_revision},
            ).execution_options(synchronize_session=False),
            rows,
        )


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _legacy_newest(session: Session, *, exclude: set[str]) -> list[tuple[str, str]]:
    """(op id, record id) of each record's newest sent change that has no acknowledgement kept."""
    newest = (
        select(func.max(OutboxEntry.id))
        .where(OutboxEntry.sent_at.is_not(None))
        .group_by(OutboxEntry.record_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(OutboxEntry.op_id, OutboxEntry.record_id)
        .outerjoin(SyncAck, SyncAck.op_id == OutboxEntry.op_id)
        .where(OutboxEntry.id.in_(newest), SyncAck.op_id.is_(None))
    ).all()
    return [(op, rid) for op, rid in rows if op not in exclude]


def _check_photos_again(session: Session, op_ids: Sequence[str]) -> None:
    """The photos and files the changes to send again use: the restored server may lack them."""
    shas: set[str] = set()
    for chunk in _chunks(op_ids):
        for (data,) in session.execute(
            select(Revision.data)
            .join(
                OutboxEntry,
                (OutboxEntry.record_id == Revision.record_id)
                & (OutboxEntry.revision == Revision.revision),
            )
            .where(OutboxEntry.op_id.in_(chunk))
        ):
            shas |= attachment_refs(data)
    for chunk in _chunks(sorted(shas)):
        session.execute(
            update(Attachment)
            .where(Attachment.sha256.in_(chunk))
            .values(uploaded_at=None)
            .execution_options(synchronize_session=False)
        )


# -- this store was restored from its own backup ------------------------------------------------------


def restored_store_marker(*, cursor: Any, now: dt.datetime, source: str) -> dict[str, Any]:
    """The marker client.store.backup writes into a restored store (as JSON in the settings table)."""
    return {
        "at": _iso(now),
        "source": source,
        "cursor": int(cursor) if isinstance(cursor, int) and cursor >= 0 else 0,
    }


def begin_pc_heal(session: Session, *, now: dt.datetime) -> Heal | None:
    """A store restored from its own backup reads again, from the backup's cursor and with its own changes
    (include_own), what the server holds: what this computer sent after the backup comes back."""
    marker = get_setting(session, K_RESTORED)
    if not isinstance(marker, Mapping):
        return None
    set_setting(session, K_RESTORED, None)
    since = min(get_cursor(session), int(marker.get("cursor") or 0))
    set_cursor(session, since)
    running = current_heal(session)
    heal = Heal(
        kind=running.kind if running is not None else HealKind.PC_RESTORED,
        generation=running.generation if running is not None else None,
        started_at=_iso(now),
        since=since,
        resent=running.resent if running is not None else 0,
        came_back=running.came_back if running is not None else 0,
    )
    _set_heal(session, heal)
    log.warning("this store was restored from a backup: reading again from change %d", since)
    return heal


# -- reading again ------------------------------------------------------------------------------------


def _record_items(changes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [c for c in changes if c.get("type") == "record" and c.get("record_id")]


def before_heal_page(
    session: Session, changes: Sequence[Mapping[str, Any]], *, now: dt.datetime | None = None
) -> set[str]:
    """Ready a page read again for apply_pull_page: each record's state on the server is its current
    state (the page is compacted), so a revision this store knows beyond it is one the server lost - it is
    forgotten, and the server's state applies. Returns the page's records this store does not have.

    Unless this store holds that lost state only as the server's, with other answers (1.12): it is offered
    back at once, and the page's state then is older (ignored) or - the same revision number made anew
    on the restored server, another history - a conflict for the clerk, not a silent loss."""
    items = _record_items(changes)
    ids = sorted({str(c["record_id"]) for c in items})
    if not ids:
        return set()
    known = {
        row.record_id: row
        for row in session.execute(
            select(SyncRecord).where(SyncRecord.record_id.in_(ids))
        ).scalars()
    }
    before = get_setting(session, K_HEAL_KNOWN) or {}
    knew = {rid: max(row.server_revision, int(before.get(rid) or 0)) for rid, row in known.items()}
    behind = {
        str(c["record_id"]): c.get("data")
        for c in items
        if str(c["record_id"]) in knew
        and isinstance(c.get("server_revision"), int)
        and c["server_revision"] <= knew[str(c["record_id"])]
        and c.get("status") != "deleted"
    }
    keep: set[str] = set()
    if behind and _healing_server(session):
        # The server lost a later state of these. One held here only as the server's state, with other
        # answers than the server's older state, is kept and offered back at the end (_offer_back): the
        # page's older state is then not applied. A lost return or acceptance alone (the same answers) is
        # not offered: the server's state applies.
        held: dict[str, Any] = dict(
            session.execute(
                select(Record.id, Record.data).where(Record.id.in_(sorted(behind)))
            ).all()
        )
        keep = _offerable(
            session, [rid for rid, data in behind.items() if rid in held and held[rid] != data]
        )
        for rid in keep:  # offered at the revision known here
            known[rid].server_revision = knew[rid]
        if keep:
            _make_offers(
                session, sorted(keep), now=now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
            )
    for c in items:
        row = known.get(str(c["record_id"]))
        revision = c.get("server_revision")
        if (
            row is not None
            and isinstance(revision, int)
            and revision < row.server_revision
            and row.record_id not in keep
        ):
            row.server_revision = revision
    present = set(session.execute(select(Record.id).where(Record.id.in_(ids))).scalars())
    return set(ids) - present


def after_heal_page(session: Session, absent: set[str]) -> int:
    """Count the records a page read again brought to this store."""
    heal = current_heal(session)
    if not absent or heal is None:
        return 0
    came = int(
        session.execute(
            select(func.count())
            .select_from(Record)
            .where(Record.id.in_(sorted(absent)), Record.deleted.is_(False))
        ).scalar_one()
    )
    _set_heal(session, dataclasses.replace(heal, came_back=heal.came_back + came))
    return came


def finish_heal(session: Session, *, now: dt.datetime) -> Heal | None:
    """The reading again reached the end: the heal is over; what it did is kept for the clerk."""
    heal = current_heal(session)
    if heal is None:
        return None
    if heal.kind == HealKind.SERVER_RESTORED:
        offered = _offer_back(session, now=now)
        # Any other record the server's state was not read again for is one the restored server does not
        # hold: forget the revision this store knew of it, or another PC sending it again (from revision 1)
        # would be taken for an older state and never applied here (found by the convergence test).
        session.execute(
            update(SyncRecord)
            .where(SyncRecord.updated_at == UNSEEN)
            .values(server_revision=0, updated_at=now)
        )
        if offered:
            heal = current_heal(session) or heal
    set_setting(session, K_HEAL, None)
    set_setting(session, K_HEAL_KNOWN, None)
    set_setting(
        session,
        K_LAST_HEAL,
        {
            "kind": heal.kind,
            "generation": heal.generation,
            "started_at": heal.started_at,
            "finished_at": _iso(now),
            "resent": heal.resent,
            "came_back": heal.came_back,
        },
    )
    log.warning(
        "healed (%s): %d changes sent again, %d records came back",
        heal.kind,
        heal.resent,
        heal.came_back,
    )
    return heal


def _healing_server(session: Session) -> bool:
    heal = current_heal(session)
    return heal is not None and heal.kind == HealKind.SERVER_RESTORED


def _offerable(session: Session, ids: Sequence[str]) -> set[str]:
    """Of these records, those this store holds only as the server's state: live, saved (not drafts), with
    nothing waiting to be sent and no open conflict."""
    out: set[str] = set()
    for chunk in _chunks(sorted(set(ids))):
        live = set(
            session.execute(
                select(Record.id).where(
                    Record.id.in_(chunk), Record.deleted.is_(False), Record.status != Status.DRAFT
                )
            ).scalars()
        )
        busy = set(
            session.execute(
                select(OutboxEntry.record_id).where(
                    OutboxEntry.record_id.in_(chunk), OutboxEntry.sent_at.is_(None)
                )
            ).scalars()
        )
        busy |= set(
            rid
            for rid in session.execute(
                select(SyncIssue.record_id).where(
                    SyncIssue.record_id.in_(chunk),
                    SyncIssue.resolved_at.is_(None),
                    SyncIssue.kind == IssueKind.CONFLICT,
                )
            ).scalars()
            if rid is not None
        )
        out |= live - busy
    return out


def _offer_back(session: Session, *, now: dt.datetime) -> int:
    """The records the restored server lacks that this PC holds only as the server's state (read from it,
    or sent by this PC and acknowledged before a restore of its own): nobody else may still have them to
    send again, so each is offered back at the revision this PC knew (protocol revision 1.12). The server
    takes the first offer or change that brings a state and answers the rest `superseded`. Records with
    changes waiting here, drafts, deleted records and those in an open conflict go their usual way."""
    rows = session.execute(
        select(SyncRecord.record_id, Record.revision)
        .join(Record, Record.id == SyncRecord.record_id)
        .where(SyncRecord.updated_at == UNSEEN, SyncRecord.server_revision > 0)
    ).all()
    if not rows:
        return 0
    chosen = _offerable(session, [rid for rid, _ in rows])
    return _make_offers(session, sorted(chosen), now=now)


def _make_offers(session: Session, record_ids: Sequence[str], *, now: dt.datetime) -> int:
    """An offer (outbox kind `offer`) of each record's current state, at the server revision this store
    knows of it; the records wait to be sent (submitted) and count as read again."""
    revisions = dict(
        session.execute(select(Record.id, Record.revision).where(Record.id.in_(record_ids))).all()
    )
    op_ids = []
    for rid in record_ids:
        if rid not in revisions:
            continue
        op_ids.append(new_op_id())
        session.add(
            OutboxEntry(
                op_id=op_ids[-1],
                record_id=rid,
                revision=revisions[rid],
                kind=OFFER,
                created_at=now,
                sent_at=None,
            )
        )
    session.flush()
    _check_photos_again(session, op_ids)  # the restored server may lack them too
    offered = [rid for rid in record_ids if rid in revisions]
    for chunk in _chunks(offered):
        session.execute(
            update(SyncRecord)
            .where(SyncRecord.record_id.in_(chunk))
            .values(updated_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Record)
            .where(Record.id.in_(chunk))
            .values(status=Status.SUBMITTED)
            .execution_options(synchronize_session=False)
        )
    session.flush()
    if offered:
        log.warning("%d records the restored server lacks are offered back", len(offered))
    heal = current_heal(session)
    if heal is not None and offered:
        _set_heal(session, dataclasses.replace(heal, resent=heal.resent + len(offered)))
    return len(offered)


@dataclass(frozen=True)
class LostWork:
    """What a restore from a backup lost for good: saved on this computer after the backup and never sent."""

    changes: (
        int  # unsent changes (and drafts) of the replaced database that the backup does not hold
    )
    records: int  # the records they belong to


def work_lost_by_restore(restored: Path, previous: Path) -> LostWork | None:
    """Compare the restored database with the one it replaced (kept aside by restore_from): its changes
    never sent to the server (unsent outbox entries, drafts) that the backup lacks. None when the replaced
    one cannot be read (a damaged database is why one restores)."""
    from client.store.db import DB_ERRORS, connect
    from client.store.keys import load_key
    from client.store.records import StoreError

    try:
        key = load_key(restored.parent)
        conn = connect(restored, key, read_only=True)
    except (*DB_ERRORS, StoreError):  # type: ignore[misc]  # mypy: starred except tuple
        return None
    try:
        # Without a KEY clause the attached file is opened with the main one's key: the saved copy is this
        # folder's own backup.
        conn.execute("ATTACH DATABASE ? AS old", (f"{previous.resolve().as_uri()}?mode=ro",))
        unsent = conn.execute(
            "SELECT o.record_id FROM old.outbox o WHERE o.sent_at IS NULL AND o.kind != 'offer' "
            "AND o.op_id NOT IN (SELECT op_id FROM main.outbox)"
        ).fetchall()
        drafts = conn.execute(
            "SELECT r.id FROM old.records r WHERE r.status = 'draft' AND r.deleted = 0 AND NOT EXISTS "
            "(SELECT 1 FROM main.records m WHERE m.id = r.id AND m.revision >= r.revision)"
        ).fetchall()
    except DB_ERRORS as exc:
        log.warning("what the restore lost cannot be counted: %s", exc)
        return None
    finally:
        conn.close()
    return LostWork(len(unsent) + len(drafts), len({r for (r,) in unsent} | {r for (r,) in drafts}))
