"""Demo shop: concessions and merchandise, and three promo codes.

Everything is created through the staff actions (db/shop/actions.py), so it passes the same
validation as the API. Prices are in USD, the default of the server's `currency` setting
(MARQUEE_CURRENCY): seeders get no settings. Everything is sold at every cinema except the
souvenir cup, sold at Marquee Union Square only. The T-shirt has limited stock per size:
XL is sold out (stock 0) and S has 3 left.

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


async def seed(session: AsyncSession, rng: random.Random, lines: list[str]) -> None:
    for name, sku, category, price, description, variants in PRODUCTS:
        data: dict[str, Any] = {
            "name": name,
            "sku": sku,
            "category": category,
            "price": D(price),
            "description": description,
        }
        if variants:
            data["variants"] = _variants(sku, variants)
        await actions.create_product(session, data, currency=DEMO_CURRENCY)
    await actions.create_product(
        session,
        {
            "name": "Marquee T-shirt",
            "sku": "TSHIRT-LOGO",
            "category": "MERCHANDISE",
            "price": D("20.00"),
            "description": "Black organic-cotton T-shirt with the Marquee logo.",
            "variants": _variants("TSHIRT-LOGO", TSHIRT_SIZES),
            "size_guide": "Chest width: S 48 cm, M 52 cm, L 56 cm, XL 60 cm.",
            "care_instructions": "Machine wash at 30 °C inside out; do not tumble dry.",
        },
        currency=DEMO_CURRENCY,
    )
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
    for promo in PROMO_CODES:
        await actions.create_promo_code(session, promo, currency=DEMO_CURRENCY)
    lines.append(
        f"demo shop: {len(PRODUCTS) + 1 + (union_square is not None)} products, promo codes "
        "WELCOME10 and SNACKS5 (PREMIERE is exhausted)"
    )
