"""Hostile files, made small on disk: a YAML alias bomb and xlsx workbooks that expand when parsed.

Used by the tests (small sizes) and by benchmarks/import_bench.py (the sizes of issue 9).
Also: a child process's peak memory, measured with os.wait4, under an address-space cap so that a
regression fails the test instead of taking the machine down.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook

MIB = 1024 * 1024


def yaml_alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs" in YAML: `levels` anchors, each a list of `width` aliases of the last.

    With 9 x 9 it is under 700 bytes and expands to 9**9 (387 million) strings."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines.append(f"settings: {{form_id: bomb, version: '1', title: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


def xlsform_workbook(path: Path) -> Path:
    """A small valid XLSForm (survey, choices, settings) to graft hostile parts into."""
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["type", "name", "label"])
    ws.append(["text", "school_name", "学校名称"])
    wb.create_sheet("settings").append(["form_id", "version", "form_title"])
    wb["settings"].append(["demo", "1", "演示"])
    wb.save(path)
    return path


def _rewrite(source: Path, target: Path, replace: dict[str, bytes | list[bytes]]) -> None:
    """Copy a workbook entry by entry, replacing the named entries (a list is written chunk by chunk)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            new = replace.get(info.filename)
            if new is None:
                zout.writestr(info.filename, zin.read(info.filename))
            elif isinstance(new, bytes):
                zout.writestr(info.filename, new)
            else:
                with zout.open(info.filename, "w") as out:
                    for chunk in new:
                        out.write(chunk)


def whitespace_bomb(path: Path, *, mib: int = 1024) -> Path:
    """An XLSForm whose survey sheet holds `mib` MiB of blanks inside <sheetData> (1 GiB: about 1 MB on disk)."""
    base = xlsform_workbook(path.with_name(path.stem + "-base.xlsx"))
    with zipfile.ZipFile(base) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    head, sep, tail = sheet.partition(b"<sheetData>")
    blanks = b" " * MIB

    def chunks() -> list[bytes]:
        return [head + sep, *([blanks] * mib), tail]

    _rewrite(base, path, {"xl/worksheets/sheet1.xml": chunks()})
    base.unlink()
    return path


def shared_strings_bomb(path: Path, *, strings: int = 4_000_000, same: bool = False) -> Path:
    """A workbook whose shared-strings table holds `strings` short distinct strings (openpyxl keeps them all);
    same=True: one two-letter string again and again (packs about 1000:1)."""
    base = xlsform_workbook(path.with_name(path.stem + "-base.xlsx"))
    head = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    )
    body = [head]
    step = 100_000
    for start in range(0, strings, step):
        count = min(start + step, strings) - start
        if same:
            body.append(b"<si><t>ab</t></si>" * count)
        else:
            body.append(b"".join(b"<si><t>%x</t></si>" % i for i in range(start, start + count)))
    body.append(b"</sst>")
    with zipfile.ZipFile(base) as z:
        names = z.namelist()
        types = z.read("[Content_Types].xml")
        rels = z.read("xl/_rels/workbook.xml.rels")
    replace: dict[str, bytes | list[bytes]] = {}
    if "xl/sharedStrings.xml" not in names:
        replace["[Content_Types].xml"] = types.replace(
            b"</Types>",
            b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        )
        replace["xl/_rels/workbook.xml.rels"] = rels.replace(
            b"</Relationships>",
            b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/'
            b'2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>',
        )
    _rewrite(base, path, replace)
    with (
        zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as z,
        z.open("xl/sharedStrings.xml", "w") as out,
    ):
        for chunk in body:
            out.write(chunk)
    base.unlink()
    return path


def styles_part(tags: int) -> bytes:
    """A styles part of about `tags` tags (cell formats: openpyxl makes objects for each)."""
    xf = b"".join(b'<xf numFmtId="%d"/>' % (i % 150) for i in range(tags))
    return (
        b'<?xml version="1.0"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        b'2006/main"><fonts count="1"><font/></fonts><fills count="1"><fill/></fills><borders '
        b'count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs>'
        + xf
        + b"</cellXfs></styleSheet>"
    )


def largest_accepted(path: Path, *, shared_tags: int, shared_bytes: int, part_tags: int) -> Path:
    """A workbook just under given limits: shared strings at their tag (or byte) limit, styles filling
    the tags left for the parts read whole. What the limits let through, at most."""
    strings = min(shared_tags // 4 - 10, int(shared_bytes / 21.6))
    base = shared_strings_bomb(path.with_name(path.stem + "-strings.xlsx"), strings=strings)
    with zipfile.ZipFile(base) as z:
        other = sum(
            z.read(n).count(b"<")
            for n in z.namelist()
            if n not in ("xl/sharedStrings.xml", "xl/styles.xml")
            and not n.startswith("xl/worksheets/")
        )
    _rewrite(base, path, {"xl/styles.xml": styles_part(part_tags - other - 30)})
    base.unlink()
    return path


def dtd_workbook(path: Path) -> Path:
    """An XLSForm whose survey sheet declares a DTD with nested entities (a billion-laughs in XML)."""
    base = xlsform_workbook(path.with_name(path.stem + "-base.xlsx"))
    with zipfile.ZipFile(base) as z:
        sheet = z.read("xl/worksheets/sheet1.xml")
    entities = ['<!ENTITY e0 "lol">'] + [
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)
    ]
    dtd = f"<!DOCTYPE worksheet [{''.join(entities)}]>".encode()
    decl, sep, rest = sheet.partition(b"?>")
    _rewrite(base, path, {"xl/worksheets/sheet1.xml": decl + sep + dtd + rest})
    base.unlink()
    return path


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float


def run_measured(args: list[str], *, cwd: Path, cap_mb: int = 2048, timeout: float = 120) -> Run:
    """Run a child process and report its own peak resident memory (not its siblings', nor this process's).

    The child is started by a small launcher (tests/support/measure_child.py): Linux carries a process's peak
    RSS over fork and exec, so a child forked straight from a large pytest worker would report the worker's
    size. The child's address space is capped at cap_mb: a bomb that gets through fails with MemoryError
    instead of using all of the machine."""
    import json

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        launcher = [sys.executable, "-m", "tests.support.measure_child"]
        done = subprocess.run(
            [*launcher, str(cap_mb), str(out), str(err), str(timeout), "--", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        if result.get("timeout"):
            raise subprocess.TimeoutExpired(args, timeout)
        stdout = out.read_bytes().decode("utf-8", errors="replace")
        stderr = err.read_bytes().decode("utf-8", errors="replace")
    return Run(int(result["returncode"]), stdout, stderr, int(result["peak_kb"]) / 1024)


PYTHON = sys.executable
