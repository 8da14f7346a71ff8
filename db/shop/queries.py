"""Reads of the shop: product lists and their variants and cinemas, promo codes and their
restrictions. Each is an async function on the `Database` returning plain rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, case, exists, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger

from db.search import contains_pattern
from db.session import Database
from db.shop.codes import ProductCategory, PromoCodeAppliesTo
from db.shop.models import (
    Product,
    ProductCinema,
    ProductVariant,
    PromoCode,
    PromoCodeMovie,
    PromoCodeProduct,
)

PRODUCT_COLUMNS = (
    Product.id,
    Product.name,
    Product.description,
    Product.sku,
    Product.category,
    Product.price,
    Product.currency,
    Product.image_url,
    Product.is_active,
    Product.size_guide,
    Product.care_instructions,
    Product.created_at,
    Product.updated_at,
)
# A variant row carries what its price and availability depend on: the product's price,
# currency and whether the product is active.
VARIANT_COLUMNS = (
    ProductVariant.id,
    ProductVariant.product_id,
    ProductVariant.position,
    ProductVariant.name,
    ProductVariant.sku,
    ProductVariant.price_delta,
    ProductVariant.stock,
    ProductVariant.is_active,
    Product.price.label("product_price"),
    Product.currency,
    Product.is_active.label("product_is_active"),
)
PROMO_COLUMNS = (
    PromoCode.id,
    PromoCode.code,
    PromoCode.description,
    PromoCode.percent_off,
    PromoCode.amount_off,
    PromoCode.currency,
    PromoCode.valid_from,
    PromoCode.valid_until,
    PromoCode.usage_limit,
    PromoCode.per_user_limit,
    PromoCode.minimum_order_amount,
    PromoCode.applies_to,
    PromoCode.is_active,
    PromoCode.times_used,
    PromoCode.created_at,
    PromoCode.updated_at,
)
_IDS = bindparam("ids", type_=ARRAY(BigInteger))
_CATEGORY_ORDER = case(
    {c.value: i for i, c in enumerate(ProductCategory)}, value=Product.category, else_=99
)


@dataclass(frozen=True, slots=True)
class ProductFilter:
    category: ProductCategory | None = None
    cinema_id: int | None = None
    search: str | None = None
    include_inactive: bool = False


def _product_conditions(f: ProductFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if not f.include_inactive:
        conds.append(Product.is_active.is_(True))
    if f.category is not None:
        conds.append(Product.category == f.category.value)
    if f.cinema_id is not None:
        # Sold there: no cinema rows at all (everywhere), or a row for this cinema.
        conds.append(
            or_(
                ~exists().where(ProductCinema.product_id == Product.id),
                exists().where(
                    ProductCinema.product_id == Product.id,
                    ProductCinema.cinema_id == f.cinema_id,
                ),
            )
        )
    if f.search is not None and f.search.strip():
        pattern = contains_pattern(f.search)
        conds.append(
            or_(
                Product.name.ilike(pattern, escape="\\"),
                Product.description.ilike(pattern, escape="\\"),
                Product.sku.ilike(pattern, escape="\\"),
            )
        )
    return conds


async def count_products(db: Database, f: ProductFilter) -> int:
    stmt = select(func.count()).select_from(Product).where(*_product_conditions(f))
    return int(await db.scalar(stmt))


async def list_products(
    db: Database, f: ProductFilter, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of products: by category (snacks, drinks, combos, merchandise), name, id."""
    return await db.fetch(
        select(*PRODUCT_COLUMNS)
        .where(*_product_conditions(f))
        .order_by(_CATEGORY_ORDER, func.lower(Product.name), Product.id)
        .offset(offset)
        .limit(limit)
    )


async def products_by_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """Products by id, inactive ones included, in no particular order."""
    return await db.fetch(_products_by_ids(), {"ids": list(ids)})


@lru_cache(maxsize=1)
def _products_by_ids() -> Select[*tuple[Any, ...]]:
    return select(*PRODUCT_COLUMNS).where(Product.id == func.any(_IDS))


async def variants_by_product_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """Every variant of these products (inactive ones included), by product and position."""
    return await db.fetch(_variants_by_product_ids(), {"ids": list(ids)})


@lru_cache(maxsize=1)
def _variants_by_product_ids() -> Select[*tuple[Any, ...]]:
    return (
        select(*VARIANT_COLUMNS)
        .join(Product, Product.id == ProductVariant.product_id)
        .where(ProductVariant.product_id == func.any(_IDS))
        .order_by(ProductVariant.product_id, ProductVariant.position, ProductVariant.id)
    )


async def variants_by_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """Variants by id, inactive ones included, in no particular order."""
    return await db.fetch(_variants_by_ids(), {"ids": list(ids)})


@lru_cache(maxsize=1)
def _variants_by_ids() -> Select[*tuple[Any, ...]]:
    return (
        select(*VARIANT_COLUMNS)
        .join(Product, Product.id == ProductVariant.product_id)
        .where(ProductVariant.id == func.any(_IDS))
    )


async def cinema_ids_by_product_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """(`product_id`, `cinema_id`) of the products' cinema restrictions."""
    return await db.fetch(
        select(ProductCinema.product_id, ProductCinema.cinema_id)
        .where(ProductCinema.product_id == func.any(_IDS))
        .order_by(ProductCinema.product_id, ProductCinema.cinema_id),
        {"ids": list(ids)},
    )


# --- promo codes --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PromoCodeFilter:
    search: str | None = None
    is_active: bool | None = None
    applies_to: PromoCodeAppliesTo | None = None


def _promo_conditions(f: PromoCodeFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.search is not None and f.search.strip():
        pattern = contains_pattern(f.search)
        conds.append(
            or_(
                PromoCode.code.ilike(pattern, escape="\\"),
                PromoCode.description.ilike(pattern, escape="\\"),
            )
        )
    if f.is_active is not None:
        conds.append(PromoCode.is_active.is_(f.is_active))
    if f.applies_to is not None:
        conds.append(PromoCode.applies_to == f.applies_to.value)
    return conds


async def count_promo_codes(db: Database, f: PromoCodeFilter) -> int:
    stmt = select(func.count()).select_from(PromoCode).where(*_promo_conditions(f))
    return int(await db.scalar(stmt))


async def list_promo_codes(
    db: Database, f: PromoCodeFilter, offset: int, limit: int
) -> Sequence[Row[Any]]:
    """A page of promo codes by code."""
    return await db.fetch(
        select(*PROMO_COLUMNS)
        .where(*_promo_conditions(f))
        .order_by(func.lower(PromoCode.code), PromoCode.id)
        .offset(offset)
        .limit(limit)
    )


async def promo_codes_by_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    return await db.fetch(
        select(*PROMO_COLUMNS).where(PromoCode.id == func.any(_IDS)), {"ids": list(ids)}
    )


async def movie_ids_by_promo_code_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """(`promo_code_id`, `movie_id`) of the codes' movie restrictions."""
    return await db.fetch(
        select(PromoCodeMovie.promo_code_id, PromoCodeMovie.movie_id)
        .where(PromoCodeMovie.promo_code_id == func.any(_IDS))
        .order_by(PromoCodeMovie.promo_code_id, PromoCodeMovie.movie_id),
        {"ids": list(ids)},
    )


async def product_ids_by_promo_code_ids(db: Database, ids: Sequence[int]) -> Sequence[Row[Any]]:
    """(`promo_code_id`, `product_id`) of the codes' product restrictions."""
    return await db.fetch(
        select(PromoCodeProduct.promo_code_id, PromoCodeProduct.product_id)
        .where(PromoCodeProduct.promo_code_id == func.any(_IDS))
        .order_by(PromoCodeProduct.promo_code_id, PromoCodeProduct.product_id),
        {"ids": list(ids)},
    )
