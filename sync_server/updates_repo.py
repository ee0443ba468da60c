"""The client update channel's TUF repository (The Update Framework, python-tuf's Metadata API).

The repository is plain files the server serves (`<instance>/updates/metadata/*.json` and
`<instance>/updates/targets/<platform>/school-client-<version>.tar.gz|.zip`); it is written here, by
`sync-server publish-client`, with signing keys from a folder the bureau keeps OFF the server (a USB stick):

- root (offline, 1 year): names the keys of every role; signs only a new root (key rotation).
- targets (offline, 1 year): lists each release archive with its length, sha256 and version.
- snapshot and timestamp (7 days): may be kept online for `sync-server refresh-update-metadata`, which only
  re-signs them; a stolen online key can only delay updates (TUF: freeze), never sign a release.

python-tuf's ngclient on the school PC verifies all of it from the root shipped with the client or received
at its first check over the pinned connection (docs/updates.md). No signature scheme of ours.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.parse
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packaging.version import InvalidVersion, Version
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]
from tuf.api.exceptions import DownloadError, DownloadHTTPError, RepositoryError
from tuf.api.metadata import (  # type: ignore[attr-defined]
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer
from tuf.ngclient import FetcherInterface, Updater, UpdaterConfig  # type: ignore[attr-defined]

from sync_server.errors import ServiceError

ROLES = ("root", "targets", "snapshot", "timestamp")
ONLINE_ROLES = ("snapshot", "timestamp")
EXPIRY = {
    "root": dt.timedelta(days=365),
    "targets": dt.timedelta(days=365),
    "snapshot": dt.timedelta(days=7),
    "timestamp": dt.timedelta(days=7),
}
KEY_SUFFIX = ".key"  # <role>.key: the role's Ed25519 private key, PKCS#8 PEM
METADATA = "metadata"
TARGETS = "targets"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")


def _refused(code: str, zh: str, en: str, **details: Any) -> ServiceError:
    return ServiceError(code, zh, en, status=400, details=details)


# -- keys -------------------------------------------------------------------------------------------

PASSPHRASE_ENV = (
    "SYNC_SERVER_UPDATE_KEY_PASSPHRASE"  # the offline keys' passphrase, for a scheduled task
)
ENCRYPTED_ROLES = (
    "root",
    "targets",
)  # with a passphrase: the offline keys (online ones serve a task)
_passphrases: list[bytes] = []  # typed once per command, tried on each encrypted key


def make_keys(
    folder: Path, *, force: bool = False, passphrase: str | None = None
) -> dict[str, str]:
    """A new Ed25519 key per role in `folder` (owner-only files); the roles' key ids. With a passphrase the
    root and targets keys are encrypted with it (PKCS#8, the best encryption `cryptography` offers)."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = [r for r in ROLES if (folder / f"{r}{KEY_SUFFIX}").exists()]
    if existing and not force:
        raise _refused(
            "keys_exist",
            f"{folder} 里已有签名密钥（{'、'.join(existing)}），不会覆盖",
            f"{folder} already holds signing keys ({', '.join(existing)}); not overwritten",
            folder=str(folder),
        )
    ids: dict[str, str] = {}
    for role in ROLES:
        key = Ed25519PrivateKey.generate()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode())
            if passphrase and role in ENCRYPTED_ROLES
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        _write_key(folder / f"{role}{KEY_SUFFIX}", pem)
        ids[role] = _signer(key).public_key.keyid
    return ids


def _write_key(path: Path, pem: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:  # mkstemp: owner-only
        fh.write(pem)
    os.replace(tmp, path)


def _signer(key: Ed25519PrivateKey) -> CryptoSigner:
    return CryptoSigner(key, SSlibKey.from_crypto(key.public_key()))


def _sign_next(md: Metadata[Any], role: str, signer: CryptoSigner, now: dt.datetime) -> None:
    """The role's metadata as its next version: a new expiry, and only this signer's signature."""
    md.signed.version += 1
    md.signed.expires = now + EXPIRY[role]
    md.signatures.clear()
    md.sign(signer)


def _decrypt(path: Path, data: bytes) -> Any:
    import getpass
    import sys

    tried = list(_passphrases)
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        tried.append(env.encode())
    for secret in tried:
        try:
            return serialization.load_pem_private_key(data, password=secret)
        except ValueError:
            continue
    if not sys.stdin.isatty():
        raise _refused(
            "key_passphrase",
            f"签名密钥文件 {path} 有口令保护：请在终端中运行以输入口令，或设置环境变量 {PASSPHRASE_ENV}"
            + ("（已设置的口令不对）" if env else ""),
            f"the signing key {path} is protected by a passphrase: run in a terminal to type it, or "
            f"set {PASSPHRASE_ENV}" + (" (the one set is wrong)" if env else ""),
            path=str(path),
        )
    secret = getpass.getpass(f"{path} 的口令 / passphrase: ").encode()
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except ValueError:
        raise _refused(
            "key_passphrase",
            f"签名密钥文件 {path} 的口令不对",
            f"wrong passphrase for the signing key {path}",
            path=str(path),
        ) from None
    _passphrases.append(secret)
    return key


def load_signer(folder: Path, role: str) -> CryptoSigner:
    path = folder / f"{role}{KEY_SUFFIX}"
    if not folder.is_dir():
        raise _refused(
            "keys_folder",
            f"签名密钥文件夹 {folder} 不存在或不是文件夹（--keys 应是 make-update-keys 生成的文件夹，如 U盘上的"
            " update-keys）",
            f"the signing key folder {folder} does not exist or is not a folder (--keys names the folder "
            "make-update-keys made, e.g. update-keys on the USB stick)",
            path=str(folder),
        )
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise _refused(
            "key_missing",
            f"签名密钥文件 {path} 不存在（{role} 角色；用 sync-server make-update-keys 生成）",
            f"the signing key {path} is missing (role {role}; make keys with sync-server "
            "make-update-keys)",
            path=str(path),
        ) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:  # encrypted
        key = _decrypt(path, data)
    except ValueError as exc:
        raise _refused(
            "bad_key",
            f"签名密钥文件 {path} 无法读取：{exc}",
            f"the signing key {path} cannot be read: {exc}",
            path=str(path),
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _refused(
            "bad_key",
            f"签名密钥文件 {path} 不是 Ed25519 私钥",
            f"the signing key {path} is not an Ed25519 private key",
            path=str(path),
        )
    return _signer(key)


# -- release bundles --------------------------------------------------------------------------------

PROGRAMS = {"school-client.exe": "windows", "school-client": "linux"}
DIST_INFO = re.compile(r"^school_data-([^-/\\]+)\.dist-info$")
SOURCE_EPOCH = (
    315532800  # 1980-01-01: every file's time in a packed release (same folder, same bytes)
)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Release:
    """A bundle checked and packed reproducibly, ready to be signed."""

    archive: Path
    name: str  # the target path: <platform>/school-client-<version>.tar.gz|.zip
    version: str
    platform: str
    length: int
    sha256: str


def _program(folder: Path) -> str | None:
    for name, platform in PROGRAMS.items():
        if (folder / name).is_file():
            return platform
    return None


def _bundle_version(folder: Path) -> str | None:
    """The version a bundle carries: _internal/school_data-X.dist-info (PyInstaller 6), or beside the
    program; the METADATA's Version when it has one (what the program's --version says), else X."""
    for base in (folder / "_internal", folder):
        for info in sorted(base.glob("school_data-*.dist-info")):
            m = DIST_INFO.match(info.name)
            if not m or not info.is_dir():
                continue
            try:
                for line in (info / "METADATA").read_text(encoding="utf-8").splitlines():
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip() or m.group(1)
            except OSError:
                pass
            return m.group(1)
    return None


def _unpack(archive: Path, into: Path) -> None:
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.infolist():
                    extracted = Path(zf.extract(member, into))
                    mode = (member.external_attr >> 16) & 0o777
                    if mode and not member.is_dir():
                        extracted.chmod(mode | 0o600)
        else:
            with tarfile.open(archive) as tar:
                tar.extractall(into, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _refused(
            "bad_archive",
            f"压缩包 {archive} 无法解开：{exc}",
            f"the archive {archive} cannot be unpacked: {exc}",
            path=str(archive),
        ) from None


def _bundle_root(folder: Path, shown: Path) -> tuple[Path, str]:
    """The folder holding the program: `folder` itself, or its one top folder (an archive made with
    `tar czf x.tar.gz school-client`, or the folder dist/ holding school-client/)."""
    platform = _program(folder)
    if platform is not None:
        return folder, platform
    entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir():
        platform = _program(entries[0])
        if platform is not None:
            return entries[0], platform
    raise _refused(
        "not_a_bundle",
        f"{shown} 不是客户端程序包：最上层（或其中唯一的文件夹里）没有 school-client 或 school-client.exe。"
        "请发布 PyInstaller 打包得到的 dist/school-client 文件夹，或把这个文件夹打成的压缩包",
        f"{shown} is not a client bundle: no school-client or school-client.exe at its top (or in its "
        "one folder). Publish the folder PyInstaller made (dist/school-client), or an archive of it",
        path=str(shown),
    )


def prepare_release(
    source: Path, work: Path, *, version: str | None = None, platform: str | None = None
) -> Release:
    """Check that `source` (a bundle folder or a .tar.gz/.zip of one) is a client bundle, read its
    version from inside, and pack it reproducibly into `work`: .zip for Windows, .tar.gz for Linux,
    the program at the archive's top."""
    folder = source
    if not source.is_dir():
        folder = work / "unpacked"
        folder.mkdir()
        _unpack(source, folder)
    root, found_platform = _bundle_root(folder, source)
    found = _bundle_version(root)
    if not found:
        raise _refused(
            "no_dist_info",
            f"{source} 里没有 _internal/school_data-版本号.dist-info，读不出版本号（不是 PyInstaller 用 "
            "build.spec 打出的完整程序包？）",
            f"{source} holds no _internal/school_data-VERSION.dist-info, so its version cannot be read "
            "(not a whole bundle built with build.spec?)",
            path=str(source),
        )
    try:
        found = str(Version(found))
    except InvalidVersion:
        raise _refused(
            "bad_version",
            f"{source} 的版本号“{found}”无效",
            f"{source} carries '{found}', which is no valid version",
        ) from None
    if version is not None and Version(version) != Version(found):
        raise _refused(
            "version_mismatch",
            f"--version {version} 与程序包自己的版本 {found} 不一致（{source}）：程序启动后会报告 {found}。"
            "请去掉 --version，或重新打包正确的版本",
            f"--version {version} differs from the bundle's own version {found} ({source}): the program "
            f"would report {found} once installed. Leave --version out, or build the right version",
            given=version,
            found=found,
        )
    if platform is not None and platform != found_platform:
        raise _refused(
            "platform_mismatch",
            f"--platform {platform} 与程序包不一致：{source} 里是 "
            f"{'school-client.exe（Windows）' if found_platform == 'windows' else 'school-client（Linux）'}",
            f"--platform {platform} does not match the bundle: {source} holds the "
            f"{found_platform} program",
        )
    suffix = ".zip" if found_platform == "windows" else ".tar.gz"
    archive = work / f"school-client-{found}{suffix}"
    if suffix == ".zip":
        _pack_zip(root, archive)
    else:
        pack_folder(root, archive)
    digest = hashlib.sha256()
    with open(archive, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return Release(
        archive=archive,
        name=f"{found_platform}/school-client-{found}{suffix}",
        version=found,
        platform=found_platform,
        length=archive.stat().st_size,
        sha256=digest.hexdigest(),
    )


def pack_folder(folder: Path, out: Path) -> None:
    """A bundle folder as .tar.gz, its files at the archive's top, in a stable order, with fixed times
    and owners: the same folder always gives the same bytes (the same sha256)."""
    with (
        open(out, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in sorted(_walk(folder)):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
            info.mtime = SOURCE_EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile() or info.isdir():
                info.mode = 0o755 if info.isdir() or info.mode & 0o100 else 0o644
            if info.isfile():
                with open(path, "rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)


def _pack_zip(folder: Path, out: Path) -> None:
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(_walk(folder)):
            rel = path.relative_to(folder).as_posix()
            if path.is_dir():
                info = zipfile.ZipInfo(rel + "/", ZIP_EPOCH)
                info.external_attr = (0o40755 << 16) | 0x10
                zf.writestr(info, b"")
                continue
            info = zipfile.ZipInfo(rel, ZIP_EPOCH)
            info.external_attr = (0o100755 if os.access(path, os.X_OK) else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def _walk(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            yield Path(root) / name


# -- the repository ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    target: str
    length: int
    sha256: str
    version: str
    platform: str
    targets_version: int
    unchanged: bool = False  # the same bytes were published before: nothing signed
    restored: bool = False  # ... and the archive on the server, changed or lost, was put back


@dataclass(frozen=True)
class Expiry:
    role: str
    expires: dt.datetime  # aware UTC
    expired: bool
    soon: bool  # within EXPIRY_WARNING of now


EXPIRY_WARNING = {
    "root": dt.timedelta(days=30),
    "targets": dt.timedelta(days=30),
    "snapshot": dt.timedelta(days=2),
    "timestamp": dt.timedelta(days=2),
}


class Repository:
    """The metadata and target files under one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.metadata = folder / METADATA
        self.targets = folder / TARGETS

    def exists(self) -> bool:
        return (self.metadata / "root.json").is_file()

    def _read(self, role: str) -> Metadata[Any]:
        return Metadata.from_file(str(self.metadata / f"{role}.json"))

    def _write(self, md: Metadata[Any], *names: str) -> None:
        data = md.to_bytes(JSONSerializer(compact=False))
        self.metadata.mkdir(parents=True, exist_ok=True)
        for name in names:
            _atomic_write(self.metadata / name, data)

    # -- keys the root names

    def signers(self, keys: Path, roles: Iterable[str]) -> dict[str, CryptoSigner]:
        """The roles' keys from `keys`, each checked against the keys the current root names for its role
        (a stale or other key folder is refused before anything is signed)."""
        root_md: Metadata[Root] | None = self._read("root") if self.exists() else None
        out: dict[str, CryptoSigner] = {}
        for role in roles:
            signer = load_signer(keys, role)
            if root_md is not None:
                expected = list(root_md.signed.roles[role].keyids)
                if signer.public_key.keyid not in expected:
                    path = keys / f"{role}{KEY_SUFFIX}"
                    want = "、".join(k[:16] + "…" for k in expected)
                    raise _refused(
                        "wrong_key",
                        f"{path} 不是本服务器更新仓库的 {role} 密钥：根元数据第 {root_md.signed.version} 版"
                        f"要求 {want}，这个文件是 {signer.public_key.keyid[:16]}…。什么都没有签名。"
                        f"请换用正确的密钥文件夹（更换过密钥后，要用新的 {role}.key）",
                        f"{path} is not this update repository's {role} key: root version "
                        f"{root_md.signed.version} expects {', '.join(k[:16] + '…' for k in expected)}, "
                        f"this file is {signer.public_key.keyid[:16]}…. Nothing was signed. Use the right "
                        f"key folder (after a rotation, the new {role}.key)",
                        path=str(path),
                        role=role,
                        expected=expected,
                        found=signer.public_key.keyid,
                    )
            out[role] = signer
        return out

    # -- all or nothing, checked as a school PC would

    @contextlib.contextmanager
    def _changing(self, new_files: list[Path]) -> Iterator[None]:
        """Metadata put back as it was (and new target files removed) when the change fails."""
        saved = (
            {p: p.read_bytes() for p in self.metadata.glob("*.json")}
            if self.metadata.is_dir()
            else {}
        )
        try:
            yield
        except BaseException:
            if self.metadata.is_dir():
                for p in self.metadata.glob("*.json"):
                    if p not in saved:
                        p.unlink()
            for p, data in saved.items():
                _atomic_write(p, data)
            for p in new_files:
                p.unlink(missing_ok=True)
            raise

    def check(self, *, target: str | None = None, trusted_root: bytes | None = None) -> None:
        try:
            verify_repository(self.folder, target=target, trusted_root=trusted_root)
        except (RepositoryError, DownloadError, OSError, ValueError) as exc:
            raise not_verified(exc) from None

    # -- writing

    def initialize(self, keys: Path, *, now: dt.datetime) -> None:
        """Root version 1 naming each role's key (from `keys`), empty targets, snapshot, timestamp."""
        self._initialize(self.signers(keys, ROLES), now=now)

    def _initialize(self, signers: dict[str, CryptoSigner], *, now: dt.datetime) -> None:
        root = Root(expires=now + EXPIRY["root"], consistent_snapshot=False)
        for role, signer in signers.items():
            root.add_key(signer.public_key, role)
        root_md = Metadata(root)
        root_md.sign(signers["root"])
        self._write(root_md, "1.root.json", "root.json")
        targets_md = Metadata(Targets(expires=now + EXPIRY["targets"]))
        targets_md.sign(signers["targets"])
        self._write(targets_md, "targets.json")
        self._resign_online(signers, now=now)

    def create(self, keys: Path, *, now: dt.datetime) -> None:
        """A new, empty repository (its 1.root.json goes into the client's installer), checked."""
        signers = self.signers(keys, ROLES)
        new: list[Path] = []
        with self._changing(new):
            self._initialize(signers, now=now)
            self.check()

    def published(self, version: str, platform: str) -> TargetFile | None:
        """The signed target of this version and platform, if any (whatever its archive's suffix)."""
        if not self.exists():
            return None
        for target in self._read("targets").signed.targets.values():
            custom = target.unrecognized_fields.get("custom") or {}
            if str(custom.get("platform")) == platform and _same_version(
                custom.get("version"), version
            ):
                return target  # type: ignore[no-any-return]
        return None

    def publish(
        self,
        keys: Path,
        source: Path | Release,
        *,
        version: str | None = None,
        platform: str | None = None,
        now: dt.datetime,
    ) -> Published:
        """Add a release archive and sign targets, snapshot and timestamp with keys the root names, then
        check the result as a client would (else everything is put back). The root key is needed only
        for the first publication (the repository is made). A version published before: the same bytes
        are a no-op, others refused (a published version never changes)."""
        if isinstance(source, Path):
            with tempfile.TemporaryDirectory(prefix="publish-") as work:
                release = prepare_release(source, Path(work), version=version, platform=platform)
                return self.publish(keys, release, now=now)
        release = source
        before = self.published(release.version, release.platform)
        if before is not None:
            if before.hashes.get("sha256") == release.sha256:
                dest = self.targets / before.path
                restored = not _matches(dest, before)
                if restored:  # changed or lost on the server: the signed bytes put back
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    tmp = dest.with_name(f".{dest.name}.tmp")
                    shutil.copyfile(release.archive, tmp)
                    os.replace(tmp, dest)
                return Published(
                    target=before.path,
                    length=before.length,
                    sha256=release.sha256,
                    version=release.version,
                    platform=release.platform,
                    targets_version=self._read("targets").signed.version,
                    unchanged=True,
                    restored=restored,
                )
            raise _refused(
                "version_published",
                f"客户端 {release.version}（{release.platform}）已经发布过，内容与这次不同。已发布的版本不能更改"
                "（已下载的电脑会装上不同的程序）：请改版本号重新打包，发布新版本",
                f"client {release.version} ({release.platform}) was published before with other "
                "content. A published version never changes (PCs that have it would run another "
                "program): build and publish a new version",
                version=release.version,
                published_sha256=before.hashes.get("sha256"),
                sha256=release.sha256,
            )
        roles = ("targets", *ONLINE_ROLES) if self.exists() else ROLES
        signers = self.signers(keys, roles)
        new_files: list[Path] = []
        with self._changing(new_files):
            if not self.exists():
                self._initialize(signers, now=now)
            dest = self.targets / release.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            new_files += [tmp, dest]
            shutil.copyfile(release.archive, tmp)
            os.replace(tmp, dest)
            target = TargetFile.from_file(release.name, str(dest), ["sha256"])
            target.unrecognized_fields["custom"] = {
                "version": release.version,
                "platform": release.platform,
            }
            targets_md: Metadata[Targets] = self._read("targets")
            targets_md.signed.targets[release.name] = target
            _sign_next(targets_md, "targets", signers["targets"], now)
            self._write(targets_md, "targets.json")
            self._resign_online(signers, now=now)
            self.check(target=release.name)
        return Published(
            target=release.name,
            length=target.length,
            sha256=target.hashes["sha256"],
            version=release.version,
            platform=release.platform,
            targets_version=targets_md.signed.version,
        )

    def retire(self, keys: Path, version: str, *, now: dt.datetime) -> list[str]:
        """Take every platform's release of `version` out of the signed targets (targets, snapshot and
        timestamp signed again with keys the root names, checked as a client would), then remove their
        archives from the disk. The target paths retired; [] when none is signed."""
        if not self.exists():
            return []
        targets_md: Metadata[Targets] = self._read("targets")
        names = [
            name
            for name, target in targets_md.signed.targets.items()
            if _same_version(
                (target.unrecognized_fields.get("custom") or {}).get("version"), version
            )
        ]
        if not names:
            return []
        signers = self.signers(keys, ("targets", *ONLINE_ROLES))
        with self._changing([]):
            for name in names:
                del targets_md.signed.targets[name]
            _sign_next(targets_md, "targets", signers["targets"], now)
            self._write(targets_md, "targets.json")
            self._resign_online(signers, now=now)
            self.check()
        for name in names:
            (self.targets / name).unlink(missing_ok=True)
        return names

    def refresh(self, keys: Path, *, now: dt.datetime, offline: bool = False) -> int:
        """New snapshot and timestamp (their expiry is short), checked; the timestamp's version. With
        `offline`, root and targets are signed again too (a year more: root.key and targets.key)."""
        if not self.exists():
            raise _refused(
                "no_repository",
                f"{self.folder} 还没有更新仓库（先用 sync-server refresh-update-metadata --create 建立，"
                "或用 sync-server publish-client 发布一个版本）",
                f"{self.folder} holds no update repository yet (make one with sync-server "
                "refresh-update-metadata --create, or publish with sync-server publish-client)",
            )
        roles = (*ONLINE_ROLES, "root", "targets") if offline else ONLINE_ROLES
        signers = self.signers(keys, roles)
        with self._changing([]):
            if offline:
                root_md: Metadata[Root] = self._read("root")
                _sign_next(root_md, "root", signers["root"], now)
                self._write(root_md, f"{root_md.signed.version}.root.json", "root.json")
                targets_md: Metadata[Targets] = self._read("targets")
                _sign_next(targets_md, "targets", signers["targets"], now)
                self._write(targets_md, "targets.json")
            version = self._resign_online(signers, now=now)
            self.check()
        return version

    def _resign_online(
        self,
        signers: dict[str, CryptoSigner],
        *,
        now: dt.datetime,
        above: dict[str, int] | None = None,
    ) -> int:
        above = above or {}
        targets_version = self._read("targets").signed.version
        snapshot_path = self.metadata / "snapshot.json"
        snapshot_md: Metadata[Snapshot] = (
            self._read("snapshot") if snapshot_path.is_file() else Metadata(Snapshot())
        )
        if snapshot_path.is_file():
            snapshot_md.signed.version += 1
        snapshot_md.signed.version = max(snapshot_md.signed.version, above.get("snapshot", 0) + 1)
        snapshot_md.signed.meta["targets.json"] = MetaFile(version=targets_version)
        snapshot_md.signed.expires = now + EXPIRY["snapshot"]
        snapshot_md.signatures.clear()
        snapshot_md.sign(signers["snapshot"])
        self._write(snapshot_md, "snapshot.json")
        timestamp_path = self.metadata / "timestamp.json"
        timestamp_md: Metadata[Timestamp] = (
            self._read("timestamp") if timestamp_path.is_file() else Metadata(Timestamp())
        )
        if timestamp_path.is_file():
            timestamp_md.signed.version += 1
        timestamp_md.signed.version = max(
            timestamp_md.signed.version, above.get("timestamp", 0) + 1
        )
        timestamp_md.signed.snapshot_meta = MetaFile(version=snapshot_md.signed.version)
        timestamp_md.signed.expires = now + EXPIRY["timestamp"]
        timestamp_md.signatures.clear()
        timestamp_md.sign(signers["timestamp"])
        self._write(timestamp_md, "timestamp.json")
        return timestamp_md.signed.version

    def rotate_key(self, keys: Path, role: str, new_keys: Path, *, now: dt.datetime) -> int:
        """Replace `role`'s key (the one in `new_keys`) in a new root version, signed by the old root key
        and, for root, the new one too, so that clients trusting the old root accept it; the role's
        metadata is signed again with its new key and the whole checked as a client would. The new
        root's version; the caller then puts the new key file in place of the old one."""
        if not self.exists():
            raise _refused(
                "no_repository",
                f"{self.folder} 还没有更新仓库，无需更换密钥",
                f"{self.folder} holds no update repository yet: nothing to rotate",
            )
        others = tuple(r for r in ONLINE_ROLES if r != role)
        signers = self.signers(keys, ("root", *others))
        new = load_signer(new_keys, role)
        root_md: Metadata[Root] = self._read("root")
        if new.public_key.keyid in root_md.signed.roles[role].keyids:
            raise _refused(
                "same_key",
                f"{new_keys / (role + KEY_SUFFIX)} 就是现在使用的 {role} 密钥，不用更换（--new-keys 应是新生成的"
                "密钥文件夹）",
                f"{new_keys / (role + KEY_SUFFIX)} is the {role} key in use already (--new-keys names a "
                "folder of newly made keys)",
            )
        with self._changing([]):
            for keyid in list(root_md.signed.roles[role].keyids):
                root_md.signed.revoke_key(keyid, role)
            root_md.signed.add_key(new.public_key, role)
            _sign_next(root_md, "root", signers["root"], now)
            if role == "root":
                root_md.sign(new, append=True)
            version = root_md.signed.version
            self._write(root_md, f"{version}.root.json", "root.json")
            if role == "targets":  # the targets metadata must carry a signature of the new key
                targets_md: Metadata[Targets] = self._read("targets")
                _sign_next(targets_md, "targets", new, now)
                self._write(targets_md, "targets.json")
            online = {r: (new if r == role else signers[r]) for r in ONLINE_ROLES}
            self._resign_online(online, now=now)
            self.check()
        return version

    # -- what the bureau should know

    def expiries(self, now: dt.datetime) -> list[Expiry]:
        out: list[Expiry] = []
        if not self.exists():
            return out
        for role in ROLES:
            try:
                expires = self._read(role).signed.expires
            except Exception:  # a file missing or unreadable: the client check will say so
                continue
            out.append(
                Expiry(
                    role=role,
                    expires=expires,
                    expired=expires <= now,
                    soon=expires - now <= EXPIRY_WARNING[role],
                )
            )
        return out

    def versions(self) -> dict[str, int]:
        return {role: self._read(role).signed.version for role in ROLES} if self.exists() else {}

    def releases(self) -> list[tuple[str, str, str]]:
        """(version, platform, target) of every signed release."""
        if not self.exists():
            return []
        out = []
        for name, target in self._read("targets").signed.targets.items():
            custom = target.unrecognized_fields.get("custom") or {}
            if custom.get("version") and custom.get("platform"):
                out.append((str(custom["version"]), str(custom["platform"]), name))
        return out

    # -- a repository signed elsewhere (an offline PC), put in place on the server

    def install_from(
        self,
        source: Repository,
        *,
        keys: Path | None,
        now: dt.datetime,
        retire: Iterable[str] = (),
        retired: list[str] | None = None,
    ) -> list[tuple[str, str, str]]:
        """Copy a repository signed on another computer (a copy of this one's metadata, published to
        there) into this one. It must continue this one: no root or targets version goes back (else: an
        old copy, said so), a PC that trusts this repository's root accepts it (checked with ngclient from
        this root), nothing published here is missing or changed. Only the new archives need to be in
        `source`; the ones here are checked against the signed length and hashes instead. When this server signed its snapshot/timestamp meanwhile (the weekly task), they are signed
        again above it with the online keys in `keys`. The releases new here."""
        if not source.exists():
            raise _refused(
                "no_repository",
                f"{source.folder} 里没有更新仓库（应有 metadata/root.json 和 targets/）",
                f"{source.folder} holds no update repository (metadata/root.json and targets/)",
            )
        here = self.versions()
        there = source.versions()
        for role in ("root", "targets"):  # an old copy: said so before its signatures are checked
            if here and there[role] < here[role]:
                raise _old_copy(source.folder, role, there[role], here[role])
        trusted = (self.metadata / "root.json").read_bytes() if self.exists() else None
        try:
            verify_repository(source.folder, trusted_root=trusted)
        except (RepositoryError, DownloadError, OSError, ValueError) as exc:
            raise not_verified(exc, installing=source.folder) from None
        theirs = {name: t for name, t in source._read("targets").signed.targets.items()}
        mine: dict[str, TargetFile] = (
            dict(self._read("targets").signed.targets) if self.exists() else {}
        )
        # Releases retired on the offline PC (retire-release --sign-only) leave only when named (--retire)
        # and signed above the server's targets; any other one missing means an old or diverged copy.
        retiring = {str(v) for v in retire}
        dropped: list[str] = []
        for name, target in mine.items():
            version = str((target.unrecognized_fields.get("custom") or {}).get("version"))
            if name not in theirs and version in retiring and there["targets"] > here["targets"]:
                dropped.append(name)
                continue
            if name not in theirs or theirs[name].hashes != target.hashes:
                raise _refused(
                    "older_repository",
                    f"{source.folder} 缺少或改动了服务器上已发布的 {name}：请把服务器当前的 updates/metadata "
                    "文件夹复制到U盘上，在离线电脑上重新签名（在那里用 retire-release --sign-only 停用的版本，"
                    "要加 --retire 版本号）",
                    f"{source.folder} lacks or changes {name}, published on the server: copy the "
                    "server's current updates/metadata folder to the stick and sign there again (a "
                    "version retired there with retire-release --sign-only needs --retire VERSION)",
                )
        unknown = sorted(
            v
            for v in retiring
            if not any(
                _same_version((t.unrecognized_fields.get("custom") or {}).get("version"), v)
                for t in mine.values()
            )
        )
        if unknown:
            raise _refused(
                "unknown_release",
                f"服务器上没有发布过 {'、'.join(unknown)}，无法停用（--retire）",
                f"the server never published {', '.join(unknown)}: nothing to retire (--retire)",
            )
        kept = sorted(
            v
            for v in retiring
            if any(
                _same_version((t.unrecognized_fields.get("custom") or {}).get("version"), v)
                for t in theirs.values()
            )
        )
        if kept:
            raise _refused(
                "not_retired",
                f"U盘上的仓库里仍有 {'、'.join(kept)}：先在离线电脑上运行 sync-server retire-release 版本号 "
                "--keys 密钥文件夹 --repo U盘上的仓库 --sign-only",
                f"the stick's repository still holds {', '.join(kept)}: run sync-server retire-release "
                "VERSION --keys KEYS --repo STICK --sign-only on the offline PC first",
            )
        # Archives: the stick carries the new ones; one the server holds already need not travel (the
        # server's copy is checked against the signed length and hashes instead).
        for name, target in theirs.items():
            path = source.targets / name
            if not path.is_file():
                if name in mine and _matches(self.targets / name, target):
                    continue
                if name in mine:
                    raise _refused(
                        "target_damaged",
                        f"服务器上的发布包 {self.targets / name} 与签名不符（被改动或丢失），U盘上也没有：用同一个"
                        "程序包在服务器上再运行一次 sync-server publish-client 恢复它，或把它放到U盘仓库的 "
                        f"targets/{name}",
                        f"the server's archive {self.targets / name} does not match its signature "
                        "(changed or lost) and the stick has none: run sync-server publish-client with "
                        f"the same bundle on the server to restore it, or put it at targets/{name} on "
                        "the stick",
                    )
                raise _refused(
                    "target_missing",
                    f"{source.folder} 缺少新发布包 {name}：把离线电脑上U盘仓库里的 targets/{name} 一起带回"
                    "（只需新签名的发布包，服务器已有的不用带）",
                    f"{source.folder} lacks the new release archive {name}: bring targets/{name} back "
                    "from the offline PC's copy too (only newly signed archives; the server has the "
                    "others)",
                )
            with open(path, "rb") as fh:
                try:
                    target.verify_length_and_hashes(fh)
                except RepositoryError as exc:
                    raise not_verified(exc, installing=source.folder) from None
        stale = {
            role: here[role]
            for role in ONLINE_ROLES
            if here and there[role] <= here[role] and self._differs(source, role)
        }
        signers = self.signers_after(source, keys) if stale else {}
        new_files: list[Path] = []
        added = [
            (str(t.unrecognized_fields.get("custom", {}).get("version")),
             str(t.unrecognized_fields.get("custom", {}).get("platform")), name)
            for name, t in theirs.items()
            if name not in mine
        ]  # fmt: skip
        with self._changing(new_files):
            for _v, _p, name in added:
                dest = self.targets / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                new_files.append(dest)
                shutil.copyfile(source.targets / name, dest)
            self.metadata.mkdir(parents=True, exist_ok=True)
            for path in sorted(source.metadata.glob("*.json")):
                _atomic_write(self.metadata / path.name, path.read_bytes())
            if stale:
                self._resign_online(signers, now=now, above=stale)
            self.check(trusted_root=trusted)
        for name in dropped:
            (self.targets / name).unlink(missing_ok=True)
        if retired is not None:
            retired.extend(dropped)
        return added

    def _differs(self, other: Repository, role: str) -> bool:
        mine = self.metadata / f"{role}.json"
        return (
            not mine.is_file()
            or mine.read_bytes() != (other.metadata / f"{role}.json").read_bytes()
        )

    def signers_after(self, source: Repository, keys: Path | None) -> dict[str, CryptoSigner]:
        """The online keys, checked against the root `source` brings."""
        if keys is None:
            raise _refused(
                "keys_needed",
                "服务器上的快照/时间戳在签名之后又更新过（每周的定时任务），需要重新签名：请加上 --keys，"
                "指向有 snapshot.key 和 timestamp.key 的文件夹",
                "the server signed its snapshot/timestamp again after the signing (the weekly task): "
                "give --keys, a folder holding snapshot.key and timestamp.key, to sign them again",
            )
        return Repository(source.folder).signers(keys, ONLINE_ROLES)


def _old_copy(folder: Path, role: str, there: int, here: int) -> ServiceError:
    what = {"root": "根元数据", "targets": "目标元数据"}[role]
    return _refused(
        "older_repository",
        f"U盘上的仓库 {folder} 比服务器上的更新仓库旧（{what}第 {there} 版，服务器是第 {here} 版）：它是在"
        "服务器更换密钥或发布新版本之前复制的。请把服务器当前的 updates/metadata 文件夹重新复制到U盘上，在"
        "离线电脑上重新签名（publish-client … --sign-only），再运行 install-update-repo（发布包只需带回新签名"
        "的那些）",
        f"the repository on the stick, {folder}, is older than the server's ({role} version {there}, "
        f"the server has {here}): it was copied before the server rotated a key or published. Copy the "
        "server's current updates/metadata folder to the stick again, sign again on the offline PC "
        "(publish-client ... --sign-only), then run install-update-repo (only the newly signed "
        "archives need to come back)",
        role=role,
        stick_version=there,
        server_version=here,
    )


def _matches(path: Path, target: TargetFile) -> bool:
    try:
        with open(path, "rb") as fh:
            target.verify_length_and_hashes(fh)
    except (OSError, RepositoryError):
        return False
    return True


def _same_version(a: object, b: str) -> bool:
    try:
        return Version(str(a)) == Version(b)
    except InvalidVersion:
        return str(a) == b


def not_verified(exc: BaseException, *, installing: Path | None = None) -> ServiceError:
    """What python-tuf's refusal means, and what to do, in both languages."""
    from sync_server.updates import explain_error

    raw = f"{type(exc).__name__}: {exc}"
    zh, en = explain_error(raw) or ("", "")
    where_zh = f"{installing} 中的更新仓库" if installing else "签名后的更新仓库"
    where_en = f"the repository in {installing}" if installing else "the signed repository"
    return _refused(
        "not_verified",
        f"{where_zh}没有通过学校电脑同样的核对（{raw}），什么都没有改动。{zh}",
        f"{where_en} fails the check a school PC makes ({raw}); nothing was changed. {en}",
        error=raw,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


# -- checking as a school PC would ------------------------------------------------------------------


class _FolderFetcher(FetcherInterface):
    """ngclient's downloads, read from a repository folder as the server serves it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.resolve()

    def _fetch(self, url: str) -> Iterator[bytes]:
        path = (self.folder / urllib.parse.urlsplit(url).path.lstrip("/")).resolve()
        if self.folder not in path.parents or not path.is_file():
            raise DownloadHTTPError(f"not found: {url}", 404)
        return iter([path.read_bytes()])


def verify_repository(
    folder: Path, *, target: str | None = None, trusted_root: bytes | None = None
) -> None:
    """Load the repository as a school PC does (python-tuf's ngclient: the root chain from the root it
    trusts - by default 1.root.json, the one shipped with clients - then timestamp, snapshot, targets,
    their signatures, versions and expiry) and check `target`'s length and sha256. Raises what ngclient
    raises."""
    root = (
        trusted_root
        if trusted_root is not None
        else (folder / METADATA / "1.root.json").read_bytes()
    )
    with tempfile.TemporaryDirectory(prefix="tuf-check-") as tmp:
        updater = Updater(
            tmp,
            "http://repository.invalid/metadata/",
            target_dir=tmp,
            target_base_url="http://repository.invalid/targets/",
            fetcher=_FolderFetcher(folder),
            config=UpdaterConfig(),
            bootstrap=root,
        )
        updater.refresh()
        if target is not None:
            info = updater.get_targetinfo(target)
            if info is None:
                raise RepositoryError(f"{target} is not in the signed targets metadata")
            with open(folder / TARGETS / target, "rb") as fh:
                info.verify_length_and_hashes(fh)
