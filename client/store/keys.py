"""The key that encrypts a data folder, kept by the operating system, and the recovery code that makes it again.

Each data folder has one 256-bit data key K and a 16-byte salt. K = scrypt(recovery code, salt): whoever holds the
printed recovery code can make K again from the salt, which is the first 16 bytes of every database of the folder
(SQLCipher writes it there in the clear) - so a backup restores on a new PC with the code alone.

    <data>/key.json         which key (key_id) and its salt; holds no secret
    the OS key store        under key_id: K and the recovery code (Windows: the Credential Manager, encrypted
                            with DPAPI for the signed-in user; Linux/macOS: the desktop keyring when one runs,
                            else an owner-only (0600) file in the user's config folder, outside the data folder)

The store (SQLCipher, raw key: no key derivation on each connection), its backups (SQLCipher, the same key and
salt) and its attachments (AES-256-GCM, keys derived from K with HKDF) all use K.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from platformdirs import user_config_dir

from client.store.paths import APP_AUTHOR, APP_NAME
from client.store.records import StoreError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

log = logging.getLogger(__name__)

KEY_FILE = "key.json"
ENV_KEY_DIR = "SCHOOL_CLIENT_KEY_DIR"  # where the file key store keeps its files
ENV_KEY_STORE = (
    "SCHOOL_CLIENT_KEY_STORE"  # "file" or "keyring": which store (default: keyring when usable)
)
KEYRING_SERVICE = "school-client data key"
SALT_BYTES = 16
KEY_BYTES = 32
# 25 symbols of 32 (5 bits each): 125 random bits. No 0/O/1/I, so a code read aloud or typed is not misread.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 25
CODE_GROUP = 5
# scrypt over a 125-bit random code: 2^125 guesses are out of reach at any cost per guess, so the work factor
# is defence in depth only, kept modest (16 MiB, tens of ms; it is paid once per new data folder). Changing it
# changes the key a code makes: a backup then needs the old parameters tried too.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1


class DataKeyError(StoreError):
    """The data folder's key cannot be had (message_zh/message_en say why and what to do)."""


class WrongRecoveryCode(DataKeyError):
    pass


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return format_code(raw)


def normalize_code(code: str) -> str:
    """The code as typed -> its symbols: case, spaces and dashes do not matter."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def format_code(code: str) -> str:
    raw = normalize_code(code)
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, len(raw), CODE_GROUP))


def valid_code(code: str) -> bool:
    raw = normalize_code(code)
    return len(raw) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in raw)


def derive_key(code: str, salt: bytes) -> bytes:
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(normalize_code(code).encode("ascii"))


def _hkdf(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


@dataclass(frozen=True)
class DataKey:
    """A data folder's key. `key` and `salt` make the SQLCipher raw key; the attachment keys derive from it."""

    key: bytes
    salt: bytes
    recovery_code: str | None = field(default=None, compare=False)
    _derived: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:  # never print the key
        return f"DataKey(salt={self.salt.hex()})"

    @property
    def key_text(self) -> str:
        """SQLCipher's raw key form: the 256-bit key and the salt (no KDF when a connection opens)."""
        return f"x'{self.key.hex()}{self.salt.hex()}'"

    @property
    def sqlcipher_key(self) -> str:
        """The PRAGMA key value (the raw key form, quoted)."""
        return f'"{self.key_text}"'

    def _sub(self, info: str) -> bytes:
        if info not in self._derived:
            self._derived[info] = _hkdf(self.key, info.encode())
        return self._derived[info]

    @property
    def attachment_key(self) -> bytes:
        return self._sub("school-client attachments v1")

    def attachment_name(self, sha256: str) -> str:
        """The file name of an attachment: a keyed hash of its sha256, so a name tells nothing of the content
        to anyone without the key (the plain sha256 would confirm "this PC holds that photo")."""
        return hmac.new(
            self._sub("school-client attachment names v1"), sha256.encode(), hashlib.sha256
        ).hexdigest()

    @classmethod
    def from_code(cls, code: str, salt: bytes) -> DataKey:
        return cls(derive_key(code, salt), salt, format_code(code))


# --- where the key is kept -------------------------------------------------------------------------------


class Vault(Protocol):
    name: str

    def get(self, key_id: str) -> str | None: ...

    def set(self, key_id: str, secret: str) -> None: ...

    def delete(self, key_id: str) -> None:
        """Forget key_id's secret (nothing when it holds none)."""
        ...


class FileVault:
    """An owner-only file per key in the user's config folder (never in the data folder, so copying the data
    folder or a backup does not copy the key). Protects against other users of the PC, not against its owner
    or an administrator, nor anyone who reads the disk: see docs/security.md."""

    name = "file"

    def __init__(self, folder: Path | None = None) -> None:
        env = os.environ.get(ENV_KEY_DIR)
        self.folder = folder or (
            Path(env)
            if env
            else Path(user_config_dir(APP_NAME, APP_AUTHOR, roaming=False)) / "keys"
        )

    def _path(self, key_id: str) -> Path:
        return self.folder / f"{key_id}.key"

    def get(self, key_id: str) -> str | None:
        try:
            return self._path(key_id).read_text("utf-8")
        except FileNotFoundError:
            return None

    def set(self, key_id: str, secret: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.folder, 0o700)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".key-")
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)  # mkstemp makes it 0600 already; said for clarity
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secret)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self._path(key_id))
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _fsync_dir(self.folder)

    def delete(self, key_id: str) -> None:
        self._path(key_id).unlink(missing_ok=True)


class KeyringVault:
    """The OS key store through `keyring`: on Windows the Credential Manager (DPAPI, per user), on a Linux
    desktop the Secret Service, on macOS the Keychain. `backend`: the keyring backend to use (None:
    keyring's own choice, made when first used)."""

    name = "keyring"

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._backend = backend

    @property
    def backend(self) -> KeyringBackend:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def get(self, key_id: str) -> str | None:
        return self.backend.get_password(KEYRING_SERVICE, key_id)

    def set(self, key_id: str, secret: str) -> None:
        self.backend.set_password(KEYRING_SERVICE, key_id, secret)

    def delete(self, key_id: str) -> None:
        from keyring.errors import PasswordDeleteError

        with contextlib.suppress(PasswordDeleteError):  # it held none
            self.backend.delete_password(KEYRING_SERVICE, key_id)


def platform_keyring(platform: str = sys.platform) -> KeyringBackend | None:
    """This platform's key store backend, chosen directly: keyring's own discovery imports every backend it
    has through entry points (on Linux also the macOS one, which looks for its libraries) - about 22 MB and
    0.3 s of every start. None: no usable key store (a Linux PC without a desktop session's Secret Service:
    the file store is used). A backend named in PYTHON_KEYRING_BACKEND is still keyring's to load."""
    if os.environ.get("PYTHON_KEYRING_BACKEND"):
        import keyring

        named = keyring.get_keyring()
        return None if _unusable(named) else named
    try:
        if platform == "win32":
            from keyring.backends.Windows import WinVaultKeyring

            return WinVaultKeyring() if WinVaultKeyring.viable else None  # type: ignore[no-untyped-call]
        if platform == "darwin":
            from keyring.backends.macOS import Keyring as MacKeyring

            return MacKeyring() if MacKeyring.viable else None  # type: ignore[no-untyped-call]
        if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            return None  # no desktop session: no Secret Service to ask (nothing imported)
        from keyring.backends.SecretService import Keyring as SecretServiceKeyring

        return SecretServiceKeyring() if SecretServiceKeyring.viable else None  # type: ignore[no-untyped-call]
    except Exception as exc:  # a broken keyring install: the file store
        log.warning("the OS key store cannot be used: %s", exc)
        return None


def _unusable(backend: KeyringBackend) -> bool:
    from keyring.backends import fail

    return isinstance(backend, fail.Keyring) or (
        hasattr(backend, "backends") and not backend.backends
    )


def default_vaults() -> list[Vault]:
    """Where keys are looked for, the first one also where new keys go."""
    chosen = os.environ.get(ENV_KEY_STORE, "").lower()
    if chosen == "file":
        return [FileVault()]
    backend = platform_keyring()
    if backend is not None:
        return [KeyringVault(backend), FileVault()]
    if chosen == "keyring" or sys.platform == "win32":
        return [KeyringVault(), FileVault()]  # asked for, or Windows: keyring's own choice
    return [FileVault()]


# --- a folder's key --------------------------------------------------------------------------------------

_cache: dict[str, DataKey] = {}
_lock = threading.Lock()


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: dict[str, object], *, exclusive: bool = False) -> bool:
    """Write path whole (temp, fsync, rename). exclusive: only when path does not exist yet (a hard link,
    which fails on an existing name); returns False when it did exist."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except (
                OSError
            ):  # a file system without hard links (FAT): the next best, check then rename
                if path.exists():
                    return False
                os.replace(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)
    return True


def _read_meta(data_dir: Path) -> dict[str, object] | None:
    try:
        return json.loads((data_dir / KEY_FILE).read_text("utf-8"))  # type: ignore[no-any-return]
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DataKeyError(
            f"数据文件夹 {data_dir} 中的 {KEY_FILE} 无法读取（{exc}）",
            f"{KEY_FILE} in the data folder {data_dir} cannot be read ({exc})",
        ) from exc


def has_key(data_dir: Path) -> bool:
    return (data_dir / KEY_FILE).is_file()


def _vault_secret(key_id: str, vaults: list[Vault]) -> str | None:
    for vault in vaults:
        try:
            secret = vault.get(key_id)
        except Exception as exc:  # a keyring that fails: try the next place
            log.warning("key store %s cannot be read: %s", vault.name, exc)
            continue
        if secret is not None:
            return secret
    return None


def load_key(data_dir: Path, *, vaults: list[Vault] | None = None) -> DataKey | None:
    """The folder's key, or None when the folder has none yet. DataKeyError when key.json names a key this PC
    does not hold (the folder was copied from another PC, or the user profile was lost)."""
    folder = str(data_dir.resolve())
    with _lock:
        if folder in _cache:
            return _cache[folder]
    meta = _read_meta(data_dir)
    if meta is None:
        return None
    key_id = str(meta.get("key_id"))
    secret = _vault_secret(key_id, vaults or default_vaults())
    if secret is None:
        raise DataKeyError(
            f"本机找不到数据文件夹 {data_dir} 的密钥（数据来自另一台电脑，或 Windows 用户资料已丢失）；"
            f"请用打印的恢复码解锁：school-client recover --recovery-code 恢复码",
            f"this PC does not hold the key of the data folder {data_dir} (the data came from another PC, "
            "or the Windows user profile was lost); unlock it with the printed recovery code: "
            "school-client recover --recovery-code CODE",
        )
    held = json.loads(secret)
    key = DataKey(bytes.fromhex(held["key"]), bytes.fromhex(held["salt"]), held.get("code"))
    with _lock:
        _cache[folder] = key
    return key


def save_key(
    data_dir: Path, key: DataKey, *, vaults: list[Vault] | None = None, new: bool = False
) -> bool:
    """Keep key as the folder's key: first in the OS key store, then key.json (so a crash between the two
    leaves at worst an unused entry in the key store, never a folder naming a key that was not kept).
    new: only if the folder has no key yet (two programs starting on a new folder at once: the first one's
    key wins, the other one loads it); returns False when it had one."""
    key_id = uuid.uuid4().hex
    secret = json.dumps({"key": key.key.hex(), "salt": key.salt.hex(), "code": key.recovery_code})
    stores = vaults or default_vaults()
    for vault in stores:
        try:
            vault.set(key_id, secret)
            break
        except Exception as exc:  # a keyring that fails: the next place
            log.warning("key store %s cannot be written: %s", vault.name, exc)
    else:
        raise DataKeyError("无法保存数据密钥", "the data key cannot be saved")
    data_dir.mkdir(parents=True, exist_ok=True)
    meta: dict[str, object] = {"version": 1, "key_id": key_id, "salt": key.salt.hex()}
    if not _write_json(data_dir / KEY_FILE, meta, exclusive=new):
        return False
    with _lock:
        _cache[str(data_dir.resolve())] = key
    return True


def create_key(data_dir: Path, *, vaults: list[Vault] | None = None) -> DataKey:
    code = new_recovery_code()
    key = DataKey.from_code(code, secrets.token_bytes(SALT_BYTES))
    if not save_key(data_dir, key, vaults=vaults, new=True):
        theirs = load_key(data_dir, vaults=vaults)  # another program made it meanwhile
        assert theirs is not None
        return theirs
    log.info("made the data key of %s", data_dir)
    return key


def ensure_key(data_dir: Path) -> tuple[DataKey, bool]:
    """The folder's key, made now when it has none; and whether it was made now."""
    key = load_key(data_dir)
    if key is not None:
        return key, False
    return create_key(data_dir), True


def discard_key(data_dir: Path, *, vaults: list[Vault] | None = None) -> None:
    """Take back the key made for a folder whose store is being removed (a failed enrollment made both): its
    secret in every key store it may be in, key.json, the cached key. Only for a key made by the same command:
    the key of a store that holds anything is never discarded (its data could not be opened again)."""
    try:
        meta = _read_meta(data_dir)
    except DataKeyError as exc:
        log.warning("the key of %s cannot be read to remove it: %s", data_dir, exc)
        meta = None
    key_id = meta.get("key_id") if meta else None
    if isinstance(key_id, str) and key_id:
        for vault in vaults or default_vaults():
            try:
                vault.delete(key_id)
            except Exception as exc:  # a keyring that fails: the entry stays (it opens nothing)
                log.warning(
                    "key store %s: the key %s cannot be removed: %s", vault.name, key_id, exc
                )
    (data_dir / KEY_FILE).unlink(missing_ok=True)
    forget_cached(data_dir)
    log.info("removed the data key made for %s", data_dir)


def loaded_key_for_salt(salt: bytes | None) -> DataKey | None:
    """The key of a data folder this program opened whose salt is this one (a backup of that folder)."""
    with _lock:
        return next((k for k in _cache.values() if k.salt == salt), None)


def forget_cached(data_dir: Path | None = None) -> None:
    """Drop cached keys (tests that simulate another PC)."""
    with _lock:
        if data_dir is None:
            _cache.clear()
        else:
            _cache.pop(str(data_dir.resolve()), None)


def recovery_shown(data_dir: Path) -> bool:
    meta = _read_meta(data_dir) or {}
    return bool(meta.get("recovery_shown"))


def mark_recovery_shown(data_dir: Path) -> None:
    meta = _read_meta(data_dir)
    if meta is not None and not meta.get("recovery_shown"):
        meta["recovery_shown"] = True
        _write_json(data_dir / KEY_FILE, meta)
