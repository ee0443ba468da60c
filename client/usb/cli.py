"""`school-client usb-export DIR` and `school-client usb-import FILE` (registered in client.cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from forms.usb_bundle import BundleError

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def _refused(exc: BundleError) -> int:
    print(" ".join(f"{exc.message_zh} / {exc.message_en}".split("\n")), file=sys.stderr)
    return EXIT_BAD_INPUT


def cmd_usb_export(args: argparse.Namespace, data_dir: Path) -> int:
    from client.context import ClientContext
    from client.usb.bundle import export_bundle

    ctx = ClientContext.open(data_dir)
    try:
        done = export_bundle(ctx, Path(args.folder))
    except BundleError as exc:
        return _refused(exc)
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
    from client.usb.bundle import import_answer
    from client.usb.import_summary import ImportSummary, snapshot, summarize, zh_title
    from client.usb.stick_files import done_files

    ctx = ClientContext.open(data_dir)
    path = Path(args.file)
    try:
        before = snapshot(ctx)
        result = import_answer(ctx, path)
        done = ImportSummary(path, result)
        summarize(ctx, done, before, snapshot(ctx), title=zh_title)
    except BundleError as exc:
        return _refused(exc)
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
