"""The sales rollup: what `salesReport` reads for days that are over, so a report over a
year reads a few rows per day instead of every order (docs/shop.md, "The rollup").

`sales_days` holds, per local day, cinema, movie and currency, what the orders of that day
add up to (sales on their paid day, refunds on their refund day); `sales_product_days` the
same per product. `marquee_roll_up_sales()` (migration 0032_sales_rollup) writes them for
the days up to `sales_rollup_state.through`; a later change to an order of such a day marks
the day in `sales_stale_days` (triggers of the same migration) and the report reads it
from the orders again until the next roll-up. Cinema, movie and product are plain ids (no
foreign key): their names are joined when a report is read.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, Identity, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.orders.models import MONEY


class SalesDay(Base):
    """One local day's orders of one showtime's cinema and movie (both NULL for an order
    without a showtime), in one currency."""

    __tablename__ = "sales_days"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    cinema_id: Mapped[int | None] = mapped_column(BigInteger)
    movie_id: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # Paid that day: orders, their tickets and product units, subtotals and discounts.
    orders: Mapped[int] = mapped_column(Integer, nullable=False)
    tickets: Mapped[int] = mapped_column(Integer, nullable=False)
    products: Mapped[int] = mapped_column(Integer, nullable=False)
    gross: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    discounts: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # Refunded that day: the totals of those orders.
    refunds: Mapped[Decimal] = mapped_column(MONEY, nullable=False)


class SalesProductDay(Base):
    """One local day's product lines of one product, cinema (NULL: no showtime) and
    currency."""

    __tablename__ = "sales_product_days"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False, index=True)
    cinema_id: Mapped[int | None] = mapped_column(BigInteger)
    product_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    # Paid that day: the orders that bought the product, and of those the ones whose
    # lowest product id it is (each order once: what a total of orders adds up).
    orders: Mapped[int] = mapped_column(Integer, nullable=False)
    first_orders: Mapped[int] = mapped_column(Integer, nullable=False)
    units: Mapped[int] = mapped_column(Integer, nullable=False)
    gross: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    discounts: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    # Refunded that day: what the lines cost (price x quantity - discount).
    refunds: Mapped[Decimal] = mapped_column(MONEY, nullable=False)


class SalesRollupState(Base):
    """One row: the last day rolled up (no row, or NULL: none yet)."""

    __tablename__ = "sales_rollup_state"
    __table_args__ = (CheckConstraint("id", name="one_row"),)

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default="true")
    through: Mapped[date | None] = mapped_column(Date)


class SalesStaleDay(Base):
    """A day up to `through` whose orders changed after it was rolled up: read from the
    orders until the next roll-up writes it again."""

    __tablename__ = "sales_stale_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
