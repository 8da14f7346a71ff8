"""Rate limits of sign-in and sign-up, per client address and per account (see
db/accounts/ratelimit.py; the counters live in PostgreSQL so all instances share them)."""

from __future__ import annotations

from db.accounts import ratelimit
from graph.context import Context
from graph.errors import RATE_LIMITED, ApiError


def client_address(ctx: Context) -> str:
    """The peer address as the ASGI server reports it. Behind a proxy, run uvicorn with
    --proxy-headers/--forwarded-allow-ips so this is the real client."""
    client = getattr(ctx.request, "client", None)
    return client.host if client is not None else "unknown"


async def enforce(ctx: Context, action: str, account: str, limit: int) -> None:
    """Count an attempt of `action`; over `limit` per minute (for the client address or for
    the account) it is a top-level RATE_LIMITED error. A limit of 0 turns the check off."""
    if limit <= 0:
        return
    keys = [f"{action}:ip:{client_address(ctx)}", f"{action}:account:{account.strip().lower()}"]
    async with ctx.db.transaction() as session:
        verdict = await ratelimit.hit(session, keys, limit=limit, window_seconds=60)
    if not verdict.allowed:
        raise ApiError(
            f"Too many attempts; try again in {verdict.retry_after_seconds} seconds.",
            RATE_LIMITED,
            retryAfter=verdict.retry_after_seconds,
        )
