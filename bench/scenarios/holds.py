"""Hold contention: 64 connections, each a different signed-in user, race for the seats of one
300-seat showtime (`holds`), or of 50 showtimes of that hall (`holds_spread`). Each request
holds 1-4 adjacent random seats; a user's new hold on a showtime replaces their previous one
there, so seats keep being released and taken again for the whole run.

The load comes from an asyncio client in this process (uvloop, one keep-alive HTTP/1.1
connection per user, a few lines of HTTP instead of an HTTP library), not from wrk: wrk's Lua
cannot give each connection its own user, nor tell which request an answer belongs to, and
the double-booking check needs both. The client shares the two CPUs with the server; its own
CPU share is reported (`client`) and not counted in `others`.

After the run, the database is checked against the answers (zero double bookings):
- no (showtime, seat) has two rows in seat_occupancy;
- the rows of seat_occupancy (showtime, seat, holder) are exactly the seats of each user's
  last successful answer per showtime;
- each showtime's seat_sequence equals the number of successful answers that changed its
  seats (a hold listing the seats the user already has only renews the expiry);
- every failure is SEAT_UNAVAILABLE naming some of the seats it asked for.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from bench import booking
from bench.scenario import BenchError, Options, Result, Scenario

if TYPE_CHECKING:
    from bench.server import Server

CONNECTIONS = 64
SPREAD_SHOWTIMES = 50
MAX_ADJACENT = 4

HOLD = (
    "mutation Hold($i: HoldSeatsInput!) {"
    " holdSeats(input: $i) { hold { id expiresAt } errors { code seatIds } } }"
)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads `Content-Length` answers."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> HttpConnection:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer)

    async def post(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        self.writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = -1
        for line in raw.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
                break
        if length < 0:
            raise BenchError(f"answer without Content-Length: {raw!r}")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


@dataclass
class Race:
    """Shared by the warm-up and the measured run: what every answer said."""

    url: str
    racers: list[booking.Racer]
    showtimes: list[int]
    seat_rows: list[list[int]]
    rng: random.Random = field(default_factory=lambda: random.Random(20261122))
    # (user, showtime) -> the seats of the user's last successful hold there
    held: dict[tuple[int, int], frozenset[int]] = field(default_factory=dict)
    changes: Counter[int] = field(default_factory=Counter)  # showtime -> seat changes
    answers: int = 0
    won: int = 0
    lost: int = 0
    bad: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    measuring: bool = False

    def pick(self) -> tuple[int, list[int]]:
        show = self.showtimes[0] if len(self.showtimes) == 1 else self.rng.choice(self.showtimes)
        row = self.rng.choice(self.seat_rows)
        k = self.rng.randint(1, MAX_ADJACENT)
        start = self.rng.randrange(len(row) - k + 1)
        return show, row[start : start + k]

    def judge(self, user: int, show: int, seats: list[int], status: int, body: bytes) -> None:
        self.answers += 1
        if status != 200:
            self.bad.append(f"HTTP {status}: {body[:300]!r}")
            return
        doc = orjson.loads(body)
        payload = (doc.get("data") or {}).get("holdSeats")
        if doc.get("errors") or payload is None:
            self.bad.append(f"errors: {doc.get('errors')}")
            return
        if payload["hold"] is not None:
            self.won += 1
            new = frozenset(seats)
            if self.held.get((user, show)) != new:
                self.changes[show] += 1
            self.held[(user, show)] = new
            return
        self.lost += 1
        errors = payload["errors"]
        wanted = {booking.seat_gid(s) for s in seats}
        if (
            len(errors) != 1
            or errors[0]["code"] != "SEAT_UNAVAILABLE"
            or not errors[0]["seatIds"]
            or not set(errors[0]["seatIds"]) <= wanted
        ):
            self.bad.append(f"unexpected failure for {sorted(wanted)}: {errors}")

    async def racer(self, racer: booking.Racer, until: float) -> None:
        parts = urlsplit(self.url)
        head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {racer.token}\r\n"
        ).encode()
        conn = await HttpConnection.open(self.url)
        try:
            while time.monotonic() < until:
                show, seats = self.pick()
                body = orjson.dumps(
                    {
                        "query": HOLD,
                        "variables": {
                            "i": {
                                "showtimeId": booking.showtime_gid(show),
                                "seatIds": [booking.seat_gid(s) for s in seats],
                            }
                        },
                    }
                )
                started = time.perf_counter()
                status, answer = await conn.post(head, body)
                if self.measuring:
                    self.latencies.append(time.perf_counter() - started)
                self.judge(racer.user_id, show, seats, status, answer)
        finally:
            conn.close()

    def load(self, seconds: float) -> tuple[int, float]:
        """Race for `seconds`; returns (answers, elapsed seconds)."""

        async def main() -> tuple[int, float]:
            before = self.answers
            started = time.monotonic()
            until = started + seconds
            await asyncio.gather(*(self.racer(r, until) for r in self.racers))
            return self.answers - before, time.monotonic() - started

        try:
            import uvloop

            return uvloop.run(main())
        except ImportError:  # pragma: no cover
            return asyncio.run(main())


async def _check_database(server: Server, race: Race) -> dict[str, Any]:
    """Zero double bookings: the database agrees with the answers."""
    conn = await booking.connect(server)
    try:
        doubles = await conn.fetch(
            "SELECT showtime_id, seat_id, count(*) AS n FROM seat_occupancy"
            " WHERE showtime_id = ANY($1::bigint[]) GROUP BY 1, 2 HAVING count(*) > 1",
            race.showtimes,
        )
        rows = await conn.fetch(
            "SELECT o.showtime_id, o.seat_id, h.user_id FROM seat_occupancy o"
            " JOIN seat_holds h ON h.id = o.hold_id"
            " WHERE o.showtime_id = ANY($1::bigint[]) AND o.status = 'HELD'",
            race.showtimes,
        )
        orphans = await conn.fetchval(
            "SELECT count(*) FROM seat_occupancy WHERE showtime_id = ANY($1::bigint[])"
            " AND (hold_id IS NULL OR status <> 'HELD')",
            race.showtimes,
        )
        holds = await conn.fetchval(
            "SELECT count(*) FROM seat_holds WHERE showtime_id = ANY($1::bigint[])",
            race.showtimes,
        )
        sequences = {
            int(r["id"]): int(r["seat_sequence"])
            for r in await conn.fetch(
                "SELECT id, seat_sequence FROM showtimes WHERE id = ANY($1::bigint[])",
                race.showtimes,
            )
        }
    finally:
        await conn.close()
    problems = []
    if doubles:
        problems.append(f"{len(doubles)} seats occupied twice: {[dict(r) for r in doubles[:5]]}")
    actual = Counter((int(r["showtime_id"]), int(r["seat_id"]), int(r["user_id"])) for r in rows)
    expected = Counter(
        (show, seat, user) for (user, show), seats in race.held.items() for seat in seats
    )
    if actual != expected:
        extra = sorted((actual - expected).elements())[:5]
        missing = sorted((expected - actual).elements())[:5]
        problems.append(
            f"seat_occupancy disagrees with the answers: {sum((actual - expected).values())}"
            f" rows nobody won (e.g. {extra}), {sum((expected - actual).values())} seats won"
            f" but not there (e.g. {missing})"
        )
    if orphans:
        problems.append(f"{orphans} occupancy rows without a hold")
    if holds != len(race.held):
        problems.append(f"{holds} holds in the database, {len(race.held)} users won seats")
    wrong = {
        s: (sequences.get(s), race.changes[s])
        for s in race.showtimes
        if sequences.get(s) != race.changes[s]
    }
    if wrong:
        problems.append(f"seat_sequence != successful changes (showtime: (db, answers)): {wrong}")
    if race.bad:
        problems.append(f"{len(race.bad)} bad answers, e.g. {race.bad[:3]}")
    if problems:
        raise BenchError("double-booking check failed: " + "; ".join(problems))
    return {
        "occupied_seats": len(rows),
        "holds": holds,
        "sequence_total": sum(sequences.values()),
    }


def _run(server: Server, opts: Options, *, spread: bool) -> Result:
    from bench.cpu import CpuMeter
    from bench.run import BACKGROUND_WINDOW, cpu_meter, statements, statements_per_request

    name = "holds_spread" if spread else "holds"
    hall = booking.create_hall(server)
    showtimes = booking.create_showtimes(server, hall, SPREAD_SHOWTIMES if spread else 1)
    racers = asyncio.run(booking.make_users(server, CONNECTIONS))
    race = Race(server.graphql_url, racers, showtimes, hall.seat_rows)

    if opts.warmup > 0:
        race.load(opts.warmup)
    idle = server.settled_counters()
    idle_at = time.monotonic()
    time.sleep(BACKGROUND_WINDOW)
    before = server.settled_counters()
    before_at = time.monotonic()
    background_rate = statements(idle, before) / (before_at - idle_at)
    meter = cpu_meter(server)
    cpu_before = meter.snapshot()
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    race.measuring = True
    won_before, lost_before = race.won, race.lost
    answers, seconds = race.load(opts.duration)
    race.measuring = False
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (self_after.ru_utime + self_after.ru_stime) - (
        self_before.ru_utime + self_before.ru_stime
    )
    capacity = seconds * (os.cpu_count() or 1)
    client_share = client_cpu / capacity
    cpu_after = meter.snapshot()
    others = max(0.0, CpuMeter.others_share(cpu_before, cpu_after, seconds) - client_share)
    server_cpu = sum(cpu - cpu_before.ours.get(pid, 0.0) for pid, cpu in cpu_after.ours.items())
    after = server.settled_counters()
    background = background_rate * (time.monotonic() - before_at)
    checked = asyncio.run(_check_database(server, race))
    won = race.won - won_before
    lost = race.lost - lost_before
    lat_ms = [x * 1000 for x in race.latencies]
    print(
        f"  {name}: {answers} holdSeats in {seconds:.1f} s over {len(showtimes)} showtime(s):"
        f" {won} held, {lost} SEAT_UNAVAILABLE ({100 * lost / max(1, answers):.0f}%);"
        f" server + PostgreSQL CPU {1000 * server_cpu / max(1, answers):.1f} ms per request,"
        f" client CPU {100 * client_share:.0f}% of the machine; database check passed"
        f" ({checked['occupied_seats']} seats held by {checked['holds']} holds,"
        f" sequence total {checked['sequence_total']})",
        flush=True,
    )
    return Result(
        scenario=name,
        connections=CONNECTIONS,
        requests=answers,
        seconds=seconds,
        rps=answers / seconds if seconds else 0.0,
        p50_ms=booking.percentile(lat_ms, 50),
        p99_ms=booking.percentile(lat_ms, 99),
        statements_per_request=statements_per_request(before, after, background=background),
        non_2xx=0,
        socket_errors=0,
        extra={
            "p90_ms": booking.percentile(lat_ms, 90),
            "max_ms": max(lat_ms, default=0.0),
            "others_cpu": others,
            "client_cpu": client_share,
            "server_cpu_ms_per_request": 1000 * server_cpu / max(1, answers),
            "held": won,
            "seat_unavailable": lost,
            "showtimes": len(showtimes),
            "background_statements_per_s": background_rate,
            **checked,
        },
    )


def _run_one(server: Server, opts: Options) -> Result:
    return _run(server, opts, spread=False)


def _run_spread(server: Server, opts: Options) -> Result:
    return _run(server, opts, spread=True)


SCENARIO = Scenario(
    name="holds",
    description="64 users race holdSeats (1-4 adjacent seats) on one 300-seat showtime",
    connections=CONNECTIONS,
    run=_run_one,
)
SPREAD_SCENARIO = Scenario(
    name="holds_spread",
    description=f"the same race over {SPREAD_SHOWTIMES} showtimes of a 300-seat hall",
    connections=CONNECTIONS,
    run=_run_spread,
)
