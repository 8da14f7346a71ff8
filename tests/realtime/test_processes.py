"""Realtime across server processes, and across a PostgreSQL restart (slow)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from db.embedded import EmbeddedPostgres
from db.session import Database, create_engine
from graph.auth import create_access_token
from graph.cli import run_migrations
from graph.relay import to_global_id
from graph.settings import Settings
from tests.factories import create_bookable_showtime, create_user
from tests.realtime.conftest import hold_over_http
from tests.realtime.harness import ROOT, ServerProcess, WsClient, seat_events

pytestmark = pytest.mark.slow


@pytest.fixture
def servers(database_url: str, settings: Settings) -> Iterator[list[ServerProcess]]:
    assert settings.jwt_secret
    procs = [ServerProcess(database_url, settings.jwt_secret) for _ in range(2)]
    try:
        for p in procs:
            p.start()
        yield procs
    finally:
        for p in procs:
            p.stop()


async def test_hold_on_a_reaches_subscriber_on_b(
    servers: list[ServerProcess], committed_db: Database, settings: Settings
) -> None:
    a, b = servers
    show = await create_bookable_showtime(committed_db)
    user = await create_user(committed_db)
    token = create_access_token(user.id, user.role, settings)
    async with WsClient.connect(b.url) as ws_b, WsClient.connect(a.url) as ws_a:
        op_b = await seat_events(ws_b, to_global_id("Showtime", show.id))
        op_a = await seat_events(ws_a, to_global_id("Showtime", show.id))
        snap = (await ws_b.next(op_b))["seatAvailability"]
        await ws_a.next(op_a)
        payload = await hold_over_http(a.url, token, show.id, show.seat_ids[:3])
        assert payload["errors"] == []
        for ws, op in ((ws_b, op_b), (ws_a, op_a)):
            delta = (await ws.next(op))["seatAvailability"]
            assert delta["sequence"] == snap["sequence"] + 1
            assert delta["snapshot"] is False
            assert [x["status"] for x in delta["seats"]] == ["HELD"] * 3


@pytest.fixture
def own_postgres() -> Iterator[object]:
    """A PostgreSQL of this test's own (it is restarted), in a temporary directory."""
    # Under the project's data directory rather than /tmp: when the tests run as root the
    # server runs as an unprivileged user, which must be able to reach the directory.
    base = ROOT / ".marquee"
    base.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="restart-", dir=base))
    tmp.chmod(0o755)
    pg = EmbeddedPostgres(tmp / "pg")
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def test_subscriber_gets_fresh_snapshot_after_postgres_restart(
    own_postgres: object, settings: Settings
) -> None:
    pg = own_postgres
    assert isinstance(pg, EmbeddedPostgres)
    pg.ensure_database("marquee")
    url = pg.url("marquee")
    await asyncio.to_thread(run_migrations, url)
    db = Database(create_engine(url, pool_size=2))
    assert settings.jwt_secret
    server = ServerProcess(url, settings.jwt_secret)
    try:
        show = await create_bookable_showtime(db)
        user = await create_user(db)
        token = create_access_token(user.id, user.role, settings)
        await asyncio.to_thread(server.start)
        async with WsClient.connect(server.url) as ws:
            op = await seat_events(ws, to_global_id("Showtime", show.id))
            first = (await ws.next(op))["seatAvailability"]
            assert first["snapshot"] is True
            await hold_over_http(server.url, token, show.id, [show.seat_ids[0]])
            assert (await ws.next(op))["seatAvailability"]["sequence"] == first["sequence"] + 1

            await asyncio.to_thread(pg.restart)

            fresh = (await ws.next(op, wait=30))["seatAvailability"]
            assert fresh["snapshot"] is True
            assert fresh["sequence"] == first["sequence"] + 1
            held = [x for x in fresh["seats"] if x["status"] == "HELD"]
            assert held == [{"seatId": to_global_id("Seat", show.seat_ids[0]), "status": "HELD"}]

            # Holds work again, and their events flow through the new LISTEN connection.
            payload = await hold_over_http(server.url, token, show.id, show.seat_ids[:2])
            assert payload["errors"] == []
            delta = (await ws.next(op, wait=10))["seatAvailability"]
            assert delta["sequence"] == fresh["sequence"] + 1
            assert delta["seats"] == [
                {"seatId": to_global_id("Seat", show.seat_ids[1]), "status": "HELD"}
            ]
    finally:
        await asyncio.to_thread(server.stop)
        await db.dispose()
