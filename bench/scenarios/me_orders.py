"""A customer's orders and tickets (`me_orders`): `me { orders(first: 50) ... tickets(first:
50) ... }` for a customer with 50 paid orders (2 seats each: 100 tickets), under wrk.

The issue asks that the SQL statements of this request not depend on how many orders the
customer has. Before the load, the request is counted exactly for a customer with 1 order
and for the one with 50: in this process, through the server's own app on the same
database (`create_app`, an in-memory ASGI transport and `db.session.capture_statements()`,
the way the query-count tests count), after one request to warm the caches. After the
measured run the scenario fails, naming the statements that differ, unless both counts are
equal. The SQL/req column of the run is the server's own count under load (its /metrics
counters), the same figure measured the other way.

Seeding goes through the API, as a customer would buy: hold, checkout, payOrder tok_visa
(`bench.sale`), five showtimes bought from at once (a customer's holds on one showtime
replace each other, so one purchase at a time per showtime).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from bench import booking, sale
from bench.scenario import BenchError, Options, Prepared, Result, Scenario

if TYPE_CHECKING:
    from bench.server import Server

ORDERS = 50
SEATS_PER_ORDER = 2
LANES = 5  # showtimes bought from at once while seeding
CPU_SAMPLES = 5
FIRST = 50

QUERY = """
query MeOrders($first: Int!) {
  me {
    orders(first: $first) { edges { node { number status total { amount }
      lines { description seat { id } } tickets { bookingReference } } } }
    tickets(first: $first) { edges { node { bookingReference showtime { id } seat { id } } } }
  }
}
"""


@dataclass
class Buyer:
    racer: booking.Racer
    orders: int
    statements: int = -1  # per request, counted in-process
    log: list[str] = field(default_factory=list)
    cpu_ms: float = 0.0  # the app's CPU per request in-process (median of CPU_SAMPLES)

    @property
    def headers(self) -> dict[str, str]:
        return self.racer.headers


def seed(server: Server, counts: list[int]) -> list[Buyer]:
    """One customer per entry of `counts`, each with that many paid orders of
    SEATS_PER_ORDER seats, bought through the API."""
    needed = sum(counts) * SEATS_PER_ORDER
    lanes = max(1, min(LANES, max(counts)))
    hall = booking.create_hall(server)
    per_lane = -(-needed // lanes)
    if per_lane > hall.seat_count:
        raise BenchError(f"{needed} seats do not fit {lanes} showtimes of {hall.seat_count}")
    shows = booking.create_showtimes(server, hall, lanes)
    racers = asyncio.run(booking.make_users(server, len(counts), prefix="orders"))
    seats = [s for row in hall.seat_rows for s in row]
    asyncio.run(_buy_all(server, racers, counts, shows, seats))
    return [Buyer(r, n) for r, n in zip(racers, counts, strict=True)]


async def _buy_all(
    server: Server,
    racers: list[booking.Racer],
    counts: list[int],
    shows: list[int],
    seats: list[int],
) -> None:
    # Lane i sells seats of showtime i in order; each customer's orders are spread over
    # the lanes (a lane buys for one customer at a time).
    jobs: list[list[tuple[booking.Racer, list[int]]]] = [[] for _ in shows]
    taken = [0] * len(shows)
    k = 0
    for racer, n in zip(racers, counts, strict=True):
        for _ in range(n):
            lane = k % len(shows)
            k += 1
            jobs[lane].append((racer, seats[taken[lane] : taken[lane] + SEATS_PER_ORDER]))
            taken[lane] += SEATS_PER_ORDER

    async def run(lane: int) -> None:
        conn = await sale.open_connection(server.graphql_url)
        try:
            for racer, chosen in jobs[lane]:
                bought = await sale.Customer(server.graphql_url, racer.token).buy(
                    conn, shows[lane], chosen
                )
                if not bought.paid:
                    raise BenchError(
                        f"seeding a purchase failed at {bought.failed_at}: {bought.code}"
                        f" {bought.detail}"
                    )
        finally:
            conn.close()

    await asyncio.gather(*(run(i) for i in range(len(shows))))


async def count_statements(server: Server, buyers: list[Buyer], first: int = FIRST) -> None:
    """Each buyer's request counted exactly, in this process (module docstring)."""
    from db.embedded import normalize_url
    from db.session import Database, capture_statements, create_engine
    from graph.app import create_app

    settings = sale.app_settings(server)
    engine = create_engine(normalize_url(booking.dsn(server)), pool_size=2, max_overflow=0)
    app = create_app(settings, database=Database(engine))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for buyer in buyers:
                body = {"query": QUERY, "variables": {"first": first}}
                await http.post("/graphql", json=body, headers=buyer.headers)  # warm
                with capture_statements() as log:
                    response = await http.post("/graphql", json=body, headers=buyer.headers)
                _expect_orders(response.json(), buyer.orders, first)
                buyer.statements = len(log)
                buyer.log = list(log)
                cpu = []
                for _ in range(CPU_SAMPLES):
                    started = time.process_time()
                    await http.post("/graphql", json=body, headers=buyer.headers)
                    cpu.append(time.process_time() - started)
                buyer.cpu_ms = 1000 * statistics.median(cpu)
    finally:
        await engine.dispose()


def _expect_orders(body: dict[str, Any], orders: int, first: int) -> None:
    """A page of min(first, orders) PAID orders with their tickets, and of the tickets."""
    if body.get("errors"):
        raise BenchError(f"me_orders: the query fails: {body['errors']}")
    me = (body.get("data") or {}).get("me") or {}
    edges = (me.get("orders") or {}).get("edges") or []
    tickets = (me.get("tickets") or {}).get("edges") or []
    if len(edges) != min(first, orders) or any(e["node"]["status"] != "PAID" for e in edges):
        raise BenchError(f"me_orders: expected {orders} PAID orders, got {edges[:3]}...")
    want = min(first, orders * SEATS_PER_ORDER)
    if len(tickets) != want or any(len(e["node"]["tickets"]) != SEATS_PER_ORDER for e in edges):
        raise BenchError(f"me_orders: expected {want} tickets, got {len(tickets)}")


def _expect(data: dict[str, Any]) -> None:
    _expect_orders({"data": data}, ORDERS, FIRST)


def describe(buyers: list[Buyer]) -> str:
    """'1 order: N, 50 orders: M' (statements per request)."""
    return ", ".join(f"{b.orders} order{'s' * (b.orders != 1)}: {b.statements}" for b in buyers)


def compare(buyers: list[Buyer]) -> str:
    """`describe`, or BenchError naming the statements that differ unless all counts are
    equal (IN lists folded: the same read of 2 ids or of 50 is one statement)."""
    text = describe(buyers)
    if len({b.statements for b in buyers}) == 1:
        return text
    first = Counter(sale.statement_shape(s, 200) for s in buyers[0].log)
    lines = []
    for b in buyers[1:]:
        mine = Counter(sale.statement_shape(s, 200) for s in b.log)
        for shape, n in sorted((mine - first).items()):
            lines.append(f"  {b.orders} orders, {n} more: {shape}")
        for shape, n in sorted((first - mine).items()):
            lines.append(f"  {b.orders} orders, {n} fewer: {shape}")
    raise BenchError(f"me_orders: SQL statements per request differ ({text}):\n" + "\n".join(lines))


_prepared: dict[str, list[Buyer]] = {}


def prepare(server: Server, counts: list[int] | None = None) -> list[Buyer]:
    """Seed (once per server and `counts`) and count each buyer's request."""
    key = f"{server.url} {counts}"
    buyers = _prepared.get(key)
    if buyers is None:
        buyers = seed(server, counts or [1, ORDERS])
        _prepared[key] = buyers
    asyncio.run(count_statements(server, buyers))
    return buyers


def _run(server: Server, opts: Options) -> Result:
    """Seed and count, measure under wrk, then (like a `verify`) fail unless the counts
    are equal: the figures are printed either way."""
    from bench.run import preflight, run_wrk

    started = time.monotonic()
    buyers = prepare(server)
    seeded = time.monotonic() - started
    prepared = Prepared(variables={"first": FIRST}, headers=buyers[-1].headers)
    preflight(server, SCENARIO, prepared)
    result = run_wrk(server, SCENARIO, prepared, opts)
    result.extra.update({f"statements_{b.orders}_orders": b.statements for b in buyers})
    result.extra.update({f"app_cpu_ms_{b.orders}_orders": b.cpu_ms for b in buyers})
    spr = result.statements_per_request
    print(
        f"  me_orders: {result.rps:.0f} req/s, p50 {result.p50_ms:.1f} ms, p99"
        f" {result.p99_ms:.1f} ms, SQL/req under load {'-' if spr is None else f'{spr:.2f}'};"
        f" SQL statements per request, in-process and exact: {describe(buyers)};"
        f" app CPU per request in-process (no PostgreSQL): "
        + ", ".join(f"{b.orders} order(s) {b.cpu_ms:.1f} ms" for b in buyers)
        + f" (seeded and counted in {seeded:.0f} s); others"
        f" {100 * result.extra.get('others_cpu', 0.0):.0f}%",
        flush=True,
    )
    compare(buyers)
    return result


SCENARIO = Scenario(
    name="me_orders",
    description=f"me {{ orders(first: {FIRST}) tickets(first: {FIRST}) }} for a customer with"
    f" {ORDERS} paid orders; SQL/request checked equal for 1 and {ORDERS} orders",
    query=QUERY,
    expect=_expect,
    run=_run,
)
