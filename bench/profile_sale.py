"""Where a purchase's time goes, in one process: `python -m bench.profile_sale`.

Starts the bench server (one worker, its own embedded PostgreSQL under
`.marquee/bench-profile`) only for its database and its demo admin, seeds a hall with two
showtimes and N customers through its API, then runs the purchase through the server's own
app in THIS process (`create_app`, an in-memory ASGI transport, one request at a time):
N holdSeats, then N checkouts, then N payOrders (tok_visa), phase by phase, so that each
step is measured alone:

- wall time and this process's CPU per request (the app's Python; the in-memory client
  adds little), PostgreSQL's CPU per request (its backends, from /proc), SQL statements
  per request (`capture_statements`) and BEGIN/COMMIT pairs (transactions);
- the statements by the time spent waiting for them (SQLAlchemy's cursor events: the
  round trip and PostgreSQL's execution, per statement text; the hold's raw-driver
  statement is not in this list);
- then the same phases again under a stack sampler (a thread that reads the main thread's
  stack every 2 ms, as py-spy would from outside): the share of samples by where the
  innermost frame is (SQLAlchemy statement building, compilation and cache keys, execution,
  asyncpg, GraphQL execution, HTTP, the event loop, the project's own code), and by the
  project functions on the stack (inclusive);
- and once more under cProfile (CPU timer), for call counts: the functions with the most
  time of their own.

Nothing runs concurrently, so these are costs, not queueing; under load (`checkout_pay`)
the same work competes for the two CPUs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import re
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bench import booking, sale
from bench.cpu import _children, _process_cpu
from bench.server import ROOT, Server


@dataclass
class Phase:
    name: str
    requests: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    pg_cpu: float = 0.0
    statements: int = 0
    transactions: int = 0
    by_statement: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def row(self) -> str:
        n = max(1, self.requests)
        return (
            f"{self.name:<9} {self.requests:>5} {1000 * self.wall / n:>8.1f}"
            f" {1000 * self.cpu / n:>8.1f} {1000 * self.pg_cpu / n:>8.1f}"
            f" {self.statements / n:>6.1f} {self.transactions / n:>6.1f}"
        )


HEADER = (
    f"{'step':<9} {'reqs':>5} {'wall ms':>8} {'app CPU':>8} {'PG CPU':>8} {'SQL':>6} {'txns':>6}"
)

_timing: dict[str, list[float]] | None = None
_started: dict[int, float] = {}
_begins = 0


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    _started[id(cursor)] = time.perf_counter()


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
    started = _started.pop(id(cursor), None)
    if _timing is not None and started is not None:
        _timing[statement].append(time.perf_counter() - started)  # shaped when reported


@event.listens_for(Engine, "begin")
def _begin(conn: Any) -> None:
    global _begins
    _begins += 1


_pg: list[int] = []


def find_pg(data_dir: Path) -> None:
    """PostgreSQL's processes (the postmaster and its backends), found once per phase: a
    scan of /proc costs ~10 ms, too much to do around every request."""
    first = (data_dir / "pg" / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    _pg[:] = [int(first), *_children(int(first))]


def _pg_cpu() -> float:
    return sum(_process_cpu(pid) for pid in _pg)


@contextmanager
def measured(phase: Phase, data_dir: Path) -> Iterator[None]:
    from db.session import capture_statements

    global _timing
    begins = _begins
    _timing = phase.by_statement
    pg = _pg_cpu()
    cpu = time.process_time()
    wall = time.perf_counter()
    with capture_statements() as log:
        yield
    phase.wall += time.perf_counter() - wall
    phase.cpu += time.process_time() - cpu
    phase.pg_cpu += _pg_cpu() - pg
    phase.statements += len(log)
    phase.transactions += _begins - begins
    _timing = None


class Sampler:
    """Reads the main thread's stack every `interval` seconds from a thread of its own."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.stacks: Counter[tuple[tuple[str, str], ...]] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        # The main thread hands the GIL over within 50 µs of the sampler asking for it
        # (default 5 ms): otherwise samples land mostly where it blocks on I/O.
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(0.00005)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._switch)

    def _run(self) -> None:
        main = threading.main_thread().ident
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(main or 0)
            stack = []
            while frame is not None:
                stack.append((frame.f_code.co_filename, frame.f_code.co_name))
                frame = frame.f_back
            self.stacks[tuple(stack)] += 1  # innermost frame first


_PROJECT = re.compile(r"(^|/)(graph|db)/")
_WHERE = [
    ("waiting (event loop idle: PostgreSQL or the client)", r"selectors\.py$"),
    ("SQLAlchemy: cache keys and compilation", r"sqlalchemy/sql/(cache_key|compiler)\.py"),
    ("SQLAlchemy: building statements (sql/)", r"sqlalchemy/sql/"),
    ("SQLAlchemy: ORM session and bulk DML (orm/)", r"sqlalchemy/orm/"),
    ("SQLAlchemy: execution, results, pool, dialect", r"sqlalchemy/"),
    ("greenlet switches (SQLAlchemy async bridge)", r"greenlet"),
    ("asyncpg (protocol, prepared statements)", r"asyncpg/"),
    ("GraphQL execution (strawberry, graphql-core)", r"(strawberry|graphql)/"),
    ("HTTP (starlette, in-memory httpx)", r"(starlette|httpx|anyio|httpcore)/"),
    ("event loop (asyncio)", r"asyncio/"),
    ("JWT and crypto", r"(jwt|cryptography)/"),
    ("the project's own code (graph/, db/)", r"/(graph|db)/"),
]


_OURS = {"measured", "_pg_cpu", "find_pg"}


def where(filename: str) -> str:
    for label, pattern in _WHERE:
        if re.search(pattern, filename):
            return label
    return "other: " + "/".join(Path(filename).parts[-2:])


def report_samples(name: str, sampler: Sampler, requests: int, cpu_ms: float, top: int) -> None:
    total = sum(sampler.stacks.values())
    busy = total - sum(
        n for stack, n in sampler.stacks.items() if stack and where(stack[0][0]).startswith("wait")
    )
    inner: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for stack, n in sampler.stacks.items():
        if not stack or where(stack[0][0]).startswith("wait"):
            continue
        if any(func in _OURS for _, func in stack):
            busy -= n  # this script's own measuring between requests
            continue
        inner[where(stack[0][0])] += n
        seen = set()
        for filename, func in stack:
            short = filename.split(str(ROOT) + os.sep)[-1]
            if _PROJECT.search(filename) and not short.startswith("bench/"):
                key = f"{short}:{func}"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += n
    if not busy:
        return
    print(
        f"\n== {name}: {total} samples, {busy} busy (not waiting, not this script); shares"
        f" of the busy samples, and ms of the {cpu_ms:.1f} ms app CPU per request they"
        " stand for =="
    )
    print("  where the innermost frame is:")
    for label, n in inner.most_common():
        print(f"    {100 * n / busy:5.1f}%  {cpu_ms * n / busy:6.1f} ms  {label}")
    print(
        "  project functions on the stack (inclusive; a sample inside one of SQLAlchemy's"
        " greenlets does not show the coroutine that awaits it, so these are lower bounds):"
    )
    for key, n in inclusive.most_common(top):
        print(f"    {100 * n / busy:5.1f}%  {cpu_ms * n / busy:6.1f} ms  {key}")


class InProcess:
    """The server's app in this process, against the bench server's database."""

    def __init__(self, server: Server) -> None:
        from db.embedded import normalize_url
        from db.session import Database, create_engine
        from graph.app import create_app

        settings = sale.app_settings(server)
        self.engine = create_engine(normalize_url(booking.dsn(server)), pool_size=4)
        # As the server's: half the pool kept for statements built once (graph/app.py).
        self.db = Database(self.engine, kept=2)
        self.app = create_app(settings, database=self.db)

    async def post(self, http: httpx.AsyncClient, token: str, query: str, v: Any) -> Any:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": v},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return next(iter(body["data"].values()))


async def run_phases(
    app: InProcess,
    racers: list[booking.Racer],
    shows: list[int],
    seats: list[int],
    data_dir: Path,
    phases: dict[str, Phase],
    wrap: Callable[[str, Callable[[], Awaitable[None]]], Awaitable[None]],
) -> None:
    transport = httpx.ASGITransport(app=app.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://profile") as http:
        holds: list[tuple[booking.Racer, str]] = []
        orders: list[tuple[booking.Racer, str]] = []

        async def hold_all() -> None:
            for i, r in enumerate(racers):
                show = shows[i % len(shows)]
                pair = seats[first_seat(i) : first_seat(i) + 2]
                with measured(phases["hold"], data_dir):
                    out = await app.post(
                        http,
                        r.token,
                        sale.HOLD,
                        {
                            "i": {
                                "showtimeId": booking.showtime_gid(show),
                                "seatIds": [booking.seat_gid(s) for s in pair],
                            }
                        },
                    )
                phases["hold"].requests += 1
                holds.append((r, out["hold"]["id"]))

        async def checkout_all() -> None:
            for r, hold_id in holds:
                with measured(phases["checkout"], data_dir):
                    out = await app.post(
                        http,
                        r.token,
                        sale.CHECKOUT,
                        {"i": {"holdId": hold_id, "idempotencyKey": uuid.uuid4().hex}},
                    )
                phases["checkout"].requests += 1
                orders.append((r, out["order"]["id"]))

        async def pay_all() -> None:
            for r, order_id in orders:
                with measured(phases["pay"], data_dir):
                    out = await app.post(
                        http,
                        r.token,
                        sale.PAY,
                        {
                            "i": {
                                "orderId": order_id,
                                "paymentToken": sale.PAYMENT_TOKEN,
                                "idempotencyKey": uuid.uuid4().hex,
                            }
                        },
                    )
                phases["pay"].requests += 1
                if out["order"]["status"] != "PAID":
                    raise RuntimeError(out)

        for name, fn in (("hold", hold_all), ("checkout", checkout_all), ("pay", pay_all)):
            find_pg(data_dir)
            await wrap(name, fn)


async def baseline(app: InProcess, data_dir: Path, n: int = 300) -> None:
    """What one statement and one transaction cost on this machine, whatever they do:
    `SELECT 1` through the same SQLAlchemy session path as the order actions, in
    transactions of 1 and of 6 statements (app CPU and PostgreSQL CPU)."""
    from sqlalchemy import literal_column, select

    from db.session import Database

    db = Database(app.engine)
    one: Any = select(literal_column("1"))
    find_pg(data_dir)
    costs = {}
    for k in (1, 6, 1, 6):
        pg, cpu = _pg_cpu(), time.process_time()
        for _ in range(n):
            async with db.transaction() as session:
                for _ in range(k):
                    await session.execute(one)
        costs[k] = ((time.process_time() - cpu) / n, (_pg_cpu() - pg) / n)
    stmt = [(costs[6][i] - costs[1][i]) / 5 for i in (0, 1)]
    txn = [costs[1][i] - stmt[i] for i in (0, 1)]
    print(
        f"\nbaseline ({n} transactions each): one statement in a session costs"
        f" {1000 * stmt[0]:.2f} ms app CPU + {1000 * stmt[1]:.2f} ms PostgreSQL CPU; a"
        f" transaction's BEGIN/COMMIT and session {1000 * txn[0]:.2f} + {1000 * txn[1]:.2f} ms"
    )


def report(phases: dict[str, Phase], top: int) -> None:
    print(HEADER)
    for p in phases.values():
        print(p.row())
    for p in phases.values():
        if not p.by_statement:
            continue
        n = max(1, p.requests)
        print(f"\n{p.name}: statements by time waited for them (ms per request, calls/request)")
        shaped: dict[str, list[float]] = defaultdict(list)
        for statement, times in p.by_statement.items():
            shaped[sale.statement_shape(statement)] += times
        ranked = sorted(shaped.items(), key=lambda kv: -sum(kv[1]))
        for text, times in ranked[:top]:
            print(f"  {1000 * sum(times) / n:7.2f} {len(times) / n:5.1f}  {text}")


SHOWTIMES = 2
HALL_SEATS = booking.ROWS * booking.SEATS_PER_ROW


def first_seat(i: int) -> int:
    """Purchase i of a round holds this seat and the next (counted from the round's first
    seat) on showtime i % SHOWTIMES."""
    return 2 * (i // SHOWTIMES)


def seats_per_round(purchases: int) -> int:
    """How far into the hall's seats a round reaches on each showtime."""
    return first_seat(purchases - 1) + 2


# Four rounds (warm-up, measured, sampled, profiled), each on seats no earlier round took.
MAX_PURCHASES = next(n for n in range(HALL_SEATS, 0, -1) if 4 * seats_per_round(n) <= HALL_SEATS)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile_sale", description=__doc__)
    p.add_argument("--purchases", type=int, default=60, help="purchases per round (60)")
    p.add_argument("--top", type=int, default=25, help="rows of each listing (25)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=ROOT / ".marquee" / "bench-profile",
        help="the server's data directory (default .marquee/bench-profile)",
    )
    args = p.parse_args(argv)
    if not 0 < args.purchases <= MAX_PURCHASES:
        p.error(
            f"--purchases: 1 to {MAX_PURCHASES} (four rounds of two seats a purchase, the"
            f" purchases alternating between two showtimes of {HALL_SEATS} seats)"
        )
    server = Server.start(1, args.data_dir)
    try:
        assert server.data_dir is not None
        data_dir = server.data_dir
        hall = booking.create_hall(server)
        shows = booking.create_showtimes(server, hall, SHOWTIMES)
        seats = [s for row in hall.seat_rows for s in row]
        app = InProcess(server)

        async def plain(name: str, fn: Callable[[], Awaitable[None]]) -> None:
            await fn()

        profiles: dict[str, cProfile.Profile] = {}
        samplers: dict[str, Sampler] = {}
        cpu_ms: dict[str, float] = {}

        async def sampled(name: str, fn: Callable[[], Awaitable[None]]) -> None:
            with Sampler() as samplers[name]:
                await fn()

        async def profiled(name: str, fn: Callable[[], Awaitable[None]]) -> None:
            # CPU time, not wall time: on a shared machine wall time lands on whatever
            # call was running when the process lost its CPU (often a socket send).
            prof = profiles[name] = cProfile.Profile(time.process_time)
            prof.enable()
            try:
                await fn()
            finally:
                prof.disable()

        async def rounds() -> None:
            n = args.purchases
            racers = await booking.make_users(server, 4 * n, prefix="profile")
            # Round 0 warms the app's caches; round 1 is measured; then sampled, profiled.
            rounds: list[tuple[str, Callable[[str, Callable[[], Awaitable[None]]], Any]]] = [
                ("warm-up", plain),
                ("measured", plain),
                ("sampled", sampled),
                ("profiled", profiled),
            ]
            for i, (label, wrap) in enumerate(rounds):
                phases = {s: Phase(s) for s in sale.STEPS}
                # Each round buys seats no earlier round bought (showtimes alternate).
                group = racers[i * n : (i + 1) * n]
                first = i * seats_per_round(n)
                await run_phases(app, group, shows, seats[first:], data_dir, phases, wrap)
                if label == "measured":
                    print(f"\n== {n} purchases, one request at a time, in process ==")
                    report(phases, args.top)
                    await baseline(app, data_dir)
                    cpu_ms.update({s: 1000 * p.cpu / max(1, p.requests) for s, p in phases.items()})
            await app.db.dispose()

        asyncio.run(rounds())
        for name, sampler in samplers.items():
            report_samples(name, sampler, args.purchases, cpu_ms.get(name, 0.0), args.top)
        for name, prof in profiles.items():
            print(f"\n== cProfile (CPU time), {name} ({args.purchases} requests): own time ==")
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
            print(_trim(out.getvalue()))
    finally:
        server.stop()
    return 0


def _trim(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    root = str(ROOT) + os.sep
    return "\n".join(line.replace(root, "") for line in lines[start:] if line.strip())


if __name__ == "__main__":
    raise SystemExit(main())
