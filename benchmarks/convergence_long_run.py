"""The convergence test, run longer (issue 10): many worlds of two PCs and the bureau, each driven through a
random sequence of clerks' and reviewers' actions, syncs, lost answers, cut requests, restarts, and restores
of the server and of a PC from their backups, then brought
to quiescence and checked (tests/support/convergence.py). Prints what was exercised and every divergence,
loss or stuck state found, with the seed and the steps that led to it.

    .venv/bin/python benchmarks/convergence_long_run.py --seconds 300
    .venv/bin/python benchmarks/convergence_long_run.py --seconds 300 --database postgresql

The tests/sync/test_convergence_model.py test runs the same world under Hypothesis, bounded to tens of
seconds; this script is the long run whose figures go in the report.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from tests.support import convergence as C  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# How often each step is taken (a clerk's work, the network, the bureau).
WEIGHTS = {
    "add": 6,
    "edit": 10,
    "delete": 3,
    "add_teacher": 3,
    "rename_teacher": 3,
    "sync": 14,
    "sync_fault": 6,
    "crash": 2,
    "return": 3,
    "accept": 3,
    "decide": 2,
    "resolve": 5,
    "server_backup": 1,
    "server_restore": 1,
    "pc_backup": 1,
    "pc_restore": 1,
}


@contextlib.contextmanager
def database(kind: str, folder: Path, pg_url: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'server.db'}"
        return
    schema = "conv_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{pg_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def step(world: C.World, rng: random.Random, log: list[str]) -> None:
    kind = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
    pc = rng.choice(("a", "b"))
    pick = rng.choice
    if kind == "add":
        world.add_record(pc, rng.choice(C.REMARKS))
    elif kind == "edit":
        field = rng.choice(("remarks", "signed_by"))
        world.edit(pc, pick, field, rng.choice(C.REMARKS if field == "remarks" else C.SIGNERS))
    elif kind == "delete":
        world.delete(pc, pick)
    elif kind == "add_teacher":
        world.add_teacher(pc, rng.choice(C.TEACHER_IDS), rng.choice(C.NAMES))
    elif kind == "rename_teacher":
        world.rename_teacher(pc, pick, rng.choice(C.NAMES))
    elif kind == "sync":
        world.sync(pc)
    elif kind == "sync_fault":
        world.sync(pc, rng.choice(C.FAULTS[1:]))
    elif kind == "crash":
        world.sync(pc, "push_lost")
        world.restart(pc)
    elif kind == "return":
        world.bureau_return(pick, rng.choice(("请校长签字", "签名不清")))
    elif kind == "accept":
        world.bureau_accept(pick)
    elif kind == "decide":
        world.bureau_decide(pick, rng.random() < 0.5)
    elif kind == "resolve":
        world.resolve(pc, pick, lambda: rng.choice((C.LOCAL, C.SERVER)))
    elif kind == "server_backup":
        world.server_backup()
    elif kind == "server_restore":
        if world.server_backup_file is None:
            return
        world.server_restore()
    elif kind == "pc_backup":
        world.pc_backup(pc)
    elif kind == "pc_restore":
        if pc not in world.pc_backups:
            return
        world.pc_restore(pc)
    log.append(f"{kind}({pc})")


def _sides(rng: random.Random) -> Callable[[], str]:
    return lambda: rng.choice((C.LOCAL, C.SERVER))


def _coin(rng: random.Random) -> Callable[[], bool]:
    return lambda: rng.random() < 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=120.0, help="how long to run (default 120)"
    )
    parser.add_argument("--steps", type=int, default=60, help="random steps per world (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="the first world's seed (default 1)")
    parser.add_argument("--worlds", type=int, default=0, help="stop after this many (0: no limit)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    totals = C.Figures()
    failures: list[tuple[int, list[str], list[str]]] = []
    durations: list[float] = []
    saved = 0
    started = time.monotonic()
    seed = args.seed
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with database(args.database, folder, args.pg_url) as url:
            server = C.Served(folder / "instance", url)
            try:
                while time.monotonic() - started < args.seconds and not (
                    args.worlds and len(durations) >= args.worlds
                ):
                    rng = random.Random(seed)
                    log: list[str] = []
                    t0 = time.monotonic()
                    world = C.World(server, folder / f"w{seed}", name=f"w{seed}")
                    try:
                        for _ in range(args.steps):
                            step(world, rng, log)
                        world.quiesce(rng.choice, _sides(rng), _coin(rng))
                        problems = world.problems()
                    except AssertionError as exc:
                        problems = [str(exc)]
                    finally:
                        world.close()
                    durations.append(time.monotonic() - t0)
                    saved += len(world.saved)
                    for name in ("actions", "conflicts", "choices", "faults"):
                        getattr(totals, name).update(getattr(world.figures, name))
                    totals.sync_errors += world.figures.sync_errors
                    totals.settle_rounds += world.figures.settle_rounds
                    if problems:
                        failures.append((seed, problems, log))
                        print(f"seed {seed}: {len(problems)} problems", flush=True)
                    seed += 1
            finally:
                server.close()

    worlds = len(durations)
    print(
        f"\nconvergence long run on {args.database}: {worlds} worlds x {args.steps} steps "
        f"in {time.monotonic() - started:.0f} s (seeds {args.seed}..{seed - 1})"
    )
    print(f"  per world: {statistics.mean(durations):.2f} s mean, {max(durations):.2f} s max")
    print(f"  revisions saved by clerks and checked: {saved}")
    print(f"  actions: {dict(totals.actions.most_common())}")
    print(
        f"  syncs by fault: {dict(totals.faults.most_common())}; syncs that failed: {totals.sync_errors}"
    )
    print(f"  conflicts met (reason vs server status): {dict(totals.conflicts.most_common())}")
    print(f"  clerks' choices: {dict(totals.choices.most_common())}")
    rounds = Counter(totals.settle_rounds)
    print(f"  rounds of syncs to quiescence: {dict(sorted(rounds.items()))}")
    print(f"  worlds that diverged, lost a revision or got stuck: {len(failures)}")
    for seed_, problems, log in failures[:10]:
        print(f"\n  seed {seed_}:")
        for p in problems[:8]:
            print(f"    {p}")
        print(f"    steps: {' '.join(log)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
