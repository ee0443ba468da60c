"""client.ui.pyside_import: shiboken is told "does not use PySide6" without reading the source only for
modules that indeed do not (the answer its own source scan gives), and the client's entry point installs it."""

from __future__ import annotations

import sys

import client.context  # the store's modules, imported as the client imports them
import client.ui.app  # noqa: F401 (installs the shortcut)
from client.ui.pyside_import import _never_uses_qt


def test_the_modules_skipped_are_the_ones_shibokens_scan_finds_without_qt() -> None:
    feature = sys.modules["shibokensupport.feature"]
    check = feature._mod_uses_pyside
    assert getattr(check, "_skips_non_qt", False)
    skipped = [
        module
        for name, module in list(sys.modules.items())
        if name.split(".")[0] in ("client", "forms", "sqlalchemy", "yaml", "keyring")
        and _never_uses_qt(name)
        and getattr(module, "__file__", None)
    ]
    assert len(skipped) > 50  # the store, the forms, SQLAlchemy
    assert [m.__name__ for m in skipped if check.original(m)] == []
    assert _never_uses_qt("client.store.db") and not _never_uses_qt("client.ui.home_page")
