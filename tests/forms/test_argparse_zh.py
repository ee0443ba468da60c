"""argparse's messages in Chinese (issue 11, item 7), made by a real argparse parser of this Python, so a
Python whose wording differs fails here rather than in front of a clerk."""

from __future__ import annotations

import argparse
import re

import pytest

from forms.argparse_zh import argparse_zh

CJK = re.compile(r"[\u4e00-\u9fff]")


class _Caught(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Caught(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tool")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    a = sub.add_parser("add-school")
    a.add_argument("--code", required=True)
    a.add_argument("--name", required=True)
    a.add_argument("--days", type=int)
    a.add_argument("--share", type=float)
    a.add_argument("--pair", nargs=2)
    a.add_argument("--some", nargs="+")
    group = a.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true")
    group.add_argument("--quiet", action="store_true")
    a.add_argument("--verbose-output", action="store_true")
    a.add_argument("--verbose-log", action="store_true")
    return p


def _message(*argv: str) -> str:
    with pytest.raises(_Caught) as caught:
        _parser().parse_args(list(argv))
    return str(caught.value)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ((), "缺少必需的参数：命令"),
        (("add-school",), "缺少必需的参数：--code、--name"),
        (("add-school", "--code"), "参数 --code：后面缺少一个值"),
        (("nonsense",), "命令：没有“nonsense”（可选：add-school）"),
        (
            ("add-school", "--code", "S1", "--name", "x", "--days", "abc"),
            "参数 --days：“abc”不是整数",
        ),
        (
            ("add-school", "--code", "S1", "--name", "x", "--share", "1/2"),
            "参数 --share：“1/2”不是数字",
        ),
        (
            ("add-school", "--code", "S1", "--name", "x", "--pair", "a"),
            "参数 --pair：后面需要 2 个值",
        ),
        (
            ("add-school", "--code", "S1", "--name", "x", "--some"),
            "参数 --some：后面至少需要一个值",
        ),
        (
            ("add-school", "--code", "S1", "--name", "x", "--json", "--quiet"),
            "参数 --quiet：不能与 --json 同时使用",
        ),
        (("add-school", "--code", "S1", "--name", "x", "--bogus", "y"), "不认识的参数：--bogus y"),
        (
            ("add-school", "--code", "S1", "--name", "x", "--verbose"),
            "参数 --verbose 不明确，可能是：--verbose-output、--verbose-log",
        ),
    ],
)
def test_argparse_messages_read_in_chinese(argv: tuple[str, ...], expected: str):
    message = _message(*argv)
    assert argparse_zh(message) == expected, message


def test_a_message_argparse_does_not_make_is_kept():
    assert argparse_zh("something else entirely") == "something else entirely"
    assert argparse_zh("argument --x: a newer wording") == "argument --x: a newer wording"
