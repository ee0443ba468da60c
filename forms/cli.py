"""`python -m forms`: check form definitions and convert them to and from XLSForm workbooks.

Exit codes: 0 success, 2 bad input (every problem printed with its location, in Chinese and English).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from forms.argparse_zh import argparse_zh
from forms.catalog import DEFINITIONS_DIR, CheckResult, check_files, definition_files, load_file
from forms.model import FieldType, FormDef
from forms.serialize import to_yaml

EXIT_OK = 0
EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"参数错误：{argparse_zh(message)} / bad arguments: {message}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _count_fields(form: FormDef) -> tuple[int, int]:
    fields = form.all_fields()
    answers = sum(1 for f in fields if f.holds_answer)
    repeats = sum(1 for f in fields if f.type is FieldType.REPEAT)
    return answers, repeats


def _report(result: CheckResult) -> None:
    for w in result.warnings:
        print(f"  warning: {w}")
    if result.form is not None and not result.errors:
        answers, repeats = _count_fields(result.form)
        extra = f", {repeats} repeat group(s)" if repeats else ""
        print(
            f"OK   {result.form.form_id:<22} version {result.form.version:<8} "
            f"{answers} fields{extra}  ({result.path.name}) {result.form.title.zh}"
        )
        return
    print(f"FAIL {result.path}")
    for e in result.errors:
        print(f"  {e}")


def cmd_check(files: Sequence[str]) -> int:
    paths = [Path(f) for f in files] if files else definition_files(DEFINITIONS_DIR)
    missing = [p for p in paths if not p.is_file()]
    if missing:
        for p in missing:
            print(f"找不到文件 / file not found: {p}", file=sys.stderr)
        return EXIT_BAD_INPUT
    results = check_files(paths)
    for r in results:
        _report(r)
    bad = sum(1 for r in results if r.errors or r.form is None)
    print(
        f"{len(results)} form(s) checked, {bad} with problems / 共检查 {len(results)} 个表单，{bad} 个有问题"
    )
    return EXIT_BAD_INPUT if bad else EXIT_OK


def _load_or_report(path: Path) -> FormDef | None:
    if not path.is_file():
        print(f"找不到文件 / file not found: {path}", file=sys.stderr)
        return None
    result = load_file(path)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if result.form is None:
        for e in result.errors:
            print(e, file=sys.stderr)
        return None
    return result.form


def _write(out: Path, write: object) -> int:
    from forms.cells import MAX_CELL_TEXT, CellTooLong

    try:
        write()  # type: ignore[operator]
    except OSError as exc:
        print(f"无法写入 / cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except CellTooLong:
        print(
            f"有文字超过 Excel 单元格上限（{MAX_CELL_TEXT} 字），未写出 {out} / "
            f"a text is longer than an Excel cell holds ({MAX_CELL_TEXT} characters); {out} not written",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    print(f"wrote {out}")
    return EXIT_OK


def cmd_to_xlsform(source: str, out: str) -> int:
    from forms.xlsform import export_warnings, write_xlsform

    form = _load_or_report(Path(source))
    if form is None:
        return EXIT_BAD_INPUT
    for w in export_warnings(form):
        print(f"warning: {w}", file=sys.stderr)
    return _write(Path(out), lambda: write_xlsform(form, out))


def cmd_from_xlsform(source: str, out: str) -> int:
    if Path(source).suffix.lower() not in (".xlsx", ".xlsm", ".xls", ".csv"):
        print(
            f"需要 XLSForm 文件（.xlsx、.xls 或 .csv）/ expected an XLSForm (.xlsx, .xls or .csv): {source}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    form = _load_or_report(Path(source))
    if form is None:
        return EXIT_BAD_INPUT
    target = Path(out)

    def write() -> None:
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(to_yaml(form), encoding="utf-8")
        tmp.replace(target)

    return _write(target, write)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _Parser(prog="python -m forms", description="Form definitions: check and convert.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_check = sub.add_parser(
        "check", help="check definitions (default: every file in forms/definitions)"
    )
    p_check.add_argument("files", nargs="*")
    p_to = sub.add_parser("to-xlsform", help="YAML definition -> XLSForm workbook")
    p_to.add_argument("source")
    p_to.add_argument("out")
    p_from = sub.add_parser("from-xlsform", help="XLSForm workbook -> YAML definition")
    p_from.add_argument("source")
    p_from.add_argument("out")
    args = parser.parse_args(argv)
    if args.command == "check":
        return cmd_check(args.files)
    if args.command == "to-xlsform":
        return cmd_to_xlsform(args.source, args.out)
    return cmd_from_xlsform(args.source, args.out)
