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
from typing import Any

from sqlalchemy import case, delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.accounts.actions import DEFAULT_PHONE_REGION, login_lookup
from db.accounts.models import LoginBackoff, RateLimit, User
from db.accounts.phones import login_phone

# Old rows are swept now and then by whoever counts, instead of by a background job. Rows do
# not say their window's length and every limit shares the table, so a sweep removes only
# rows older than the longest window in use could keep (an hour: sign-in per account), not
# twice the caller's window: a one-minute limit would otherwise delete the hourly counts.
SWEEP_PROBABILITY = 0.01
SWEEP_AFTER = timedelta(days=1)
MAX_KEY_LENGTH = 400


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int
    counts: dict[str, int]


def _current_window(window_seconds: int) -> Any:
    """The start of the current window, in SQL: windows are aligned to the epoch."""
    return func.to_timestamp(
        func.floor(func.extract("epoch", func.now()) / window_seconds) * window_seconds
    )


async def hit(
    session: AsyncSession, keys: list[str], *, limit: int, window_seconds: int = 60
) -> Verdict:
    """Count one attempt for each key; allowed while every key is within `limit`."""
    keys = list(dict.fromkeys(k[:MAX_KEY_LENGTH] for k in keys))
    window = _current_window(window_seconds)
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
            delete(RateLimit).where(RateLimit.window_start < func.now() - SWEEP_AFTER)
        )
    counts = {row.key: row.hits for row in rows}
    allowed = all(n <= limit for n in counts.values())
    retry = 0
    if not allowed and rows:
        ends = rows[0].window_start + timedelta(seconds=window_seconds)
        retry = max(1, math.ceil((ends - datetime.now(UTC)).total_seconds()))
    return Verdict(allowed=allowed, retry_after_seconds=retry, counts=counts)


async def give_back(session: AsyncSession, key: str, *, window_seconds: int) -> None:
    """Take back one attempt counted by `hit` in the current window (an attempt that turned
    out not to count: a promo code that exists). Never below zero; nothing once the window
    has passed."""
    window = _current_window(window_seconds)
    await session.execute(
        update(RateLimit)
        .where(
            RateLimit.key == key[:MAX_KEY_LENGTH],
            RateLimit.window_start == window,
            RateLimit.hits > 0,
        )
        .values(hits=RateLimit.hits - 1)
    )


# --- sign-in: whose account, and an exponential backoff per (account, client address) ---


async def account_key(
    session: AsyncSession, login: str, phone_region: str = DEFAULT_PHONE_REGION
) -> str:
    """The rate-limit key of the account a login names: its user id, so `alice`,
    `alice@example.com` and her phone number (in any format) share one budget; the
    normalised login when no account has it (a phone number in its E.164 form, so its
    formats share one budget too). The caller does the same work either way and tells
    nobody which it was."""
    login = login.strip()
    if 0 < len(login) <= MAX_KEY_LENGTH:
        user_id = await session.scalar(login_lookup(login, phone_region).with_only_columns(User.id))
        if user_id is not None:
            return f"user:{user_id}"
    return f"login:{login_phone(login, phone_region) or login.lower()}"


# The first wait once the free attempts are used up; each further failure doubles it.
FIRST_WAIT_SECONDS = 5


def backoff_seconds(failures: int, *, free: int, ceiling: int) -> int:
    """How long the next attempt waits after `failures` consecutive failures: the first
    `free` attempts come without waiting, then 5 s, 10 s, 20 s … doubling up to `ceiling`."""
    if failures < free:
        return 0
    return int(min(ceiling, FIRST_WAIT_SECONDS * 2 ** min(failures - free, 30)))


async def backoff_attempt(
    session: AsyncSession, key: str, *, free: int, ceiling: int, forget_seconds: int = 3600
) -> int:
    """Admit one sign-in attempt for `key` (an account and a client address): 0 when it
    may proceed, else the seconds until it may.

    An admitted attempt is counted as a failure at once (and the next allowed time moved
    accordingly), so parallel attempts cannot slip past the count; `backoff_success` clears
    it when the password was right. Refused attempts do not count. A record whose last
    failure is older than `forget_seconds` starts over."""
    key = key[:MAX_KEY_LENGTH]
    stmt = insert(LoginBackoff).values(
        key=key, failures=0, next_attempt_at=func.now(), updated_at=func.now()
    )
    # A no-op update that locks the row (new or old) and returns it with the clock.
    row = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[LoginBackoff.key], set_={"key": stmt.excluded.key}
            ).returning(
                LoginBackoff.failures,
                LoginBackoff.next_attempt_at,
                LoginBackoff.updated_at,
                func.now().label("now"),
            )
        )
    ).one()
    now: datetime = row.now
    if row.next_attempt_at > now:
        allowed_at: datetime = row.next_attempt_at
        return max(1, math.ceil((allowed_at - now).total_seconds()))
    fresh = row.updated_at < now - timedelta(seconds=forget_seconds)
    failures = 1 if fresh else row.failures + 1
    wait = backoff_seconds(failures, free=free, ceiling=ceiling)
    await session.execute(
        update(LoginBackoff)
        .where(LoginBackoff.key == key)
        .values(
            failures=failures,
            next_attempt_at=now + timedelta(seconds=wait),
            updated_at=now,
        )
    )
    return 0


async def backoff_success(session: AsyncSession, key: str) -> None:
    """The password was right: the (account, address) record starts over."""
    await session.execute(delete(LoginBackoff).where(LoginBackoff.key == key[:MAX_KEY_LENGTH]))


async def sweep_backoff(session: AsyncSession, older_than_seconds: int = 86400) -> None:
    await session.execute(
        delete(LoginBackoff).where(
            LoginBackoff.updated_at < func.now() - timedelta(seconds=older_than_seconds)
        )
    )
