"""Op ids (client.store.op_ids, issue 14 goal 2): unique, within the protocol's 64 characters, new in a forked
child, and a batch's ids gzip to a few bytes each (random UUIDs took ~18 each, a third of a batch)."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import threading

from client.store.op_ids import new_op_id


def _child_id(queue: multiprocessing.Queue[str]) -> None:
    queue.put(new_op_id())


def test_ids_are_unique_across_threads_and_fit_the_protocol() -> None:
    made: list[str] = []

    def make() -> None:
        made.extend(new_op_id() for _ in range(2000))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == len(made) == 8000
    assert all(0 < len(i) <= 64 and i.isascii() and i.isprintable() for i in made)


def test_a_forked_child_makes_ids_of_its_own() -> None:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    mine = new_op_id()
    child = ctx.Process(target=_child_id, args=(queue,))
    child.start()
    theirs = queue.get(timeout=30)
    child.join(30)
    assert theirs.split("-")[0] != mine.split("-")[0]


def test_a_batch_of_ids_gzips_to_a_few_bytes_each() -> None:
    ids = [new_op_id() for _ in range(200)]
    size = len(gzip.compress(json.dumps([{"op_id": i} for i in ids]).encode(), 9))
    assert size / len(ids) < 6, size
