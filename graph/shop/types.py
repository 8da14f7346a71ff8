"""GraphQL types of the shop: Product, ProductVariant, PromoCode, ShopError, payloads.

Relations resolve through `graph.shop.loaders`, `graph.cinemas.loaders` and
`graph.catalog.loaders`, imported as module objects (read at call time); the types of other
domains are lazy.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from graph.catalog import loaders as catalog_loaders
from graph.cinemas import loaders as cinema_loaders
from graph.context import Info
from graph.relay import Node, to_global_id
from graph.scalars import Money
from graph.shop import loaders as shop_loaders
from graph.shop.enums import ProductCategory, PromoCodeAppliesTo, ShopErrorCode

if TYPE_CHECKING:
    from graph.catalog.types import Movie
    from graph.cinemas.types import Cinema


async def viewer_is_staff(info: Info) -> bool:
    viewer = await info.context.viewer()
    return viewer is not None and viewer.is_staff


@strawberry.type(
    description="A variant of a product (a size, a flavour): what an order line buys. Every "
    "product has at least one."
)
class ProductVariant(Node):
    pk: strawberry.Private[int]
    product_pk: strawberry.Private[int]
    product_is_active: strawberry.Private[bool]
    name: str = strawberry.field(description="Name, e.g. Large or XL.")
    sku: str = strawberry.field(description="Unique stock-keeping unit (upper-case).")
    price_delta: Money = strawberry.field(
        description="Added to the product's price (may be negative)."
    )
    price: Money = strawberry.field(description="The price of this variant: product + delta.")
    stock: int | None = strawberry.field(
        description="Units left to sell; null is unlimited. Checkout takes from it."
    )
    is_active: bool = strawberry.field(
        description="False once withdrawn (inactive variants are shown to staff only)."
    )
    is_available: bool = strawberry.field(
        description="Can be bought now: it and its product are active, and stock is "
        "unlimited or above 0."
    )

    @classmethod
    def from_row(cls, row: Any) -> ProductVariant:
        currency = row.currency
        price = row.product_price + row.price_delta
        return cls(
            id=strawberry.ID(to_global_id("ProductVariant", row.id)),
            pk=row.id,
            product_pk=row.product_id,
            product_is_active=row.product_is_active,
            name=row.name,
            sku=row.sku,
            price_delta=Money(amount=row.price_delta, currency=currency),
            price=Money(amount=price, currency=currency),
            stock=row.stock,
            is_active=row.is_active,
            is_available=bool(
                row.is_active and row.product_is_active and (row.stock is None or row.stock > 0)
            ),
        )

    @strawberry.field(description="The product this is a variant of.")
    async def product(self, info: Info) -> Product:
        found = await info.context.loader(shop_loaders.ProductByIdLoader).load(self.product_pk)
        assert found is not None  # the foreign key cascades
        return found


@strawberry.type(description="Something sold besides tickets: food, drinks, combos, merchandise.")
class Product(Node):
    pk: strawberry.Private[int]
    name: str = strawberry.field(description="Name.")
    description: str = strawberry.field(description="Description (may be empty).")
    sku: str = strawberry.field(description="Unique stock-keeping unit (upper-case).")
    category: ProductCategory = strawberry.field(description="Category.")
    price: Money = strawberry.field(description="Base price; variants add their delta.")
    image_url: str | None = strawberry.field(description="Image URL.")
    is_active: bool = strawberry.field(
        description="False once withdrawn (inactive products are shown to staff only)."
    )
    size_guide: str | None = strawberry.field(description="Merchandise: the size guide.")
    care_instructions: str | None = strawberry.field(description="Merchandise: care instructions.")
    created_at: datetime = strawberry.field(description="When the product was added.")
    updated_at: datetime = strawberry.field(description="When the product last changed.")

    @classmethod
    def from_row(cls, row: Any) -> Product:
        return cls(
            id=strawberry.ID(to_global_id("Product", row.id)),
            pk=row.id,
            name=row.name,
            description=row.description,
            sku=row.sku,
            category=ProductCategory(row.category),
            price=Money(amount=row.price, currency=row.currency),
            image_url=row.image_url,
            is_active=row.is_active,
            size_guide=row.size_guide,
            care_instructions=row.care_instructions,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(
        description="Variants in display order; inactive ones are listed to staff only."
    )
    async def variants(self, info: Info) -> list[ProductVariant]:
        loader = info.context.loader(shop_loaders.VariantsByProductIdLoader)
        variants = await loader.load(self.pk)
        if await viewer_is_staff(info):
            return variants
        return [v for v in variants if v.is_active]

    @strawberry.field(description="Where the product is sold; empty: at every cinema.")
    async def cinemas(
        self, info: Info
    ) -> list[Annotated[Cinema, strawberry.lazy("graph.cinemas.types")]]:
        ids = await info.context.loader(shop_loaders.CinemaIdsByProductIdLoader).load(self.pk)
        if not ids:
            return []
        found = await info.context.loader(cinema_loaders.CinemaByIdLoader).load_many(ids)
        return [c for c in found if c is not None]


@strawberry.type(description="A promo code (staff only): a discount customers enter at checkout.")
class PromoCode(Node):
    pk: strawberry.Private[int]
    code: str = strawberry.field(description="The code, upper-case; customers may type any case.")
    description: str = strawberry.field(description="Internal description (may be empty).")
    percent_off: Decimal | None = strawberry.field(
        description='Percentage off (e.g. "10.00"), or null for a fixed amount.'
    )
    amount_off: Money | None = strawberry.field(
        description="Fixed amount off, or null for a percentage."
    )
    valid_from: datetime | None = strawberry.field(description="Usable from (null: always).")
    valid_until: datetime | None = strawberry.field(description="Usable until (null: always).")
    usage_limit: int | None = strawberry.field(
        description="Total uses allowed (null: unlimited; 0: exhausted)."
    )
    per_user_limit: int | None = strawberry.field(
        description="Uses allowed per customer (null: unlimited)."
    )
    minimum_order_amount: Money = strawberry.field(
        description="The order subtotal needed to use the code (0: none)."
    )
    applies_to: PromoCodeAppliesTo = strawberry.field(description="What the code discounts.")
    is_active: bool = strawberry.field(description="False: switched off by staff.")
    times_used: int = strawberry.field(
        description="Uses by live orders (pending, paid or refunded)."
    )
    remaining_uses: int | None = strawberry.field(
        description="usageLimit - timesUsed (null: unlimited)."
    )
    created_at: datetime = strawberry.field(description="When the code was created.")
    updated_at: datetime = strawberry.field(description="When the code last changed.")

    @classmethod
    def from_row(cls, row: Any) -> PromoCode:
        currency = row.currency
        limit = row.usage_limit
        return cls(
            id=strawberry.ID(to_global_id("PromoCode", row.id)),
            pk=row.id,
            code=row.code,
            description=row.description,
            percent_off=row.percent_off,
            amount_off=None
            if row.amount_off is None
            else Money(amount=row.amount_off, currency=currency),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            usage_limit=limit,
            per_user_limit=row.per_user_limit,
            minimum_order_amount=Money(amount=row.minimum_order_amount, currency=currency),
            applies_to=PromoCodeAppliesTo(row.applies_to),
            is_active=row.is_active,
            times_used=row.times_used,
            remaining_uses=None if limit is None else max(0, limit - row.times_used),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="Movies the code's ticket discount is limited to (empty: any).")
    async def movie_ids(self, info: Info) -> list[strawberry.ID]:
        ids = await info.context.loader(shop_loaders.MovieIdsByPromoCodeIdLoader).load(self.pk)
        return [strawberry.ID(to_global_id("Movie", i)) for i in ids]

    @strawberry.field(description="The movies of movieIds.")
    async def movies(
        self, info: Info
    ) -> list[Annotated[Movie, strawberry.lazy("graph.catalog.types")]]:
        ids = await info.context.loader(shop_loaders.MovieIdsByPromoCodeIdLoader).load(self.pk)
        if not ids:
            return []
        found = await info.context.loader(catalog_loaders.MovieByIdLoader).load_many(ids)
        return [m for m in found if m is not None]

    @strawberry.field(
        description="Products the code's product discount is limited to (empty: any)."
    )
    async def product_ids(self, info: Info) -> list[strawberry.ID]:
        loader = info.context.loader(shop_loaders.ProductIdsByPromoCodeIdLoader)
        return [strawberry.ID(to_global_id("Product", i)) for i in await loader.load(self.pk)]

    @strawberry.field(description="The products of productIds.")
    async def products(self, info: Info) -> list[Product]:
        loader = info.context.loader(shop_loaders.ProductIdsByPromoCodeIdLoader)
        ids = await loader.load(self.pk)
        if not ids:
            return []
        found = await info.context.loader(shop_loaders.ProductByIdLoader).load_many(ids)
        return [p for p in found if p is not None]


@strawberry.type(description="An expected failure of a shop mutation.")
class ShopError:
    code: ShopErrorCode = strawberry.field(description="Machine-readable code.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type(description="Result of createProduct and updateProduct.")
class ProductPayload:
    product: Product | None = strawberry.field(description="The product, on success.")
    errors: list[ShopError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of deleteProduct.")
class DeleteProductPayload:
    deleted_product_id: strawberry.ID | None = strawberry.field(
        description="ID of the deleted product."
    )
    errors: list[ShopError] = strawberry.field(
        description="Empty on success; PRODUCT_SOLD when it was sold (deactivate it instead)."
    )


@strawberry.type(description="Result of setProductStock.")
class SetProductStockPayload:
    variant: ProductVariant | None = strawberry.field(description="The variant, on success.")
    product: Product | None = strawberry.field(description="Its product, on success.")
    errors: list[ShopError] = strawberry.field(description="Empty on success.")


@strawberry.type(description="Result of createPromoCode and updatePromoCode.")
class PromoCodePayload:
    promo_code: PromoCode | None = strawberry.field(description="The promo code, on success.")
    errors: list[ShopError] = strawberry.field(description="Empty on success.")
