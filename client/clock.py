"""Time comes in through a clock object, so tests can fix it (never patch time globally)."""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """Naive UTC: what the store records."""
        ...

    def today(self) -> dt.date:
        """The school's local date: what forms compare with."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def today(self) -> dt.date:
        return dt.date.today()


class FixedClock:
    def __init__(self, now: dt.datetime, today: dt.date | None = None) -> None:
        self._now = now
        self._today = today or now.date()

    def now(self) -> dt.datetime:
        return self._now

    def today(self) -> dt.date:
        return self._today

    def advance(self, **delta: float) -> None:
        self._now += dt.timedelta(**delta)
        self._today = self._now.date()
