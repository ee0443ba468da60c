"""Which OS key store keeps the data key: chosen by platform (client.store.keys.platform_keyring), without
keyring's entry-point discovery; a key kept through a keyring backend loads again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from client.store import keys as K
from tests.support.keyrings import DictKeyring


def test_a_key_kept_in_a_keyring_backend_loads_again(tmp_path: Path) -> None:
    backend = DictKeyring()
    vaults: list[K.Vault] = [K.KeyringVault(backend)]
    made = K.create_key(tmp_path, vaults=vaults)
    assert [service for service, _ in backend.kept] == [K.KEYRING_SERVICE]
    K.forget_cached(tmp_path)
    assert K.load_key(tmp_path, vaults=vaults) == made


def test_linux_without_a_desktop_session_uses_the_file_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setenv(K.ENV_KEY_STORE, "")
    assert K.platform_keyring("linux") is None
    if sys.platform == "linux":
        assert [v.name for v in K.default_vaults()] == ["file"]


def test_windows_store_is_chosen_directly_not_by_discovery() -> None:
    """keyring's discovery (entry points, every backend imported) is not run to find the key store."""
    code = (
        "import sys\n"
        "from client.store.keys import platform_keyring\n"
        "backend = platform_keyring('win32')\n"
        "print(type(backend).__name__ if backend else None,"
        " 'keyring.backends.macOS' in sys.modules, 'keyring.backends.kwallet' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    expected = "WinVaultKeyring" if sys.platform == "win32" else "None"
    assert out == [expected, "False", "False"]
