"""Every answer under /api/v1 says which protocol the server speaks (issue 16 trial #24, retest): 404s for
paths it does not know, 405s and the 426 for a client that is too old included; the value is the newest
revision the server implements (1.21), and a client that reads it (client/update/hook.py) takes any revision
from 1.18 on as one that reads update reports. The real create_app() through Flask's test client on a fresh
SQLite copy."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from client.sync.http import Answer
from client.update.hook import _takes_reports
from sync_server import updates as U
from sync_server.state import get_state
from tests.server.dashboard_seed import make_app

CLIENT = {"User-Agent": "school-client/0.1.0"}


@pytest.fixture
def app(tmp_path: Path, sqlite_template: Path) -> Any:
    path = tmp_path / "proto.db"
    shutil.copyfile(sqlite_template, path)
    made = make_app(f"sqlite:///{path}", tmp_path / "instance", MIN_CLIENT_VERSION="0.3.0")
    yield made
    get_state(made).db.close()


def test_every_api_answer_states_the_newest_protocol_revision(app: Any) -> None:
    assert U.PROTOCOL == "1.21"  # 1.20 batch negotiation, 1.21 offer "none" and report fields
    c = app.test_client()
    for method, path in (
        ("get", "/api/v1/healthz"),  # no such route (healthz is at /healthz): 404
        ("get", "/api/v1/no/such/thing"),
        ("get", "/api/v1/update/repo/metadata/none.json"),
        ("delete", "/api/v1/enroll"),  # 405
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/pull"),  # 426 for this old client, before anything else
    ):
        r = getattr(c, method)(path, headers=CLIENT)
        assert r.headers.get("Sync-Protocol") == "1.21", (method, path, r.status_code)
        assert r.headers.get("Sync-Min-Client-Version") == "0.3.0", (path, r.status_code)
    r = c.get("/api/v1/pull", headers=CLIENT)
    assert r.status_code == 426 and r.json["error"]["code"] == "client_too_old"
    assert r.json["error"]["details"]["protocol"] == "1.21"
    # No Upgrade header: a 426 here asks for a newer client program, not another protocol on this
    # connection (docs/protocol.md, revision 1.18); WSGI forbids hop-by-hop headers such as Upgrade.
    assert "Upgrade" not in r.headers
    assert "Sync-Protocol" not in c.get("/login").headers  # the dashboard is no protocol answer


@pytest.mark.parametrize(
    ("stated", "reads_reports"),
    [("1.18", True), ("1.19", True), ("1.20", True), ("1.100", True), ("2.0", True),
     ("1.17", False), ("1.9", False), ("", False), ("x", False)],
)  # fmt: skip
def test_a_client_takes_any_revision_from_1_18_on_as_reading_reports(
    stated: str, reads_reports: bool
) -> None:
    answer = Answer(200, CaseInsensitiveDict({"Sync-Protocol": stated} if stated else {}), None)
    assert _takes_reports(answer) is reads_reports
