"""The hold sweeper: frees expired holds and expires unpaid orders every second or so, and
announces the freed seats.

Every server process runs one; a PostgreSQL advisory lock (taken inside each sweep's
transaction) lets only one of them sweep at a time, the others skip that round.
"""

from __future__ import annotations

import logging
from typing import Any

from db.booking.actions import sweep_expired_holds
from db.orders.actions import delete_old_idempotency_keys, expire_orders, sweep_due
from db.session import Database
from graph.periodic import Stop, start_periodic

log = logging.getLogger("marquee.sweeper")

BATCH = 1000


async def sweep_once(db: Database) -> int:
    """One sweep in one transaction; returns how many seats it freed. A round with nothing
    due opens no transaction (`sweep_due`)."""
    if not await sweep_due(db):
        return 0
    async with db.transaction() as session:
        freed = await sweep_expired_holds(session, limit=BATCH)
        # Orders whose hold time ran out unpaid: EXPIRED, their seats released (same lock).
        expired = await expire_orders(session, limit=BATCH)
        await delete_old_idempotency_keys(session)
    count = sum(len(seats) for seats in freed.values())
    if count:
        log.info("freed %d seats of expired holds in %d showtimes", count, len(freed))
    if expired:
        log.info("expired %d unpaid orders", len(expired))
    return count


async def start_sweeper(state: Any) -> Stop:
    """Start-up hook (graph.app.STARTUP_HOOKS); MARQUEE_SWEEPER_INTERVAL_SECONDS <= 0
    turns the sweeper off in this process."""
    return start_periodic(
        lambda: sweep_once(state.db),
        float(state.settings.sweeper_interval_seconds),
        name="hold-sweeper",
        what="hold sweep",
        log=log,
    )
