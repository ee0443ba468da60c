"""`school-client usb-export DIR` and `school-client usb-import FILE` (registered in client.cli).

Both hold the data folder's sync lock (client/sync/lock.py) while they read and write the outbox: while the
open window or another command syncs (online or by stick), they say so and exit 4 with nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from forms.usb_bundle import BundleError

if TYPE_CHECKING:
    from client.sync.lock import SyncBusy

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_BUSY = 4  # client/sync/commands.py's


def _busy(exc: SyncBusy) -> int:
    print(" ".join(f"{exc.message_zh} / {exc.message_en}".split()), file=sys.stderr)
    return EXIT_BUSY


def _refused(exc: BundleError) -> int:
    print(" ".join(f"{exc.message_zh} / {exc.message_en}".split("\n")), file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_usb_export(args: argparse.Namespace, data_dir: Path) -> int:
    from client.context import ClientContext
    from client.sync.lock import SyncBusy, hold_sync
    from client.usb.bundle import export_bundle

    ctx = ClientContext.open(data_dir)
    try:
        with hold_sync(data_dir, by="command", what="usb-export"):
            done = export_bundle(ctx, Path(args.folder))
    except BundleError as exc:
        return _refused(exc)
    except SyncBusy as exc:
        return _busy(exc)
    finally:
        ctx.close()
    where = str(done.path)
    if len(done.paths) > 1:  # numbered parts below the FAT32 limit: every one must travel
        where = (
            f"{done.path.parent}（共 {len(done.paths)} 个分卷文件 / {len(done.paths)} part files）"
        )
    print(
        f"已导出 {done.changes} 条变更、{done.attachments} 个附件到 {where}，已读回校验，可以拔出U盘 / "
        f"exported {done.changes} changes and {done.attachments} attachments to {where}, read back "
        "and verified; the stick can be removed"
    )
    if len(done.paths) > 1:
        for path in done.paths:
            print(f"  {path.name}")
    return EXIT_OK


def cmd_usb_import(args: argparse.Namespace, data_dir: Path) -> int:
    from client.context import ClientContext
    from client.sync.lock import SyncBusy, hold_sync
    from client.usb.bundle import import_answer
    from client.usb.import_summary import ImportSummary, snapshot, summarize, zh_title
    from client.usb.stick_files import done_files

    ctx = ClientContext.open(data_dir)
    path = Path(args.file)
    try:
        with hold_sync(data_dir, by="command", what="usb-import"):
            before = snapshot(ctx)
            result = import_answer(ctx, path)
            done = ImportSummary(path, result)
            summarize(ctx, done, before, snapshot(ctx), title=zh_title)
    except BundleError as exc:
        return _refused(exc)
    except SyncBusy as exc:
        return _busy(exc)
    finally:
        ctx.close()
    for line in done.lines():
        if line.kind == "item":
            same = line.zh == line.en
            print(f"  · {line.zh}" if same else f"  · {line.zh} / {line.en}")
        else:
            print(f"{line.zh} / {line.en}")
    finished = done_files(result.header, result.paths or [path])
    if finished:
        print(
            "U盘上这些文件已处理完，可以删除 / these files on the stick are done and can be deleted:"
        )
        for p in finished:
            print(f"  {p}")
    return EXIT_OK
