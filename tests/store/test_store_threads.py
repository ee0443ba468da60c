"""The encrypted store under many threads (the window runs syncs, searches and saves as background tasks).

Found by the final clean-clone run: the store's engine used the bare "sqlite://" URL (SQLCipher through a
creator), for which SQLAlchemy picks SingletonThreadPool, meant for :memory: - it closes the connections of
threads beyond its size, and a sync in the window failed with "Cannot operate on a closed database" (twelve
threads at once crashed the process). The store now has a file database's QueuePool."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.pool import QueuePool

from client.store.db import open_store


def test_many_threads_share_the_store_without_closing_each_others_connections(tmp_path: Path):
    store = open_store(tmp_path / "data")
    try:
        assert isinstance(store.engine.pool, QueuePool)
        errors: list[str] = []

        def work() -> None:
            try:
                for _ in range(30):
                    with store.Session.begin() as s:
                        s.execute(text("SELECT count(*) FROM records")).scalar_one()
            except Exception as exc:
                errors.append(repr(exc))

        threads = [threading.Thread(target=work) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
    finally:
        store.close()
