"""A rollback that cannot be done when the new version fails its first start (review F2), with the small fake
program of tests/client/test_update_install.py run as processes: the state does not claim it rolled back,
pending.json stays, a "rollback owed" record (updates/rollback.json) is kept, and the next start that gets to
run does the rollback first and hands over to the version put back."""

from __future__ import annotations

from pathlib import Path

from client.update.install import ROLLBACK_FILE
from client.update.retry import MAX_START_TRIES
from client.update.state import PENDING_FILE, load_state, save_state, updates_dir
from tests.client.test_update_install import program, ran, stage, start, version_in


def test_a_rollback_that_cannot_be_done_is_owed_and_done_by_the_next_start(tmp_path: Path) -> None:
    install = program(tmp_path / "Programs" / "school-client", "2.0")
    data = tmp_path / "data"
    stage(data, program(tmp_path / "v3", "3.0", broken=True), "3.0")
    state = load_state(data)  # its last try: blocked once it fails (not staged again)
    state.start_failures = {"3.0": {"tries": MAX_START_TRIES - 1}}
    save_state(data, state)
    # Something where the failed version would go: it cannot be renamed away (as a file held open would).
    in_the_way = install.with_name("school-client.failed")
    in_the_way.write_text("held", encoding="utf-8")

    assert start(install, data, "swap").returncode == 0
    assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "2.0")]  # 2.0 ran from memory
    assert version_in(install) == "3.0"  # the broken one is still in place
    state = load_state(data)
    assert state.state == "failed" and state.target_version == "3.0"  # not "rolled_back"
    assert "tried again at the next start" in (state.error or "")
    assert (updates_dir(data) / PENDING_FILE).is_file()
    assert (updates_dir(data) / ROLLBACK_FILE).is_file()

    in_the_way.unlink()  # the holder let go
    (
        install / "BROKEN"
    ).unlink()  # this start gets as far as the update code (its migration failed)
    assert start(install, data, "swap").returncode == 0
    assert [(w, v) for w, v, _, _ in ran(data)] == [("ran", "2.0"), ("handed-over", "3.0")]
    assert version_in(install) == "2.0"
    assert not in_the_way.exists()
    state = load_state(data)
    assert (state.state, state.target_version, state.blocked) == ("rolled_back", "3.0", ["3.0"])
    assert not (updates_dir(data) / PENDING_FILE).exists()
    assert not (updates_dir(data) / ROLLBACK_FILE).exists()
