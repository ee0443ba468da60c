#!/usr/bin/env python3
"""Regenerate the client's translations: client/i18n/school_client_<lang>.ts from the UI sources, then the
compiled .qm files the app loads.

    .venv/bin/python scripts/update_translations.py          # update .ts (keeps translations), compile .qm
    .venv/bin/python scripts/update_translations.py --check  # also fail when an English text is missing

Source strings are Simplified Chinese (self.tr("待办")), so the zh_CN file translates each text to itself
(a bureau may still reword one there without touching code); the English file is translated by hand, in Qt
Linguist (`.venv/bin/pyside6-linguist client/i18n/school_client_en.ts`) or any text editor.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
I18N = ROOT / "client" / "i18n"
SOURCES = ROOT / "client" / "ui"
LANGUAGES = ("zh_CN", "en")
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    for candidate in (BIN / name, BIN / f"{name}.exe"):
        if candidate.exists():
            return str(candidate)
    return name


def ts_path(lang: str) -> Path:
    return I18N / f"school_client_{lang}.ts"


def run_lupdate() -> None:
    sources = sorted(str(p.relative_to(ROOT)) for p in SOURCES.rglob("*.py"))
    targets = [str(ts_path(lang).relative_to(ROOT)) for lang in LANGUAGES]
    subprocess.run(
        [tool("pyside6-lupdate"), "-no-obsolete", "-locations", "none", *sources, "-ts", *targets],
        cwd=ROOT,
        check=True,
    )


def fill_chinese(path: Path) -> int:
    """The Chinese file translates each source text to itself, unless someone reworded it there."""
    tree = ET.parse(path)
    changed = 0
    for message in tree.getroot().iter("message"):
        source = message.findtext("source") or ""
        translation = message.find("translation")
        if translation is None:
            translation = ET.SubElement(message, "translation")
        if message.get("numerus") == "yes":
            continue
        if translation.get("type") == "unfinished" or not (translation.text or ""):
            translation.text = source
            translation.attrib.pop("type", None)
            changed += 1
    if changed:
        _write(tree, path)
    return changed


def unfinished(path: Path) -> list[tuple[str, str]]:
    """(context, source) of every message without a finished translation."""
    out: list[tuple[str, str]] = []
    for context in ET.parse(path).getroot().iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            if (
                translation is None
                or translation.get("type") == "unfinished"
                or not (translation.text or "").strip()
            ):
                out.append((name, message.findtext("source") or ""))
    return out


def _write(tree: ET.ElementTree, path: Path) -> None:
    ET.indent(tree, space="    ")
    body = ET.tostring(tree.getroot(), encoding="unicode")
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n' + body + "\n", encoding="utf-8"
    )


def run_lrelease() -> None:
    # qt_supplement_<lang>.ts: Qt's own strings its translation lacks, kept by hand (client/ui/app.py)
    for ts in [*(ts_path(lang) for lang in LANGUAGES), *sorted(I18N.glob("qt_supplement_*.ts"))]:
        subprocess.run(
            [tool("pyside6-lrelease"), "-silent", str(ts), "-qm", str(ts.with_suffix(".qm"))],
            cwd=ROOT,
            check=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail when an English text is missing")
    args = parser.parse_args(argv)
    I18N.mkdir(parents=True, exist_ok=True)
    run_lupdate()
    fill_chinese(ts_path("zh_CN"))
    run_lrelease()
    missing = unfinished(ts_path("en"))
    for context, source in missing:
        print(f"untranslated (en): [{context}] {source}")
    print(f"{len(missing)} English text(s) missing" if missing else "all texts translated")
    return 1 if args.check and missing else 0


if __name__ == "__main__":
    sys.exit(main())
