"""Inputs of the shop domain: filters and the staff mutations' inputs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from graph.shop.enums import ProductCategory, PromoCodeAppliesTo

UNSET = strawberry.UNSET


@strawberry.input(description="Which products to list (all given conditions apply).")
class ProductFilter:
    category: ProductCategory | None = strawberry.field(default=None, description="Category.")
    cinema_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Sold at this cinema: products without cinemas (sold everywhere) and "
        "those listing it.",
    )
    search: str | None = strawberry.field(
        default=None, description="Text in the name, description or SKU (any case)."
    )
    include_inactive: bool = strawberry.field(
        default=False, description="Staff only: include withdrawn products."
    )


@strawberry.input(
    description="A variant of a product. On update, `id` (or else the SKU of a current "
    "variant) picks the variant to change; without a match it is a new variant."
)
class ProductVariantInput:
    id: strawberry.ID | None = strawberry.field(
        default=None, description="Update: the current variant this item changes."
    )
    name: str = strawberry.field(description="Name, 1 to 100 characters (e.g. Large).")
    sku: str = strawberry.field(description="Unique SKU (letters, digits, . _ -; up to 64).")
    price_delta: Decimal = strawberry.field(
        default=Decimal(0),
        description="Added to the product's price (may be negative; the sum must be >= 0).",
    )
    stock: int | None = strawberry.field(
        default=UNSET,
        description="Units to sell; null is unlimited. Omitted: unlimited for a new variant, "
        "unchanged for a current one.",
    )


@strawberry.input(description="A new product (staff). Prices are in the server's currency.")
class CreateProductInput:
    name: str = strawberry.field(description="Name, 1 to 200 characters.")
    description: str | None = strawberry.field(default=None, description="Description.")
    sku: str = strawberry.field(description="Unique SKU (letters, digits, . _ -; up to 64).")
    category: ProductCategory = strawberry.field(description="Category.")
    price: Decimal = strawberry.field(description="Base price, >= 0, at most 2 decimals.")
    image_url: str | None = strawberry.field(default=None, description="Image URL (http(s)).")
    cinema_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Cinemas selling it; empty or omitted: every cinema."
    )
    variants: list[ProductVariantInput] | None = strawberry.field(
        default=None,
        description="Variants, at most 20; omitted or empty: one variant named Standard with "
        "the product's SKU.",
    )
    size_guide: str | None = strawberry.field(default=None, description="Merchandise only.")
    care_instructions: str | None = strawberry.field(default=None, description="Merchandise only.")
    is_active: bool = strawberry.field(default=True, description="On sale.")


@strawberry.input(description="Changes to a product (staff); omitted fields stay as they are.")
class UpdateProductInput:
    id: strawberry.ID = strawberry.field(description="The product.")
    name: str | None = strawberry.field(default=UNSET, description="Name.")
    description: str | None = strawberry.field(default=UNSET, description="Description.")
    sku: str | None = strawberry.field(default=UNSET, description="SKU.")
    category: ProductCategory | None = strawberry.field(default=UNSET, description="Category.")
    price: Decimal | None = strawberry.field(default=UNSET, description="Base price.")
    image_url: str | None = strawberry.field(default=UNSET, description="Image URL.")
    cinema_ids: list[strawberry.ID] | None = strawberry.field(
        default=UNSET, description="Cinemas selling it (replaces them; empty: every cinema)."
    )
    variants: list[ProductVariantInput] | None = strawberry.field(
        default=UNSET,
        description="The whole variant list: matched variants change, new ones are added, "
        "left-out ones are deleted (or deactivated once sold); empty: the Standard variant.",
    )
    size_guide: str | None = strawberry.field(default=UNSET, description="Merchandise only.")
    care_instructions: str | None = strawberry.field(default=UNSET, description="Merchandise only.")
    is_active: bool | None = strawberry.field(
        default=UNSET, description="On sale (false withdraws the product; sold ones stay)."
    )


@strawberry.input(description="The product to delete (staff); only one never sold.")
class DeleteProductInput:
    id: strawberry.ID = strawberry.field(description="The product.")


@strawberry.input(description="Set a variant's stock (staff).")
class SetProductStockInput:
    variant_id: strawberry.ID = strawberry.field(description="The variant.")
    stock: int | None = strawberry.field(description="Units left to sell, >= 0; null: unlimited.")


@strawberry.input(description="Which promo codes to list (all given conditions apply).")
class PromoCodeFilter:
    search: str | None = strawberry.field(
        default=None, description="Text in the code or description (any case)."
    )
    is_active: bool | None = strawberry.field(default=None, description="Active or not.")
    applies_to: PromoCodeAppliesTo | None = strawberry.field(
        default=None, description="What the code discounts."
    )


@strawberry.input(description="A new promo code (staff). Amounts are in the server's currency.")
class CreatePromoCodeInput:
    code: str = strawberry.field(
        description="3 to 40 letters, digits, - or _; unique in any letter case."
    )
    description: str | None = strawberry.field(default=None, description="Description.")
    percent_off: Decimal | None = strawberry.field(
        default=None, description="Percentage off, above 0 and at most 100 (or amountOff)."
    )
    amount_off: Decimal | None = strawberry.field(
        default=None, description="Fixed amount off, above 0 (or percentOff)."
    )
    valid_from: datetime | None = strawberry.field(default=None, description="Usable from.")
    valid_until: datetime | None = strawberry.field(
        default=None, description="Usable until (after validFrom)."
    )
    usage_limit: int | None = strawberry.field(
        default=None, description="Total uses, >= 0 (null: unlimited)."
    )
    per_user_limit: int | None = strawberry.field(
        default=None, description="Uses per customer, >= 1 (null: unlimited)."
    )
    minimum_order_amount: Decimal | None = strawberry.field(
        default=None, description="Order subtotal needed (default 0)."
    )
    applies_to: PromoCodeAppliesTo = strawberry.field(
        default=PromoCodeAppliesTo.ORDER, description="What the code discounts."
    )
    movie_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Limit the ticket discount to these movies."
    )
    product_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Limit the product discount to these products."
    )
    is_active: bool = strawberry.field(default=True, description="Usable.")


@strawberry.input(
    description="Changes to a promo code (staff); omitted fields stay. Giving percentOff "
    "replaces an amountOff and the other way round."
)
class UpdatePromoCodeInput:
    id: strawberry.ID = strawberry.field(description="The promo code.")
    code: str | None = strawberry.field(default=UNSET, description="The code.")
    description: str | None = strawberry.field(default=UNSET, description="Description.")
    percent_off: Decimal | None = strawberry.field(default=UNSET, description="Percentage off.")
    amount_off: Decimal | None = strawberry.field(default=UNSET, description="Amount off.")
    valid_from: datetime | None = strawberry.field(
        default=UNSET, description="Usable from (null: always)."
    )
    valid_until: datetime | None = strawberry.field(
        default=UNSET, description="Usable until (null: always)."
    )
    usage_limit: int | None = strawberry.field(
        default=UNSET, description="Total uses (null: unlimited; not below timesUsed)."
    )
    per_user_limit: int | None = strawberry.field(
        default=UNSET, description="Uses per customer (null: unlimited)."
    )
    minimum_order_amount: Decimal | None = strawberry.field(
        default=UNSET, description="Order subtotal needed."
    )
    applies_to: PromoCodeAppliesTo | None = strawberry.field(
        default=UNSET, description="What the code discounts."
    )
    movie_ids: list[strawberry.ID] | None = strawberry.field(
        default=UNSET, description="Movie restriction (replaces it; empty: none)."
    )
    product_ids: list[strawberry.ID] | None = strawberry.field(
        default=UNSET, description="Product restriction (replaces it; empty: none)."
    )
    is_active: bool | None = strawberry.field(default=UNSET, description="Usable.")
