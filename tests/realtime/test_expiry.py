"""Expiry seen live: the sweeper frees a short hold and subscribers hear of it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db.session import Database
from graph.relay import to_global_id
from graph.settings import Settings
from tests.factories import create_bookable_showtime, create_user
from tests.realtime.conftest import Live
from tests.realtime.harness import WsClient, seat_events


def gid(kind: str, pk: int) -> str:
    return to_global_id(kind, pk)


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    # A 1-second hold TTL, swept every 0.2 s.
    return settings.model_copy(update={"sweeper_interval_seconds": 0.2, "hold_ttl_seconds": 1})


async def test_sweeper_frees_expired_holds(live: Live, committed_db: Database) -> None:
    show = await create_bookable_showtime(committed_db)
    alice = await create_user(committed_db)
    async with WsClient.connect(live.url) as ws:
        op = await seat_events(ws, gid("Showtime", show.id))
        await ws.next(op)
        await live.hold(live.token_for(alice), show.id, show.seat_ids[:2])
        held = (await ws.next(op))["seatAvailability"]
        assert {x["status"] for x in held["seats"]} == {"HELD"}
        freed = (await ws.next(op, wait=5))["seatAvailability"]
        assert freed["sequence"] == held["sequence"] + 1
        assert {x["status"] for x in freed["seats"]} == {"AVAILABLE"}
        assert freed["availableSeatCount"] == len(show.seat_ids)
    rows = await committed_db.scalar(text("SELECT count(*) FROM seat_holds"))
    assert rows == 0
