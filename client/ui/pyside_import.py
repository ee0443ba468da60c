"""PySide6's import hook without its cost for modules that never use Qt.

Once PySide6 is imported, shiboken's __feature__ support is told of every module imported after it and reads
that module's source (shibokensupport.feature._mod_uses_pyside: does the text say "PySide6"?) to decide
whether `from __feature__ import ...` may apply to it. For the standard library, SQLAlchemy, the forms and the
store that is about doubles their import time - most of a second of the client's start-up, which is why the
store was imported before Qt and the start-up window could only show after it.

For a module of a package known not to use Qt the answer is the same without reading: no. Other modules (ours
under client.ui, PySide6's own) are still read. Nothing changes when PySide6 no longer has the function.
"""

from __future__ import annotations

import sys
from types import ModuleType

# Top-level packages that never import Qt (forms must not: see CONVENTIONS.md; the store is Qt-free).
NON_QT_PACKAGES = frozenset(
    {
        "alembic",
        "cryptography",
        "filelock",
        "forms",
        "keyring",
        "mako",
        "platformdirs",
        "sqlalchemy",
        "sqlcipher3",
        "typing_extensions",
        "yaml",
        "_yaml",
    }
)
NON_QT_SUBPACKAGES = ("client.store", "client.sync")


def _never_uses_qt(name: str) -> bool:
    top = name.partition(".")[0]
    if top in NON_QT_PACKAGES or top in sys.stdlib_module_names:
        return True
    return any(name == p or name.startswith(p + ".") for p in NON_QT_SUBPACKAGES)


def skip_source_scan_of_non_qt_modules() -> bool:
    """Answer shiboken's "does this module use PySide6?" without reading the source of modules that cannot;
    False when this PySide6 has no such check."""
    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or original is None or getattr(original, "_skips_non_qt", False):
        return False

    def uses_pyside(module: ModuleType) -> bool:
        if _never_uses_qt(getattr(module, "__name__", "")):
            return False
        return bool(original(module))

    uses_pyside._skips_non_qt = True  # type: ignore[attr-defined]
    uses_pyside.original = original  # type: ignore[attr-defined]
    setattr(feature, "_mod_uses_pyside", uses_pyside)  # noqa: B010 (PySide6's private function)
    return True
