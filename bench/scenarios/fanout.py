"""Fan-out: 1,000 WebSocket subscribers of one showtime's `seatAvailability`, split across two
server processes (two `marquee serve --workers 1` on other ports, on the bench server's
database, 500 subscribers each), then holds made through the first process, spaced out.
For each hold and subscriber: the delay from the hold's committed HTTP answer (and from the
request's start) to the subscriber receiving the event with the matching sequence.

The subscribers are raw graphql-transport-ws connections in this process (an asyncio
Protocol per socket on uvloop: the frame is timestamped as soon as its bytes arrive, and
parsed later), so the client's own work adds as little as possible to the delays. All use
the same query text, as a seat map would (the server executes each event once per query).
The client shares the two CPUs with both servers and PostgreSQL; its CPU share is reported.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import resource
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import orjson

from bench import booking
from bench.cpu import CpuMeter, _process_cpu
from bench.scenario import BenchError, Options, Result, Scenario
from bench.scenarios.holds import HOLD, HttpConnection
from bench.server import ROOT, _marquee_command, free_port
from db.booking.codes import SEAT_CHANNEL

if TYPE_CHECKING:
    from bench.server import Server

SUBSCRIBERS = 1000
PROCESSES = 2
HOLDS = 20
SPACING = 0.25  # seconds between one hold's last delivery and the next hold
DELIVERY_TIMEOUT = 10.0
CONNECT_BATCH = 100

SUBSCRIPTION = (
    "subscription Seats($id: ID!) { seatAvailability(showtimeId: $id) {"
    " sequence snapshot availableSeatCount seats { seatId status } } }"
)


def _frame(text: str) -> bytes:
    """A masked client text frame."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x81, 0x80 | n])
    elif n < 65536:
        head = bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x81, 0x80 | 127]) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def _control(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


class Subscriber(asyncio.Protocol):
    """One graphql-transport-ws connection. `data_received` only timestamps the bytes;
    `drain` parses them (frames, messages) afterwards."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.transport: Any = None  # asyncio's or uvloop's transport
        self.upgraded = False
        self.raw = bytearray()
        self.chunks: list[tuple[float, bytes]] = []
        self.acked = asyncio.get_running_loop().create_future()
        self.snapshot: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.events: dict[int, float] = {}  # sequence -> receive time
        self.order: list[int] = []
        self.problems: list[str] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
            ).encode()
        )

    def data_received(self, data: bytes) -> None:
        self.chunks.append((time.perf_counter(), data))
        if not self.upgraded or not self.snapshot.done():
            self.drain()  # set-up: parse at once

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for fut in (self.acked, self.snapshot):
            if not fut.done():
                fut.set_exception(BenchError(f"connection closed: {exc}"))

    def send(self, message: dict[str, Any]) -> None:
        assert self.transport is not None
        self.transport.write(_frame(orjson.dumps(message).decode()))

    def drain(self) -> None:
        """Parse what arrived: each frame gets the time its last bytes arrived."""
        chunks, self.chunks = self.chunks, []
        for at, data in chunks:
            self.raw += data
            if not self.upgraded:
                end = self.raw.find(b"\r\n\r\n")
                if end < 0:
                    continue
                head = bytes(self.raw[:end])
                del self.raw[: end + 4]
                if not head.startswith(b"HTTP/1.1 101"):
                    self.problems.append(f"no upgrade: {head[:200]!r}")
                    if not self.acked.done():
                        self.acked.set_exception(BenchError(f"no upgrade: {head[:200]!r}"))
                    return
                self.upgraded = True
                self.send({"type": "connection_init", "payload": {}})
            self._frames(at)

    def _frames(self, at: float) -> None:
        buf = self.raw
        while len(buf) >= 2:
            opcode, n, pos = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < pos + n:
                return
            payload = bytes(buf[pos : pos + n])
            del buf[: pos + n]
            if opcode == 0x1:
                self._message(orjson.loads(payload), at)
            elif opcode == 0x9 and self.transport is not None:  # ping
                self.transport.write(_control(0xA, payload))
            elif opcode == 0x8:
                self.problems.append(f"closed by the server: {payload[:100]!r}")

    def _message(self, msg: dict[str, Any], at: float) -> None:
        kind = msg.get("type")
        if kind == "connection_ack":
            if not self.acked.done():
                self.acked.set_result(None)
        elif kind == "ping":
            self.send({"type": "pong"})
        elif kind == "next":
            payload = msg["payload"]
            if payload.get("errors"):
                self.problems.append(f"errors: {payload['errors']}")
                if not self.snapshot.done():
                    self.snapshot.set_exception(BenchError(f"errors: {payload['errors']}"))
                return
            event = payload["data"]["seatAvailability"]
            if event["snapshot"]:
                if not self.snapshot.done():
                    self.snapshot.set_result(int(event["sequence"]))
                else:
                    self.problems.append(f"unexpected snapshot at {event['sequence']}")
                return
            self.events[int(event["sequence"])] = at
            self.order.append(int(event["sequence"]))
        elif kind in ("error", "complete"):
            self.problems.append(f"{kind}: {msg.get('payload')}")
            if not self.snapshot.done():
                self.snapshot.set_exception(BenchError(f"{kind}: {msg.get('payload')}"))

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()


@dataclass
class Instance:
    """One extra `marquee serve` process on the bench server's database."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start_instances(server: Server, n: int) -> list[Instance]:
    if server.data_dir is None:
        raise BenchError("fanout needs the bench server's database (not available with --url)")
    env = dict(os.environ)
    env["DATABASE_URL"] = booking.dsn(server)
    env["MARQUEE_JWT_SECRET"] = booking.jwt_secret(server)
    env["MARQUEE_DATA_DIR"] = str(server.data_dir)
    env.setdefault("MARQUEE_ENV", "development")
    # Small pools: with the bench server's own pools (two workers), PostgreSQL's default
    # of 100 connections would otherwise run out while 500 subscribers arrive at once.
    env["MARQUEE_DB_POOL_SIZE"] = "5"
    env["MARQUEE_DB_MAX_OVERFLOW"] = "5"
    # Every subscriber comes from 127.0.0.1: the per-address cap (200 by default, issue 8)
    # refused the 201st upgrade with a 403, and the scenario failed.
    env["MARQUEE_MAX_WS_CONNECTIONS_PER_ADDRESS"] = str(SUBSCRIBERS)
    instances = []
    try:
        for i in range(n):
            port = free_port()
            log = server.data_dir / f"fanout-{i}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [
                        *_marquee_command(),
                        "serve",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--workers",
                        "1",
                        "--log-level",
                        "warning",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            instances.append(Instance(port, proc, log))
        deadline = time.monotonic() + 120
        for inst in instances:
            while True:
                if inst.process.poll() is not None:
                    raise BenchError(f"a fan-out server exited; see {inst.log}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(inst.url + "/readyz", timeout=2.0).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise BenchError(f"a fan-out server was not ready; see {inst.log}")
                time.sleep(0.2)
    except BaseException:
        _stop_instances(instances)
        raise
    return instances


def _stop_instances(instances: list[Instance]) -> None:
    for inst in instances:
        if inst.process.poll() is None:
            inst.process.send_signal(signal.SIGINT)
    for inst in instances:
        try:
            inst.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(inst.process.pid, signal.SIGKILL)
            inst.process.wait()


@dataclass
class Measured:
    from_commit_ms: list[float] = field(default_factory=list)
    hold_ms: list[float] = field(default_factory=list)
    from_answer_ms: list[float] = field(default_factory=list)
    from_request_ms: list[float] = field(default_factory=list)
    per_hold_p99_ms: list[float] = field(default_factory=list)
    missing: int = 0
    problems: list[str] = field(default_factory=list)
    client_cpu_s: float = 0.0
    seconds: float = 0.0
    subscribers_per_instance: list[int] = field(default_factory=list)


async def _fan_out(
    instances: list[Instance], showtime: str, seats: list[str], token: str, dsn: str
) -> Measured:
    loop = asyncio.get_running_loop()
    out = Measured()
    subscribers: list[Subscriber] = []
    # The commit as seen from outside the servers: this process LISTENs on the channel
    # itself and notes when each sequence's NOTIFY arrives (delivered at commit).
    committed: dict[int, float] = {}

    def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
        at = time.perf_counter()
        committed.setdefault(int(orjson.loads(payload)["q"]), at)

    listener = await asyncpg.connect(dsn)
    await listener.add_listener(SEAT_CHANNEL, heard)
    try:
        for batch_start in range(0, SUBSCRIBERS, CONNECT_BATCH):

            async def connect(i: int) -> Subscriber:
                inst = instances[i % len(instances)]
                _, sub = await loop.create_connection(
                    lambda: Subscriber("127.0.0.1", inst.port), "127.0.0.1", inst.port
                )
                await asyncio.wait_for(sub.acked, 30)
                sub.send(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": SUBSCRIPTION, "variables": {"id": showtime}},
                    }
                )
                return sub

            batch = range(batch_start, min(SUBSCRIBERS, batch_start + CONNECT_BATCH))
            subscribers += await asyncio.gather(*(connect(i) for i in batch))
        snapshots = await asyncio.wait_for(asyncio.gather(*(s.snapshot for s in subscribers)), 120)
        if len(set(snapshots)) != 1:
            raise BenchError(f"subscribers saw different snapshots: {sorted(set(snapshots))}")
        out.subscribers_per_instance = [
            sum(1 for s in subscribers if s.port == inst.port) for inst in instances
        ]
        base = snapshots[0]
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{instances[0].port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n"
        ).encode()
        http = await HttpConnection.open(instances[0].url)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = usage.ru_utime + usage.ru_stime
        started = time.monotonic()
        try:
            for i in range(HOLDS):
                await asyncio.sleep(SPACING)
                body = orjson.dumps(
                    {
                        "query": HOLD,
                        "variables": {"i": {"showtimeId": showtime, "seatIds": [seats[i]]}},
                    }
                )
                t_request = time.perf_counter()
                status, answer = await http.post(head, body)
                t_answer = time.perf_counter()
                doc = orjson.loads(answer)
                if (
                    status != 200
                    or (doc.get("data") or {}).get("holdSeats", {}).get("hold") is None
                ):
                    raise BenchError(f"hold {i} failed: {status} {answer[:300]!r}")
                want = base + i + 1
                deadline = time.monotonic() + DELIVERY_TIMEOUT
                while True:
                    await asyncio.sleep(0.02)
                    for s in subscribers:
                        s.drain()
                    if all(want in s.events for s in subscribers):
                        break
                    if time.monotonic() > deadline:
                        break
                t_commit = committed.get(want)
                if t_commit is None:
                    raise BenchError(f"the bench's own LISTEN did not hear sequence {want}")
                out.hold_ms.append((t_answer - t_request) * 1000)
                delays = []
                for s in subscribers:
                    at = s.events.get(want)
                    if at is None:
                        out.missing += 1
                        continue
                    delays.append((at - t_commit) * 1000)
                    out.from_answer_ms.append((at - t_answer) * 1000)
                    out.from_request_ms.append((at - t_request) * 1000)
                out.from_commit_ms += delays
                out.per_hold_p99_ms.append(booking.percentile(delays, 99))
        finally:
            http.close()
        out.seconds = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
        out.client_cpu_s = usage.ru_utime + usage.ru_stime - cpu_before
        for s in subscribers:
            s.drain()
            expected = list(range(base + 1, base + HOLDS + 1))
            if s.order != expected:
                out.problems.append(f"events {s.order[:5]}... instead of {expected[:5]}...")
            out.problems += s.problems
    finally:
        for s in subscribers:
            s.close()
        await listener.close()
        await asyncio.sleep(0.1)
    return out


def _run(server: Server, opts: Options) -> Result:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SUBSCRIBERS * 2 + 1024  # our sockets, and the servers' (inherited limit)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    hall = booking.create_hall(server)
    [showtime_pk] = booking.create_showtimes(server, hall, 1)
    showtime = booking.showtime_gid(showtime_pk)
    seats = [booking.seat_gid(s) for s in hall.seat_rows[0] + hall.seat_rows[1]][:HOLDS]
    [holder] = asyncio.run(booking.make_users(server, 1, prefix="fanout"))
    instances = _start_instances(server, PROCESSES)
    try:
        from bench.run import cpu_meter

        meter = cpu_meter(server)
        ours_before = meter.snapshot()
        extra_before = sum(_process_cpu(i.process.pid) for i in instances)
        args = (instances, showtime, seats, holder.token, booking.dsn(server))
        try:
            import uvloop

            measured = uvloop.run(_fan_out(*args))
        except ImportError:  # pragma: no cover
            measured = asyncio.run(_fan_out(*args))
        ours_after = meter.snapshot()
        extra = sum(_process_cpu(i.process.pid) for i in instances) - extra_before
    finally:
        _stop_instances(instances)
    capacity = measured.seconds * (os.cpu_count() or 1)
    client_share = measured.client_cpu_s / capacity if capacity else 0.0
    others = max(
        0.0,
        CpuMeter.others_share(ours_before, ours_after, measured.seconds)
        - client_share
        - (extra / capacity if capacity else 0.0),
    )
    if measured.problems:
        raise BenchError(
            f"{len(measured.problems)} subscriber problems, e.g. {measured.problems[:3]}"
        )
    commit = measured.from_commit_ms
    answer = measured.from_answer_ms
    request = measured.from_request_ms
    split = "+".join(map(str, measured.subscribers_per_instance))

    def p(values: list[float], q: float) -> str:
        return f"{booking.percentile(values, q):.1f}"

    print(
        f"  fanout: {SUBSCRIBERS} subscribers ({split} on {PROCESSES} processes), {HOLDS} holds"
        f" through the first, {len(commit)} deliveries, {measured.missing} missing."
        f" Delay from the commit (NOTIFY heard by the bench): p50 {p(commit, 50)} ms,"
        f" p99 {p(commit, 99)} ms, max {max(commit, default=0.0):.1f} ms;"
        f" from the hold's HTTP answer: p50 {p(answer, 50)}, p99 {p(answer, 99)};"
        f" from the hold request's start: p50 {p(request, 50)}, p99 {p(request, 99)}."
        f" The hold itself took p50 {p(measured.hold_ms, 50)} ms, max"
        f" {max(measured.hold_ms, default=0.0):.1f} ms. Client CPU {100 * client_share:.0f}%,"
        f" the two servers {100 * extra / capacity if capacity else 0.0:.0f}% of the machine",
        flush=True,
    )
    if measured.missing:
        raise BenchError(f"{measured.missing} deliveries missing after {DELIVERY_TIMEOUT:.0f} s")
    return Result(
        scenario="fanout",
        connections=SUBSCRIBERS,
        requests=len(answer),
        seconds=measured.seconds,
        rps=len(answer) / measured.seconds if measured.seconds else 0.0,
        p50_ms=booking.percentile(commit, 50),
        p99_ms=booking.percentile(commit, 99),
        statements_per_request=None,
        extra={
            "from_answer_p50_ms": booking.percentile(answer, 50),
            "from_answer_p99_ms": booking.percentile(answer, 99),
            "hold_p50_ms": booking.percentile(measured.hold_ms, 50),
            "from_request_p50_ms": booking.percentile(request, 50),
            "from_request_p99_ms": booking.percentile(request, 99),
            "max_ms": max(commit, default=0.0),
            "per_hold_p99_ms": measured.per_hold_p99_ms,
            "others_cpu": others,
            "client_cpu": client_share,
            "fanout_servers_cpu": extra / capacity if capacity else 0.0,
            "subscribers_per_process": measured.subscribers_per_instance,
            "holds": HOLDS,
        },
    )


SCENARIO = Scenario(
    name="fanout",
    description=f"{SUBSCRIBERS} seatAvailability subscribers on {PROCESSES} processes;"
    " delay from a hold to each event",
    run=_run,
)
