"""The faults, each injected once at a random moment, one after another (they never overlap,
so each recovery is its own), and how long the cluster took to recover from each: the time
from the injection to the first success that shows the faulty part works again."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx

from bench.soak.cluster import Cluster, Instance, Relay
from bench.soak.flows import SEAT_STATUSES, World
from db.payments import webhooks

NAMES = (
    "kill9_worker",
    "sigterm_instance",
    "pg_restart",
    "listen_drop",
    "smtp_down",
    "webhook_disorder",
)


@dataclass
class Fault:
    name: str
    started: float  # wall clock
    ended: float = 0.0  # the fault itself is over (server back, SMTP up, ...)
    recovered: float = 0.0  # first success after it
    detail: str = ""

    @property
    def recovery_seconds(self) -> float | None:
        return self.recovered - self.started if self.recovered else None


async def _first_success(check: Callable[[], Awaitable[bool]], limit: float) -> float:
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if await check():
                return time.time()
        except Exception:
            pass
        await asyncio.sleep(0.1)
    return 0.0


async def _answers(http: httpx.AsyncClient, inst: Instance, world: World) -> bool:
    """A read that needs the database, on this instance."""
    r = await http.post(
        inst.url + "/graphql",
        json={"query": SEAT_STATUSES, "variables": {"id": world.showtimes[0]}},
    )
    return r.status_code == 200 and not r.json().get("errors")


class Injector:
    def __init__(self, cluster: Cluster, world: World, rng: random.Random, short: bool) -> None:
        self.cluster = cluster
        self.world = world
        self.rng = rng
        self.short = short
        self.done: list[Fault] = []
        self.http = httpx.AsyncClient(timeout=5.0)

    async def run(self, names: list[str], start: float, end: float) -> None:
        """Each fault once, in a random order, at random moments between `start` and `end`
        (wall clock), one after another."""
        order = list(names)
        self.rng.shuffle(order)
        slots = sorted(self.rng.uniform(start, end) for _ in order)
        try:
            for name, at in zip(order, slots, strict=True):
                delay = at - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                fault = await getattr(self, name)()
                self.done.append(fault)
        finally:
            await self.http.aclose()

    def _instance(self) -> Instance:
        alive = [i for i in self.cluster.instances if i.alive()]
        return self.rng.choice(alive)

    async def kill9_worker(self) -> Fault:
        inst = self._instance()
        pids = inst.worker_pids()
        pid = self.rng.choice(pids)
        fault = Fault("kill9_worker", time.time(), detail=f"instance {inst.name}, worker {pid}")
        os.kill(pid, signal.SIGKILL)
        fault.ended = time.time()

        async def replaced() -> bool:
            pids_now = inst.worker_pids()
            return (
                len(pids_now) == self.cluster.workers
                and pid not in pids_now
                and await _answers(self.http, inst, self.world)
            )

        fault.recovered = await _first_success(replaced, 120)
        return fault

    async def sigterm_instance(self) -> Fault:
        inst = self._instance()
        fault = Fault("sigterm_instance", time.time(), detail=f"instance {inst.name}")
        inst.terminate()
        code = await asyncio.to_thread(inst.wait_exit, 30)
        fault.detail += f", exited {code} after {time.time() - fault.started:.1f} s"
        if code is None:
            inst.kill_group()
        await asyncio.sleep(self.rng.uniform(1, 3))
        await self.cluster.restart_instance(inst)
        fault.ended = time.time()
        fault.recovered = await _first_success(lambda: _answers(self.http, inst, self.world), 60)
        return fault

    async def pg_restart(self) -> Fault:
        pg = self.cluster.pg
        assert pg is not None
        fault = Fault("pg_restart", time.time())
        await asyncio.to_thread(pg.stop)  # fast shutdown (immediate only if fast hangs)
        down = self.rng.uniform(2, 5)
        await asyncio.sleep(down)
        await asyncio.to_thread(pg.start)
        fault.ended = time.time()
        fault.detail = f"down {fault.ended - fault.started:.1f} s"

        async def both() -> bool:
            for inst in self.cluster.instances:
                if not await _answers(self.http, inst, self.world):
                    return False
            return True

        fault.recovered = await _first_success(both, 120)
        return fault

    async def _listeners(self) -> list[int]:
        conn = await asyncpg.connect(self.cluster.dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = 'marquee'"
                " AND application_name = 'marquee-listen'"
            )
        finally:
            await conn.close()
        return [int(r["pid"]) for r in rows]

    async def listen_drop(self) -> Fault:
        before = await self._listeners()
        conn = await asyncpg.connect(self.cluster.dsn)
        fault = Fault("listen_drop", time.time())
        try:
            # Only this soak's own database and only the app's LISTEN connections.
            killed = await conn.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = 'marquee' AND application_name = 'marquee-listen'"
            )
        finally:
            await conn.close()
        fault.ended = time.time()
        fault.detail = f"terminated {killed} of {len(before)} LISTEN connections"

        async def back() -> bool:
            now = await self._listeners()
            return len(now) >= len(before) and not set(now) & set(before)

        fault.recovered = await _first_success(back, 120)
        return fault

    async def smtp_down(self) -> Fault:
        smtp = self.cluster.smtp
        assert smtp is not None
        seconds = 10.0 if self.short else 60.0
        fault = Fault("smtp_down", time.time(), detail=f"down {seconds:.0f} s")
        smtp.stop()
        await asyncio.sleep(seconds)
        smtp.start()
        fault.ended = time.time()
        seen = len(smtp.recorder.accepted_at)

        async def delivered() -> bool:
            return len(smtp.recorder.accepted_at) > seen

        fault.recovered = await _first_success(delivered, 240)
        return fault

    async def webhook_disorder(self) -> Fault:
        relay = self.cluster.relay
        assert relay is not None
        seconds = 8.0 if self.short else 30.0
        fault = Fault("webhook_disorder", time.time())
        relay.disorder = True
        await asyncio.sleep(seconds)
        relay.disorder = False
        await asyncio.sleep(self.rng.uniform(1, 4))  # late
        held = len(relay.held)
        ok = await relay.release_held()
        replayed = await self._replay_settled(relay)
        fault.ended = fault.recovered = time.time()
        fault.detail = (
            f"{held} webhooks held {seconds:.0f} s, then posted twice newest first ({ok} 2xx);"
            f" {replayed} settled charges' events re-posted late"
        )
        return fault

    async def _replay_settled(self, relay: Relay) -> int:
        """A gateway's late retry: the events of a few charges settled long ago, signed with
        the secret the cluster configured, posted again, oldest last (out of order)."""
        conn = await asyncpg.connect(self.cluster.dsn)
        try:
            rows = await conn.fetch(
                "SELECT id, reference, amount, currency FROM sandbox_charges"
                " WHERE token = 'tok_async' AND webhook_due_at IS NULL ORDER BY created_at LIMIT 5"
            )
        finally:
            await conn.close()
        for row in reversed(rows):
            event = {
                "id": f"evt_{row['id']}_succeeded",
                "type": "charge.succeeded",
                "data": {
                    "object": {
                        "id": row["id"],
                        "reference": row["reference"],
                        "amount": str(row["amount"]),
                        "currency": row["currency"],
                        "status": "succeeded",
                    }
                },
            }
            body = json.dumps(event, separators=(",", ":")).encode()
            headers = {
                webhooks.HEADER: webhooks.sign(body, self.cluster.webhook_secret, int(time.time())),
                "Content-Type": "application/json",
            }
            await relay.post(body, headers)
        return len(rows)
