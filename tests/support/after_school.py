"""A record of the after_school_service form (课后服务) for tests: the roster's teacher T001 at a basic
reading session of grade 3, 40 enrolled and 38 present, 16:00-17:30 (90 minutes), nothing happened."""

from __future__ import annotations

from typing import Any


def after_school(
    day: str = "2026-11-27", *, class_name: str | None = None, **over: Any
) -> dict[str, Any]:
    """The record's data on `day` (in a class when `class_name` is given), with `over` in place of its fields."""
    out: dict[str, Any] = {"service_date": day, "grade": "g3"}
    if class_name is not None:
        out["class_name"] = class_name
    out.update(
        {
            "session": "basic",
            "activity_type": "reading",
            "teachers": ["T001"],
            "external_provider": "no",
            "enrolled": 40,
            "present": 38,
            "start_time": "16:00",
            "end_time": "17:30",
            "incident": "normal",
        }
    )
    out.update(over)
    return out
