"""Entry script of the frozen client (build.spec): the same `school-client` command as the installed one."""

from __future__ import annotations

import sys

from client.cli import main

if __name__ == "__main__":
    sys.exit(main())
