"""Check for an update, download it resumably, verify it with TUF, and stage it (docs/updates.md).

    check_and_stage(transport, data_dir, running="0.1.0") -> UpdateState

The server says which release this computer is offered (`POST /api/v1/update/check`, which also carries
this computer's report). python-tuf's ngclient then refreshes the signed metadata from the server's
repository, starting from the root this computer trusts (shipped beside the program as update-root.json, or
taken at the first check over the connection pinned at enrollment), and gives the target's length and
sha256 from metadata signed by the bureau's offline targets key. The archive is downloaded with Range
(a cut link resumes where it stopped), checked against that length and hash, unpacked into
`<data>/updates/staged/<version>/` and marked ready; install.py puts it in place at the next start.
A server that knows no update route (older than protocol 1.18) answers 404: nothing happens.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import requests
from packaging.version import InvalidVersion, Version
from tuf.api import exceptions as tuf_errors
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig  # type: ignore[attr-defined]

from client.sync.errors import SyncError
from client.sync.http import API, Answer, Transport
from client.update.state import (
    READY_FILE,
    UpdateState,
    load_state,
    save_state,
    staged_ready,
    updates_dir,
    write_json,
)

log = logging.getLogger(__name__)

REPO = f"{API}/update/repo"
ROOT_NAME = "update-root.json"  # the bureau's trusted root, shipped beside the program
CHUNK = 256 * 1024
DOWNLOAD_SECONDS = 120.0  # of downloading per sync; the rest comes with the next syncs
MAX_METADATA_BYTES = 1024 * 1024


class SessionFetcher(FetcherInterface):
    """ngclient's downloads through our requests session (so the pinned certificate is checked)."""

    def __init__(self, session: requests.Session, timeout: float = 60.0) -> None:
        self.session = session
        self.timeout = timeout

    def _fetch(self, url: str) -> Iterator[bytes]:
        response = self.session.get(url, stream=True, timeout=(10.0, self.timeout))
        if response.status_code != 200:
            response.close()
            raise tuf_errors.DownloadHTTPError(
                f"{url}: {response.status_code}", response.status_code
            )
        return response.iter_content(CHUNK)


def _newer(offer: str, running: str) -> bool:
    try:
        return Version(offer) > Version(running)
    except InvalidVersion:
        return False


def check_and_stage(
    transport: Transport, data_dir: Path, *, running: str, install_dir: Path | None = None
) -> UpdateState:
    """One update check (and download, when something newer is offered); never raises for the update's
    own failures - they are kept in the state, reported to the server and logged."""
    data_dir = Path(data_dir)
    state = load_state(data_dir)
    if state.target_version == running and state.state in ("downloading", "staged"):
        state.state, state.error = "installed", None  # this is the version that was staged
    answer = _report(transport, running, state)
    if answer is None or answer.status == 404:  # 404: a server older than 1.18, no update channel
        return state
    offer = (answer.body or {}).get("offer") if isinstance(answer.body, dict) else None
    ready = staged_ready(data_dir)
    if not isinstance(offer, dict) or not _newer(str(offer.get("version")), running):
        if state.state not in ("failed", "rolled_back", "installed") and not ready:
            state.state, state.target_version, state.error = "current", None, None
        save_state(data_dir, state)
        return state
    version, target = str(offer["version"]), str(offer.get("target") or "")
    if version in state.blocked:
        log.info("update %s failed its first start here before; not taken again", version)
        return state
    if ready and ready.get("version") == version:
        return state  # staged: installed at the next start
    state.state, state.target_version, state.error = "downloading", version, None
    save_state(data_dir, state)
    try:
        stage(transport, data_dir, version=version, target=target, install_dir=install_dir)
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError, UpdateRefused) as exc:
        state.state, state.failures = "failed", state.failures + 1
        state.error = f"{type(exc).__name__}: {exc}"[:500]
        log.warning("update %s refused: %s", version, state.error)
    except (requests.RequestException, OSError, DownloadPaused) as exc:  # resumed at the next sync
        state.state, state.error = "downloading", f"{type(exc).__name__}: {exc}"[:500]
        log.info("update %s download interrupted: %s", version, exc)
    else:
        state.state, state.error = "staged", None
        log.info("update %s verified and staged; installed at the next start", version)
    save_state(data_dir, state)
    _report(transport, running, state)  # the dashboard sees what came of it now
    return state


def _report(transport: Transport, running: str, state: UpdateState) -> Answer | None:
    """The update check: this computer's report, answered with its offer (None: not answered)."""
    try:
        return transport.request(
            "POST",
            f"{API}/update/check",
            json_body=state.report(running),
            expect=(200, 404),
            retry=False,
        )
    except SyncError as exc:
        log.info("update check not answered: %s", exc.one_line())
        return None


class UpdateRefused(Exception):
    """The offered release cannot be taken (not in the signed metadata, a bad archive)."""


def trusted_root(transport: Transport, data_dir: Path, install_dir: Path | None) -> bytes | None:
    """The root to start from when ngclient holds none yet: shipped beside the program, else the
    server's first root, fetched over the connection pinned at enrollment (trust on first use)."""
    bundled = getattr(sys, "_MEIPASS", None)  # build.spec puts packaging/update-root.json there
    for folder in (install_dir, Path(bundled) if bundled else None):
        if folder is not None and (folder / ROOT_NAME).is_file():
            return (folder / ROOT_NAME).read_bytes()
    response = transport.session.get(
        f"{transport.base_url}{REPO}/metadata/1.root.json", timeout=(10.0, 60.0)
    )
    if response.status_code != 200 or len(response.content) > MAX_METADATA_BYTES:
        raise UpdateRefused(f"no trusted root ({response.status_code})")
    return response.content


def stage(
    transport: Transport,
    data_dir: Path,
    *,
    version: str,
    target: str,
    install_dir: Path | None = None,
) -> Path:
    folder = updates_dir(data_dir)
    metadata = folder / "tuf"
    metadata.mkdir(parents=True, exist_ok=True)
    bootstrap = (
        None
        if (metadata / "root.json").is_file()
        else trusted_root(transport, data_dir, install_dir)
    )
    if bootstrap is not None:
        (metadata / "root.json").write_bytes(bootstrap)
    updater = Updater(
        str(metadata),
        f"{transport.base_url}{REPO}/metadata/",
        target_dir=str(folder / "download"),
        target_base_url=f"{transport.base_url}{REPO}/targets/",
        fetcher=SessionFetcher(transport.session),
        config=UpdaterConfig(),
        bootstrap=bootstrap,
    )
    updater.refresh()  # root chain, timestamp, snapshot, targets: signatures, versions, expiry
    info = updater.get_targetinfo(target)
    if info is None:
        raise UpdateRefused(f"{target} is not in the signed targets metadata")
    custom = info.unrecognized_fields.get("custom") or {}
    if str(custom.get("version")) != version:
        raise UpdateRefused(f"{target} is signed as version {custom.get('version')}, not {version}")
    archive = folder / "download" / Path(target).name
    download_resumably(transport, f"{REPO}/targets/{target}", archive, length=info.length)
    try:
        with archive.open("rb") as fh:
            info.verify_length_and_hashes(fh)  # LengthOrHashMismatchError: tampered or broken
    except tuf_errors.LengthOrHashMismatchError:
        archive.unlink()  # never resumed from: the next try downloads it afresh
        raise
    staged = folder / "staged"
    shutil.rmtree(staged, ignore_errors=True)
    unpacked = folder / f"staged-{version}.tmp"
    shutil.rmtree(unpacked, ignore_errors=True)
    try:
        unpack(archive, unpacked / version)
    except (tarfile.TarError, zipfile.BadZipFile, ValueError) as exc:
        raise UpdateRefused(f"the archive cannot be unpacked: {exc}") from exc
    write_json(unpacked / READY_FILE, {"version": version, "target": target})
    unpacked.rename(staged)
    archive.unlink()
    return staged / version


class DownloadPaused(Exception):
    """This sync's share of the download is used up; the next sync goes on from here."""


def download_resumably(
    transport: Transport, path: str, out: Path, *, length: int, seconds: float | None = None
) -> None:
    """GET with Range from where an earlier try stopped; never more than `length` bytes, and for at most
    `seconds` (DOWNLOAD_SECONDS) per sync, so that a large update on a slow link never holds up syncing."""
    deadline = time.monotonic() + (DOWNLOAD_SECONDS if seconds is None else seconds)
    out.parent.mkdir(parents=True, exist_ok=True)
    have = out.stat().st_size if out.exists() else 0
    if have > length:
        out.unlink()
        have = 0
    if have == length:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    with transport.session.get(
        transport.base_url + path, headers=headers, stream=True, timeout=(10.0, 60.0)
    ) as response:
        if response.status_code == 200:
            have, mode = 0, "wb"
        elif response.status_code == 206:
            mode = "ab"
        else:
            raise UpdateRefused(f"download answered {response.status_code}")
        with out.open(mode) as fh:
            for chunk in response.iter_content(CHUNK):
                have += len(chunk)
                if have > length:
                    raise UpdateRefused("the download is longer than its signed length")
                fh.write(chunk)
                if have < length and time.monotonic() > deadline:
                    raise DownloadPaused(f"{have} of {length} bytes")


def unpack(archive: Path, into: Path) -> None:
    into.mkdir(parents=True)
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                dest = (into / name).resolve()
                if not dest.is_relative_to(into.resolve()):
                    raise ValueError(f"{name} is outside the archive's folder")
            zf.extractall(into)
        return
    with tarfile.open(archive, "r:*") as tar:
        tar.extractall(into, filter="data")  # no absolute paths, no links out, no devices
