"""A real (if forgetful) keyring backend for tests: what KeyringVault is handed on a platform, standing for the
Windows Credential Manager (no desktop keyring here). `PYTHON_KEYRING_BACKEND` can name it as
tests.support.keyrings.DictKeyring."""

from __future__ import annotations

from keyring.backend import KeyringBackend


class DictKeyring(KeyringBackend):
    """A keyring backend keeping its passwords in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.kept: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.kept.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.kept[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.kept.pop((service, username), None)
