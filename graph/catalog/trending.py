"""The trending refresher: recomputes every movie's popularity and trending score every
MARQUEE_TRENDING_INTERVAL_SECONDS (default 600; <= 0 turns it off in this process).

Every server process runs one; the refresh takes a PostgreSQL advisory lock inside its
transaction, so only one instance refreshes at a time, the others skip that round. The
first round runs one interval after start-up (the demo seed and the previous server have
left the scores at most one interval old).
"""

from __future__ import annotations

import logging
from typing import Any

from db.catalog.actions import refresh_popularity
from db.session import Database
from graph.periodic import Stop, start_periodic

log = logging.getLogger("marquee.trending")


async def refresh_once(db: Database) -> int | None:
    """One refresh in its own transaction: how many movies changed (None: skipped, another
    instance holds the lock)."""
    async with db.transaction() as session:
        changed = await refresh_popularity(session)
    if changed:
        log.info("popularity and trending refreshed: %d movies changed", changed)
    return changed


async def start_trending_refresher(state: Any) -> Stop:
    """Start-up hook (graph.app.STARTUP_HOOKS)."""
    return start_periodic(
        lambda: refresh_once(state.db),
        float(state.settings.trending_interval_seconds),
        name="trending-refresher",
        what="trending refresh",
        log=log,
        wait_first=True,
    )
