"""Fixed-window attempt counters in PostgreSQL, so every app instance sees the same counts.

One upsert per check counts an attempt against several keys at once (per client address and
per account) and returns the new counts. A window is `window_seconds` long and aligned to the
epoch; a key's row is reset when its window has passed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.models import RateLimit

# Old rows are swept now and then by whoever counts, instead of by a background job.
SWEEP_PROBABILITY = 0.01
MAX_KEY_LENGTH = 400


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int
    counts: dict[str, int]


async def hit(
    session: AsyncSession, keys: list[str], *, limit: int, window_seconds: int = 60
) -> Verdict:
    """Count one attempt for each key; allowed while every key is within `limit`."""
    keys = list(dict.fromkeys(k[:MAX_KEY_LENGTH] for k in keys))
    window = func.to_timestamp(
        func.floor(func.extract("epoch", func.now()) / window_seconds) * window_seconds
    )
    stmt = insert(RateLimit).values([{"key": k, "window_start": window, "hits": 1} for k in keys])
    upsert = stmt.on_conflict_do_update(
        index_elements=[RateLimit.key],
        set_={
            "hits": case(
                (RateLimit.window_start == stmt.excluded.window_start, RateLimit.hits + 1),
                else_=1,
            ),
            "window_start": stmt.excluded.window_start,
        },
    ).returning(RateLimit.key, RateLimit.hits, RateLimit.window_start)
    rows = (await session.execute(upsert)).all()
    if random.random() < SWEEP_PROBABILITY:
        await session.execute(
            delete(RateLimit).where(
                RateLimit.window_start < func.now() - timedelta(seconds=window_seconds * 2)
            )
        )
    counts = {row.key: row.hits for row in rows}
    allowed = all(n <= limit for n in counts.values())
    retry = 0
    if not allowed and rows:
        ends = rows[0].window_start + timedelta(seconds=window_seconds)
        retry = max(1, math.ceil((ends - datetime.now(UTC)).total_seconds()))
    return Verdict(allowed=allowed, retry_after_seconds=retry, counts=counts)
