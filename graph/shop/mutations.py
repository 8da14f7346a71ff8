"""Shop mutations (staff): products, their variants and stock, promo codes."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from db.errors import DomainError
from db.shop import actions
from graph.auth import IsStaff
from graph.context import Info
from graph.errors import payload_errors
from graph.relay import decode_id, to_global_id
from graph.shop.enums import ShopErrorCode
from graph.shop.inputs import (
    CreateProductInput,
    CreatePromoCodeInput,
    DeleteProductInput,
    ProductVariantInput,
    SetProductStockInput,
    UpdateProductInput,
    UpdatePromoCodeInput,
)
from graph.shop.loaders import ProductByIdLoader, PromoCodeByIdLoader, VariantByIdLoader
from graph.shop.types import (
    DeleteProductPayload,
    Product,
    ProductPayload,
    PromoCode,
    PromoCodePayload,
    SetProductStockPayload,
    ShopError,
)

_PRODUCT_FIELDS = (
    "name",
    "description",
    "sku",
    "category",
    "price",
    "image_url",
    "size_guide",
    "care_instructions",
    "is_active",
)
_PROMO_FIELDS = (
    "code",
    "description",
    "percent_off",
    "amount_off",
    "valid_from",
    "valid_until",
    "usage_limit",
    "per_user_limit",
    "minimum_order_amount",
    "applies_to",
    "is_active",
)


def _errors(exc: DomainError) -> list[ShopError]:
    return payload_errors(exc, ShopError, ShopErrorCode)


def _given(source: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: getattr(source, n) for n in names if getattr(source, n) is not strawberry.UNSET}


def _ids(values: list[strawberry.ID] | None, type_name: str, field: str) -> list[int]:
    return [decode_id(g, type_name, field) for g in values or []]


def _variant(i: int, item: ProductVariantInput) -> actions.VariantSpec:
    return actions.VariantSpec(
        id=None if item.id is None else decode_id(item.id, "ProductVariant", f"variants[{i}].id"),
        name=item.name,
        sku=item.sku,
        price_delta=item.price_delta,
        stock=actions.KEEP if item.stock is strawberry.UNSET else item.stock,
    )


def _product_data(source: CreateProductInput | UpdateProductInput) -> dict[str, Any]:
    data = _given(source, _PRODUCT_FIELDS)
    if source.cinema_ids is not strawberry.UNSET:
        data["cinema_ids"] = _ids(source.cinema_ids, "Cinema", "cinemaIds")
    if source.variants is not strawberry.UNSET and source.variants is not None:
        data["variants"] = [_variant(i, v) for i, v in enumerate(source.variants)]
    return data


def _promo_data(source: CreatePromoCodeInput | UpdatePromoCodeInput) -> dict[str, Any]:
    data = _given(source, _PROMO_FIELDS)
    if source.movie_ids is not strawberry.UNSET:
        data["movie_ids"] = _ids(source.movie_ids, "Movie", "movieIds")
    if source.product_ids is not strawberry.UNSET:
        data["product_ids"] = _ids(source.product_ids, "Product", "productIds")
    return data


async def _product(info: Info, pk: int) -> Product | None:
    info.context.reset_loaders()
    return await info.context.loader(ProductByIdLoader).load(pk)


async def _promo(info: Info, pk: int) -> PromoCode | None:
    info.context.reset_loaders()
    return await info.context.loader(PromoCodeByIdLoader).load(pk)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Add a product (staff). Without variants it gets one, named Standard, "
        "with the product's SKU.",
        permission_classes=[IsStaff],
    )
    async def create_product(
        self,
        info: Info,
        input: Annotated[CreateProductInput, strawberry.argument(description="The product.")],
    ) -> ProductPayload:
        try:
            data = _product_data(input)
            async with info.context.db.transaction() as session:
                pk = await actions.create_product(
                    session, data, currency=info.context.settings.currency
                )
        except DomainError as exc:
            return ProductPayload(product=None, errors=_errors(exc))
        return ProductPayload(product=await _product(info, pk), errors=[])

    @strawberry.mutation(
        description="Change a product (staff); a variant list replaces the variants "
        "(matched by id or SKU; left-out ones are deleted, or deactivated once sold).",
        permission_classes=[IsStaff],
    )
    async def update_product(
        self,
        info: Info,
        input: Annotated[
            UpdateProductInput, strawberry.argument(description="The product and its changes.")
        ],
    ) -> ProductPayload:
        try:
            pk = decode_id(input.id, "Product")
            data = _product_data(input)
            async with info.context.db.transaction() as session:
                await actions.update_product(session, pk, data)
        except DomainError as exc:
            return ProductPayload(product=None, errors=_errors(exc))
        return ProductPayload(product=await _product(info, pk), errors=[])

    @strawberry.mutation(
        description="Delete a product that was never sold (staff); a sold one is refused "
        "with PRODUCT_SOLD: deactivate it instead (updateProduct isActive: false).",
        permission_classes=[IsStaff],
    )
    async def delete_product(
        self,
        info: Info,
        input: Annotated[DeleteProductInput, strawberry.argument(description="The product.")],
    ) -> DeleteProductPayload:
        try:
            pk = decode_id(input.id, "Product")
            async with info.context.db.transaction() as session:
                await actions.delete_product(session, pk)
        except DomainError as exc:
            return DeleteProductPayload(deleted_product_id=None, errors=_errors(exc))
        info.context.reset_loaders()
        return DeleteProductPayload(
            deleted_product_id=strawberry.ID(to_global_id("Product", pk)), errors=[]
        )

    @strawberry.mutation(
        description="Set how many units of a variant are left to sell (staff); null is unlimited.",
        permission_classes=[IsStaff],
    )
    async def set_product_stock(
        self,
        info: Info,
        input: Annotated[
            SetProductStockInput, strawberry.argument(description="The variant and its stock.")
        ],
    ) -> SetProductStockPayload:
        try:
            pk = decode_id(input.variant_id, "ProductVariant", "variantId")
            async with info.context.db.transaction() as session:
                product_pk = await actions.set_variant_stock(session, pk, input.stock)
        except DomainError as exc:
            return SetProductStockPayload(variant=None, product=None, errors=_errors(exc))
        product = await _product(info, product_pk)
        variant = await info.context.loader(VariantByIdLoader).load(pk)
        return SetProductStockPayload(variant=variant, product=product, errors=[])

    @strawberry.mutation(description="Add a promo code (staff).", permission_classes=[IsStaff])
    async def create_promo_code(
        self,
        info: Info,
        input: Annotated[CreatePromoCodeInput, strawberry.argument(description="The code.")],
    ) -> PromoCodePayload:
        try:
            data = _promo_data(input)
            async with info.context.db.transaction() as session:
                pk = await actions.create_promo_code(
                    session, data, currency=info.context.settings.currency
                )
        except DomainError as exc:
            return PromoCodePayload(promo_code=None, errors=_errors(exc))
        return PromoCodePayload(promo_code=await _promo(info, pk), errors=[])

    @strawberry.mutation(description="Change a promo code (staff).", permission_classes=[IsStaff])
    async def update_promo_code(
        self,
        info: Info,
        input: Annotated[
            UpdatePromoCodeInput, strawberry.argument(description="The code and its changes.")
        ],
    ) -> PromoCodePayload:
        try:
            pk = decode_id(input.id, "PromoCode")
            data = _promo_data(input)
            async with info.context.db.transaction() as session:
                await actions.update_promo_code(session, pk, data)
        except DomainError as exc:
            return PromoCodePayload(promo_code=None, errors=_errors(exc))
        return PromoCodePayload(promo_code=await _promo(info, pk), errors=[])
