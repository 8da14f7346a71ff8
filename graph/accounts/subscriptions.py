"""A tiny subscription to check a WebSocket connection: who it is signed in as, and that
events flow (clients use it as a heartbeat)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Annotated

import strawberry

from graph.accounts.loaders import UserByIdLoader
from graph.accounts.types import ServerTick
from graph.context import Info
from graph.errors import bad_input

MAX_TICKS = 60


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The server's clock, `ticks` times (1 to 60), one event a second; the "
        "first event comes at once."
    )
    async def server_time(
        self,
        info: Info,
        ticks: Annotated[int, strawberry.argument(description="How many events (1 to 60).")] = 1,
    ) -> AsyncGenerator[ServerTick, None]:
        if not 1 <= ticks <= MAX_TICKS:  # said, not quietly clamped
            raise bad_input(f"`ticks` must be from 1 to {MAX_TICKS}.", field="ticks")
        ctx = info.context
        viewer = await ctx.viewer()
        user = await ctx.loader(UserByIdLoader).load(viewer.id) if viewer else None
        for n in range(1, ticks + 1):
            if n > 1:
                await asyncio.sleep(1)
            yield ServerTick(tick=n, time=datetime.now(UTC), viewer=user)
