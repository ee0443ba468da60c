"""What the two export benchmarks share: a child process per run (its own peak memory), and a writer-only
comparison of the two streaming writers on the same rows.

Each run prints "<records> <seconds> <peak RSS MB> <CPU seconds> <RSS MB when it started>" as its last line
(VmHWM and time.process_time in the child; "started": after its imports and opening the store,
so the difference is what the export itself takes). On a machine shared with other work the wall-clock seconds follow its load;
the CPU seconds (user + system of the run itself) much less, so both ratios are printed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Defined in every child: its peak resident memory in MB so far. VmHWM belongs to the process's own address
# space (getrusage's ru_maxrss is kept across exec, so a child would report its parent's size).
MEASURE = """
import resource


def hwm():
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

# records, seconds, peak MB, CPU seconds, MB when the export began
Result = tuple[int, float, float, float, float]

# The end of both peers: the rows (a list of dicts per sheet) written by pandas, its engine pinned to openpyxl
# (with xlsxwriter installed, pandas would pick it).
PANDAS_WRITE = """
with pd.ExcelWriter(sys.argv[2], engine="openpyxl") as writer:
    pd.DataFrame(rows).to_excel(writer, sheet_name="main", index=False)
    pd.DataFrame(hazards).to_excel(writer, sheet_name="hazards", index=False)
print(len(rows), time.perf_counter() - t0, hwm(),
      time.process_time() - c0, m0)
"""

# The writers alone, on the same rows (typed values: text, numbers, dates), each in its own process:
# xlsxwriter in constant-memory mode against openpyxl in write-only mode (with lxml), 50,000 x 14 cells
# and 100,000 x 12 cells by default. argv: writer, path, rows.
WRITERS = """
import datetime as dt, resource, sys, time
writer, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
day = dt.datetime(2026, 11, 20)
main = [["3f2a%08d-0000-4000-8000-000000000000" % i, day, "月度排查", "王伟、李明", "食堂、消防设施",
         "是", 2, 1, "张校长", "已上报乡镇", "待发送", day, i * 1.5, "+86 138"] for i in range(200)]
rep = [["3f2a%08d-0000-4000-8000-000000000000" % i, 1, "消防", "教学楼一层", "灭火器压力不足，编号12",
        "重大", "立即整改并复查", "王老师", day, "整改中", None, day] for i in range(200)]
t0, c0, m0 = time.perf_counter(), time.process_time(), hwm()
if writer == "xlsxwriter":
    import xlsxwriter
    wb = xlsxwriter.Workbook(path, {"constant_memory": True})
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    sheets = [wb.add_worksheet("main"), wb.add_worksheet("rep")]
    for ws, rows, count in ((sheets[0], main, n), (sheets[1], rep, 2 * n)):
        for r in range(count):
            for c, v in enumerate(rows[r % 200]):
                if v is None:
                    continue
                if isinstance(v, str):
                    ws.write_string(r, c, v)
                elif isinstance(v, dt.datetime):
                    ws.write_datetime(r, c, v, date)
                else:
                    ws.write_number(r, c, v)
    wb.close()
else:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    wb = Workbook(write_only=True)
    for title, rows, count in (("main", main, n), ("rep", rep, 2 * n)):
        ws = wb.create_sheet(title)
        cell = WriteOnlyCell(ws)
        cell.number_format = "yyyy-mm-dd"
        for r in range(count):
            out = []
            for v in rows[r % 200]:
                if isinstance(v, dt.datetime):
                    cell.value = v
                    out.append(cell)
                else:
                    out.append(v)
            ws.append(out)
    wb.save(path)
print(n, time.perf_counter() - t0, hwm(),
      time.process_time() - c0, m0)
"""


def run_child(code: str, *args: str) -> Result | str:
    """Run `code` in a fresh interpreter; (records, seconds, peak MB, CPU seconds, MB at the start), or the
    last line of its error."""
    r = subprocess.run(
        [sys.executable, "-c", MEASURE + code, *args], capture_output=True, text=True, cwd=ROOT
    )
    if r.returncode != 0:
        return (r.stderr.strip().splitlines() or ["failed"])[-1]
    n, secs, peak, cpu, start = r.stdout.split()[-5:]
    return int(n), float(secs), float(peak), float(cpu), float(start)


def compare_writers(folder: Path, records: int) -> None:
    """Print the writer-only figures: what the choice of xlsxwriter (constant memory) rests on."""
    results: dict[str, Result] = {}
    for writer in ("xlsxwriter", "openpyxl"):
        got = run_child(WRITERS, writer, str(folder / f"writer-{writer}.xlsx"), str(records))
        if isinstance(got, str):
            print(f"writer only, {writer}: not available ({got})")
            return
        results[writer] = got
        print(
            f"writer only, {writer} ({'constant_memory' if writer == 'xlsxwriter' else 'write_only'}), "
            f"{records:,} x 14 + {2 * records:,} x 12 cells: {seconds(got)}"
        )
    x, o = results["xlsxwriter"], results["openpyxl"]
    print(
        f"writer only, ratio openpyxl / xlsxwriter: time {o[1] / x[1]:.2f}x, CPU {o[3] / x[3]:.2f}x, "
        f"memory {o[2] / x[2]:.2f}x"
    )


def seconds(result: Result) -> str:
    grown = result[2] - result[4]
    return (
        f"{result[1]:.1f} s (CPU {result[3]:.1f} s), peak RSS {result[2]:.0f} MB "
        f"({result[4]:.0f} MB before the export began, +{grown:.0f} MB during it)"
    )


def print_ratio(ours: Result, peer: Result) -> None:
    print(
        f"ratio: ours is {peer[1] / ours[1]:.2f}x faster than pandas+openpyxl by the clock, "
        f"{peer[3] / ours[3]:.2f}x by CPU time (goal >= 2x); peak memory ours {ours[2]:.0f} MB, "
        f"+{ours[2] - ours[4]:.0f} MB for the export itself (goal <= 100 MB), peer {peer[2]:.0f} MB"
    )


def ours_against_peer(
    ours_code: str, peer_code: str, source: str, folder: Path, sheets: str
) -> Result | None:
    """Run ours then the peer on the same source (a data folder or a database URL), print both and the
    ratio; ours' result, or None when it failed."""
    ours = run_child(ours_code, source, str(folder / "ours.xlsx"))
    if isinstance(ours, str):
        print(f"ours: failed ({ours})")
        return None
    size = (folder / "ours.xlsx").stat().st_size / 1e6
    print(f"ours: export {ours[0]:,} records ({sheets}, {size:.1f} MB): {seconds(ours)}")
    peer = run_child(peer_code, source, str(folder / "pandas.xlsx"))
    if isinstance(peer, str):
        print(f"peer pandas.DataFrame.to_excel(engine='openpyxl'): not available ({peer})")
        return ours
    print(f"peer pandas.DataFrame.to_excel(engine='openpyxl'), same rows: {seconds(peer)}")
    print_ratio(ours, peer)
    return ours
