"""What every part of the client works with: the open store, the forms, the clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from client.clock import Clock, SystemClock
from client.store.db import Store, open_store
from client.store.formset import FormSet


@dataclass
class ClientContext:
    store: Store
    forms: FormSet
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def open(cls, data_dir: Path, *, clock: Clock | None = None) -> ClientContext:
        from client.store.sync_state import load_stored_forms

        store = open_store(data_dir)
        forms = FormSet.shipped()
        with store.Session() as session:
            load_stored_forms(session, forms)  # versions the bureau published since this build
        return cls(store, forms, clock or SystemClock())

    def close(self) -> None:
        self.store.close()
