"""What one statement costs the server's process: `python -m bench.statement_cost`.

Runs `SELECT 1, $1` N times on an embedded PostgreSQL of its own (under
`.marquee/bench-statements`) through each path a statement can take, and prints the CPU time
of this process per statement (PostgreSQL's own is not counted):

- `fetch_static` as the server runs it (a connection kept between statements), and as it
  ran before (`kept=0`: a pool checkout and checkin around every statement);
- a checkout and checkin alone, and a `greenlet_spawn` of a function that does nothing;
- the statement on the driver, on a connection held throughout.

One process, one statement at a time, uvloop as the server runs: costs, not queueing.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop
from sqlalchemy import Integer, bindparam, literal_column, select
from sqlalchemy.util import greenlet_spawn

from bench.server import ROOT
from db.embedded import EmbeddedPostgres
from db.session import Database, create_engine

STATEMENT = select(literal_column("1").label("one"), bindparam("n", type_=Integer).label("n"))


async def measure(data_dir: Path, n: int, rounds: int) -> None:
    pg = EmbeddedPostgres(data_dir)
    pg.start()
    engine = create_engine(pg.url("postgres"), pool_size=4)
    kept, plain = Database(engine, kept=2), Database(engine)
    held = await engine.execution_options(isolation_level="AUTOCOMMIT").raw_connection()
    driver = held.driver_connection
    assert driver is not None
    sql = plain.static_sql(STATEMENT).text

    async def kept_static() -> None:
        await kept.fetch_static(STATEMENT, {"n": 1})

    async def plain_static() -> None:
        await plain.fetch_static(STATEMENT, {"n": 1})

    async def checkout_checkin() -> None:
        raw = await plain._reader.raw_connection()
        await greenlet_spawn(raw.close)

    async def spawn() -> None:
        await greenlet_spawn(lambda: None)

    async def on_driver() -> None:
        await driver.fetch(sql, 1)

    paths: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("fetch_static, connection kept (the server)", kept_static),
        ("fetch_static, kept=0 (checkout and checkin)", plain_static),
        ("a checkout and checkin alone", checkout_checkin),
        ("greenlet_spawn of nothing", spawn),
        ("the statement on a held connection", on_driver),
    ]
    try:
        for r in range(rounds):
            print(f"round {r + 1}, {n} statements each: CPU of this process per statement")
            for name, path in paths:
                for _ in range(n // 20):  # warm: plans, caches, the pool's connections
                    await path()
                started = time.process_time()
                for _ in range(n):
                    await path()
                print(f"  {1e6 * (time.process_time() - started) / n:7.1f} µs  {name}")
    finally:
        await greenlet_spawn(held.close)
        await kept.dispose()
        pg.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.statement_cost", description=__doc__)
    p.add_argument("--statements", type=int, default=5000, help="per path and round (5000)")
    p.add_argument("--rounds", type=int, default=2, help="rounds (2)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / ".marquee" / "bench-statements",
        help="the embedded PostgreSQL's directory (default .marquee/bench-statements)",
    )
    args = p.parse_args(argv)
    uvloop.run(measure(args.data_dir, args.statements, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
