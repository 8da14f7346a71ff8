"""GraphQL enums of the shop domain, registered once (import them from here)."""

from __future__ import annotations

import strawberry

from db.shop.codes import ProductCategory, PromoCodeAppliesTo, ShopErrorCode

strawberry.enum(ProductCategory, description="What kind of product: food, drink, combo, merch.")
strawberry.enum(
    PromoCodeAppliesTo,
    description="What a promo code discounts: the whole order, its tickets or its products.",
)
strawberry.enum(ShopErrorCode, description="Codes of shop mutation errors.")

__all__ = ["ProductCategory", "PromoCodeAppliesTo", "ShopErrorCode"]
