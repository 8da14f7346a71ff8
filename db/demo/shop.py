"""Demo shop: concessions and merchandise, and three promo codes.

Everything is created through the staff actions (db/shop/actions.py), so it passes the same
validation as the API. A cart's products are priced in its tickets' currency, so the menu
is made once per ticket currency of the demo cinemas: in USD at the US cinemas, and the
same in EUR (SKUs ending in -EUR) at the Paris ones. The souvenir cup is sold at Marquee
Union Square only. The T-shirt has limited stock per size: XL is sold out (stock 0) and S
has 3 left. Promo codes are in USD (SNACKS5's fixed amount applies to USD orders; the
percentages to any).

Promo codes: WELCOME10 (10% off the order, once per customer), SNACKS5 (5 off the products
of an order of at least 15) and PREMIERE (usage limit 0: exhausted, so checkout refuses it;
no demo order uses a code, and `times_used` is only ever raised by checkout).
Deterministic: no randomness and no clock.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.cinemas.models import Cinema
from db.demo import cinemas as cinemas_demo
from db.shop import actions
from db.shop.actions import VariantSpec

DEMO_CURRENCY = "USD"
D = Decimal

# (name, sku, category, price, description, variants as (name, sku suffix, delta, stock))
Variant = tuple[str, str, str, int | None]
PRODUCTS: list[tuple[str, str, str, str, str, list[Variant]]] = [
    (
        "Popcorn",
        "POPCORN",
        "SNACK",
        "5.00",
        "Freshly popped, salted or sweet.",
        [("Small", "S", "0", None), ("Medium", "M", "1.50", None), ("Large", "L", "2.50", None)],
    ),
    ("Nachos with cheese", "NACHOS", "SNACK", "6.50", "Tortilla chips, warm cheese dip.", []),
    (
        "Cola",
        "COLA",
        "DRINK",
        "3.50",
        "Fountain cola with ice.",
        [("Medium", "M", "0", None), ("Large", "L", "1.00", None)],
    ),
    ("Still water", "WATER", "DRINK", "2.50", "50 cl bottle.", []),
    ("Iced tea", "ICED-TEA", "DRINK", "3.50", "Peach iced tea, 50 cl.", []),
    (
        "Movie combo",
        "COMBO-MOVIE",
        "COMBO",
        "9.50",
        "Medium popcorn and a medium cola.",
        [],
    ),
    (
        "Duo combo",
        "COMBO-DUO",
        "COMBO",
        "16.00",
        "Large popcorn, two medium colas and nachos to share.",
        [],
    ),
]
TSHIRT_SIZES: list[Variant] = [
    ("S", "S", "0", 3),
    ("M", "M", "0", 25),
    ("L", "L", "0", 25),
    ("XL", "XL", "2.00", 0),
]
PROMO_CODES: list[dict[str, Any]] = [
    {
        "code": "WELCOME10",
        "description": "10% off a first order.",
        "percent_off": D("10"),
        "applies_to": "ORDER",
        "per_user_limit": 1,
    },
    {
        "code": "SNACKS5",
        "description": "5 off snacks and drinks on orders of 15 or more.",
        "amount_off": D("5"),
        "applies_to": "PRODUCTS",
        "minimum_order_amount": D("15"),
    },
    {
        "code": "PREMIERE",
        "description": "Premiere night giveaway: every use is taken (usage limit 0).",
        "percent_off": D("50"),
        "applies_to": "TICKETS",
        "usage_limit": 0,
    },
]


def _variants(sku: str, items: list[Variant]) -> list[VariantSpec] | None:
    if not items:
        return None  # the default Standard variant
    return [
        VariantSpec(name=name, sku=f"{sku}-{suffix}", price_delta=D(delta), stock=stock)
        for name, suffix, delta, stock in items
    ]


async def _cinemas_by_currency(session: AsyncSession) -> dict[str, list[int]]:
    """The demo cinemas present, by the currency their tickets are priced in (USD first)."""
    names = {c[0]: c[6] for c in cinemas_demo.CINEMAS}
    rows = (await session.execute(select(Cinema.id, Cinema.name).order_by(Cinema.id))).all()
    found: dict[str, list[int]] = {DEMO_CURRENCY: []}
    for cinema_id, name in rows:
        if name in names:
            found.setdefault(names[name], []).append(cinema_id)
    return found


async def seed(session: AsyncSession, rng: random.Random, lines: list[str]) -> None:
    """The menu once per ticket currency: a cart's products are priced in its tickets'
    currency, so the USD menu is sold at the USD cinemas and the same menu in EUR (SKUs
    ending in -EUR) at the EUR ones. With one currency only, it is sold everywhere."""
    by_currency = await _cinemas_by_currency(session)
    everywhere = len(by_currency) == 1
    count = 0
    for currency, cinema_ids in by_currency.items():
        suffix = "" if currency == DEMO_CURRENCY else f"-{currency}"
        where = [] if everywhere else cinema_ids
        for data in _menu(suffix):
            await actions.create_product(session, {**data, "cinema_ids": where}, currency=currency)
            count += 1
    union_square = await session.scalar(
        select(Cinema.id).where(Cinema.name == "Marquee Union Square")
    )
    if union_square is not None:
        await actions.create_product(
            session,
            {
                "name": "Union Square souvenir cup",
                "sku": "CUP-UNION-SQUARE",
                "category": "MERCHANDISE",
                "price": D("8.00"),
                "description": "Refillable cup, sold at Marquee Union Square only.",
                "cinema_ids": [union_square],
            },
            currency=DEMO_CURRENCY,
        )
        count += 1
    for promo in PROMO_CODES:
        await actions.create_promo_code(session, promo, currency=DEMO_CURRENCY)
    lines.append(
        f"demo shop: {count} products, promo codes WELCOME10 and SNACKS5 (PREMIERE is exhausted)"
    )


def _menu(suffix: str) -> list[dict[str, Any]]:
    """The products' data, SKUs ending in `suffix`."""
    menu: list[dict[str, Any]] = []
    for name, sku, category, price, description, variants in PRODUCTS:
        data: dict[str, Any] = {
            "name": name,
            "sku": sku + suffix,
            "category": category,
            "price": D(price),
            "description": description,
        }
        if variants:
            data["variants"] = _variants(sku + suffix, variants)
        menu.append(data)
    menu.append(
        {
            "name": "Marquee T-shirt",
            "sku": "TSHIRT-LOGO" + suffix,
            "category": "MERCHANDISE",
            "price": D("20.00"),
            "description": "Black organic-cotton T-shirt with the Marquee logo.",
            "variants": _variants("TSHIRT-LOGO" + suffix, TSHIRT_SIZES),
            "size_guide": "Chest width: S 48 cm, M 52 cm, L 56 cm, XL 60 cm.",
            "care_instructions": "Machine wash at 30 °C inside out; do not tumble dry.",
        }
    )
    return menu
