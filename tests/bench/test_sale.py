"""The sale scenarios (`checkout_pay`, `me_orders`), end to end but small: a real
`marquee serve` (one worker, on a database of its own in the test PostgreSQL, demo data
loaded) and each scenario's own `run`, with its sizes shrunk and a one-second measured run,
so neither can rot unnoticed. The double-sale check must also catch a broken sale."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bench import booking, profile_sale
from bench.scenario import BenchError, Options
from bench.scenarios import checkout, me_orders
from bench.server import ROOT, Server

SHORT = Options(duration=1.0, warmup=0.5, connections=4, threads=1, workers=1)


@pytest.fixture(autouse=True)
def _short_background_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The idle window before a measured run (3 s) is only for the figures."""
    monkeypatch.setattr("bench.run.BACKGROUND_WINDOW", 0.5)


@pytest.fixture(scope="module")
def server(
    make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    url = make_database("bench_sale")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", url)
        env.setenv("MARQUEE_JWT_SECRET", "bench-sale-test-secret-0123456789abcdef")
        env.setenv("MARQUEE_DB_POOL_SIZE", "5")
        env.setenv("MARQUEE_DB_MAX_OVERFLOW", "0")
        running = Server.start(1, tmp_path_factory.mktemp("bench-sale"), fresh=False)
        try:
            yield running
        finally:
            running.stop()


def test_checkout_pay_short_run(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "CONNECTIONS": 4,
        "SHOWTIMES": 10,
        "CUSTOMERS_PER_CONNECTION": 2,
        "ROWS": 20,
        "SEATS_PER_ROW": 15,
    }.items():
        monkeypatch.setattr(checkout, name, value)
    # Two seconds: in CI one measured second once ended with no purchase finished (a
    # purchase in flight when it began took the whole second), so the check had nothing
    # to check. 3,000 seats: enough that 2.5 s of buying cannot sell out (240 did, once the
    # sale got faster: 131 orders and the warm-up's; 720 did on a fast machine, 404 orders
    # and the warm-up's).
    longer = dataclasses.replace(SHORT, duration=2.0)
    result = checkout.SCENARIO.run(server, longer)  # type: ignore[misc]
    assert result.requests > 0
    assert result.rps > 0
    assert result.extra["double_sold"] == 0
    assert result.extra["paid_orders"] >= result.requests  # warm-up orders too
    assert result.p50_ms <= result.p99_ms
    assert set(result.extra["failures"]) <= {"hold:SEAT_UNAVAILABLE"}


def test_the_sale_check_catches_a_broken_sale(server: Server) -> None:
    # Enough seats that half a second of buying cannot sell out, even on a quiet machine
    # (20 seats did, and 100 once statements kept their connections: the check then fails
    # on the sell-out before the faults it is after).
    state = checkout.prepare(server, showtimes=1, customers=2, rows=20, seats_per_row=20)
    paid, _seconds = state.load(0.5, 2)
    assert paid >= 2
    checkout.check(server, state)
    # An order answered PAID that the database does not have as PAID ...
    order, _seats = state.bought.popitem()
    with pytest.raises(BenchError, match="PAID orders nobody was told of"):
        checkout.check(server, state)
    # ... and a PAID order whose payment did not succeed.
    _execute(server, "UPDATE payments SET status = 'FAILED' WHERE order_id = $1", order)
    with pytest.raises(BenchError, match="SUCCEEDED payment"):
        checkout.check(server, state)


def test_me_orders_short_run(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    monkeypatch.setattr(me_orders, "ORDERS", 4)
    result = me_orders.SCENARIO.run(server, SHORT)  # type: ignore[misc]
    assert result.requests > 0
    assert result.non_2xx == 0
    counts = {k: v for k, v in result.extra.items() if k.startswith("statements_")}
    assert set(counts) == {"statements_1_orders", "statements_4_orders"}
    assert len(set(counts.values())) == 1
    assert 0 < counts["statements_1_orders"] < 20


def test_me_orders_names_the_statements_that_differ() -> None:
    seats = "SELECT seats.id FROM seats WHERE seats.id IN ($1::BIGINT, $2::BIGINT)"
    log = ["SELECT 1", seats]
    one = me_orders.Buyer(booking.Racer(1, "t"), 1, statements=2, log=log)
    same = me_orders.Buyer(booking.Racer(2, "t"), 50, statements=2, log=log)
    assert me_orders.compare([one, same]) == "1 order: 2, 50 orders: 2"
    more = me_orders.Buyer(
        booking.Racer(2, "t"),
        50,
        statements=3,
        log=[*log, seats.replace("$2::BIGINT", "$2::BIGINT, $3::BIGINT")],
    )
    with pytest.raises(BenchError, match="differ") as failed:
        me_orders.compare([one, more])
    assert "50 orders, 1 more: SELECT seats.id FROM seats WHERE seats.id IN ($1::BIGINT, ...)" in (
        str(failed.value)
    )


@pytest.mark.parametrize("purchases", [1, 2, 3, 60, profile_sale.MAX_PURCHASES])
def test_the_profiles_rounds_never_hold_a_seat_twice(purchases: int) -> None:
    """bench.profile_sale buys four rounds of `purchases` in one hall: every purchase holds
    seats of the hall that no other purchase held (75 purchases once failed its fourth
    round's first hold on a seat the third round had bought)."""
    held: list[tuple[int, int]] = []
    per_round = profile_sale.seats_per_round(purchases)
    for r in range(4):
        for i in range(purchases):
            first = r * per_round + profile_sale.first_seat(i)
            held += [(i % profile_sale.SHOWTIMES, seat) for seat in (first, first + 1)]
    assert len(set(held)) == len(held)
    assert max(seat for _show, seat in held) < profile_sale.HALL_SEATS


@pytest.mark.parametrize("module", ["bench.booking", "bench.sale", "bench.profile_sale"])
def test_imports_first(module: str) -> None:
    """bench.booking, bench.sale and the scenarios import each other: whichever comes
    first must work (a fresh interpreter each)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=env, cwd=ROOT)


def _execute(server: Server, sql: str, *args: Any) -> None:
    async def run() -> None:
        conn = await booking.connect(server)
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.close()

    asyncio.run(run())
