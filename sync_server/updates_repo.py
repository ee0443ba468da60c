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

import datetime as dt
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]
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


def make_keys(folder: Path, *, force: bool = False) -> dict[str, str]:
    """A new Ed25519 key per role in `folder` (owner-only files); the roles' key ids."""
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
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = folder / f"{role}{KEY_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        ids[role] = _signer(key).public_key.keyid
    return ids


def _signer(key: Ed25519PrivateKey) -> CryptoSigner:
    return CryptoSigner(key, SSlibKey.from_crypto(key.public_key()))


def load_signer(folder: Path, role: str) -> CryptoSigner:
    path = folder / f"{role}{KEY_SUFFIX}"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise _refused(
            "key_missing",
            f"签名密钥文件 {path} 不存在（{role} 角色；用 sync-server make-update-keys 生成）",
            f"the signing key {path} is missing (role {role}; make keys with sync-server "
            "make-update-keys)",
            path=str(path),
        ) from None
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


# -- the repository ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    target: str
    length: int
    sha256: str
    version: str
    platform: str
    targets_version: int


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

    def initialize(self, keys: Path, *, now: dt.datetime) -> None:
        """Root version 1 naming each role's key (from `keys`), empty targets, snapshot, timestamp."""
        signers = {role: load_signer(keys, role) for role in ROLES}
        root = Root(expires=now + EXPIRY["root"], consistent_snapshot=False)
        for role, signer in signers.items():
            root.add_key(signer.public_key, role)
        root_md = Metadata(root)
        root_md.sign(signers["root"])
        self._write(root_md, "1.root.json", "root.json")
        targets_md = Metadata(Targets(expires=now + EXPIRY["targets"]))
        targets_md.sign(signers["targets"])
        self._write(targets_md, "targets.json")
        self._resign_online(keys, now=now)

    def publish(
        self, keys: Path, source: Path, *, version: str, platform: str, now: dt.datetime
    ) -> Published:
        """Add a release archive (a bundle folder is packed as .tar.gz) and sign targets, snapshot and
        timestamp. The root key is needed only for the first publication (the repository is made)."""
        targets_signer = load_signer(keys, "targets")
        for role in ONLINE_ROLES:
            load_signer(keys, role)  # every key is checked before anything is written
        if not self.exists():
            self.initialize(keys, now=now)
        suffix = ".zip" if source.name.lower().endswith(".zip") else ".tar.gz"
        name = f"{platform}/school-client-{version}{suffix}"
        dest = self.targets / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        if source.is_dir():
            pack_folder(source, tmp)
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
        target = TargetFile.from_file(name, str(dest), ["sha256"])
        target.unrecognized_fields["custom"] = {"version": version, "platform": platform}
        targets_md: Metadata[Targets] = self._read("targets")
        targets_md.signed.targets[name] = target
        targets_md.signed.version += 1
        targets_md.signed.expires = now + EXPIRY["targets"]
        targets_md.signatures.clear()
        targets_md.sign(targets_signer)
        self._write(targets_md, "targets.json")
        self._resign_online(keys, now=now)
        return Published(
            target=name,
            length=target.length,
            sha256=target.hashes["sha256"],
            version=version,
            platform=platform,
            targets_version=targets_md.signed.version,
        )

    def refresh(self, keys: Path, *, now: dt.datetime) -> int:
        """New snapshot and timestamp (their expiry is short); the timestamp's version."""
        if not self.exists():
            raise _refused(
                "no_repository",
                f"{self.folder} 还没有更新仓库（先用 sync-server publish-client 发布一个版本）",
                f"{self.folder} holds no update repository yet (publish with sync-server "
                "publish-client first)",
            )
        return self._resign_online(keys, now=now)

    def _resign_online(
        self, keys: Path, *, now: dt.datetime, new: dict[str, CryptoSigner] | None = None
    ) -> int:
        signers = {role: (new or {}).get(role) or load_signer(keys, role) for role in ONLINE_ROLES}
        targets_version = self._read("targets").signed.version
        snapshot_path = self.metadata / "snapshot.json"
        snapshot_md: Metadata[Snapshot] = (
            self._read("snapshot") if snapshot_path.is_file() else Metadata(Snapshot())
        )
        if snapshot_path.is_file():
            snapshot_md.signed.version += 1
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
        timestamp_md.signed.snapshot_meta = MetaFile(version=snapshot_md.signed.version)
        timestamp_md.signed.expires = now + EXPIRY["timestamp"]
        timestamp_md.signatures.clear()
        timestamp_md.sign(signers["timestamp"])
        self._write(timestamp_md, "timestamp.json")
        return timestamp_md.signed.version

    def rotate_key(self, keys: Path, role: str, new_keys: Path, *, now: dt.datetime) -> int:
        """Replace `role`'s key (the one in `new_keys`) in a new root version, signed by the old root key
        and, for root, the new one too, so that clients trusting the old root accept it; the role's
        metadata is signed again with its new key. Afterwards the new key file replaces the old one in the
        key folder. The new root's version."""
        old_root = load_signer(keys, "root")
        new = load_signer(new_keys, role)
        root_md: Metadata[Root] = self._read("root")
        for keyid in list(root_md.signed.roles[role].keyids):
            root_md.signed.revoke_key(keyid, role)
        root_md.signed.add_key(new.public_key, role)
        root_md.signed.version += 1
        root_md.signed.expires = now + EXPIRY["root"]
        root_md.signatures.clear()
        root_md.sign(old_root, append=True)
        if role == "root":
            root_md.sign(new, append=True)
        version = root_md.signed.version
        self._write(root_md, f"{version}.root.json", "root.json")
        if role == "targets":  # the targets metadata must carry a signature of the new key
            targets_md: Metadata[Targets] = self._read("targets")
            targets_md.signed.version += 1
            targets_md.signed.expires = now + EXPIRY["targets"]
            targets_md.signatures.clear()
            targets_md.sign(new)
            self._write(targets_md, "targets.json")
        self._resign_online(keys, now=now, new={role: new} if role in ONLINE_ROLES else None)
        return version


def pack_folder(folder: Path, out: Path) -> None:
    """A bundle folder as .tar.gz, its files at the archive's top, in a stable order."""
    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(_walk(folder)):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)


def _walk(folder: Path) -> Iterable[Path]:
    for root, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            yield Path(root) / name


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
