"""argparse's error messages in Chinese, for our command lines (school-client, sync-server, python -m forms).

argparse writes its errors in English ("the following arguments are required: --code"); inside a Chinese
line that reads as developer text. `argparse_zh` turns the messages argparse makes for a mistyped command into
Chinese, keeping the option names as typed; the English line keeps argparse's own words. A message it does
not know (a newer Python's) is kept in English rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_TYPES = {"int": "整数", "float": "数字"}
_NAMES = {"command": "命令"}  # argparse's name of the subcommand (our parsers' dest)


def _name(name: str) -> str:
    return _NAMES.get(name, name)


def _names(text: str) -> str:
    return "、".join(_name(n.strip()) for n in text.split(","))


def _choices(text: str) -> str:
    return "、".join(c.strip().strip("'\"") for c in text.split(","))


def _invalid_value(m: re.Match[str]) -> str:
    kind = _TYPES.get(m["type"])
    if kind is not None:
        return f"“{m['value']}”不是{kind}"
    return f"“{m['value']}”无效"


_INNER: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"expected one argument"), lambda m: "后面缺少一个值"),
    (re.compile(r"expected at most one argument"), lambda m: "后面最多只能有一个值"),
    (re.compile(r"expected at least one argument"), lambda m: "后面至少需要一个值"),
    (re.compile(r"expected (?P<n>\d+) arguments?"), lambda m: f"后面需要 {m['n']} 个值"),
    (
        re.compile(r"invalid choice: '(?P<value>.*)' \(choose from (?P<choices>.*)\)"),
        lambda m: f"没有“{m['value']}”（可选：{_choices(m['choices'])}）",
    ),
    (
        re.compile(r"invalid (?P<type>\w+) value: '(?P<value>.*)'"),
        _invalid_value,
    ),
    (
        re.compile(r"not allowed with argument (?P<other>.+)"),
        lambda m: f"不能与 {_names(m['other'])} 同时使用",
    ),
    (
        re.compile(r"ignored explicit argument '(?P<value>.*)'"),
        lambda m: f"不接受值“{m['value']}”",
    ),
)

_OUTER: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]], ...] = (
    (
        re.compile(r"the following arguments are required: (?P<names>.+)"),
        lambda m: f"缺少必需的参数：{_names(m['names'])}",
    ),
    (
        re.compile(r"unrecognized arguments: (?P<args>.+)"),
        lambda m: f"不认识的参数：{m['args']}",
    ),
    (
        re.compile(r"one of the arguments (?P<names>.+) is required"),
        lambda m: f"参数 {m['names']} 至少要给出一个",
    ),
    (
        re.compile(r"ambiguous option: (?P<option>\S+) could match (?P<matches>.+)"),
        lambda m: f"参数 {m['option']} 不明确，可能是：{_choices(m['matches'])}",
    ),
    (re.compile(r"argument (?P<name>[^:]+): (?P<inner>.+)"), lambda m: _argument(m)),
)


def _argument(m: re.Match[str]) -> str | None:
    name = m["name"]
    who = "命令" if name == "command" else f"参数 {name.replace('/', '、')}"
    for pattern, make in _INNER:
        inner = pattern.fullmatch(m["inner"])
        if inner is not None:
            return f"{who}：{make(inner)}"
    return None


def argparse_zh(message: str) -> str:
    """argparse's error message in Chinese (unchanged when it is not one argparse makes)."""
    text = message.strip()
    for pattern, make in _OUTER:
        m = pattern.fullmatch(text)
        if m is not None:
            translated = make(m)
            if translated is not None:
                return translated
    return text
