"""Realistic sample records shared by the store, server and sync tests."""

from __future__ import annotations

from typing import Any


def inspection(**overrides: Any) -> dict[str, Any]:
    """A valid monthly safety inspection with one serious hazard; keyword arguments replace answers."""
    record: dict[str, Any] = {
        "inspection_date": "2026-11-20",
        "inspection_type": "monthly",
        "inspectors": "张伟、李娜",
        "areas": ["canteen", "fire_equipment"],
        "hazards_found": "yes",
        "hazards": [
            {
                "category": "fire",
                "location": "食堂后厨",
                "description": "灭火器压力不足",
                "severity": "serious",
                "measures": "更换灭火器",
                "responsible_person": "王明",
                "deadline": "2026-11-25",
                "status": "open",
            }
        ],
        "signed_by": "赵校长",
    }
    record.update(overrides)
    return record
