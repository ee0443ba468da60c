"""What the clerk is told when the server refuses this version as too old (HTTP 426 `client_too_old`,
protocol 1.18), written after the update check that follows the refusal, from what came of it here.

The server's sentence names the release it offers to all schools ("新版本 X 已可更新：程序会自动下载，下次启动
时安装"); this computer may be offered another one (its school's pilot), may have failed to fetch it, or may
have blocked that version after it failed to start here. The clerk is told the release this computer will
actually install, or that it will not, and what to do.
"""

from __future__ import annotations

from typing import Any

from client.update.retry import BLOCK_DAYS
from client.update.state import UpdateState, staged_ready


def too_old_words(details: dict[str, Any], state: UpdateState, data_dir: Any) -> tuple[str, str]:
    """(zh, en) of the refusal, from the 426's details and this computer's update state after the check."""
    have = details.get("client_version") or "?"
    minimum = details.get("min_client_version") or "?"
    zh = f"程序版本过旧，需要更新：本机是 {have}，县教育局服务器只接受 {minimum} 及以上版本。"
    en = f"this computer's school client ({have}) is too old: the bureau server accepts {minimum} or newer. "
    ready = staged_ready(data_dir)
    target = state.target_version
    if ready is not None and str(ready["version"]) not in state.blocked:
        version = str(ready["version"])
        zh += f"新版本 {version} 已下载，下次启动时安装。"
        en += f"Version {version} has been downloaded; it installs at the next start. "
    elif state.state == "downloading" and target:
        zh += f"正在下载新版本 {target}（下次同步时接着下载），下载完成后下次启动时安装。"
        en += f"Version {target} is being downloaded (it goes on at the next sync) and installs at the start after that. "
    elif state.state == "failed" and target:
        zh += f"新版本 {target} 没能下载或通过核对（原因已报告给县教育局），请联系县教育局。"
        en += f"Version {target} could not be downloaded or verified (the bureau has the reason); ask the bureau. "
    elif target and target in state.blocked:
        zh += (
            f"新版本 {target} 在本机启动失败过，暂时不再安装（{BLOCK_DAYS} 天后再试一次），"
            "请联系县教育局。"
        )
        en += (
            f"Version {target} failed to start on this computer and is not installed for now (tried again "
            f"after {BLOCK_DAYS} days); ask the bureau. "
        )
    else:
        zh += "请联系县教育局获取新版本。"
        en += "Ask the bureau for a new version. "
    return zh + "本机保存的数据不会丢失。", en + "Nothing saved on this computer is lost."
