"""The shop under load (`shop_checkout_pay`): the `checkout_pay` purchase (64 connections,
hold, checkout, payOrder with `tok_visa`) with two product lines (a popcorn variant and a
drink, both with counted stock) and a promo code (10% off the order, a total usage limit) in
every checkout. The figure is paid orders per second.

After the run, besides the double-sale check, SQL checks that the stock and the code were
never over-used: each variant's stock is its initial stock less what live orders (pending
and paid) reserved, and never below zero; the code's `times_used` equals its live orders and
stays within its limit; and every order of the run carries its two product lines and the
code's discount.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench import booking
from bench.scenario import BenchError, Options, Result, Scenario
from bench.scenarios import checkout
from graph.relay import to_global_id

if TYPE_CHECKING:
    from bench.server import Server

STOCK = 1_000_000  # per variant: never the limit in a run (the check is exact, not "> 0")
USAGE_LIMIT = 1_000_000
CODE = "BENCHSHOP10"


@dataclass(frozen=True)
class Goods:
    variants: dict[int, int]  # variant -> initial stock
    promo_code: int
    since: Any  # the database's clock when they were made: this run's orders are newer


async def _create(server: Server) -> tuple[Goods, dict[int, int]]:
    """The goods, and product -> its variant."""
    conn = await booking.connect(server)
    try:
        async with conn.transaction():
            # The tickets' currency (the bench's showtimes are priced through the staff API).
            currency = await conn.fetchval(
                "SELECT currency FROM showtime_prices ORDER BY showtime_id DESC LIMIT 1"
            )
            popcorn = await conn.fetchval(
                "INSERT INTO products (name, sku, category, price, currency) VALUES"
                " ('Bench popcorn', 'BENCH-POPCORN', 'SNACK', 5.00, $1)"
                " ON CONFLICT (sku) DO UPDATE SET currency = excluded.currency RETURNING id",
                currency,
            )
            drink = await conn.fetchval(
                "INSERT INTO products (name, sku, category, price, currency) VALUES"
                " ('Bench cola', 'BENCH-COLA', 'DRINK', 3.00, $1)"
                " ON CONFLICT (sku) DO UPDATE SET currency = excluded.currency RETURNING id",
                currency,
            )
            variants = {}
            for product, name, sku, delta in (
                (popcorn, "Large", "BENCH-POPCORN-L", 2),
                (drink, "Medium", "BENCH-COLA-M", 0),
            ):
                # Again (`--repeat`, `--keep-data`): STOCK less what the live orders of
                # earlier runs hold, so that the check's "stock = STOCK less every live
                # order's units" stays exact across runs.
                variants[product] = await conn.fetchval(
                    "INSERT INTO product_variants (product_id, name, sku, price_delta, stock)"
                    " VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT (sku) DO UPDATE SET stock = excluded.stock - coalesce(("
                    "SELECT sum(l.quantity) FROM order_lines l JOIN orders o"
                    " ON o.id = l.order_id WHERE l.variant_id = product_variants.id"
                    " AND o.status IN ('PENDING_PAYMENT', 'PAID')), 0) RETURNING id",
                    product,
                    name,
                    sku,
                    delta,
                    STOCK,
                )
            code = await conn.fetchval(
                "INSERT INTO promo_codes (code, currency, percent_off, usage_limit)"
                " VALUES ($1, $2, 10, $3) ON CONFLICT (lower(code))"
                " DO UPDATE SET times_used = promo_codes.times_used RETURNING id",
                CODE,
                currency,
                USAGE_LIMIT,
            )
        since = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    return Goods(dict.fromkeys(variants.values(), STOCK), code, since), variants


def _cart(server: Server) -> tuple[dict[str, Any], Goods]:
    goods, by_product = asyncio.run(_create(server))
    products = [
        {
            "productId": to_global_id("Product", product),
            "variantId": to_global_id("ProductVariant", variant),
            "quantity": quantity,
        }
        for (product, variant), quantity in zip(by_product.items(), (2, 1), strict=True)
    ]
    return {"products": products, "promoCode": CODE.lower()}, goods


async def _check(server: Server, goods: Goods) -> dict[str, int]:
    conn = await booking.connect(server)
    try:
        stock = await conn.fetch(
            "SELECT v.id, v.stock, coalesce((SELECT sum(l.quantity) FROM order_lines l"
            " JOIN orders o ON o.id = l.order_id WHERE l.variant_id = v.id"
            " AND o.status IN ('PENDING_PAYMENT', 'PAID')), 0) AS reserved"
            " FROM product_variants v WHERE v.id = ANY($1::bigint[])",
            list(goods.variants),
        )
        code = await conn.fetchrow(
            "SELECT p.times_used, p.usage_limit, (SELECT count(*) FROM orders o"
            " WHERE o.promo_code_id = p.id AND o.status IN ('PENDING_PAYMENT', 'PAID',"
            " 'REFUNDED')) AS live FROM promo_codes p WHERE p.id = $1",
            goods.promo_code,
        )
        plain = await conn.fetchval(
            "SELECT count(*) FROM orders o WHERE o.status = 'PAID' AND o.created_at > $1"
            " AND (o.promo_code_id IS NULL OR o.discount <= 0 OR (SELECT count(*)"
            " FROM order_lines l WHERE l.order_id = o.id AND l.kind = 'PRODUCT') <> 2)",
            goods.since,
        )
    finally:
        await conn.close()
    problems = [
        f"variant {r['id']}: stock {r['stock']} but {STOCK} less {r['reserved']} reserved"
        for r in stock
        if r["stock"] is None or r["stock"] < 0 or r["stock"] != STOCK - r["reserved"]
    ]
    if code["times_used"] != code["live"] or code["times_used"] > code["usage_limit"]:
        problems.append(
            f"code used {code['times_used']} times for {code['live']} live orders"
            f" (limit {code['usage_limit']})"
        )
    if plain:
        problems.append(f"{plain} paid orders without the two product lines and the discount")
    if problems:
        raise BenchError("shop check failed: " + "; ".join(problems))
    reserved = sum(int(r["reserved"]) for r in stock)
    print(
        f"  shop_checkout_pay: stock and code check passed: {reserved} units reserved ="
        f" initial stock less stock left, none below zero; code used {code['times_used']}"
        f" times = its live orders (limit {code['usage_limit']})",
        flush=True,
    )
    return {"units_reserved": reserved, "code_uses": int(code["times_used"])}


def _run(server: Server, opts: Options) -> Result:
    return checkout.run_sale(
        server,
        opts,
        "shop_checkout_pay",
        cart=_cart,
        check_cart=lambda server, goods: asyncio.run(_check(server, goods)),
    )


SCENARIO = Scenario(
    name="shop_checkout_pay",
    description=f"{checkout.CONNECTIONS} clients buy 1-2 seats with two product lines and a"
    " promo code (hold, checkout, payOrder tok_visa); paid orders/s, stock and code limits"
    " checked",
    connections=checkout.CONNECTIONS,
    run=_run,
)
