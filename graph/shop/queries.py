"""Shop queries: products (everyone; inactive ones for staff only) and promo codes (staff),
and their `node` resolvers with the same visibility."""

from __future__ import annotations

from typing import Annotated

import strawberry

from db.shop import queries as q
from graph.auth import IsStaff
from graph.context import Info
from graph.errors import search_text
from graph.pagination import Connection, PageArgs, paginate
from graph.relay import query_id, register_node
from graph.shop.inputs import ProductFilter, PromoCodeFilter
from graph.shop.loaders import ProductByIdLoader, PromoCodeByIdLoader, VariantByIdLoader
from graph.shop.types import Product, ProductVariant, PromoCode, viewer_is_staff


async def _products(info: Info, pks: list[int]) -> list[Product | None]:
    found = await info.context.loader(ProductByIdLoader).load_many(pks)
    if any(p is not None and not p.is_active for p in found) and not await viewer_is_staff(info):
        return [p if p is not None and p.is_active else None for p in found]
    return list(found)


async def _variants(info: Info, pks: list[int]) -> list[ProductVariant | None]:
    found = await info.context.loader(VariantByIdLoader).load_many(pks)

    def hidden(v: ProductVariant | None) -> bool:
        return v is not None and not (v.is_active and v.product_is_active)

    # Inactive variants, and variants of inactive products, are staff-only; sold-out ones
    # are public.
    if any(hidden(v) for v in found) and not await viewer_is_staff(info):
        return [None if v is None or hidden(v) else v for v in found]
    return list(found)


async def _promo_codes(info: Info, pks: list[int]) -> list[PromoCode | None]:
    if not await viewer_is_staff(info):
        return [None] * len(pks)
    return list(await info.context.loader(PromoCodeByIdLoader).load_many(pks))


register_node("Product", _products)
register_node("ProductVariant", _variants)
register_node("PromoCode", _promo_codes)


async def list_products(
    info: Info, filter: ProductFilter | None, args: PageArgs
) -> Connection[Product]:
    f = filter or ProductFilter()
    include_inactive = f.include_inactive and await viewer_is_staff(info)
    search = q.ProductFilter(
        category=f.category,
        cinema_id=None if f.cinema_id is None else query_id(f.cinema_id, "Cinema", "cinemaId"),
        search=search_text(f.search),
        include_inactive=include_inactive,
    )
    db = info.context.db

    async def count() -> int:
        return await q.count_products(db, search)

    async def fetch(offset: int, limit: int) -> list[Product]:
        items = [Product.from_row(r) for r in await q.list_products(db, search, offset, limit)]
        loader = info.context.loader(ProductByIdLoader)
        for p in items:
            loader.prime(p.pk, p)
        return items

    return await paginate(args, count, fetch)


async def list_promo_codes(
    info: Info, filter: PromoCodeFilter | None, args: PageArgs
) -> Connection[PromoCode]:
    f = filter or PromoCodeFilter()
    search = q.PromoCodeFilter(
        search=search_text(f.search), is_active=f.is_active, applies_to=f.applies_to
    )
    db = info.context.db

    async def count() -> int:
        return await q.count_promo_codes(db, search)

    async def fetch(offset: int, limit: int) -> list[PromoCode]:
        items = [PromoCode.from_row(r) for r in await q.list_promo_codes(db, search, offset, limit)]
        loader = info.context.loader(PromoCodeByIdLoader)
        for p in items:
            loader.prime(p.pk, p)
        return items

    return await paginate(args, count, fetch)


_First = Annotated[int | None, strawberry.argument(description="Page size (at most 100).")]
_After = Annotated[str | None, strawberry.argument(description="Cursor to start after.")]
_Last = Annotated[int | None, strawberry.argument(description="Page size, from the end.")]
_Before = Annotated[str | None, strawberry.argument(description="Cursor to end before.")]


@strawberry.type
class Query:
    @strawberry.field(
        description="Products on sale, by category (snacks, drinks, combos, merchandise) and "
        "name; staff may include withdrawn ones."
    )
    async def products(
        self,
        info: Info,
        filter: Annotated[
            ProductFilter | None, strawberry.argument(description="Conditions.")
        ] = None,
        first: _First = None,
        after: _After = None,
        last: _Last = None,
        before: _Before = None,
    ) -> Connection[Product]:
        return await list_products(info, filter, PageArgs(first, after, last, before))

    @strawberry.field(description="A product by ID; null when withdrawn (except for staff).")
    async def product(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The product's ID.")],
    ) -> Product | None:
        return (await _products(info, [query_id(id, "Product")]))[0]

    @strawberry.field(description="Promo codes by code (staff only).", permission_classes=[IsStaff])
    async def promo_codes(
        self,
        info: Info,
        filter: Annotated[
            PromoCodeFilter | None, strawberry.argument(description="Conditions.")
        ] = None,
        first: _First = None,
        after: _After = None,
        last: _Last = None,
        before: _Before = None,
    ) -> Connection[PromoCode]:
        return await list_promo_codes(info, filter, PageArgs(first, after, last, before))

    @strawberry.field(description="A promo code by ID (staff only; null for others).")
    async def promo_code(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The promo code's ID.")],
    ) -> PromoCode | None:
        return (await _promo_codes(info, [query_id(id, "PromoCode")]))[0]
