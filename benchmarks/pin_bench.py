"""The cost of the sensitive-form PIN (issue 12 point 2): one PIN check (scrypt N=2^15, r=8, p=1, the product's)
on this machine, against N=2^14 and 2^16 for comparison, and what it means for someone guessing a 6-digit PIN
with the product's waits (3 free tries, then 30 s doubling to 15 min).

    .venv/bin/python benchmarks/pin_bench.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from client.store import pin


def check_seconds(n: int, rounds: int) -> float:
    salt = os.urandom(16)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        hashlib.scrypt(b"246801", salt=salt, n=n, r=8, p=1, maxmem=4 * pin.SCRYPT_MAXMEM, dklen=32)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def guesses_per_day() -> int:
    """Wrong tries possible in 24 hours with the waits (each wait taken in full)."""
    elapsed, tries = 0.0, 0
    while True:
        wait = pin.next_wait(tries + 1)
        if elapsed + wait > 86_400:
            return tries + 1
        tries += 1
        elapsed += wait


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    for n in (2**14, pin.SCRYPT_N, 2**16):
        mark = "  (the product's)" if n == pin.SCRYPT_N else ""
        print(
            f"scrypt N=2^{n.bit_length() - 1}: {check_seconds(n, args.rounds) * 1000:7.1f} ms per check{mark}"
        )
    per_day = guesses_per_day()
    years = 10**6 / 2 / per_day / 365
    print(f"wrong tries possible per day with the waits: {per_day}")
    print(f"half of all 6-digit PINs at that rate: {years:,.0f} years")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
