"""`sync-server`: the bureau sync server (built in the sync issue)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("sync-server: not built yet / 同步服务器尚未完成", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
