"""The worlds of the long convergence run that found defects, replayed in the suite (issue 10): each seed of
benchmarks/convergence_long_run.py is one world of two PCs and the bureau (60 random steps, then quiescence),
on the database it was found on. A regression guard for the fixes of this file's table:

- 600: a record only another PC still held after a server and a PC restore (offers, protocol 1.12)
- 903: a change sent again, superseded after three restores, gave the next one a wrong base
- 913: a deletion sent again taken for part of an offered live state
- 924: a conflict open across a restore kept showing the return the restore lost
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path

import pytest

from tests.support import convergence as C
from tests.sync.conftest import _database

ROOT = Path(__file__).resolve().parents[2]


def _long_run() -> object:
    spec = importlib.util.spec_from_file_location(
        "convergence_long_run", ROOT / "benchmarks" / "convergence_long_run.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("convergence_long_run", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [600, 903, 913, 924])
def test_a_world_that_once_went_wrong_now_converges(seed: int, tmp_path: Path) -> None:
    run = _long_run()
    with _database("postgresql", tmp_path) as url:
        server = C.Served(tmp_path / "instance", url)
        try:
            rng = random.Random(seed)
            log: list[str] = []
            world = C.World(server, tmp_path / "w", name=f"w{seed}")
            try:
                for _ in range(60):
                    run.step(world, rng, log)  # type: ignore[attr-defined]
                world.quiesce(
                    rng.choice,
                    run._sides(rng),  # type: ignore[attr-defined]
                    run._coin(rng),  # type: ignore[attr-defined]
                )
                assert world.problems() == [], " ".join(log)
            finally:
                world.close()
        finally:
            server.close()
