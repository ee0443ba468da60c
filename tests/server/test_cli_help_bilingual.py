"""Every `sync-server` command's --help is Chinese first, English after (product trial finding 6c: most of it
was English only, while the update commands were bilingual; bureau staff read Chinese)."""

from __future__ import annotations

import argparse
import re

import pytest

from sync_server.cli import build_parser, main

_CJK = re.compile(r"[\u4e00-\u9fff]")


def _parsers() -> dict[str, argparse.ArgumentParser]:
    top = build_parser()
    out = {"sync-server": top}
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            out.update(action.choices)
    return out


def _chinese_first(text: str) -> bool:
    """Chinese, then ' / ' and the English."""
    zh, sep, en = text.partition(" / ")
    return bool(sep) and bool(_CJK.search(zh)) and bool(re.search(r"[A-Za-z]", en))


def test_every_command_and_option_is_described_in_chinese_first() -> None:
    parsers = _parsers()
    assert len(parsers) > 20
    wrong = []
    for name, parser in parsers.items():
        for action in parser._actions:
            if action.help in (None, argparse.SUPPRESS):
                if not isinstance(action, argparse._SubParsersAction):
                    wrong.append(f"{name} {action.option_strings or action.dest}: no help")
                continue
            if not _chinese_first(str(action.help)):
                wrong.append(f"{name} {action.option_strings or action.dest}: {action.help}")
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not _chinese_first(str(choice.help)):
                        wrong.append(f"{name} {choice.dest}: {choice.help}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("args", [["--help"], ["serve", "--help"], ["usb-import", "--help"]])
def test_help_text_headings_are_chinese_first(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(args)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("用法 / usage: sync-server")
    assert "选项 / options:" in out and "显示本帮助并退出 / show this help and exit" in out
    assert "show this help message" not in out
    assert out.count("选项 / options:") == 1  # the shared options (--db ...) in the one group
    if args[0] == "--help":
        assert "命令 / commands:" in out
    else:
        assert "--db URL" in out and "数据库" in out
