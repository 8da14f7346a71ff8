"""Demo pages: house rules, FAQ and the refund policy, published, written through
`create_page` (so rendered and sanitized like any page). The refund policy quotes the
configured cancellation cutoff (`DemoSettings`). Pages whose slug exists are left alone, so
seeding again adds nothing."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.demo.config import DemoSettings
from db.pages.actions import create_page
from db.pages.models import Page

HOUSE_RULES = """\
Welcome to Marquee. A few rules keep every screening pleasant for everyone.

## In the auditorium

- Switch your phone to silent and keep its screen dark once the lights go down.
- Arrive on time: latecomers are seated during the trailers, not during the film.
- No recording of any kind. Camcorders and phone recordings are reported to the
  distributor.
- Sit in the seat on your ticket; staff may ask to see it.

## Food and drink

Food and drink from our concessions are welcome in every hall. Please take your
rubbish with you or leave it in the bins at the exit.

## Age ratings

We follow the film's age rating and may ask for identification. Children under 12
watch with an adult.

## Accessibility

Accessible seats are marked on the seat map. Ask any member of staff for help; guide
dogs are always welcome.
"""

FAQ = """\
## How do I buy a ticket?

Pick a showtime, choose your seats on the seat map and pay. Your seats are held for
you for a few minutes while you check out.

## Where is my ticket?

In your account, under **Tickets**, with a QR code. Show it on your phone at the door;
there is no need to print it.

## Can I change my seats?

Cancel the order (see the [refund policy](/pages/refund-policy)) and book again.

## Do you have loyalty points?

Yes: every paid order earns points, shown in your account.

## Who do I contact?

Write to [help@marquee.test](mailto:help@marquee.test) or ask at the box office.
"""


def _minutes(n: int) -> str:
    return f"{n} minute" if n == 1 else f"{n} minutes"


def refund_policy(cutoff_minutes: int) -> str:
    """The refund policy's Markdown, quoting the cancellation cutoff."""
    cutoff = _minutes(cutoff_minutes)
    return f"""\
## Cancelling an order

You can cancel a paid order yourself, in your account, up to **{cutoff} before the
showtime starts**. The full amount is refunded to the card you paid with, your seats
are released and any loyalty points the order earned are taken back.

Less than {cutoff} before the showtime, or once a ticket of the order has been used,
an order can no longer be cancelled.

## Cancelled showtimes

If we cancel a showtime, every order for it is refunded in full automatically, and we
send you an e-mail.

## Unpaid orders

An order that is not paid before its seat hold expires is cancelled; nothing is
charged.
"""


async def seed(
    session: AsyncSession,
    rng: random.Random,
    lines: list[str],
    settings: DemoSettings,
) -> None:
    pages = [
        ("house-rules", "House rules", HOUSE_RULES),
        ("faq", "FAQ", FAQ),
        ("refund-policy", "Refund policy", refund_policy(settings.cancellation_cutoff_minutes)),
    ]
    existing = set(
        (await session.scalars(select(Page.slug).where(Page.slug.in_([p[0] for p in pages])))).all()
    )
    for slug, title, body in pages:
        if slug not in existing:
            await create_page(session, slug=slug, title=title, body=body, is_published=True)
