"""The sales roll-up: every MARQUEE_SALES_ROLLUP_INTERVAL_SECONDS (default 60; <= 0 turns
it off in this process) the days that are over are summed into the rollup the sales reports
read (db/reports/models.py, docs/shop.md "The rollup").

Every server process runs one; the roll-up takes a PostgreSQL advisory lock inside its
transaction, so only one instance rolls up at a time, the others skip that round. A round
with nothing new writes nothing. The first round runs at start-up.
"""

from __future__ import annotations

import logging
from typing import Any

from db.reports.actions import roll_up_sales
from db.session import Database
from graph.periodic import Stop, start_periodic

log = logging.getLogger("marquee.reports")


async def roll_up_once(db: Database) -> int | None:
    """One roll-up in its own transaction: how many days it wrote (None: skipped)."""
    async with db.transaction() as session:
        days = await roll_up_sales(session)
    if days:
        log.info("sales rolled up: %d days written", days)
    return days


async def start_sales_rollup(state: Any) -> Stop:
    """Start-up hook (graph.app.STARTUP_HOOKS)."""
    return start_periodic(
        lambda: roll_up_once(state.db),
        float(state.settings.sales_rollup_interval_seconds),
        name="sales-rollup",
        what="sales roll-up",
        log=log,
    )
