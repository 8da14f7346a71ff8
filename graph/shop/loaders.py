"""Loaders of the shop: products, variants, product cinemas, promo codes and their
restrictions, batched per request.

`graph.shop.types` resolves its relations through these loaders and these loaders build its
types: each module imports the other as a module object (read at call time).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from db.shop import queries
from graph.loaders import ContextLoader
from graph.shop import types as shop_types

if TYPE_CHECKING:
    from graph.shop.types import Product, ProductVariant, PromoCode


class ProductByIdLoader(ContextLoader[int, "Product | None"]):
    """Products by id, inactive ones included (callers decide who may see them)."""

    async def batch_load_fn(self, keys: list[int]) -> list[Product | None]:
        rows = await queries.products_by_ids(self.context.db, keys)
        found = {row.id: shop_types.Product.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class VariantsByProductIdLoader(ContextLoader[int, "list[ProductVariant]"]):
    """Every variant of a product (inactive ones included), in display order."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[ProductVariant]]:
        found: dict[int, list[ProductVariant]] = defaultdict(list)
        for row in await queries.variants_by_product_ids(self.context.db, keys):
            found[row.product_id].append(shop_types.ProductVariant.from_row(row))
        return [found.get(k, []) for k in keys]


class VariantByIdLoader(ContextLoader[int, "ProductVariant | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[ProductVariant | None]:
        rows = await queries.variants_by_ids(self.context.db, keys)
        found = {row.id: shop_types.ProductVariant.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class CinemaIdsByProductIdLoader(ContextLoader[int, list[int]]):
    """The cinemas a product is restricted to (empty: sold everywhere)."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for row in await queries.cinema_ids_by_product_ids(self.context.db, keys):
            found[row.product_id].append(row.cinema_id)
        return [found.get(k, []) for k in keys]


class PromoCodeByIdLoader(ContextLoader[int, "PromoCode | None"]):
    async def batch_load_fn(self, keys: list[int]) -> list[PromoCode | None]:
        rows = await queries.promo_codes_by_ids(self.context.db, keys)
        found = {row.id: shop_types.PromoCode.from_row(row) for row in rows}
        return [found.get(k) for k in keys]


class MovieIdsByPromoCodeIdLoader(ContextLoader[int, list[int]]):
    """The movies a promo code's ticket lines are restricted to (empty: any)."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for row in await queries.movie_ids_by_promo_code_ids(self.context.db, keys):
            found[row.promo_code_id].append(row.movie_id)
        return [found.get(k, []) for k in keys]


class ProductIdsByPromoCodeIdLoader(ContextLoader[int, list[int]]):
    """The products a promo code's product lines are restricted to (empty: any)."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        for row in await queries.product_ids_by_promo_code_ids(self.context.db, keys):
            found[row.promo_code_id].append(row.product_id)
        return [found.get(k, []) for k in keys]
