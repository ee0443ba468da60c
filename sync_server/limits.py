"""How large a request body may be, by the door it knocks at, decided from its head alone.

The same rule runs twice: in `sync-server serve` (sync_server.serving) as soon as a request's head has arrived,
before waitress buffers any of the body, and in the app (a before_request hook) for any other WSGI server.
Only the head is known then, so the doors are told apart by what the head carries:

| door | limit (default) | why |
|---|---|---|
| a device's `POST /api/v1/push` (with `Authorization`) | MAX_BATCH_BYTES + 64 KiB (5 MiB + 64 KiB) | a batch, gzip of incompressible bytes is a little longer |
| a device's `PUT /api/v1/attachments/<sha256>` | MAX_UPLOAD_CHUNK_BYTES (1 MiB) | clients send 256 KiB chunks |
| a staff member's `POST /usb/import` (U盘数据: a round's bundles at once) | MAX_USB_UPLOAD_BYTES (512 MiB) | bundles carry photos; spooled to disk, never held in memory whole |
| a staff member's dashboard request (a signed session with a user) | MAX_DASHBOARD_BODY_BYTES (6 MiB) | a form upload is at most 5 MB |
| everything else: enroll, login, requests without credentials | MAX_REQUEST_BYTES (64 KiB) | their bodies are a few hundred bytes |

A token is not checked at the door (that needs the database), so a forged `Authorization` header reaches the
push door at most: the most a stranger can make the server hold is about 5 MiB per connection, not 1 GiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_server.config import whole_number

# As sync_server.api.GZIP_SLACK: a gzip of incompressible bytes is a little longer than the bytes.
GZIP_SLACK = 64 * 1024
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"})
PUSH_PATH = "/api/v1/push"
ATTACHMENTS_PREFIX = "/api/v1/attachments/"
API_PREFIX = "/api/"
# The dashboard's U盘数据 upload (sync_server/dashboard/usb_page.py).
USB_IMPORT_PATH = "/usb/import"


@dataclass(frozen=True, slots=True)
class BodyDoors:
    small: int
    push: int
    chunk: int
    dashboard: int
    usb: int = 512 * 1024 * 1024

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> BodyDoors:
        return cls(
            small=whole_number(cfg, "MAX_REQUEST_BYTES", minimum=1024),
            push=whole_number(cfg, "MAX_BATCH_BYTES", minimum=1024) + GZIP_SLACK,
            chunk=min(
                whole_number(cfg, "MAX_UPLOAD_CHUNK_BYTES", minimum=1024),
                whole_number(cfg, "MAX_ATTACHMENT_BYTES", minimum=1),
            ),
            dashboard=whole_number(cfg, "MAX_DASHBOARD_BODY_BYTES", minimum=1024),
            usb=whole_number(cfg, "MAX_USB_UPLOAD_BYTES", minimum=1024),
        )

    @property
    def largest(self) -> int:
        return max(self.small, self.push, self.chunk, self.dashboard, self.usb)

    def door(self, *, method: str, path: str, device: bool, staff: bool) -> tuple[str, int]:
        """(the door's name, the most body bytes a request through it may carry)."""
        method = method.upper()
        if method not in BODYLESS_METHODS:
            if path.startswith(API_PREFIX):
                if device and method == "POST" and path == PUSH_PATH:
                    return "push", self.push
                if device and method == "PUT" and path.startswith(ATTACHMENTS_PREFIX):
                    return "attachment_chunk", self.chunk
            elif staff and method == "POST" and path == USB_IMPORT_PATH:
                return "usb_upload", self.usb
            elif staff:
                return "dashboard", self.dashboard
        return "request", self.small


def too_large_messages(limit: int, door: str) -> tuple[str, str]:
    """(Chinese, English) for a body past its door's limit."""
    size_zh = _size(limit)
    if door == "attachment_chunk":
        return (
            f"附件的一次上传最多 {size_zh}，请分段上传（Content-Range）",
            f"an attachment chunk is at most {limit} bytes; send it in parts (Content-Range)",
        )
    if door == "push":
        return (
            f"一批数据最多 {size_zh}，请分成更小的批次",
            f"a batch is at most {limit} bytes; send smaller batches",
        )
    if door == "usb_upload":
        return (
            f"一次上传的U盘文件合计最多 {size_zh}，请分几次上传，或在服务器上用 sync-server usb-import 导入",
            f"one upload of USB sync files is at most {limit} bytes in all; upload them in several goes, "
            "or import them on the server with sync-server usb-import",
        )
    if door == "dashboard":
        return (
            f"上传的内容太大，最多 {size_zh}",
            f"the upload is too large (at most {limit} bytes)",
        )
    return (
        f"请求过大（未登录或未登记时最多 {size_zh}）",
        f"the request is too large (at most {limit} bytes without a device token or a login)",
    )


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MB"
    return f"{n // 1024} KB"
