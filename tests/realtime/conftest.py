"""Fixtures of the realtime tests: a live server (lifespan, seat hub, sweeper) over
committed data, and helpers to call it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from db.session import Database
from graph.app import create_app
from graph.auth import create_access_token
from graph.relay import to_global_id
from graph.settings import Settings
from tests.realtime.harness import serve_in_process

HOLD = """
mutation ($input: HoldSeatsInput!) {
  holdSeats(input: $input) { hold { id expiresAt } errors { code seatIds } }
}
"""


class Live:
    def __init__(self, url: str, settings: Settings, app: Any) -> None:
        self.url = url
        self.settings = settings
        self.app = app

    @property
    def hub(self) -> Any:
        return self.app.state.marquee.services["seat_hub"]

    def token_for(self, user: Any) -> str:
        return create_access_token(user.id, user.role, self.settings)

    async def hold(self, token: str, showtime_id: int, seat_ids: list[int]) -> dict[str, Any]:
        return await hold_over_http(self.url, token, showtime_id, seat_ids)


async def hold_over_http(
    base_url: str, token: str, showtime_id: int, seat_ids: list[int]
) -> dict[str, Any]:
    variables = {
        "input": {
            "showtimeId": to_global_id("Showtime", showtime_id),
            "seatIds": [to_global_id("Seat", s) for s in seat_ids],
        }
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            json={"query": HOLD, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert not body.get("errors"), body
    payload: dict[str, Any] = body["data"]["holdSeats"]
    return payload


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sweeper_interval_seconds": 0.2, "hold_ttl_seconds": 600})


@pytest.fixture
async def live(committed_db: Database, live_settings: Settings) -> AsyncIterator[Live]:
    app = create_app(live_settings, database=committed_db)
    async with serve_in_process(app) as url:
        live = Live(url, live_settings, app)
        await live.hub.connected.wait()
        yield live
