"""Settings for every test: data keys go to a temporary key folder (never the tester's own config folder),
through the file key store (the one the suite can rely on: no desktop keyring on a CI machine)."""

from __future__ import annotations

import os
import tempfile

from client.store.keys import ENV_KEY_DIR, ENV_KEY_STORE

os.environ.setdefault(ENV_KEY_DIR, tempfile.mkdtemp(prefix="school-client-test-keys-"))
os.environ.setdefault(ENV_KEY_STORE, "file")
