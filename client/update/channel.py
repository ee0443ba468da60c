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

import datetime as dt
import json
import logging
import shutil
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests
from packaging.version import InvalidVersion, Version
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import TargetFile  # type: ignore[attr-defined]
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig  # type: ignore[attr-defined]

from client.sync.errors import SyncError
from client.sync.http import API, Answer, Transport
from client.update.install import EXE
from client.update.retry import lift_expired
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
KEEP_REFUSED = 10  # releases refused once verified, remembered so as not to download them again


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
    if lift_expired(state, now=dt.datetime.now(dt.UTC)):  # tried once more (client/update/retry.py)
        save_state(data_dir, state)
    answer = report_and_offer(transport, running, state)
    if answer is None or answer.status == 404:  # 404: a server older than 1.18, no update channel
        return state
    offer = (answer.body or {}).get("offer") if isinstance(answer.body, dict) else None
    ready = staged_ready(data_dir)
    offered = str(offer.get("version")) if isinstance(offer, dict) else None
    if ready is not None and answer.status == 200 and str(ready["version"]) != offered:
        # The server answered, and not with the staged release: paused, or this school taken out of
        # its pilot (or a newer one replaces it) - not installed at the next start.
        withdraw(data_dir, state, str(ready["version"]), offered)
        ready = None
        if not isinstance(offer, dict) or not _newer(str(offered), running):
            report_and_offer(transport, running, state)  # the dashboard sees it now
            return state
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
    reported = (state.state, state.target_version, state.error)
    state.state, state.target_version, state.error = "downloading", version, None
    save_state(data_dir, state)
    try:
        stage(
            transport,
            data_dir,
            version=version,
            target=target,
            install_dir=install_dir,
            refused=state.refused,
        )
    except RefusedBefore as exc:  # the same bytes as before: not downloaded again
        state.state, state.error = "failed", exc.reason
        save_state(data_dir, state)
        log.info("update %s was refused here before; not downloaded again: %s", version, exc.reason)
        if (state.state, state.target_version, state.error) == reported:
            return state  # the server was told so at the check above
        report_and_offer(transport, running, state)
        return state
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError, UpdateRefused) as exc:
        state.state, state.failures = "failed", state.failures + 1
        state.error = f"{type(exc).__name__}: {exc}"[:500]
        if isinstance(exc, NotAProgram):
            _remember_refused(state, version, exc.sha256, state.error)
        log.warning("update %s refused: %s", version, state.error)
    except (requests.RequestException, OSError, DownloadPaused) as exc:  # resumed at the next sync
        state.state, state.error = "downloading", f"{type(exc).__name__}: {exc}"[:500]
        log.info("update %s download interrupted: %s", version, exc)
    else:
        state.state, state.error = "staged", None
        log.info("update %s verified and staged; installed at the next start", version)
    save_state(data_dir, state)
    report_and_offer(transport, running, state)  # the dashboard sees what came of it now
    return state


def withdraw(data_dir: Path, state: UpdateState, version: str, offered: str | None) -> None:
    """The staged `version` is dropped before it installs: the server no longer offers it here (paused,
    retired, this school out of its pilot) or offers `offered` instead. Kept in the state (reported)."""
    shutil.rmtree(updates_dir(data_dir) / "staged", ignore_errors=True)
    why = f"version {offered} is offered instead" if offered else "the server no longer offers it"
    state.state, state.target_version, state.withdrawn = "current", version, version
    state.error = f"{version} withdrawn: {why}; the downloaded release was removed, not installed"
    save_state(data_dir, state)
    log.warning("update %s withdrawn before it was installed: %s", version, why)


def report_and_offer(transport: Transport, running: str, state: UpdateState) -> Answer | None:
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


class NotAProgram(UpdateRefused):
    """The verified archive holds no program at its top (packed one folder too deep, or not a bundle):
    installing it is impossible, so it is refused at once and these bytes are never downloaded again."""

    def __init__(self, message: str, sha256: str | None) -> None:
        super().__init__(message)
        self.sha256 = sha256


class RefusedBefore(Exception):
    """The release offered is the one (version and sha256) refused here before."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _remember_refused(state: UpdateState, version: str, sha256: str | None, reason: str) -> None:
    if not sha256:
        return
    kept = [r for r in state.refused if (r.get("version"), r.get("sha256")) != (version, sha256)]
    state.refused = [*kept, {"version": version, "sha256": sha256, "reason": reason}][
        -KEEP_REFUSED:
    ]


def _refused_before(
    refused: list[dict[str, object]], version: str, sha256: str | None
) -> str | None:
    for entry in refused:
        if sha256 and (entry.get("version"), entry.get("sha256")) == (version, sha256):
            return str(entry.get("reason") or "refused before")
    return None


def _check_program(unpacked: Path, *, version: str, sha256: str | None) -> None:
    """The program (school-client, school-client.exe on Windows) at the top of the unpacked release."""
    if (unpacked / EXE).is_file():
        return
    top = sorted(p.name for p in unpacked.iterdir()) if unpacked.is_dir() else []
    deeper = [name for name in top if (unpacked / name / EXE).is_file()]
    if deeper:
        zh = f"发布包 {version} 的最上层没有 {EXE}：多了一层文件夹（{deeper[0]}/{EXE}）"
        en = f"release {version} has no {EXE} at its top: it is one folder too deep ({deeper[0]}/{EXE})"
    else:
        shown = "、".join(top[:5]) or "（空）"
        zh = f"发布包 {version} 不是客户端程序：最上层没有 {EXE}（只有 {shown}）"
        en = f"release {version} is not a client bundle: no {EXE} at its top (it holds {', '.join(top[:5]) or 'nothing'})"
    raise NotAProgram(
        f"{zh}。请把程序文件夹本身重新打包发布新版本 / {en}; publish the program folder itself as a new version",
        sha256,
    )


def shipped_root(install_dir: Path | None) -> Path | None:
    """The bureau's root shipped beside the program (build.spec puts packaging/update-root.json in the
    bundle), if any."""
    bundled = getattr(sys, "_MEIPASS", None)
    for folder in (install_dir, Path(bundled) if bundled else None):
        if folder is not None and (folder / ROOT_NAME).is_file():
            return folder / ROOT_NAME
    return None


def trusted_root(transport: Transport, data_dir: Path, install_dir: Path | None) -> bytes | None:
    """The root to start from when ngclient holds none yet: shipped beside the program, else the
    server's first root, fetched over the connection pinned at enrollment (trust on first use)."""
    shipped = shipped_root(install_dir)
    if shipped is not None:
        return shipped.read_bytes()
    response = transport.session.get(
        f"{transport.base_url}{REPO}/metadata/1.root.json", timeout=(10.0, 60.0)
    )
    if response.status_code != 200 or len(response.content) > MAX_METADATA_BYTES:
        raise UpdateRefused(f"no trusted root ({response.status_code})")
    return response.content


def trusted_root_version(data_dir: Path, install_dir: Path | None = None) -> int:
    """The version of the root this computer trusts (ngclient's, else the shipped one); 0: none yet. A USB
    bundle names it (protocol 1.19), so the bureau's answer carries the root chain from there."""
    for path in (updates_dir(data_dir) / "tuf" / "root.json", shipped_root(install_dir)):
        if path is None:
            continue
        try:
            version = json.loads(path.read_bytes())["signed"]["version"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(version, int) and not isinstance(version, bool) and version > 0:
            return version
    return 0


def _updater(
    data_dir: Path, base_url: str, fetcher: FetcherInterface, root: Callable[[], bytes | None]
) -> Updater:
    """ngclient over `base_url` (its metadata/ and targets/), from the root this computer trusts (its
    cache), else from `root()` - the one verification of every way an update arrives."""
    folder = updates_dir(data_dir)
    metadata = folder / "tuf"
    metadata.mkdir(parents=True, exist_ok=True)
    bootstrap = None if (metadata / "root.json").is_file() else root()
    if bootstrap is not None:
        (metadata / "root.json").write_bytes(bootstrap)
    return Updater(
        str(metadata),
        f"{base_url}/metadata/",
        target_dir=str(folder / "download"),
        target_base_url=f"{base_url}/targets/",
        fetcher=fetcher,
        config=UpdaterConfig(),
        bootstrap=bootstrap,
    )


def _signed_target(updater: Updater, *, version: str, target: str) -> TargetFile:
    updater.refresh()  # root chain, timestamp, snapshot, targets: signatures, versions, expiry
    info = updater.get_targetinfo(target)
    if info is None:
        raise UpdateRefused(f"{target} is not in the signed targets metadata")
    custom = info.unrecognized_fields.get("custom") or {}
    if str(custom.get("version")) != version:
        raise UpdateRefused(f"{target} is signed as version {custom.get('version')}, not {version}")
    return info


def _stage_archive(data_dir: Path, archive: Path, info: TargetFile, *, version: str) -> Path:
    """The archive checked against its signed length and sha256, unpacked and marked ready (install.py
    puts it in place at the next start)."""
    folder = updates_dir(data_dir)
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
    sha256 = info.hashes.get("sha256")
    try:
        unpack(archive, unpacked / version)
        _check_program(unpacked / version, version=version, sha256=sha256)
    except (tarfile.TarError, zipfile.BadZipFile, ValueError) as exc:
        shutil.rmtree(unpacked, ignore_errors=True)
        raise UpdateRefused(f"the archive cannot be unpacked: {exc}") from exc
    except NotAProgram:
        shutil.rmtree(unpacked, ignore_errors=True)
        archive.unlink()
        raise
    ready = {"version": version, "target": info.path, "sha256": sha256}
    write_json(unpacked / READY_FILE, ready)
    unpacked.rename(staged)
    archive.unlink()
    return staged / version


def stage(
    transport: Transport,
    data_dir: Path,
    *,
    version: str,
    target: str,
    install_dir: Path | None = None,
    refused: list[dict[str, object]] | None = None,
) -> Path:
    updater = _updater(
        data_dir,
        f"{transport.base_url}{REPO}",
        SessionFetcher(transport.session),
        lambda: trusted_root(transport, data_dir, install_dir),
    )
    info = _signed_target(updater, version=version, target=target)
    before = _refused_before(refused or [], version, info.hashes.get("sha256"))
    if before is not None:
        raise RefusedBefore(before)
    archive = updates_dir(data_dir) / "download" / Path(target).name
    download_resumably(transport, f"{REPO}/targets/{target}", archive, length=info.length)
    return _stage_archive(data_dir, archive, info, version=version)


# -- an update carried by USB stick (protocol 1.19) ----------------------------------------------------

CARRIED_BASE = (
    "https://usb-answer.invalid"  # never fetched: FileFetcher answers from the answer's files
)


class FileFetcher(FetcherInterface):
    """ngclient's downloads answered from the files a USB answer carried (`metadata/<name>`,
    `targets/<platform>/<archive>`, spooled from the bundle): the same verification as online, another
    way for the bytes to come. A file the answer does not hold is a 404 (the end of the root chain)."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self.files = dict(files)

    def _fetch(self, url: str) -> Iterator[bytes]:
        name = url[len(CARRIED_BASE) + 1 :] if url.startswith(CARRIED_BASE + "/") else ""
        path = self.files.get(name)
        if path is None:
            raise tuf_errors.DownloadHTTPError(f"{url}: not in the USB answer", 404)
        return self._chunks(path)

    @staticmethod
    def _chunks(path: Path) -> Iterator[bytes]:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk


@dataclass(frozen=True)
class Carried:
    """What came of an update a USB answer carried."""

    version: str
    staged: bool = False
    error: str | None = (
        None  # refused (tampered, expired, not signed ...): why, as logged and reported
    )
    skipped: str | None = None  # not taken: "older", "blocked", "staged before"


def stage_carried(
    data_dir: Path,
    *,
    running: str,
    version: str,
    target: str,
    files: Mapping[str, Path],
    install_dir: Path | None = None,
) -> Carried:
    """Verify and stage a release from the files of a USB answer exactly as an online download is (the
    same ngclient refresh from the root this computer trusts, the same length and sha256 check, the same
    staging), kept in the same state; never raises for the update's own failures. Without a trusted root
    yet (none shipped, no online check before), the answer's first root is trusted as the pinned
    connection's would be: the answer is authenticated with this device's key."""
    data_dir = Path(data_dir)
    if not _newer(version, running):
        return Carried(version, skipped="older")
    state = load_state(data_dir)
    if lift_expired(state, now=dt.datetime.now(dt.UTC)):
        save_state(data_dir, state)
    if version in state.blocked:
        log.info("update %s failed its first start here before; not taken again", version)
        return Carried(version, skipped="blocked")
    ready = staged_ready(data_dir)
    if ready and ready.get("version") == version:
        return Carried(version, skipped="staged before")

    def first_root() -> bytes | None:
        shipped = shipped_root(install_dir)
        carried = files.get("metadata/1.root.json")
        if shipped is not None:
            return shipped.read_bytes()
        if carried is None:
            raise UpdateRefused("no trusted root (none shipped, none in the USB answer)")
        return carried.read_bytes()

    state.state, state.target_version, state.error = "downloading", version, None
    save_state(data_dir, state)
    try:
        updater = _updater(data_dir, CARRIED_BASE, FileFetcher(files), first_root)
        info = _signed_target(updater, version=version, target=target)
        carried = files.get(f"targets/{target}")
        if carried is None:
            raise UpdateRefused(f"the USB answer does not hold {target}")
        archive = updates_dir(data_dir) / "download" / Path(target).name
        archive.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(carried, archive)
        _stage_archive(data_dir, archive, info, version=version)
    except (tuf_errors.RepositoryError, tuf_errors.DownloadError, UpdateRefused, OSError) as exc:
        state.state, state.failures = "failed", state.failures + 1
        state.error = f"{type(exc).__name__}: {exc}"[:500]
        if isinstance(exc, NotAProgram):
            _remember_refused(state, version, exc.sha256, state.error)
        save_state(data_dir, state)
        log.warning("update %s from a USB answer refused: %s", version, state.error)
        return Carried(version, error=state.error)
    state.state, state.error = "staged", None
    save_state(data_dir, state)
    log.info(
        "update %s from a USB answer verified and staged; installed at the next start", version
    )
    return Carried(version, staged=True)


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
