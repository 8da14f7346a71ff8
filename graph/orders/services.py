"""The payment provider and what fulfilment needs, built once per app from settings, and the
background work of payments: the sandbox's webhook deliveries, reconciliation of payments
left PROCESSING, and refunds of cancelled showtimes (docs/orders.md); and the count of a
customer's wrong promo code guesses (docs/shop.md)."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from db.accounts import ratelimit
from db.errors import DomainError, ErrorDetail
from db.orders.pricing import NO_GUESS_LIMIT, GuessLimit, guessed_wrong, too_many_guesses
from db.payments import actions as payment_actions
from db.payments.actions import Fulfilment
from db.payments.providers import PaymentProvider
from db.payments.sandbox import SandboxProvider
from db.session import Database
from graph.context import Context
from graph.periodic import stop_task
from graph.settings import Settings

log = logging.getLogger("marquee.payments")


class Payments:
    """The configured provider (by name), and the fulfilment settings."""

    def __init__(self, db: Database, settings: Settings) -> None:
        sandbox = SandboxProvider(
            db, webhook_secret=settings.webhook_secret(), webhook_url=settings.webhook_url()
        )
        self.db = db
        self.sandbox = sandbox
        self.providers: dict[str, PaymentProvider] = {sandbox.name: sandbox}
        self.provider: PaymentProvider = self.providers[settings.payment_provider]
        signer = settings.ticket_signer()
        self.fulfilment = Fulfilment(
            points_per_unit=settings.loyalty_points_per_unit, sign=signer.sign
        )
        self._finisher: asyncio.Task[None] | None = None
        self._again = False

    def kick_cancelled_showtimes(self) -> None:
        """Finish cancelled showtimes now (their leftovers, then their refunds), in the
        background, instead of at the next periodic round: cancelShowtime calls it once
        its cancellation has committed. One task per process; a kick while it runs makes
        it go round once more. It runs in a context of its own (not the request's: its
        statements, logs and time limit are not the request's). A failure is logged; the
        periodic round (MARQUEE_RECONCILE_INTERVAL_SECONDS) takes over."""
        self._again = True
        if self._finisher is None or self._finisher.done():
            self._finisher = asyncio.create_task(
                self._finish(), name="cancelled-showtimes", context=contextvars.Context()
            )

    async def _finish(self) -> None:
        while self._again:
            self._again = False
            try:
                await payment_actions.finish_cancelled_showtimes(self.db, self.providers)
            except Exception as exc:  # the database may be restarting: the periodic round
                log.warning("finishing cancelled showtimes failed: %s", exc)
                return

    async def stop(self) -> None:
        """Stop the task that `kick_cancelled_showtimes` started, if it still runs."""
        task, self._finisher = self._finisher, None
        await stop_task(task)


def payments_of(services: dict[str, Any], db: Database, settings: Settings) -> Payments:
    """The app's `Payments` (made on first use: tests run the app without its lifespan)."""
    found = services.get("payments")
    if found is None or found.db is not db:
        found = services["payments"] = Payments(db, settings)
    return found  # type: ignore[no-any-return]


async def run_payment_work(payments: Payments, settings: Settings) -> None:
    """Forever: deliver the sandbox's due webhooks (every quarter second) and, every
    MARQUEE_RECONCILE_INTERVAL_SECONDS, reconcile and finish cancelled showtimes (their
    leftovers and refunds; cancelShowtime also kicks that at once,
    `Payments.kick_cancelled_showtimes`)."""
    interval = float(settings.reconcile_interval_seconds)
    loop = asyncio.get_running_loop()
    next_reconcile = loop.time() + min(interval, 5.0)
    async with httpx.AsyncClient(timeout=10.0) as http:
        while True:
            try:
                await payments.sandbox.deliver_due_webhooks(http)
                if interval > 0 and loop.time() >= next_reconcile:
                    next_reconcile = loop.time() + interval
                    await payment_actions.reconcile(
                        payments.db, payments.providers, payments.fulfilment
                    )
                    await payment_actions.finish_cancelled_showtimes(
                        payments.db, payments.providers
                    )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be restarting: next round
                log.warning("payment background work failed: %s", exc)
            await asyncio.sleep(0.25)


async def start_payment_work(state: Any) -> Callable[[], Awaitable[None]]:
    """Start-up hook (graph.app.STARTUP_HOOKS), with the sweeper's switch: off when
    MARQUEE_SWEEPER_INTERVAL_SECONDS <= 0."""
    settings: Settings = state.settings
    task = None
    if float(settings.sweeper_interval_seconds) > 0:
        payments = payments_of(state.services, state.db, settings)
        task = asyncio.create_task(run_payment_work(payments, settings), name="payments")

    async def stop() -> None:
        await stop_task(task)
        made: Payments | None = state.services.get("payments")
        if made is not None:
            await made.stop()

    return stop


# --- promo code guesses (docs/shop.md, "Guessing codes") --------------------------------


def guess_limit(settings: Settings) -> GuessLimit:
    return GuessLimit(settings.promo_code_guesses, settings.promo_code_guess_window_seconds)


# Promo codes this process has seen exist (trimmed, lower case), least recently used first. A
# cart with one of them takes no guess before the look-up: a shop's own code, sent with most
# carts, costs nothing more than the pricing function's read of the counter.
_KNOWN_CODES: collections.OrderedDict[str, None] = collections.OrderedDict()
KNOWN_CODES_MAX = 1024


def _code_key(code: str) -> str:
    return code.strip().lower()


@dataclass(frozen=True, slots=True)
class Guess:
    """What a cart's promo code took of the customer's guesses: `reserved` when one was
    taken before the look-up (a code this process has not seen exist)."""

    code: str | None
    reserved: bool = False

    def sql_limit(self, settings: Settings) -> GuessLimit:
        """The pricing function's own check (a read of the counter, refusing every code once
        the window's guesses are spent): off when a guess was taken here."""
        if self.code is None or self.reserved:
            return NO_GUESS_LIMIT
        return guess_limit(settings)


async def take_guess(ctx: Context, user_id: int, promo_code: str | None) -> Guess:
    """Before a cart with a promo code is priced: a code this process has not seen exist
    takes one of the customer's guesses of this window first (its own small transaction),
    and is answered RATE_LIMITED, without being looked up, when none is left (raises
    DomainError). Taken before the look-up, so however many requests run at once, no more
    unknown codes are answered than the limit: counted after the answer, every request in
    flight read the old count (30 aliases of previewCheckout, or 60 racing checkouts, got
    answers for 29 and 31 unknown codes against a limit of 20). A code seen to exist takes
    none; the pricing function still refuses it once the guesses are spent."""
    limit = guess_limit(ctx.settings)
    if promo_code is None or limit.attempts <= 0:
        return Guess(None)
    key = _code_key(promo_code)
    if key in _KNOWN_CODES:
        _KNOWN_CODES.move_to_end(key)
        return Guess(promo_code)
    if not (await _count_guess(ctx, user_id, limit)).allowed:
        raise DomainError(details=[too_many_guesses()])
    return Guess(promo_code, reserved=True)


async def settle_guess(
    ctx: Context, user_id: int, guess: Guess | None, errors: Sequence[ErrorDetail]
) -> None:
    """After the answer. A cart answered without errors shows its code exists: it is
    remembered, and the guess taken for it given back. A code remembered that is now
    unknown (deactivated) is forgotten, and counted as a guess after all."""
    limit = guess_limit(ctx.settings)
    if guess is None or guess.code is None or limit.attempts <= 0:
        return
    key = _code_key(guess.code)
    wrong = guessed_wrong(errors)
    if not errors:
        _KNOWN_CODES[key] = None
        _KNOWN_CODES.move_to_end(key)
        while len(_KNOWN_CODES) > KNOWN_CODES_MAX:
            _KNOWN_CODES.popitem(last=False)
    if guess.reserved and not wrong:
        async with ctx.db.transaction() as session:
            await ratelimit.give_back(
                session, limit.key(user_id), window_seconds=limit.window_seconds
            )
    elif not guess.reserved and wrong:
        _KNOWN_CODES.pop(key, None)
        await _count_guess(ctx, user_id, limit)


async def _count_guess(ctx: Context, user_id: int, limit: GuessLimit) -> ratelimit.Verdict:
    async with ctx.db.transaction() as session:
        return await ratelimit.hit(
            session, [limit.key(user_id)], limit=limit.attempts, window_seconds=limit.window_seconds
        )
