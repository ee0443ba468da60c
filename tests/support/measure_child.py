"""Run one command and print its exit code and peak resident memory as JSON on stdout's last line.

Why a separate launcher: Linux keeps a process's peak RSS across fork and exec, so a child forked straight from
a large pytest worker reports the worker's size as its own peak. Forked from this small launcher instead, the
child's figure is its own (plus the launcher's few MB).

    python -m tests.support.measure_child CAP_MB OUT ERR -- ARGS...
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

MIB = 1024 * 1024


def main(argv: list[str]) -> int:
    cap_mb, out_path, err_path, timeout, sep, *args = argv
    assert sep == "--", argv

    def cap() -> None:
        limit = int(cap_mb) * MIB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, preexec_fn=cap)
        deadline = time.monotonic() + float(timeout)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                _pid, status, usage = os.wait4(proc.pid, 0)
                print(json.dumps({"timeout": True}))
                return 0
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    print(json.dumps({"returncode": proc.returncode, "peak_kb": usage.ru_maxrss}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
