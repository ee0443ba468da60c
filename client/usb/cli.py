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

    ctx = ClientContext.open(data_dir)
    try:
        done = import_answer(ctx, Path(args.file))
    except BundleError as exc:
        return _refused(exc)
    finally:
        ctx.close()
    print(
        f"已导入教育局答复：{done.acknowledged} 条记为已发送，{len(done.rejected)} 条被拒收，"
        f"{done.conflicts} 个冲突，收到 {done.pulled} 项 / imported the bureau's answer: "
        f"{done.acknowledged} marked sent, {len(done.rejected)} refused, {done.conflicts} conflicts, "
        f"{done.pulled} items received"
    )
    for r in done.rejected:
        print(f"  拒收 / refused {r['record_id'][:8]}: {r['message_zh']} / {r['message_en']}")
    return EXIT_OK
