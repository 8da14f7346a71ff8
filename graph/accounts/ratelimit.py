"""Rate limits of sign-in, sign-up and e-mail changes (see db/accounts/ratelimit.py and
docs/accounts.md; the counters live in PostgreSQL so all instances share them).

Sign-in is limited three ways: per client address (fixed one-minute window), per account
from any address (a larger, one-hour window; the account is resolved from the login, so a
username and an e-mail of one user share it), and by an exponential backoff per
(account, client address), so a stranger's wrong passwords slow down that stranger, not
the account's owner elsewhere.
"""

from __future__ import annotations

import random

from db.accounts import ratelimit
from graph.context import Context
from graph.errors import RATE_LIMITED, ApiError

MINUTE = 60
HOUR = 3600
SWEEP_PROBABILITY = 0.01


def client_address(ctx: Context) -> str:
    """The peer address as the ASGI server reports it. Behind a proxy, run uvicorn with
    --proxy-headers/--forwarded-allow-ips so this is the real client."""
    client = getattr(ctx.request, "client", None)
    return client.host if client is not None else "unknown"


def _limited(retry_after: int) -> ApiError:
    return ApiError(
        f"Too many attempts; try again in {retry_after} seconds.",
        RATE_LIMITED,
        retryAfter=retry_after,
    )


async def enforce(ctx: Context, keys: list[str], limit: int) -> None:
    """Count an attempt against each key; over `limit` per minute for any of them it is a
    top-level RATE_LIMITED error. A limit of 0 turns the check off."""
    if limit <= 0:
        return
    async with ctx.db.transaction() as session:
        verdict = await ratelimit.hit(session, keys, limit=limit, window_seconds=MINUTE)
    if not verdict.allowed:
        raise _limited(verdict.retry_after_seconds)


async def enforce_register(ctx: Context, email: str) -> None:
    """Sign-up: per client address and per e-mail address."""
    await enforce(
        ctx,
        [f"register:ip:{client_address(ctx)}", f"register:account:{email.strip().lower()}"],
        ctx.settings.register_rate_per_minute,
    )


async def enforce_profile_change(ctx: Context, user_id: int, email: str | None) -> None:
    """A changed e-mail, username or phone answers "already registered" like sign-up does, so it
    shares sign-up's budget per client address and per e-mail, plus one per user."""
    keys = [f"register:ip:{client_address(ctx)}", f"profile:user:{user_id}"]
    if email:
        keys.append(f"register:account:{email.strip().lower()}")
    await enforce(ctx, keys, ctx.settings.register_rate_per_minute)


async def enforce_password_reset(ctx: Context, login: str) -> None:
    """Asking for a reset link sends an e-mail: per login (so nobody floods an inbox), and
    per client address with sign-in's budget (so nobody floods the outbox)."""
    await enforce(
        ctx,
        [f"reset:login:{login.strip().lower()[:320]}"],
        ctx.settings.password_reset_rate_per_minute,
    )
    await enforce(ctx, [f"reset:ip:{client_address(ctx)}"], ctx.settings.login_rate_per_minute)


async def enforce_password_redeem(ctx: Context) -> None:
    """Using a password link: per client address, with sign-in's budget (a token cannot be
    guessed, but each try costs a lookup and, when right, a password hash)."""
    await enforce(
        ctx, [f"reset:redeem:ip:{client_address(ctx)}"], ctx.settings.login_rate_per_minute
    )


async def enforce_password_check(ctx: Context, user_id: int) -> None:
    """A password confirmation of a signed-in user (deleteMyAccount) is a guess like a
    sign-in: it shares sign-in's per-address budget, and the account's hourly one."""
    s = ctx.settings
    await enforce(ctx, [f"login:ip:{client_address(ctx)}"], s.login_rate_per_minute)
    if s.login_account_rate_per_hour > 0:
        async with ctx.db.transaction() as session:
            verdict = await ratelimit.hit(
                session,
                [f"login:account:user:{user_id}"],
                limit=s.login_account_rate_per_hour,
                window_seconds=HOUR,
            )
        if not verdict.allowed:
            raise _limited(verdict.retry_after_seconds)


async def enforce_login(ctx: Context, login: str) -> str:
    """Admit one sign-in attempt or raise RATE_LIMITED; returns the backoff key to clear
    (`login_succeeded`) when the password turns out right. Counting commits even when
    the attempt is refused or later fails."""
    s = ctx.settings
    address = client_address(ctx)
    retry = 0
    async with ctx.db.transaction() as session:
        account = await ratelimit.account_key(session, login, s.default_phone_region)
        backoff_key = f"login:backoff:{account}:{address}"
        if s.login_rate_per_minute > 0:
            verdict = await ratelimit.hit(
                session, [f"login:ip:{address}"], limit=s.login_rate_per_minute
            )
            retry = max(retry, verdict.retry_after_seconds)
        if s.login_account_rate_per_hour > 0:
            verdict = await ratelimit.hit(
                session,
                [f"login:account:{account}"],
                limit=s.login_account_rate_per_hour,
                window_seconds=HOUR,
            )
            retry = max(retry, verdict.retry_after_seconds)
        if retry == 0 and s.login_backoff_free_failures > 0:
            retry = await ratelimit.backoff_attempt(
                session,
                backoff_key,
                free=s.login_backoff_free_failures,
                ceiling=s.login_backoff_max_seconds,
            )
        if random.random() < SWEEP_PROBABILITY:
            await ratelimit.sweep_backoff(session)
    if retry:
        raise _limited(retry)
    return backoff_key


async def login_succeeded(ctx: Context, backoff_key: str) -> None:
    async with ctx.db.transaction() as session:
        await ratelimit.backoff_success(session, backoff_key)
