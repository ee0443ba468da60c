"""`python -m sync_server` is `sync-server`."""

import sys

from sync_server.cli import main

sys.exit(main())
