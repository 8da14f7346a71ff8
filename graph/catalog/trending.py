"""The trending refresher: recomputes every movie's popularity and trending score every
MARQUEE_TRENDING_INTERVAL_SECONDS (default 600; <= 0 turns it off in this process).

Every server process runs one; the refresh takes a PostgreSQL advisory lock inside its
transaction, so only one instance refreshes at a time, the others skip that round. The
first round runs one interval after start-up (the demo seed and the previous server have
left the scores at most one interval old).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from db.catalog.actions import refresh_popularity
from db.session import Database

log = logging.getLogger("marquee.trending")


async def refresh_once(db: Database) -> int | None:
    """One refresh in its own transaction: how many movies changed (None: skipped, another
    instance holds the lock)."""
    async with db.transaction() as session:
        changed = await refresh_popularity(session)
    if changed:
        log.info("popularity and trending refreshed: %d movies changed", changed)
    return changed


async def run_refresher(db: Database, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await refresh_once(db)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be restarting: try again next round
            log.warning("trending refresh failed: %s", exc)


async def start_trending_refresher(state: Any) -> Callable[[], Awaitable[None]]:
    """Start-up hook (graph.app.STARTUP_HOOKS)."""
    interval = float(state.settings.trending_interval_seconds)
    task = (
        asyncio.create_task(run_refresher(state.db, interval), name="trending-refresher")
        if interval > 0
        else None
    )

    async def stop() -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return stop
