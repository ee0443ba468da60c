"""从文件登记… (protocol 1.15): enrollment from the bureau's file, run on the database thread (no network: the
school has no link), then the sync controller is told as after an online enrollment (status bar, pages)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from client.enrollment_file import FileEnrollment, enroll_from_file
from client.ui.sync_controller import SyncController


def enroll_file_action(controller: SyncController) -> Callable[..., None]:
    """The dialog's `enroll_file(path, code, on_done=..., on_error=...)` for this controller."""

    def run(
        path: str,
        code: str,
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[Exception], None],
    ) -> None:
        ctx = controller.ctx

        def job() -> FileEnrollment:
            return enroll_from_file(ctx, Path(path), code)

        def done(result: FileEnrollment) -> None:
            on_done(result.enrollment)
            controller.enrolled.emit(result.enrollment)
            controller.refresh_status()

        controller.tasks.run_db(job, on_done=done, on_error=on_error)

    return run
