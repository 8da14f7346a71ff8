"""The sale under load (`checkout_pay`): 64 connections, each a client cycling through its own
customers, buy seats of 50 showtimes in a loop: holdSeats (1-2 adjacent seats), checkout,
payOrder with `tok_visa`. The figure is paid orders per second; p50/p99 are those of the
whole purchase (hold sent to payment answered) of the orders paid.

Clients overlap on purpose: each picks its seats among the first WINDOW seats of a
showtime that the clients, together, still believe for sale (a seat leaves that shelf once
an order with it is paid, or when a hold fails naming it), so two clients often go for the
same seats and one of them gets SEAT_UNAVAILABLE, as customers reading one seat map would.

The load is the asyncio client of the `holds` scenario (one keep-alive HTTP/1.1 connection
per client, uvloop): wrk's Lua cannot chain a purchase's three requests per connection nor
tell which answer is whose, and the double-sale check needs both. After the run, the
database is checked in SQL (`bench.sale.check_sales`): no (showtime, seat) with two live
tickets, every PAID order with one ticket per ticket line and a SUCCEEDED payment, and the
PAID orders, their tickets and SOLD seats exactly those the clients were answered PAID.
Any failure other than a hold's SEAT_UNAVAILABLE fails the scenario too.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bench import booking, sale
from bench.scenario import BenchError, Options, Result, Scenario

if TYPE_CHECKING:
    from bench.server import Server

CONNECTIONS = 64
SHOWTIMES = 50
CUSTOMERS_PER_CONNECTION = 4
# The 300-seat hall of the hold scenarios: 50 showtimes hold 15,000 seats; a run of 3 + 20 s
# at the 200 paid orders/s sells ~7,000 (1.5 seats an order). A run that sells out
# fails rather than measure an empty shelf.
ROWS = 15  # = booking.ROWS (not read from there: bench.booking may be importing this)
SEATS_PER_ROW = 20  # = booking.SEATS_PER_ROW
WINDOW = 8  # each pick is among the first WINDOW seats still believed for sale
MAX_SEATS = 2


@dataclass
class Shelf:
    """What the clients, together, believe is still for sale: seats by showtime, in seat
    order. Shared by the warm-up and the measured run."""

    seats: dict[int, list[int]]
    rng: random.Random = field(default_factory=lambda: random.Random(20261203))

    def pick(self) -> tuple[int, list[int]] | None:
        while self.seats:
            show = self.rng.choice(list(self.seats))
            free = self.seats[show]
            if not free:
                del self.seats[show]
                continue
            k = min(len(free), self.rng.randint(1, MAX_SEATS))
            window = free[:WINDOW]
            start = self.rng.randrange(len(window) - k + 1)
            return show, window[start : start + k]
        return None

    def gone(self, show: int, seats: list[int]) -> None:
        free = self.seats.get(show)
        if free is None:
            return
        for seat in seats:
            if seat in free:
                free.remove(seat)


@dataclass
class Sale:
    """The prepared scenario and what every purchase came to."""

    url: str
    customers: list[booking.Racer]
    showtimes: list[int]
    shelf: Shelf
    bought: dict[int, tuple[int, list[int]]] = field(default_factory=dict)  # order -> seats
    outcomes: Counter[str] = field(default_factory=Counter)  # "paid" / "step:CODE"
    faults: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # paid purchases, measured run
    steps: dict[str, list[float]] = field(default_factory=dict)  # step -> latencies
    attempts: int = 0
    paid: int = 0
    sold_out: bool = False
    measuring: bool = False
    cart: dict[str, Any] | None = None  # more of the checkout input (the shop scenario)

    def judge(self, p: sale.Purchase) -> None:
        self.attempts += 1
        if p.paid:
            assert p.order_pk is not None
            self.paid += 1
            self.bought[p.order_pk] = (p.showtime, p.seats)
            self.shelf.gone(p.showtime, p.seats)
        elif p.unavailable:
            self.shelf.gone(p.showtime, p.unavailable)
        if not p.expected:
            self.faults.append(f"{p.failed_at}: {p.code}: {p.detail}")
        if not self.measuring:
            return
        self.outcomes["paid" if p.paid else f"{p.failed_at}:{p.code}"] += 1
        if p.paid:
            self.latencies.append(p.ended - p.started)
        for step, seconds in p.seconds.items():
            self.steps.setdefault(step, []).append(seconds)

    async def client(self, mine: list[booking.Racer], until: float) -> None:
        customers = [sale.Customer(self.url, c.token, self.cart) for c in mine]
        conn = await sale.open_connection(self.url)
        try:
            turn = 0
            while time.monotonic() < until:
                picked = self.shelf.pick()
                if picked is None:
                    self.sold_out = True
                    return
                show, seats = picked
                purchase = await customers[turn % len(customers)].buy(conn, show, seats)
                turn += 1
                self.judge(purchase)
        finally:
            conn.close()

    def load(self, seconds: float, connections: int) -> tuple[int, float]:
        """Buy for `seconds` on `connections` connections; (paid orders, elapsed seconds)."""
        groups = [self.customers[i::connections] for i in range(connections)]

        async def main() -> tuple[int, float]:
            before = self.paid
            started = time.monotonic()
            until = started + seconds
            await asyncio.gather(*(self.client(g, until) for g in groups if g))
            return self.paid - before, time.monotonic() - started

        try:
            import uvloop

            return uvloop.run(main())
        except ImportError:  # pragma: no cover
            return asyncio.run(main())


def prepare(
    server: Server,
    *,
    showtimes: int = SHOWTIMES,
    customers: int = CONNECTIONS * CUSTOMERS_PER_CONNECTION,
    rows: int = ROWS,
    seats_per_row: int = SEATS_PER_ROW,
) -> Sale:
    """Seed through the API (as the demo admin): a cinema with one hall and `showtimes`
    showtimes of it; `customers` customers inserted in one statement, with tokens."""
    hall = sale.create_hall(server, rows, seats_per_row)
    shows = booking.create_showtimes(server, hall, showtimes)
    racers = asyncio.run(booking.make_users(server, customers, prefix="buyer"))
    seats = [s for row in hall.seat_rows for s in row]
    shelf = Shelf({show: list(seats) for show in shows})
    return Sale(server.graphql_url, racers, shows, shelf)


def check(server: Server, state: Sale) -> dict[str, int]:
    """The double-sale check (raises BenchError), then the answers' own faults."""
    checked = asyncio.run(sale.check_sales(server, state.showtimes, state.bought))
    if state.faults:
        raise BenchError(
            f"{len(state.faults)} purchases failed other than by SEAT_UNAVAILABLE (measured"
            f" run: {dict(state.outcomes)}), e.g. {state.faults[:3]}"
        )
    if state.sold_out:
        raise BenchError(f"sold out before the end of the run: {dict(state.outcomes)}")
    return checked


def _run(server: Server, opts: Options) -> Result:
    return run_sale(server, opts, "checkout_pay")


def run_sale(
    server: Server,
    opts: Options,
    name: str,
    *,
    cart: Callable[[Server], tuple[dict[str, Any], Any]] | None = None,
    check_cart: Callable[[Server, Any], dict[str, int]] | None = None,
) -> Result:
    """The sale under load, as `name`: `cart(server)` (the shop scenario) prepares products
    and codes and returns the checkout input's extra (and what `check_cart` needs after the
    run, to check stock and codes in SQL)."""
    from bench.cpu import CpuMeter
    from bench.run import BACKGROUND_WINDOW, cpu_meter, statements, statements_per_request

    state = prepare(
        server,
        showtimes=SHOWTIMES,
        customers=CONNECTIONS * CUSTOMERS_PER_CONNECTION,
        rows=ROWS,
        seats_per_row=SEATS_PER_ROW,
    )
    cart_facts: Any = None
    if cart is not None:
        state.cart, cart_facts = cart(server)
    if opts.warmup > 0:
        state.load(opts.warmup, CONNECTIONS)
    # The warm-up's confirmations are sent before the measured run starts, so that the
    # run's e-mails (sent during it and after it, below) are its own.
    sale.drain_emails(server)
    idle = server.settled_counters()
    idle_at = time.monotonic()
    time.sleep(BACKGROUND_WINDOW)
    before = server.settled_counters()
    before_at = time.monotonic()
    background_rate = statements(idle, before) / (before_at - idle_at)
    meter = cpu_meter(server)
    cpu_before = meter.snapshot()
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    state.measuring = True
    attempts_before = state.attempts
    paid, seconds = state.load(opts.duration, CONNECTIONS)
    state.measuring = False
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (self_after.ru_utime + self_after.ru_stime) - (
        self_before.ru_utime + self_before.ru_stime
    )
    client_share = client_cpu / (seconds * (os.cpu_count() or 1))
    cpu_after = meter.snapshot()
    others = max(0.0, CpuMeter.others_share(cpu_before, cpu_after, seconds) - client_share)
    server_cpu = sum(cpu - cpu_before.ours.get(pid, 0.0) for pid, cpu in cpu_after.ours.items())
    after = server.settled_counters()
    background = background_rate * (time.monotonic() - before_at)
    # Every paid order writes a confirmation e-mail to the outbox; the workers' senders
    # compose (QR codes) and send them beside the sale. What they had not sent when the load
    # stopped is sent now, and that CPU belongs to the run's orders too: the sustained rate
    # is the orders paid over the time until their e-mails were all sent.
    unsent, drain_seconds = sale.drain_emails(server)
    cpu_drained = meter.snapshot()
    email_cpu = sum(cpu - cpu_after.ours.get(pid, 0.0) for pid, cpu in cpu_drained.ours.items())
    sustained = paid / (seconds + drain_seconds)
    checked = check(server, state)
    if check_cart is not None:
        checked.update(check_cart(server, cart_facts))
    attempts = state.attempts - attempts_before
    total_statements = max(0.0, statements(before, after) - background)
    lat_ms = [x * 1000 for x in state.latencies]
    step_p50 = {s: booking.percentile([x * 1000 for x in v], 50) for s, v in state.steps.items()}
    failures = {k: n for k, n in sorted(state.outcomes.items()) if k != "paid"}
    print(
        f"  {name}: {paid} paid orders of {attempts} attempts in {seconds:.1f} s over"
        f" {len(state.showtimes)} showtimes ({paid / seconds:.0f}/s); failures {failures};"
        f" step p50 ms "
        + ", ".join(f"{s} {step_p50[s]:.0f}" for s in sale.STEPS if s in step_p50)
        + f"; {total_statements / max(1, paid):.1f} SQL statements and"
        f" {1000 * server_cpu / max(1, paid):.1f} ms server + PostgreSQL CPU per paid order,"
        f" client CPU {100 * client_share:.0f}% of the machine",
        flush=True,
    )
    print(
        f"  {name}: e-mails: {unsent} confirmations unsent when the load stopped, all sent"
        f" {drain_seconds:.1f} s later; with them {sustained:.0f} paid orders/s and"
        f" {1000 * (server_cpu + email_cpu) / max(1, paid):.1f} ms CPU per paid order",
        flush=True,
    )
    print(
        f"  {name}: double-sale check passed: {checked['double_sold']} (showtime, seat)"
        f" with two live tickets; {checked['paid_orders']} PAID orders, each with one ticket"
        f" per ticket line and a SUCCEEDED payment; {checked['tickets']} tickets = the seats"
        f" answered PAID, all SOLD",
        flush=True,
    )
    return Result(
        scenario=name,
        connections=CONNECTIONS,
        requests=paid,
        seconds=seconds,
        rps=paid / seconds if seconds else 0.0,
        p50_ms=booking.percentile(lat_ms, 50),
        p99_ms=booking.percentile(lat_ms, 99),
        statements_per_request=statements_per_request(before, after, background=background),
        non_2xx=sum(n for k, n in failures.items() if "HTTP" in k),
        socket_errors=0,
        extra={
            "p90_ms": booking.percentile(lat_ms, 90),
            "max_ms": max(lat_ms, default=0.0),
            "others_cpu": others,
            "client_cpu": client_share,
            "attempts": attempts,
            "failures": failures,
            "step_p50_ms": step_p50,
            "step_p99_ms": {
                s: booking.percentile([x * 1000 for x in v], 99) for s, v in state.steps.items()
            },
            "statements_per_paid_order": total_statements / max(1, paid),
            "server_cpu_ms_per_paid_order": 1000 * server_cpu / max(1, paid),
            "emails_unsent_at_end": unsent,
            "email_drain_seconds": drain_seconds,
            "paid_per_s_with_emails": sustained,
            "cpu_ms_per_paid_order_with_emails": 1000 * (server_cpu + email_cpu) / max(1, paid),
            "showtimes": len(state.showtimes),
            "background_statements_per_s": background_rate,
            **checked,
        },
    )


SCENARIO = Scenario(
    name="checkout_pay",
    description=f"{CONNECTIONS} clients buy 1-2 seats (hold, checkout, payOrder tok_visa) over"
    f" {SHOWTIMES} showtimes; paid orders/s, zero double sales checked",
    connections=CONNECTIONS,
    run=_run,
)
