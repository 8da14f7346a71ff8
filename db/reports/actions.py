"""The sales rollup's writer: `marquee_roll_up_sales()` of migration 0032_sales_rollup."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession


async def roll_up_sales(session: AsyncSession, through: date | None = None) -> int | None:
    """Roll up every day up to `through` (default: three days before today in UTC, over in
    every time zone) that is not rolled up yet or went stale. Returns how many days it
    wrote, or None when another transaction holds the roll-up's advisory lock (another
    instance rolling up, or a change marking a day stale right now: the next round goes
    on)."""
    call = func.marquee_roll_up_sales() if through is None else func.marquee_roll_up_sales(through)
    days = await session.scalar(select(call))
    return None if days is None else int(days)
