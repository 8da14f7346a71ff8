"""Test data for the reports: real orders through the API (hold, checkout, payOrder,
cancelOrder), then dated and given product lines with SQL.

Why SQL for some of it: a report is about *when* money moved (paid_at, refunded_at in a
cinema's time zone, refunds in a later period), and the API stamps those with now(); the
only way to have an order paid at 23:30 New York time last January is to move its
timestamps afterwards. Product lines arrive with the shop's checkout (not in this branch),
so they are inserted beside the ticket lines, with the order's amounts raised to match (the
orders table checks total = subtotal - discount)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from db.reports.actions import roll_up_sales
from db.session import Database
from tests.conftest import GraphQLClient
from tests.factories import create_cinema, create_hall, create_movie, create_showtime
from tests.orders.flows import CANCEL, buy, gid


@dataclass
class Venue:
    cinema: int
    hall: int
    movie: int
    showtime: int
    seats: list[int]


async def roll_up(db: Database, through: date | None = None) -> int | None:
    """The sales roll-up, as the server runs it: days written (None: lock taken)."""
    async with db.transaction() as session:
        return await roll_up_sales(session, through)


async def sql(db: Database, statement: str, **params: Any) -> Any:
    async with db.transaction() as session:
        result = await session.execute(text(statement), params)
        return result.scalar() if result.returns_rows else None


async def venue(
    db: Database,
    *,
    time_zone: str = "Europe/Paris",
    cinema_name: str | None = None,
    movie: int | None = None,
    movie_title: str | None = None,
    price: str = "10.00",
    seats_per_row: int = 5,
) -> Venue:
    """A cinema in `time_zone` with a 2-row hall and a showtime tomorrow (EUR prices)."""
    fields: dict[str, object] = {"time_zone": time_zone}
    if cinema_name:
        fields["name"] = cinema_name
    cinema = await create_cinema(db, **fields)
    hall = await create_hall(
        db, cinema, rows=(("A", seats_per_row, "STANDARD"), ("B", seats_per_row, "STANDARD"))
    )
    if movie is None:
        movie = await create_movie(db, **({"title": movie_title} if movie_title else {}))
    show = await create_showtime(db, movie_id=movie, hall_id=hall, prices={"STANDARD": price})
    async with db.transaction() as session:
        rows = await session.execute(
            text("SELECT id FROM seats WHERE hall_id = :h ORDER BY y, x"), {"h": hall}
        )
        seats = [int(r[0]) for r in rows]
    return Venue(cinema, hall, movie, show, seats)


async def paid_order(
    gql: GraphQLClient,
    db: Database,
    token: str,
    place: Venue,
    seats: list[int],
    paid_at: datetime | None = None,
) -> int:
    """Buy seats through the API (hold, checkout, pay); optionally move paid_at."""
    order = await buy(gql, token, place.showtime, seats)
    pk = int(await sql(db, "SELECT id FROM orders WHERE number = :n", n=order["number"]))
    if paid_at is not None:
        await sql(db, "UPDATE orders SET paid_at = :t WHERE id = :id", t=paid_at, id=pk)
    return pk


async def refund(
    gql: GraphQLClient, db: Database, token: str, order_pk: int, refunded_at: datetime
) -> None:
    """Refund through cancelOrder, then move refunded_at (the API stamps now())."""
    data = await gql.execute(CANCEL, {"input": {"orderId": gid("Order", order_pk)}}, token=token)
    assert data["cancelOrder"]["errors"] == [], data
    assert data["cancelOrder"]["order"]["status"] == "REFUNDED"
    await sql(db, "UPDATE orders SET refunded_at = :t WHERE id = :id", t=refunded_at, id=order_pk)


async def product(db: Database, name: str, price: str = "5.00") -> tuple[int, int]:
    """A product with one variant: (product pk, variant pk)."""
    n = await sql(db, "SELECT count(*) FROM products")
    product_pk = await sql(
        db,
        "INSERT INTO products (name, sku, category, price, currency)"
        " VALUES (:name, :sku, 'SNACK', :price, 'EUR') RETURNING id",
        name=name,
        sku=f"SKU-{n}-{name[:8]}",
        price=Decimal(price),
    )
    variant_pk = await sql(
        db,
        "INSERT INTO product_variants (product_id, name, sku)"
        " VALUES (:p, 'Regular', :sku) RETURNING id",
        p=product_pk,
        sku=f"VAR-{n}-{name[:8]}",
    )
    return int(product_pk), int(variant_pk)


async def add_product_line(
    db: Database,
    order_pk: int,
    item: tuple[int, int],
    quantity: int,
    unit_price: str,
    discount: str = "0.00",
) -> None:
    """A product line on an order, its amounts added to the order's subtotal and discount."""
    gross = Decimal(unit_price) * quantity
    await sql(
        db,
        "INSERT INTO order_lines (order_id, position, kind, description, quantity, unit_price,"
        " discount, product_id, variant_id)"
        " SELECT :o, coalesce(max(position), 0) + 1, 'PRODUCT', 'Product', :q, :u, :d, :p, :v"
        " FROM order_lines WHERE order_id = :o",
        o=order_pk,
        q=quantity,
        u=Decimal(unit_price),
        d=Decimal(discount),
        p=item[0],
        v=item[1],
    )
    await sql(
        db,
        "UPDATE orders SET subtotal = subtotal + :g, discount = discount + :d,"
        " total = total + :g - :d, product_count = product_count + :q WHERE id = :o",
        q=quantity,
        g=gross,
        d=Decimal(discount),
        o=order_pk,
    )


async def set_order_discount(db: Database, order_pk: int, discount: str) -> None:
    """A promo-code discount on the whole order (spread over its first line)."""
    await sql(
        db,
        "UPDATE orders SET discount = discount + :d, total = total - :d WHERE id = :o",
        d=Decimal(discount),
        o=order_pk,
    )
