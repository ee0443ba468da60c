"""Import figures for issue 9: the roster import is linear, and hostile files are refused in bounded memory.

Prints:
* the client's roster import (school-client's import_file, all rows in one transaction) of 1,000 / 10,000 /
  100,000 rows: seconds, milliseconds per row, peak memory, and the ratio to a peer measured in the same run
  on the same file: openpyxl read-only iteration + sqlite3 executemany of the rows as JSON (what any import
  must at least do, without validation, revisions, outbox or search index);
* peak memory (ru_maxrss of a child process) opening each bomb file, by the forms loader (forms check /
  publish-form / the dashboard upload) and by the client's import: a YAML alias bomb, an XLSForm holding
  1 GiB of blanks, a shared-strings table of 4 million strings, a workbook declaring a DTD. Each must be
  refused and stay under 200 MB.

    .venv/bin/python benchmarks/import_bench.py [--rows 1000 10000 100000] [--skip-bombs]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forms.safe_xlsx import IMPORT_LIMITS, XLSFORM_LIMITS  # noqa: E402
from tests.support.bombs import (  # noqa: E402
    PYTHON,
    dtd_workbook,
    largest_accepted,
    run_measured,
    shared_strings_bomb,
    whitespace_bomb,
    yaml_alias_bomb,
)

LIMIT_MB = 200
FIELDS = ("teacher_id", "name", "gender", "subject", "title", "active")


def roster_file(path: Path, rows: int) -> Path:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("教师名册")
    ws.append(list(FIELDS))
    for i in range(rows):
        ws.append(
            [f"T{i:06d}", f"教师{i}", "female" if i % 2 else "male", "语文", "一级教师", "yes"]
        )
    wb.save(path)
    return path


# -- run in a child process, one measurement each ------------------------------------------------------


def child_import(path: Path, data_dir: Path) -> dict[str, float]:
    from client.clock import SystemClock
    from client.context import ClientContext
    from client.excel import import_file
    from client.store.db import open_store
    from client.store.formset import FormSet

    ctx = ClientContext(open_store(data_dir), FormSet.shipped(), SystemClock())
    try:
        t0 = time.perf_counter()
        result = import_file(ctx, "teachers", path)
        seconds = time.perf_counter() - t0
    finally:
        ctx.close()
    return {"seconds": seconds, "rows": result.created}


def child_peer(path: Path, db: Path) -> dict[str, float]:
    from openpyxl import load_workbook

    t0 = time.perf_counter()
    wb = load_workbook(path, read_only=True, data_only=True)
    rows = wb.worksheets[0].iter_rows(values_only=True)
    header = [str(v) for v in next(rows)]
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE records (id INTEGER PRIMARY KEY, data TEXT)")
    with conn:
        conn.executemany(
            "INSERT INTO records (data) VALUES (?)",
            ((json.dumps(dict(zip(header, r, strict=False)), ensure_ascii=False),) for r in rows),
        )
    n = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    conn.close()
    wb.close()
    return {"seconds": time.perf_counter() - t0, "rows": n}


def child_open(kind: str, path: Path, data_dir: Path) -> dict[str, str]:
    if kind == "forms":
        from forms.catalog import load_file

        result = load_file(path)
        return {"refused": ", ".join(e.code for e in result.errors) or "NOT REFUSED"}
    from client.clock import SystemClock
    from client.context import ClientContext
    from client.excel import ExcelError, import_file
    from client.store.db import open_store
    from client.store.formset import FormSet

    ctx = ClientContext(open_store(data_dir), FormSet.shipped(), SystemClock())
    try:
        import_file(ctx, "teachers", path)
    except ExcelError as exc:
        return {"refused": exc.message_en[:90]}
    finally:
        ctx.close()
    return {"refused": "NOT REFUSED"}


def measured(*args: str) -> tuple[dict[str, object], float]:
    run = run_measured([PYTHON, __file__, "--child", *args], cwd=ROOT, cap_mb=4096, timeout=3600)
    if run.returncode != 0:
        raise SystemExit(f"child {args} failed: {run.stderr[-2000:]}")
    out: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return out, run.peak_mb


# -- the report ----------------------------------------------------------------------------------------


def bench_imports(sizes: list[int], folder: Path) -> None:
    print(
        "roster import (client import_file: validated, one transaction, revisions, outbox, search):"
    )
    print(
        f"{'rows':>8} {'seconds':>9} {'ms/row':>8} {'peak MB':>8}   "
        f"{'peer s':>8} {'peer ms/row':>11} {'ratio':>6}"
    )
    first: float | None = None
    for n in sizes:
        path = roster_file(folder / f"roster-{n}.xlsx", n)
        ours, peak = measured("import", str(path), str(folder / f"store-{n}"))
        peer, _ = measured("peer", str(path), str(folder / f"peer-{n}.db"))
        secs, peer_secs = float(ours["seconds"]), float(peer["seconds"])  # type: ignore[arg-type]
        assert ours["rows"] == n == peer["rows"], (ours, peer)
        per_row = secs / n * 1000
        first = first or per_row
        print(
            f"{n:>8,} {secs:>9.2f} {per_row:>8.2f} {peak:>8.0f}   "
            f"{peer_secs:>8.2f} {peer_secs / n * 1000:>11.3f} {secs / peer_secs:>5.0f}x"
        )
    print("(linear: the ms/row column stays flat as the rows grow tenfold)")


def bench_bombs(folder: Path) -> None:
    yaml_bomb = folder / "alias-bomb.yaml"
    yaml_bomb.write_text(yaml_alias_bomb(), encoding="utf-8")
    files = {
        "YAML alias bomb": yaml_bomb,
        "XLSForm with 1 GiB of blanks": whitespace_bomb(folder / "blanks.xlsx", mib=1024),
        "shared strings, 4 million": shared_strings_bomb(
            folder / "strings.xlsx", strings=4_000_000
        ),
        "shared strings, 20 million of one": shared_strings_bomb(
            folder / "same.xlsx", strings=20_000_000, same=True
        ),
        "workbook declaring a DTD": dtd_workbook(folder / "dtd.xlsx"),
    }
    print()
    print(f"opening hostile files (peak resident memory of the process; limit {LIMIT_MB} MB):")
    _, baseline = measured("baseline")
    print(f"  {'(baseline: python + openpyxl + forms + client imported)':<58} {baseline:>6.0f} MB")
    for label, path in files.items():
        size = path.stat().st_size
        readers = ["forms"] if path.suffix == ".yaml" else ["forms", "client"]
        for reader in readers:
            out, peak = measured("open", reader, str(path), str(folder / f"open-{reader}"))
            verdict = "ok" if peak < LIMIT_MB and out["refused"] != "NOT REFUSED" else "OVER"
            name = f"{label} ({size / 1e6:.2f} MB on disk), {reader}"
            print(f"  {name:<58} {peak:>6.0f} MB  {verdict}  refused: {out['refused']}")
    print(
        "the largest workbooks the limits let through (shared strings and styles at their limits):"
    )
    for reader, limits in (("forms", XLSFORM_LIMITS), ("client", IMPORT_LIMITS)):
        path = largest_accepted(
            folder / f"largest-{reader}.xlsx",
            shared_tags=limits.max_shared_strings_tags,
            shared_bytes=limits.max_shared_strings_bytes,
            part_tags=limits.max_part_tags,
        )
        _out, peak = measured("open", reader, str(path), str(folder / f"largest-{reader}"))
        verdict = "ok" if peak < LIMIT_MB else "OVER"
        name = f"at the {reader} limits ({path.stat().st_size / 1e6:.2f} MB on disk), {reader}"
        print(f"  {name:<58} {peak:>6.0f} MB  {verdict}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, *rest = sys.argv[2:]
        if kind == "import":
            out: dict[str, object] = dict(child_import(Path(rest[0]), Path(rest[1])))
        elif kind == "peer":
            out = dict(child_peer(Path(rest[0]), Path(rest[1])))
        elif kind == "open":
            out = dict(child_open(rest[0], Path(rest[1]), Path(rest[2])))
        else:
            import client.excel  # noqa: F401
            import forms.xlsform  # noqa: F401

            out = {}
        print(json.dumps(out))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--skip-bombs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="import-bench-") as tmp:
        folder = Path(tmp)
        bench_imports(args.rows, folder)
        if not args.skip_bombs:
            bench_bombs(folder)


if __name__ == "__main__":
    main()
