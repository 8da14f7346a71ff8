"""Checkout with products and promo codes (docs/shop.md): lines and prices, stock reserved
and given back, every promo rule and error code, previewCheckout, and the races (stock,
a code's total limit with 30 customers, its per-user limit with 10 checkouts of one)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from db.session import Database, SharedConnectionDatabase
from graph.booking.sweeper import sweep_once
from graph.relay import parse_global_id
from graph.settings import Settings
from tests.conftest import GraphQLClient, _client
from tests.factories import create_bookable_showtime, create_user
from tests.orders.flows import CANCEL, gid, hold, pay

PREVIEW = """
query ($input: CheckoutInput!) {
  previewCheckout(input: $input) {
    lines { kind description quantity unitPrice { amount } discount { amount }
      total { amount currency } }
    subtotal { amount currency } discount { amount } total { amount } promoCode
    errors { code message field variantId available }
  }
}
"""
SHOP_CHECKOUT = """
mutation ($input: CheckoutInput!) {
  checkout(input: $input) {
    order { id status promoCode subtotal { amount } discount { amount } total { amount }
      lines { kind description quantity unitPrice { amount } discount { amount }
        total { amount } product { name } variant { name } } }
    errors { code message field variantId available }
  }
}
"""


async def _sql(db: Database, sql: str, **params: Any) -> list[Any]:
    async with db.transaction() as session:
        return list((await session.execute(text(sql), params)).all())


async def product(
    db: Database,
    name: str,
    price: str,
    variants: list[tuple[str, str, int | None]],
    *,
    cinemas: list[int] = (),  # type: ignore[assignment]
    active: bool = True,
) -> tuple[int, list[int]]:
    """A product with variants (name, price delta, stock): (product id, variant ids)."""
    sku = name.upper().replace(" ", "-")
    [(pid,)] = await _sql(
        db,
        "INSERT INTO products (name, sku, category, price, currency, is_active) "
        "VALUES (:name, :sku, 'SNACK', :price, 'USD', :active) RETURNING id",
        name=name,
        sku=sku,
        price=Decimal(price),
        active=active,
    )
    ids = []
    for position, (variant, delta, stock) in enumerate(variants):
        [(vid,)] = await _sql(
            db,
            "INSERT INTO product_variants (product_id, position, name, sku, price_delta, stock) "
            "VALUES (:pid, :pos, :name, :sku, :delta, :stock) RETURNING id",
            pid=pid,
            pos=position,
            name=variant,
            sku=f"{sku}-{variant}",
            delta=Decimal(delta),
            stock=stock,
        )
        ids.append(vid)
    for cinema in cinemas:
        await _sql(
            db,
            "INSERT INTO product_cinemas (product_id, cinema_id) VALUES (:p, :c) RETURNING 1",
            p=pid,
            c=cinema,
        )
    return pid, ids


async def promo(db: Database, code: str, **fields: Any) -> int:
    columns = {"code": code, "currency": "USD", **fields}
    names = ", ".join(columns)
    values = ", ".join(f":{k}" for k in columns)
    [(pk,)] = await _sql(
        db, f"INSERT INTO promo_codes ({names}) VALUES ({values}) RETURNING id", **columns
    )
    return int(pk)


async def stock(db: Database, variant: int) -> int | None:
    [(left,)] = await _sql(db, "SELECT stock FROM product_variants WHERE id = :v", v=variant)
    return left if left is None else int(left)


async def times_used(db: Database, code: int) -> int:
    [(used,)] = await _sql(db, "SELECT times_used FROM promo_codes WHERE id = :c", c=code)
    return int(used)


def line(product_id: int, variant_id: int | None, quantity: int) -> dict[str, Any]:
    given: dict[str, Any] = {"productId": gid("Product", product_id), "quantity": quantity}
    if variant_id is not None:
        given["variantId"] = gid("ProductVariant", variant_id)
    return given


async def shop_checkout(
    gql: GraphQLClient, token: str, hold_id: str, **extra: Any
) -> dict[str, Any]:
    data = await gql.execute(SHOP_CHECKOUT, {"input": {"holdId": hold_id, **extra}}, token=token)
    payload: dict[str, Any] = data["checkout"]
    return payload


async def preview(gql: GraphQLClient, token: str, hold_id: str, **extra: Any) -> dict[str, Any]:
    data = await gql.execute(PREVIEW, {"input": {"holdId": hold_id, **extra}}, token=token)
    payload: dict[str, Any] = data["previewCheckout"]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def test_products_are_priced_reserved_and_listed(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    popcorn, (small, large) = await product(
        db, "Popcorn", "4.00", [("Small", "0", None), ("Large", "2.50", 10)]
    )
    water, (only,) = await product(db, "Water", "2.00", [("Standard", "0", 3)])
    hold_id = await hold(gql, token, show.id, show.seat_ids[:2])
    cart = [line(popcorn, large, 2), line(water, None, 1), line(popcorn, small, 1)]
    priced = await preview(gql, token, hold_id, products=cart)
    assert priced["errors"] == []
    out = await shop_checkout(gql, token, hold_id, products=cart)
    assert out["errors"] == []
    order = out["order"]
    # Tickets first (by seat), then the products as given; the preview said the same.
    assert [
        (x["kind"], x["description"], x["quantity"], x["total"]["amount"]) for x in order["lines"]
    ][2:] == [
        ("PRODUCT", "Popcorn (Large)", 2, "13.00"),
        ("PRODUCT", "Water (Standard)", 1, "2.00"),
        ("PRODUCT", "Popcorn (Small)", 1, "4.00"),
    ]
    assert [x["kind"] for x in order["lines"]] == ["TICKET", "TICKET", *["PRODUCT"] * 3]
    assert [(x["product"] or {}).get("name") for x in order["lines"]] == [
        None,
        None,
        "Popcorn",
        "Water",
        "Popcorn",
    ]
    assert [(x["variant"] or {}).get("name") for x in order["lines"]][2:] == [
        "Large",
        "Standard",
        "Small",
    ]
    assert order["subtotal"]["amount"] == "39.00" == order["total"]["amount"]
    assert [x["description"] for x in priced["lines"]] == [x["description"] for x in order["lines"]]
    assert priced["total"]["amount"] == "39.00"
    # Stock is taken in the checkout; unlimited stays unlimited.
    assert (await stock(db, large), await stock(db, only), await stock(db, small)) == (8, 2, None)
    # Paid, the stock stays taken.
    assert (await pay(gql, token, order["id"]))["order"]["status"] == "PAID"
    assert await stock(db, large) == 8


async def test_product_errors_refuse_the_whole_checkout(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    other = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    shirt, (medium, xl) = await product(db, "Shirt", "20.00", [("M", "0", 5), ("XL", "1", 1)])
    gone, (gone_v,) = await product(db, "Gone", "1.00", [("Standard", "0", None)], active=False)
    [(other_cinema,)] = await _sql(
        db,
        "SELECT h.cinema_id FROM showtimes s JOIN halls h ON h.id = s.hall_id WHERE s.id = :s",
        s=other.id,
    )
    elsewhere, _ = await product(
        db, "Local", "1.00", [("Standard", "0", None)], cinemas=[other_cinema]
    )
    _, (foreign,) = await product(db, "Foreign", "1.00", [("Standard", "0", None)])
    hold_id = await hold(gql, token, show.id, show.seat_ids[:1])

    out = await shop_checkout(
        gql,
        token,
        hold_id,
        products=[
            line(shirt, xl, 3),  # 1 left
            line(shirt, None, 1),  # two variants: choose
            line(gone, gone_v, 1),  # inactive
            line(elsewhere, None, 1),  # sold at another cinema
            line(shirt, foreign, 1),  # another product's variant
            line(shirt, medium, 21),  # too many
        ],
    )
    assert codes(out) == [("VALIDATION_ERROR", "products.5.quantity")]
    out = await shop_checkout(
        gql,
        token,
        hold_id,
        products=[
            line(shirt, xl, 3),
            line(shirt, None, 1),
            line(gone, gone_v, 1),
            line(elsewhere, None, 1),
            line(shirt, foreign, 1),
            line(shirt, medium, 2),
        ],
    )
    assert codes(out) == [
        ("OUT_OF_STOCK", "products.0.quantity"),
        ("VALIDATION_ERROR", "products.1.variantId"),
        ("NOT_FOUND", "products.2.productId"),
        ("NOT_FOUND", "products.3.productId"),
        ("NOT_FOUND", "products.4.variantId"),
    ]
    short = out["errors"][0]
    assert short["variantId"] == gid("ProductVariant", xl)
    assert short["available"] == 1
    assert short["message"] == "Only 1 left of Shirt (XL)."
    assert out["order"] is None
    # Nothing reserved, the hold still there: the same hold checks out once fixed.
    assert (await stock(db, medium), await stock(db, xl)) == (5, 1)
    fixed = await shop_checkout(gql, token, hold_id, products=[line(shirt, xl, 1)])
    assert fixed["errors"] == []
    assert await stock(db, xl) == 0
    # Sold out now, for the next customer.
    rival = gql.token_for(await create_user(db))
    later = await preview(
        gql,
        rival,
        await hold(gql, rival, show.id, show.seat_ids[1:2]),
        products=[line(shirt, xl, 1)],
    )
    assert [(e["code"], e["available"], e["message"]) for e in later["errors"]] == [
        ("OUT_OF_STOCK", 0, "Shirt (XL) is sold out.")
    ]


async def test_stock_and_code_given_back(gql: GraphQLClient, db: Database) -> None:
    """Expiry and cancellation before payment give back stock and the code's use; a refund
    gives back the stock only (the code was used for a paid order)."""
    token = gql.token_for(await create_user(db))
    snack, (variant,) = await product(db, "Nachos", "5.00", [("Standard", "0", 10)])
    code = await promo(db, "BACK10", percent_off=Decimal(10))

    async def order_with_products(quantity: int) -> str:
        show = await create_bookable_showtime(db)
        out = await shop_checkout(
            gql,
            token,
            await hold(gql, token, show.id, show.seat_ids[:1]),
            products=[line(snack, variant, quantity)],
            promoCode="back10",
        )
        assert out["errors"] == [], out
        assert out["order"]["promoCode"] == "BACK10"
        order_id: str = out["order"]["id"]
        return order_id

    expiring = await order_with_products(2)
    cancelled = await order_with_products(3)
    refunded = await order_with_products(4)
    assert (await stock(db, variant), await times_used(db, code)) == (1, 3)
    # The first order expires: the sweeper ends it.
    _, expiring_pk = parse_global_id(expiring)
    await _sql(
        db,
        "UPDATE orders SET expires_at = now() - interval '1 s' WHERE id = :o RETURNING id",
        o=expiring_pk,
    )
    await _sql(
        db,
        "UPDATE seat_occupancy SET expires_at = now() - interval '1 s' "
        "WHERE order_id = :o RETURNING id",
        o=expiring_pk,
    )
    await sweep_once(db)
    assert (await stock(db, variant), await times_used(db, code)) == (3, 2)
    out = await gql.execute(CANCEL, {"input": {"orderId": cancelled}}, token=token)
    assert out["cancelOrder"]["order"]["status"] == "CANCELLED"
    assert (await stock(db, variant), await times_used(db, code)) == (6, 1)
    assert (await pay(gql, token, refunded))["order"]["status"] == "PAID"
    out = await gql.execute(CANCEL, {"input": {"orderId": refunded}}, token=token)
    assert out["cancelOrder"]["order"]["status"] == "REFUNDED"
    assert (await stock(db, variant), await times_used(db, code)) == (10, 1)


async def test_promo_code_rules(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)  # tickets 10.00 each
    [(movie,)] = await _sql(db, "SELECT movie_id FROM showtimes WHERE id = :s", s=show.id)
    token = gql.token_for(await create_user(db))
    cola, (cola_v,) = await product(db, "Cola", "3.00", [("Standard", "0", None)])
    candy, (candy_v,) = await product(db, "Candy", "2.00", [("Standard", "0", None)])
    hold_id = await hold(gql, token, show.id, show.seat_ids[:3])  # 30.00 of tickets
    cart = [line(cola, cola_v, 2), line(candy, candy_v, 1)]  # 8.00 of products
    await promo(db, "PCT", percent_off=Decimal("12.5"))
    await promo(
        db, "SNACKS", amount_off=Decimal(5), applies_to="PRODUCTS", minimum_order_amount=Decimal(20)
    )
    await promo(db, "BIGSNACKS", amount_off=Decimal(50), applies_to="PRODUCTS")
    movie_code = await promo(db, "THISFILM", amount_off=Decimal(4), applies_to="TICKETS")
    await _sql(
        db, "INSERT INTO promo_code_movies VALUES (:c, :m) RETURNING 1", c=movie_code, m=movie
    )
    other_film = await promo(db, "OTHERFILM", percent_off=Decimal(50))
    [(other_movie,)] = await _sql(
        db, "INSERT INTO movies (title, duration_minutes) VALUES ('Other', 90) RETURNING id"
    )
    await _sql(
        db, "INSERT INTO promo_code_movies VALUES (:c, :m) RETURNING 1", c=other_film, m=other_movie
    )
    cola_only = await promo(db, "COLAONLY", percent_off=Decimal(100))
    await _sql(
        db, "INSERT INTO promo_code_products VALUES (:c, :p) RETURNING 1", c=cola_only, p=cola
    )
    await promo(db, "MINIMUM", percent_off=Decimal(10), minimum_order_amount=Decimal(100))
    await promo(db, "EUROS", amount_off=Decimal(5), currency="EUR")
    await promo(db, "OFF", percent_off=Decimal(10), is_active=False)
    await _sql(
        db,
        "INSERT INTO promo_codes (code, currency, percent_off, valid_from) VALUES "
        "('SOON', 'USD', 10, now() + interval '1 day'), "
        "('OVER', 'USD', 10, NULL) RETURNING 1",
    )
    await _sql(
        db,
        "UPDATE promo_codes SET valid_until = now() - interval '1 s' "
        "WHERE code = 'OVER' RETURNING 1",
    )
    await promo(db, "GONE", percent_off=Decimal(10), usage_limit=0)

    async def priced(code: str) -> tuple[str | None, str | None, list[Any]]:
        p = await preview(gql, token, hold_id, products=cart, promoCode=code)
        return p["discount"]["amount"], p["total"]["amount"], codes(p)

    assert await priced("pct") == ("4.75", "33.25", [])  # 12.5% of 38.00, rounded
    assert await priced("snacks") == ("5.00", "33.00", [])
    assert await priced("bigsnacks") == ("8.00", "30.00", [])  # never more than the lines
    assert await priced("thisfilm") == ("4.00", "34.00", [])
    assert await priced("colaonly") == ("6.00", "32.00", [])
    for code, expected in [
        ("otherfilm", "PROMO_CODE_NOT_APPLICABLE"),
        ("minimum", "PROMO_CODE_NOT_APPLICABLE"),
        ("euros", "PROMO_CODE_NOT_APPLICABLE"),
        ("nope", "PROMO_CODE_INVALID"),
        ("off", "PROMO_CODE_INVALID"),
        ("soon", "PROMO_CODE_INVALID"),
        ("over", "PROMO_CODE_INVALID"),
        ("gone", "PROMO_CODE_EXHAUSTED"),
    ]:
        assert await priced(code) == ("0.00", "38.00", [(expected, "promoCode")]), code
        refused = await shop_checkout(gql, token, hold_id, products=cart, promoCode=code)
        assert codes(refused) == [(expected, "promoCode")]
    # Only tickets, with a code for products: nothing eligible.
    bare = await preview(gql, token, hold_id, promoCode="SNACKS")
    assert codes(bare) == [("PROMO_CODE_NOT_APPLICABLE", "promoCode")]
    # The discount is shared over the eligible lines, adding up exactly.
    out = await shop_checkout(gql, token, hold_id, products=cart, promoCode="Pct")
    assert out["errors"] == []
    order = out["order"]
    assert (order["promoCode"], order["discount"]["amount"], order["total"]["amount"]) == (
        "PCT",
        "4.75",
        "33.25",
    )
    shares = [Decimal(x["discount"]["amount"]) for x in order["lines"]]
    assert sum(shares) == Decimal("4.75")
    assert all(
        Decimal(0) <= s <= Decimal(x["unitPrice"]["amount"]) * x["quantity"]
        for s, x in zip(shares, order["lines"], strict=True)
    )
    assert sum(Decimal(x["total"]["amount"]) for x in order["lines"]) == Decimal("33.25")
    # Tickets carry what was paid for them.
    paid = await pay(gql, token, order["id"])
    ticket_shares = shares[:3]
    rows = await _sql(db, "SELECT price FROM tickets ORDER BY id")
    assert [r[0] for r in rows] == [Decimal("10.00") - s for s in ticket_shares]
    assert paid["order"]["total"]["amount"] == "33.25"


async def test_preview_creates_nothing(gql: GraphQLClient, db: Database) -> None:
    show = await create_bookable_showtime(db)
    token = gql.token_for(await create_user(db))
    snack, (variant,) = await product(db, "Pretzel", "3.00", [("Standard", "0", 4)])
    code = await promo(db, "ONCE", percent_off=Decimal(10), usage_limit=1)
    hold_id = await hold(gql, token, show.id, show.seat_ids[:1])
    for _ in range(3):
        p = await preview(gql, token, hold_id, products=[line(snack, variant, 4)], promoCode="ONCE")
        assert p["errors"] == []
        assert p["total"]["amount"] == "19.80"
    assert (await stock(db, variant), await times_used(db, code)) == (4, 0)
    assert await _sql(db, "SELECT id FROM orders") == []
    # Someone else's hold, or none: NOT_FOUND and no amounts; anonymous is refused.
    stranger = gql.token_for(await create_user(db))
    nothing = await preview(gql, stranger, hold_id)
    assert (codes(nothing), nothing["subtotal"], nothing["lines"]) == (
        [("NOT_FOUND", "holdId")],
        None,
        [],
    )
    anonymous = await gql.raw(PREVIEW, {"input": {"holdId": hold_id}})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.slow
async def test_racing_for_the_last_stock(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    gql, db = committed_gql, committed_db
    show = await create_bookable_showtime(db, rows=4, seats_per_row=5)
    tee, (variant,) = await product(db, "Tee", "15.00", [("M", "0", 5)])
    tokens = [gql.token_for(await create_user(db)) for _ in range(20)]
    holds = [await hold(gql, t, show.id, [show.seat_ids[i]]) for i, t in enumerate(tokens)]
    results = await asyncio.gather(
        *(
            shop_checkout(gql, t, h, products=[line(tee, variant, 1)])
            for t, h in zip(tokens, holds, strict=True)
        )
    )
    won = [r for r in results if r["errors"] == []]
    lost = [r for r in results if r["errors"]]
    assert len(won) == 5
    assert {e["code"] for r in lost for e in r["errors"]} == {"OUT_OF_STOCK"}
    assert await stock(db, variant) == 0


@pytest.mark.slow
async def test_thirty_customers_race_for_five_uses(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    gql, db = committed_gql, committed_db
    show = await create_bookable_showtime(db, rows=6, seats_per_row=5)
    code = await promo(db, "FIVE", percent_off=Decimal(20), usage_limit=5)
    tokens = [gql.token_for(await create_user(db)) for _ in range(30)]
    holds = [await hold(gql, t, show.id, [show.seat_ids[i]]) for i, t in enumerate(tokens)]
    results = await asyncio.gather(
        *(shop_checkout(gql, t, h, promoCode="five") for t, h in zip(tokens, holds, strict=True))
    )
    won = [r for r in results if r["errors"] == []]
    assert len(won) == 5
    assert all(r["order"]["discount"]["amount"] == "2.00" for r in won)
    assert {e["code"] for r in results if r["errors"] for e in r["errors"]} == {
        "PROMO_CODE_EXHAUSTED"
    }
    assert await times_used(db, code) == 5
    [(orders,)] = await _sql(db, "SELECT count(*) FROM orders WHERE promo_code_id = :c", c=code)
    assert orders == 5


@pytest.mark.slow
async def test_one_customer_races_ten_checkouts_against_a_per_user_limit(
    committed_gql: GraphQLClient, committed_db: Database
) -> None:
    gql, db = committed_gql, committed_db
    code = await promo(db, "JUSTONCE", amount_off=Decimal(3), per_user_limit=1)
    token = gql.token_for(await create_user(db))
    shows = [await create_bookable_showtime(db, rows=1, seats_per_row=1) for _ in range(10)]
    holds = [await hold(gql, token, s.id, s.seat_ids) for s in shows]
    results = await asyncio.gather(
        *(shop_checkout(gql, token, h, promoCode="JustOnce") for h in holds)
    )
    won = [r for r in results if r["errors"] == []]
    assert len(won) == 1
    assert [e["code"] for r in results if r["errors"] for e in r["errors"]] == [
        "PROMO_CODE_EXHAUSTED"
    ] * 9
    assert await times_used(db, code) == 1
    # Cancelled before payment, the use comes back and the code works again.
    out = await gql.execute(CANCEL, {"input": {"orderId": won[0]["order"]["id"]}}, token=token)
    assert out["cancelOrder"]["errors"] == []
    again = await shop_checkout(
        gql, token, holds[0] if results[0]["errors"] else holds[1], promoCode="JUSTONCE"
    )
    assert again["errors"] == []
    assert await times_used(db, code) == 1


@asynccontextmanager
async def _three_guesses(
    db: Database, settings: Settings, code: str
) -> AsyncIterator[tuple[GraphQLClient, Any, str, str]]:
    """A client of an app whose customers may try 3 unknown promo codes a window, with the
    real code `code`, a showtime, and a customer (token) holding one of its seats (hold)."""
    limited = settings.model_copy(update={"promo_code_guesses": 3})
    async with _client(db, limited) as http:
        gql = GraphQLClient(http, limited)
        show = await create_bookable_showtime(db)
        token = gql.token_for(await create_user(db))
        await promo(db, code, percent_off=Decimal(10))
        yield gql, show, token, await hold(gql, token, show.id, show.seat_ids[:1])


async def test_promo_codes_cannot_be_found_by_guessing(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    """After 3 unknown codes (the limit here) no code is answered, a real one neither, by
    preview or checkout, until the window ends; another customer is not affected."""
    async with _three_guesses(db, settings, "REAL") as (gql, show, token, hold_id):
        for guess in ("AAAA", "BBBB"):
            assert codes(await preview(gql, token, hold_id, promoCode=guess)) == [
                ("PROMO_CODE_INVALID", "promoCode")
            ]
        assert codes(await shop_checkout(gql, token, hold_id, promoCode="CCCC")) == [
            ("PROMO_CODE_INVALID", "promoCode")
        ]
        for attempt in (
            await preview(gql, token, hold_id, promoCode="REAL"),
            await shop_checkout(gql, token, hold_id, promoCode="REAL"),
        ):
            assert codes(attempt) == [("RATE_LIMITED", "promoCode")]
        # Without a code the customer still buys; someone else still has codes answered.
        assert (await shop_checkout(gql, token, hold_id))["errors"] == []
        other = gql.token_for(await create_user(db))
        other_hold = await hold(gql, other, show.id, show.seat_ids[1:2])
        assert (await preview(gql, other, other_hold, promoCode="real"))["errors"] == []


async def test_guesses_at_once_get_no_more_answers_than_the_limit(
    db: SharedConnectionDatabase, settings: Settings
) -> None:
    """Each guess is counted before its code is looked up: 12 aliases of previewCheckout in
    one request (they resolve concurrently), then 8 checkouts at once, against a limit of 3,
    get 3 answers in all; the others are RATE_LIMITED, a real code among them too. (Counted
    after the answer, every request in flight read the old count and was answered.) A code
    seen to exist takes no guess, and is refused too once the guesses are spent."""
    async with _three_guesses(db, settings, "ALIASED") as (gql, show, token, hold_id):
        guesses = [f"GUESS{n}" for n in range(11)] + ["ALIASED"]
        aliases = " ".join(
            f'a{n}: previewCheckout(input: {{holdId: "{hold_id}", promoCode: "{code}"}})'
            " { promoCode errors { code field } }"
            for n, code in enumerate(guesses)
        )
        data = await gql.execute(f"query {{ {aliases} }}", token=token)
        answered = [
            guesses[int(name[1:])]
            for name, out in data.items()
            if [e["code"] for e in out["errors"]] != ["RATE_LIMITED"]
        ]
        assert len(answered) <= 3, answered
        assert data["a11"]["errors"] == [{"code": "RATE_LIMITED", "field": "promoCode"}]
        racing = await asyncio.gather(
            *(shop_checkout(gql, token, hold_id, promoCode=f"RACE{n}") for n in range(8))
        )
        assert {e["code"] for r in racing for e in r["errors"]} == {"RATE_LIMITED"}
        # A code that exists gives its guess back: another customer previews the real code as often
        # as the cart page asks, and still has all three guesses.
        other = gql.token_for(await create_user(db))
        other_hold = await hold(gql, other, show.id, show.seat_ids[1:2])
        for _ in range(5):
            assert (await preview(gql, other, other_hold, promoCode="ALIASED"))["errors"] == []
        for n in range(3):
            assert codes(await preview(gql, other, other_hold, promoCode=f"NOPE{n}")) == [
                ("PROMO_CODE_INVALID", "promoCode")
            ]
        assert codes(await preview(gql, other, other_hold, promoCode="ALIASED")) == [
            ("RATE_LIMITED", "promoCode")
        ]


async def test_one_customer_cannot_tie_up_stock_with_unpaid_orders(
    gql: GraphQLClient, db: Database
) -> None:
    """At most 20 of a variant per customer in orders awaiting payment: unpaid orders on
    other showtimes count; paying (or the order's end) frees the allowance."""
    token = gql.token_for(await create_user(db))
    tee, (variant,) = await product(db, "Limited tee", "15.00", [("M", "0", 100)])
    shows = [await create_bookable_showtime(db) for _ in range(3)]
    holds = [await hold(gql, token, s.id, s.seat_ids[:1]) for s in shows]
    first = await shop_checkout(gql, token, holds[0], products=[line(tee, variant, 15)])
    assert first["errors"] == []
    for ask in (preview, shop_checkout):
        over = await ask(gql, token, holds[1], products=[line(tee, variant, 6)])
        assert codes(over) == [("VALIDATION_ERROR", "products.0.quantity")]
        assert "you may add 5 more" in over["errors"][0]["message"]
    assert (await shop_checkout(gql, token, holds[1], products=[line(tee, variant, 5)]))[
        "errors"
    ] == []
    assert await stock(db, variant) == 80
    # Another customer is not limited by these; once paid, the allowance is free again.
    other = gql.token_for(await create_user(db))
    other_hold = await hold(gql, other, shows[2].id, shows[2].seat_ids[1:2])
    assert (await preview(gql, other, other_hold, products=[line(tee, variant, 20)]))[
        "errors"
    ] == []
    assert (await pay(gql, token, first["order"]["id"]))["order"]["status"] == "PAID"
    again = await shop_checkout(gql, token, holds[2], products=[line(tee, variant, 15)])
    assert again["errors"] == []
