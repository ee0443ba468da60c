"""Growing waits after failures (wrong passwords, wrong enrollment codes), kept in bounded memory.

A throttle never sleeps and never locks for long: after `free` failures for a key, each further failure makes
the key wait `base`, 2·base, 4·base, ... seconds, at most `cap`; the caller refuses a try that comes before the
wait is over ("try again in N s", 429 with Retry-After) without doing the costly or revealing work. A key's
failures are forgotten `forget` seconds after its last one. At most `max_keys` keys are kept per throttle (the
least recently failed go first), so spoofed usernames or many addresses cannot grow memory without bound.

Kept per process, like the rest of the in-memory state: several server processes each count their own (the
nginx configuration we ship limits the login and enroll rates per address in front of them).
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

MAX_KEYS = 10_000


@dataclass(slots=True)
class _Entry:
    failures: int
    last: float  # when the last failure happened
    until: float  # no try before this


class Backoff:
    def __init__(
        self,
        *,
        free: int,
        base: float,
        cap: float,
        forget: float,
        clock: Callable[[], float],
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.free = max(0, free)
        self.base = max(0.0, base)
        self.cap = max(0.0, cap)
        self.forget = forget
        self.clock = clock
        self.max_keys = max(1, max_keys)
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[Hashable, _Entry] = collections.OrderedDict()

    def delay(self, failures: int) -> float:
        """The wait after the `failures`-th failure."""
        beyond = failures - self.free
        if beyond <= 0 or self.base <= 0:
            return 0.0
        return min(self.cap, self.base * 2.0 ** min(beyond - 1, 60))

    def _current(self, key: Hashable, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last >= self.forget:
            del self._entries[key]
            return None
        return entry

    def wait(self, key: Hashable) -> int:
        """Whole seconds before the key may try again (0: now)."""
        now = self.clock()
        with self._lock:
            entry = self._current(key, now)
            return _seconds(entry.until - now) if entry is not None else 0

    def failures(self, key: Hashable) -> int:
        with self._lock:
            entry = self._current(key, self.clock())
            return entry.failures if entry is not None else 0

    def fail(self, key: Hashable) -> tuple[int, int]:
        """Count a failure: (the key's failures now, whole seconds it must wait from now)."""
        now = self.clock()
        with self._lock:
            entry = self._current(key, now)
            if entry is None:
                entry = self._entries[key] = _Entry(0, now, now)
            entry.failures += 1
            entry.last = now
            entry.until = max(entry.until, now + self.delay(entry.failures))
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
            return entry.failures, _seconds(entry.until - now)

    def clear(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


def _seconds(delta: float) -> int:
    return max(0, math.ceil(delta)) if delta > 0 else 0


class RecentSet:
    """Keys seen within `keep` seconds (e.g. addresses an account logged in from), at most `max_keys`."""

    def __init__(
        self, *, keep: float, clock: Callable[[], float], max_keys: int = MAX_KEYS
    ) -> None:
        self.keep = keep
        self.clock = clock
        self.max_keys = max(1, max_keys)
        self._lock = threading.Lock()
        self._seen: collections.OrderedDict[Hashable, float] = collections.OrderedDict()

    def add(self, key: Hashable) -> None:
        with self._lock:
            self._seen[key] = self.clock()
            self._seen.move_to_end(key)
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)

    def seen(self, key: Hashable) -> bool:
        with self._lock:
            when = self._seen.get(key)
            if when is None:
                return False
            if self.clock() - when >= self.keep:
                del self._seen[key]
                return False
            return True

    def __len__(self) -> int:
        return len(self._seen)


class EnrollThrottle:
    """Wrong enrollment codes: per address, and, when the client names its school, per address and school
    and per school instead (docs/protocol.md, Enroll).

    A wrong code that names a school counts only against that school, so a neighbour behind the same address
    guessing (or mistyping) does not keep a school from enrolling with its right code; guessing stays
    infeasible because each such guess can only hit that one school's code, and each school's guesses wait.
    """

    def __init__(
        self,
        *,
        free: int,
        base: float,
        cap: float,
        school_free: int,
        school_cap: float,
        forget: float,
        clock: Callable[[], float],
        max_keys: int = MAX_KEYS,
    ) -> None:
        def backoff(free_: int, cap_: float) -> Backoff:
            return Backoff(
                free=free_, base=base, cap=cap_, forget=forget, clock=clock, max_keys=max_keys
            )

        self.by_address = backoff(free, cap)
        self.by_address_school = backoff(free, cap)
        self.by_school = backoff(school_free, school_cap)

    def _keys(self, address: str, school: str | None) -> list[tuple[Backoff, Hashable]]:
        if school is None:
            return [(self.by_address, address)]
        return [(self.by_address_school, (address, school)), (self.by_school, school)]

    def wait(self, address: str, school: str | None) -> int:
        return max(throttle.wait(key) for throttle, key in self._keys(address, school))

    def fail(self, address: str, school: str | None) -> int:
        """Count a wrong code; the seconds to wait before the next try."""
        return max(throttle.fail(key)[1] for throttle, key in self._keys(address, school))


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    account: str  # the username as typed, lower-cased
    address: str  # the client address
    browser: str | None = None  # a known-browser cookie's id, when it is valid for this account


@dataclass(frozen=True, slots=True)
class LoginWait:
    seconds: int
    scope: str  # "pair", "address" or "account": which throttle holds the attempt back


class LoginThrottle:
    """Failed logins slow the one failing, not the account's owner (docs/server.md, Login).

    Each try comes from a source: a browser that has logged in to this account before (a signed cookie),
    else the client address. Failures of one account from one source wait longer and longer (the pair).
    A stranger, i.e. a source that has not logged in to the account lately, is also held back per address
    (across accounts) and, more gently (`account_cap`), per account across all strangers: many addresses
    guessing one password only slow strangers, never the owner's known browser or usual address.
    """

    def __init__(
        self,
        *,
        free: int,
        base: float,
        cap: float,
        address_free: int,
        account_free: int,
        account_cap: float,
        forget: float,
        known_for: float,
        clock: Callable[[], float],
        max_keys: int = MAX_KEYS,
    ) -> None:
        def backoff(free_: int, cap_: float) -> Backoff:
            return Backoff(
                free=free_, base=base, cap=cap_, forget=forget, clock=clock, max_keys=max_keys
            )

        self.pairs = backoff(free, cap)
        self.addresses = backoff(address_free, cap)
        self.accounts = backoff(account_free, account_cap)
        self.known_addresses = RecentSet(keep=known_for, clock=clock, max_keys=max_keys)

    def known(self, attempt: LoginAttempt) -> bool:
        """Does the try come from a browser or address that logged in to this account lately?"""
        return attempt.browser is not None or self.known_addresses.seen(
            (attempt.account, attempt.address)
        )

    def _keys(self, attempt: LoginAttempt) -> list[tuple[str, Backoff, Hashable]]:
        if attempt.browser is not None:
            source: Hashable = ("browser", attempt.browser)
        else:
            source = ("address", attempt.address)
        keys: list[tuple[str, Backoff, Hashable]] = [
            ("pair", self.pairs, (source, attempt.account))
        ]
        if not self.known(attempt):
            keys.append(("address", self.addresses, attempt.address))
            keys.append(("account", self.accounts, attempt.account))
        return keys

    def wait(self, attempt: LoginAttempt) -> LoginWait | None:
        """How long this try must wait, and why; None when it may go ahead now."""
        waits = [(throttle.wait(key), scope) for scope, throttle, key in self._keys(attempt)]
        seconds, scope = max(waits)
        return LoginWait(seconds, scope) if seconds > 0 else None

    def fail(self, attempt: LoginAttempt) -> tuple[int, int]:
        """Count a failed try: (the pair's failures, seconds before the next try from this source)."""
        failures = 0
        wait = 0
        for scope, throttle, key in self._keys(attempt):
            count, seconds = throttle.fail(key)
            if scope == "pair":
                failures = count
            wait = max(wait, seconds)
        return failures, wait

    def succeed(self, attempt: LoginAttempt) -> None:
        """The owner is in: their source's failures are forgotten and their address becomes known."""
        for scope, throttle, key in self._keys(attempt):
            if scope == "pair":
                throttle.clear(key)
        self.known_addresses.add((attempt.account, attempt.address))
