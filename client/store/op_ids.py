"""The op ids of the changes this PC makes (docs/protocol.md, Push: `op_id`, any text of 1 to 64 characters).

A random UUID per change was a third of a gzipped push batch (issue 14: random bytes do not compress, and a
change's answers are a few hundred bytes). Ids made by one run of the program now share one random 128-bit
prefix, as unguessable and as unique as a UUID4, followed by a counter: `3f2b...9e0f-1a`, so gzip stores a
batch's ids in a few bytes each. Exactly once holds as before: an id is made once per change, kept with it in
the outbox, sent again unchanged, and never made twice (a new prefix at every start, and in a forked child).
Any server takes them: an op_id has always been any text of 1 to 64 characters, unique per change.
"""

from __future__ import annotations

import itertools
import os
import threading
import uuid

_lock = threading.Lock()
_prefix = uuid.uuid4().hex
_counter = itertools.count(1)


def _new_run() -> None:
    global _prefix, _counter
    _prefix = uuid.uuid4().hex
    _counter = itertools.count(1)


os.register_at_fork(after_in_child=_new_run)


def new_op_id() -> str:
    """A fresh op id: this run's prefix, a dash, and the next number (hex); at most 50 characters."""
    with _lock:
        n = next(_counter)
        prefix = _prefix
    return f"{prefix}-{n:x}"
