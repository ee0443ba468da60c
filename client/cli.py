"""`school-client`: the school desktop client (built in the client issue)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("school-client: not built yet / 学校客户端尚未完成", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
