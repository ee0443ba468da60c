"""Bundles for the U盘数据 page's tests and screenshots, made by the real client: school PCs with real stores
(tests/sync's Client), enrolled online with the served app, then offline saving records and exporting with
client.usb.bundle.export_bundle; plus the bad files a staff member may bring back (not a bundle, a changed
byte, a revoked device's, another server's).

    round_ = visit_round(app, url, folder)   # the app served at url (tests.server.conftest.serve)
    round_.good  # [城关镇中心小学's bundle, 河口乡小学's bundle]
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests
from flask import Flask

from client.clock import FixedClock
from client.context import ClientContext
from client.store.db import open_store
from client.store.formset import FormSet
from client.sync.engine import SyncEngine
from client.usb.bundle import export_bundle
from forms import usb_bundle as U
from sync_server.services.review import accept_record
from sync_server.services.schools import add_school, revoke_device
from sync_server.state import get_state
from tests.server.dashboard_seed import ethics, teacher
from tests.support.samples import inspection
from tests.sync.conftest import NOW, TODAY, Client, Sleeps


def school_pc(app: Flask, url: str, folder: Path, *, code: str, name: str) -> Client:
    """A school (made in the server's database) and its PC, enrolled online."""
    state = get_state(app)
    with state.db.Session.begin() as s:
        made = add_school(s, code=code, name=name, now=state.now())
    ctx = ClientContext(open_store(folder / code), FormSet.shipped(), FixedClock(NOW, TODAY))
    http = requests.Session()
    sleeps = Sleeps()
    engine = SyncEngine(ctx, http, sleep=sleeps, rng=random.Random(7))
    client = Client(ctx, engine, http, sleeps, [])
    engine.enroll(url, made.enrollment_code, device_name="教务处电脑")
    return client


def device_of(client: Client) -> str:
    from client.store import sync_state as S

    with client.Session() as s:
        enrollment = S.get_enrollment(s)
    assert enrollment is not None
    return enrollment.device_id


@dataclass
class VisitRound:
    """What a staff member brings back from a round of visits."""

    good: list[Path]  # two schools' bundles, as exported
    refused_ethics: str  # the record id of the ethics edit the bureau refuses (it was accepted)
    not_a_bundle: Path
    tampered: Path
    revoked: Path
    other_server: Path
    clients: list[Client] = field(default_factory=list)

    def close(self) -> None:
        for c in self.clients:
            c.http.close()
            c.ctx.close()


def visit_round(app: Flask, url: str, folder: Path) -> VisitRound:
    stick = folder / "U盘"
    stick.mkdir(parents=True, exist_ok=True)
    state = get_state(app)
    # 城关镇中心小学: synced once online (the roster, an ethics record); the bureau accepted the ethics
    # record; offline since: the clerk edited it again (refused: accepted records change only by request)
    # and made two safety inspections.
    a = school_pc(app, url, folder, code="S001", name="城关镇中心小学")
    a.save(teacher("T001", "王老师"), form_id="teachers")
    ethics_id = a.save(ethics(), form_id="teacher_ethics")
    assert a.engine.sync().complete
    with state.db.Session.begin() as s:
        accept_record(s, ethics_id, "李科长", now=state.now())
    a.save(
        ethics(description="家长反映该教师周末有偿补课（已核实）"),
        form_id="teacher_ethics",
        record_id=ethics_id,
    )
    a.save(inspection(inspectors="张三、李四"))
    a.save(
        inspection(inspectors="赵六", inspection_date="2026-10-20", hazards_found="no", hazards=[])
    )
    bundle_a = export_bundle(a.ctx, stick).path
    # 河口乡小学: never online since enrolling; three inspections.
    b = school_pc(app, url, folder, code="S002", name="河口乡小学")
    for who in ("周老师", "吴老师", "郑老师"):
        b.save(inspection(inspectors=who))
    bundle_b = export_bundle(b.ctx, stick).path
    # 石门村小学: a PC the bureau revoked after it exported (lost on the bus, say).
    c = school_pc(app, url, folder, code="S003", name="石门村小学")
    c.save(inspection(inspectors="钱老师"))
    bundle_c = export_bundle(c.ctx, stick).path
    with state.db.Session.begin() as s:
        revoke_device(s, device_of(c), now=state.now(), actor="admin")
    junk = stick / "照片.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0 not a bundle")
    tampered = stick / f"改过的_{bundle_b.name}"
    data = bytearray(bundle_b.read_bytes())
    data[-40] ^= 0x01
    tampered.write_bytes(bytes(data))
    other = stick / "另一个县的文件.usbsync"
    header = U.new_header(
        kind=U.TO_BUREAU,
        school_code="X009",
        device_id=str(uuid.uuid4()),
        app_version="0.1.0",
        now=state.now(),
    )
    other.write_bytes(U.seal(header, {"batches": [], "attachments": [], "cursor": 0}, b"k" * 32))
    return VisitRound(
        good=[bundle_a, bundle_b],
        refused_ethics=ethics_id,
        not_a_bundle=junk,
        tampered=tampered,
        revoked=bundle_c,
        other_server=other,
        clients=[a, b, c],
    )
