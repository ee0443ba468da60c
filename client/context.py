"""What every part of the client works with: the open store, the forms, the clock."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from client.clock import Clock, SystemClock
from client.store.db import Store, open_store
from client.store.formset import FormSet
from client.store.paths import DB_NAME

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class FolderBefore:
    """What a data folder held before a command that makes its store if there is none (enrollment), so that
    the command, when it failed, takes back what it made: the store and its files, the attachments folder,
    key.json and the key's entry in the key store. Nothing is taken back from a folder that held a store, and
    nothing that was in the folder before. `names`: the folder's entries (None: it did not exist)."""

    data_dir: Path
    names: frozenset[str] | None
    had_store: bool

    @classmethod
    def look(cls, data_dir: Path) -> FolderBefore:
        try:
            names = frozenset(os.listdir(data_dir))
        except FileNotFoundError:
            return cls(data_dir, None, had_store=False)
        except OSError:  # not a folder, not readable: nothing will be taken back
            return cls(data_dir, frozenset(), had_store=True)
        return cls(data_dir, names, had_store=DB_NAME in names)

    def take_back(self) -> list[str]:
        """Remove what was made in the folder since `look` (the store closed), and the folder itself if it
        was made and is empty now; the names removed. Call it only when nothing was kept in the new store."""
        from client.store.keys import KEY_FILE, discard_key

        if self.had_store:
            return []
        try:
            made = sorted(set(os.listdir(self.data_dir)) - (self.names or frozenset()))
        except OSError:
            return []
        if KEY_FILE in made:
            discard_key(self.data_dir)  # the key store's entry, then key.json
        removed = []
        for name in made:
            path = self.data_dir / name
            try:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
                removed.append(name)
            except OSError as exc:
                log.warning("%s, made by a failed command, cannot be removed: %s", path, exc)
        if self.names is None:
            with contextlib.suppress(OSError):  # not empty: kept
                self.data_dir.rmdir()
        log.info("took back what a failed command made in %s: %s", self.data_dir, removed)
        return removed
