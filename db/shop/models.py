"""Shop tables: products, their variants and cinemas, promo codes and their restrictions.

Stock is the number a variant can still sell: checkout takes from it with a guarded update
(never below zero, also by a check constraint), and an order that expires, is cancelled or
refunded gives it back (the `orders_released` trigger of migration 0012_shop_functions).
NULL stock is unlimited.

A promo code's `times_used` counts the live orders that use it (pending, paid or refunded);
checkout raises it with a guarded update and a check constraint keeps it within
`usage_limit`; an order that expires or is cancelled before payment gives the use back.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, Timestamps

MONEY = Numeric(12, 2)


class Product(Timestamps, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("category IN ('SNACK', 'DRINK', 'COMBO', 'MERCHANDISE')", name="category"),
        CheckConstraint("price >= 0", name="price"),
        Index("ix_products_category_name", "category", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    sku: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    price: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    image_url: Mapped[str | None] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    # Merchandise only (NULL for food and drink).
    size_guide: Mapped[str | None] = mapped_column(Text)
    care_instructions: Mapped[str | None] = mapped_column(Text)


class ProductVariant(Base):
    __tablename__ = "product_variants"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock"),
        Index("ix_product_variants_product", "product_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    sku: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    price_delta: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    # Units left to sell; NULL is unlimited.
    stock: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")


class ProductCinema(Base):
    """Where a product is sold; a product with no row here is sold everywhere."""

    __tablename__ = "product_cinemas"

    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    cinema_id: Mapped[int] = mapped_column(
        ForeignKey("cinemas.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class PromoCode(Timestamps, Base):
    __tablename__ = "promo_codes"
    __table_args__ = (
        CheckConstraint("(percent_off IS NULL) <> (amount_off IS NULL)", name="one_discount"),
        CheckConstraint("percent_off > 0 AND percent_off <= 100", name="percent_off"),
        CheckConstraint("amount_off > 0", name="amount_off"),
        CheckConstraint("minimum_order_amount >= 0", name="minimum_order_amount"),
        CheckConstraint("applies_to IN ('ORDER', 'TICKETS', 'PRODUCTS')", name="applies_to"),
        CheckConstraint("usage_limit IS NULL OR usage_limit >= 0", name="usage_limit"),
        CheckConstraint("per_user_limit IS NULL OR per_user_limit >= 1", name="per_user_limit"),
        CheckConstraint(
            "times_used >= 0 AND (usage_limit IS NULL OR times_used <= usage_limit)",
            name="times_used",
        ),
        CheckConstraint(
            "valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from",
            name="validity",
        ),
        # Codes are case-insensitive: one code per lower-case spelling.
        Index("uq_promo_codes_code_lower", text("lower(code)"), unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    percent_off: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    amount_off: Mapped[Decimal | None] = mapped_column(MONEY)
    # Currency of amount_off and minimum_order_amount.
    currency: Mapped[str] = mapped_column(String(3), nullable=False)
    valid_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    usage_limit: Mapped[int | None] = mapped_column(Integer)
    per_user_limit: Mapped[int | None] = mapped_column(Integer)
    minimum_order_amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False, server_default="0")
    applies_to: Mapped[str] = mapped_column(String(16), nullable=False, server_default="ORDER")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    times_used: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class PromoCodeMovie(Base):
    """Restricts a promo code's ticket lines to these movies."""

    __tablename__ = "promo_code_movies"

    promo_code_id: Mapped[int] = mapped_column(
        ForeignKey("promo_codes.id", ondelete="CASCADE"), primary_key=True
    )
    movie_id: Mapped[int] = mapped_column(
        ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True
    )


class PromoCodeProduct(Base):
    """Restricts a promo code's product lines to these products."""

    __tablename__ = "promo_code_products"

    promo_code_id: Mapped[int] = mapped_column(
        ForeignKey("promo_codes.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
