"""Shop actions for staff: products with their variants and cinemas, stock, promo codes.

Failures are DomainErrors with codes from db/shop/codes.py. Uniqueness (product and variant
SKUs, promo codes in any letter case) is checked first for a friendly error and then judged
by the unique constraints, so two requests racing for one SKU or code end with one winner
and one SKU_TAKEN / CODE_TAKEN, never an internal error.

Variants (docs/shop.md): every product has at least one. Without a variant list a product
gets one default variant named "Standard" whose SKU is the product's. On update a variant
list replaces the current one: an item with an `id`, or else with the SKU of a current
variant, updates that variant (and reactivates it); other items are new variants; current
variants left out are deleted when no order line names them, and deactivated otherwise.
The list order is the display order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.catalog.models import Movie
from db.cinemas.models import Cinema
from db.errors import DomainError, Validator
from db.orders.models import OrderLine
from db.shop.codes import (
    DEFAULT_VARIANT_NAME,
    MAX_CINEMAS,
    MAX_RESTRICTIONS,
    MAX_VARIANTS,
    PROMO_CODE_RE,
    SKU_RE,
    ProductCategory,
    PromoCodeAppliesTo,
)
from db.shop.codes import ShopErrorCode as Code
from db.shop.models import (
    Product,
    ProductCinema,
    ProductVariant,
    PromoCode,
    PromoCodeMovie,
    PromoCodeProduct,
)
from db.urls import is_http_url

NAME_MAX = 200
VARIANT_NAME_MAX = 100
DESCRIPTION_MAX = 5000
TEXT_MAX = 5000
URL_MAX = 500
PROMO_DESCRIPTION_MAX = 1000
# Numeric(12, 2): below 10^10.
MAX_AMOUNT = Decimal("9999999999.99")
MAX_STOCK = 1_000_000_000
MAX_LIMIT = 1_000_000_000
CENT = Decimal("0.01")

_SKU_CONSTRAINTS = ("uq_products_sku", "uq_product_variants_sku")
_CODE_CONSTRAINT = "uq_promo_codes_code_lower"
_TIMES_USED_CONSTRAINT = "ck_promo_codes_times_used"


class _Keep:
    """An omitted input field: leave the stored value as it is."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


@dataclass(frozen=True, slots=True)
class VariantSpec:
    """One variant as staff give it; `id` (or else `sku`) matches a current variant on
    update; `stock` KEEP leaves a matched variant's stock (a new one is unlimited)."""

    name: str
    sku: str
    price_delta: Decimal = Decimal(0)
    stock: Any = KEEP
    id: int | None = None


# --- validation helpers -------------------------------------------------------------------


def _money_ok(value: Decimal, *, signed: bool = False) -> bool:
    """Finite, at most 2 decimals, within Numeric(12, 2); >= 0 unless `signed`. Range before
    quantize: quantizing a huge exponent raises."""
    if not value.is_finite():
        return False
    low = -MAX_AMOUNT if signed else Decimal(0)
    return low <= value <= MAX_AMOUNT and value == value.quantize(CENT)


def clean_sku(value: str) -> str:
    return value.strip().upper()


def _check_text(
    v: Validator, value: str | None, field: str, limit: int, *, required: bool = False
) -> None:
    if value is None or value == "":
        v.check(not required, field, "Must not be empty.")
        return
    v.check(len(value) <= limit, field, f"At most {limit} characters.")


def _check_sku(v: Validator, sku: str, field: str) -> None:
    v.check(
        bool(SKU_RE.match(sku)),
        field,
        "A SKU is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
    )


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _sku_taken(exc: IntegrityError) -> DomainError | None:
    text = str(exc.orig)
    if _SKU_CONSTRAINTS[0] in text:
        return DomainError(Code.SKU_TAKEN, "Another product has this SKU.", "sku")
    if _SKU_CONSTRAINTS[1] in text:
        return DomainError(Code.SKU_TAKEN, "Another variant has this SKU.", "variants")
    return None


async def _flush_skus(session: AsyncSession) -> None:
    """Flush; a unique violation of a SKU (a racing request) is SKU_TAKEN."""
    try:
        await session.flush()
    except IntegrityError as exc:
        error = _sku_taken(exc)
        if error is not None:
            raise error from exc
        raise


async def _execute_skus(session: AsyncSession, stmt: Any) -> Any:
    try:
        return await session.execute(stmt)
    except IntegrityError as exc:
        error = _sku_taken(exc)
        if error is not None:
            raise error from exc
        raise


# --- products -----------------------------------------------------------------------------

PRODUCT_FIELDS = frozenset(
    {
        "name",
        "description",
        "sku",
        "category",
        "price",
        "image_url",
        "is_active",
        "size_guide",
        "care_instructions",
        "cinema_ids",
        "variants",
    }
)
_MERCH_ONLY = (("size_guide", "sizeGuide"), ("care_instructions", "careInstructions"))


def _clean_product(
    data: Mapping[str, Any], *, current: Product | None
) -> tuple[dict[str, Any], list[VariantSpec] | None, list[int] | None]:
    """Validated column values, the variant list (None: unchanged) and the cinema ids
    (None: unchanged). `current` is the stored product on update (None on create)."""
    unknown = set(data) - PRODUCT_FIELDS
    if unknown:
        raise ValueError(f"unknown product fields: {sorted(unknown)}")
    creating = current is None
    v = Validator(Code.VALIDATION_ERROR)
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("variants", "cinema_ids"):
            continue
        value = _strip(value)
        if key in ("image_url", "size_guide", "care_instructions") and value == "":
            value = None
        out[key] = value

    for key in ("name", "sku", "category", "price", "is_active", "description"):
        if key in out and out[key] is None:
            if key == "description":
                out[key] = ""
            elif key != "is_active":
                v.add(key, "Must not be null.")
                del out[key]
            else:
                del out[key]  # null: unchanged (the default on create)
    if creating or "name" in out:
        _check_text(v, out.get("name"), "name", NAME_MAX, required=True)
    _check_text(v, out.get("description"), "description", DESCRIPTION_MAX)
    if out.get("sku") is not None:
        out["sku"] = clean_sku(out["sku"])
        _check_sku(v, out["sku"], "sku")
    category = out.get("category")
    if category is not None:
        category = ProductCategory(category)
        out["category"] = category.value
    price = out.get("price")
    if price is not None:
        v.check(_money_ok(price), "price", "A price is >= 0 with at most 2 decimals.")
    image = out.get("image_url")
    if image is not None:
        _check_text(v, image, "imageUrl", URL_MAX)
        if len(image) <= URL_MAX:
            v.check(is_http_url(image), "imageUrl", "Must be an http(s) URL.")
    final_category = category.value if category is not None else (current and current.category)
    for key, api in _MERCH_ONLY:
        value = out.get(key)
        if value is not None:
            _check_text(v, value, api, TEXT_MAX)
            v.check(
                final_category == ProductCategory.MERCHANDISE,
                api,
                "Only merchandise has a size guide and care instructions.",
            )
        elif (
            current is not None
            and final_category != ProductCategory.MERCHANDISE
            and getattr(current, key) is not None
        ):
            out[key] = None  # no longer merchandise: the merchandise fields go

    variants = data.get("variants")
    if variants is not None:
        variants = list(variants)
        v.check(len(variants) <= MAX_VARIANTS, "variants", f"At most {MAX_VARIANTS} variants.")
    cinema_ids = data.get("cinema_ids")
    if cinema_ids is not None:
        cinema_ids = list(dict.fromkeys(cinema_ids))
        v.check(len(cinema_ids) <= MAX_CINEMAS, "cinemaIds", f"At most {MAX_CINEMAS} cinemas.")
    v.raise_if_any()

    if (variants is not None and not variants) or (creating and variants is None):
        # No variants: one default variant, named Standard, with the product's SKU.
        sku = out.get("sku") or (current.sku if current is not None else "")
        variants = [VariantSpec(name=DEFAULT_VARIANT_NAME, sku=sku)]
    if variants is not None:
        base = price if price is not None else (current.price if current is not None else None)
        variants = _clean_variants(variants, base)
    return out, variants, cinema_ids


def _clean_variants(variants: Sequence[VariantSpec], base: Decimal | None) -> list[VariantSpec]:
    v = Validator(Code.VALIDATION_ERROR)
    seen: set[str] = set()
    ids: set[int] = set()
    out: list[VariantSpec] = []
    for i, spec in enumerate(variants):
        where = f"variants[{i}]"
        name = spec.name.strip()
        sku = clean_sku(spec.sku)
        _check_text(v, name, f"{where}.name", VARIANT_NAME_MAX, required=True)
        _check_sku(v, sku, f"{where}.sku")
        v.check(sku not in seen, f"{where}.sku", "Two variants have this SKU.", Code.SKU_TAKEN)
        seen.add(sku)
        if spec.id is not None:
            v.check(spec.id not in ids, f"{where}.id", "This variant is listed twice.")
            ids.add(spec.id)
        delta_ok = _money_ok(spec.price_delta, signed=True)
        v.check(delta_ok, f"{where}.priceDelta", "At most 2 decimals.")
        if delta_ok and base is not None and _money_ok(base):
            total = base + spec.price_delta
            v.check(
                Decimal(0) <= total <= MAX_AMOUNT,
                f"{where}.priceDelta",
                "The variant's price (product price + delta) must be >= 0.",
            )
        if spec.stock is not KEEP and spec.stock is not None:
            v.check(
                0 <= spec.stock <= MAX_STOCK,
                f"{where}.stock",
                "Stock is >= 0 (null: unlimited).",
            )
        out.append(
            VariantSpec(
                name=name, sku=sku, price_delta=spec.price_delta, stock=spec.stock, id=spec.id
            )
        )
    v.raise_if_any()
    return out


async def _check_cinemas(session: AsyncSession, ids: Sequence[int]) -> None:
    if not ids:
        return
    found = set((await session.scalars(select(Cinema.id).where(Cinema.id.in_(ids)))).all())
    if any(i not in found for i in ids):
        raise DomainError(Code.NOT_FOUND, "Some cinemas do not exist.", "cinemaIds")


async def _set_cinemas(session: AsyncSession, product_id: int, ids: Sequence[int]) -> None:
    await session.execute(delete(ProductCinema).where(ProductCinema.product_id == product_id))
    if ids:
        await session.execute(
            insert(ProductCinema), [{"product_id": product_id, "cinema_id": c} for c in ids]
        )


async def _check_product_sku(session: AsyncSession, sku: str, product_id: int | None) -> None:
    stmt = select(Product.id).where(Product.sku == sku)
    if product_id is not None:
        stmt = stmt.where(Product.id != product_id)
    if await session.scalar(stmt) is not None:
        raise DomainError(Code.SKU_TAKEN, "Another product has this SKU.", "sku")


async def _check_variant_skus(
    session: AsyncSession, variants: Sequence[VariantSpec], product_id: int | None
) -> None:
    skus = [s.sku for s in variants]
    stmt = select(ProductVariant.sku).where(ProductVariant.sku.in_(skus))
    if product_id is not None:
        stmt = stmt.where(ProductVariant.product_id != product_id)
    taken = set((await session.scalars(stmt)).all())
    v = Validator(Code.SKU_TAKEN)
    for i, spec in enumerate(variants):
        v.check(spec.sku not in taken, f"variants[{i}].sku", "Another variant has this SKU.")
    v.raise_if_any()


async def create_product(session: AsyncSession, data: Mapping[str, Any], *, currency: str) -> int:
    """A new product in `currency` (the server's), its variants and cinemas; its id."""
    values, variants, cinema_ids = _clean_product(data, current=None)
    assert variants is not None
    await _check_product_sku(session, values["sku"], None)
    await _check_variant_skus(session, variants, None)
    await _check_cinemas(session, cinema_ids or [])
    values.setdefault("is_active", True)
    product = Product(**values, currency=currency)
    session.add(product)
    await _flush_skus(session)
    for position, spec in enumerate(variants):
        session.add(
            ProductVariant(
                product_id=product.id,
                position=position,
                name=spec.name,
                sku=spec.sku,
                price_delta=spec.price_delta,
                stock=None if spec.stock is KEEP else spec.stock,
            )
        )
    await _flush_skus(session)
    await _set_cinemas(session, product.id, cinema_ids or [])
    return product.id


async def _lock_product(session: AsyncSession, product_id: int, field: str = "id") -> Product:
    product = await session.scalar(
        select(Product).where(Product.id == product_id).with_for_update()
    )
    if product is None:
        raise DomainError(Code.NOT_FOUND, "No such product.", field)
    return product


def _sold_variant_ids(variant_ids: Sequence[int]) -> Any:
    return select(OrderLine.variant_id).where(OrderLine.variant_id.in_(list(variant_ids)))


async def update_product(
    session: AsyncSession, product_id: int, changes: Mapping[str, Any]
) -> None:
    """Change a product; a variant list replaces the variants (see the module's doc)."""
    product = await _lock_product(session, product_id)
    values, variants, cinema_ids = _clean_product(changes, current=product)
    current = list(
        (
            await session.scalars(
                select(ProductVariant)
                .where(ProductVariant.product_id == product_id)
                .order_by(ProductVariant.position, ProductVariant.id)
                .with_for_update()
            )
        ).all()
    )
    if variants is None and "price" in values:
        # The variants stay: each must still cost >= 0 at the new price.
        for i, var in enumerate(current):
            if var.is_active and values["price"] + var.price_delta < 0:
                raise DomainError(
                    Code.VALIDATION_ERROR,
                    f"The variant {var.name} would cost less than 0 at this price.",
                    "price",
                    index=i,
                )
    if "sku" in values:
        await _check_product_sku(session, values["sku"], product_id)
    if variants is not None:
        await _check_variant_skus(session, variants, product_id)
    if cinema_ids is not None:
        await _check_cinemas(session, cinema_ids)
    for key, value in values.items():
        setattr(product, key, value)
    product.updated_at = func.now()
    await _flush_skus(session)
    if variants is not None:
        await _replace_variants(session, product_id, current, variants)
    if cinema_ids is not None:
        await _set_cinemas(session, product_id, cinema_ids)


async def _replace_variants(
    session: AsyncSession,
    product_id: int,
    current: list[ProductVariant],
    specs: list[VariantSpec],
) -> None:
    by_id = {v.id: v for v in current}
    by_sku = {v.sku: v for v in current}
    matched: list[tuple[VariantSpec, ProductVariant | None]] = []
    used: set[int] = set()
    for i, spec in enumerate(specs):
        if spec.id is not None:
            found = by_id.get(spec.id)
            if found is None:
                raise DomainError(
                    Code.NOT_FOUND, "No such variant of this product.", f"variants[{i}].id"
                )
        else:
            found = by_sku.get(spec.sku)
            if found is not None and found.id in used:
                found = None
        if found is not None:
            used.add(found.id)
        matched.append((spec, found))
    left_out = [v for v in current if v.id not in used]
    sold = (
        set((await session.scalars(_sold_variant_ids([v.id for v in left_out]))).all())
        if left_out
        else set()
    )
    # SKUs may move between variants of this product: park the changing ones on a unique
    # placeholder first so no statement sees two rows with one SKU.
    changing = [var for spec, var in matched if var is not None and var.sku != spec.sku]
    gone = [v for v in left_out if v.id not in sold]
    if gone:
        await session.execute(
            delete(ProductVariant).where(ProductVariant.id.in_([v.id for v in gone]))
        )
    for parked in changing:  # "~" is never in a real SKU
        await session.execute(
            update(ProductVariant).where(ProductVariant.id == parked.id).values(sku=f"~{parked.id}")
        )
    position = 0
    for spec, var in matched:
        values: dict[str, Any] = {
            "name": spec.name,
            "sku": spec.sku,
            "price_delta": spec.price_delta,
            "position": position,
            "is_active": True,
        }
        if var is None:
            values["stock"] = None if spec.stock is KEEP else spec.stock
            await _execute_skus(
                session, insert(ProductVariant).values(product_id=product_id, **values)
            )
        else:
            if spec.stock is not KEEP:
                values["stock"] = spec.stock
            await _execute_skus(
                session, update(ProductVariant).where(ProductVariant.id == var.id).values(**values)
            )
        position += 1
    for var in left_out:
        if var.id in sold:
            await session.execute(
                update(ProductVariant)
                .where(ProductVariant.id == var.id)
                .values(is_active=False, position=position)
            )
            position += 1
    # ORM copies of the rows are stale now.
    session.expire_all()


async def set_variant_stock(session: AsyncSession, variant_id: int, stock: int | None) -> int:
    """Set a variant's stock (None: unlimited); returns its product's id."""
    if stock is not None and not 0 <= stock <= MAX_STOCK:
        raise DomainError(Code.VALIDATION_ERROR, "Stock is >= 0 (null: unlimited).", "stock")
    product_id = await session.scalar(
        update(ProductVariant)
        .where(ProductVariant.id == variant_id)
        .values(stock=stock)
        .returning(ProductVariant.product_id)
    )
    if product_id is None:
        raise DomainError(Code.NOT_FOUND, "No such variant.", "variantId")
    await session.execute(
        update(Product).where(Product.id == product_id).values(updated_at=func.now())
    )
    return int(product_id)


async def delete_product(session: AsyncSession, product_id: int) -> None:
    """Delete a product that was never sold; one that was must be deactivated instead."""
    await _lock_product(session, product_id)
    sold = await session.scalar(select(exists().where(OrderLine.product_id == product_id)))
    if sold:
        raise _sold_error()
    try:
        async with session.begin_nested():
            await session.execute(delete(Product).where(Product.id == product_id))
    except IntegrityError as exc:  # an order line committed in between
        raise _sold_error() from exc


def _sold_error() -> DomainError:
    return DomainError(
        Code.PRODUCT_SOLD,
        "This product has been sold and cannot be deleted; deactivate it instead "
        "(updateProduct with isActive: false).",
        "id",
    )


# --- promo codes --------------------------------------------------------------------------

PROMO_FIELDS = frozenset(
    {
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
        "movie_ids",
        "product_ids",
    }
)


def clean_code(value: str) -> str:
    return value.strip().upper()


def _clean_promo(
    data: Mapping[str, Any], *, current: PromoCode | None
) -> tuple[dict[str, Any], list[int] | None, list[int] | None]:
    unknown = set(data) - PROMO_FIELDS
    if unknown:
        raise ValueError(f"unknown promo code fields: {sorted(unknown)}")
    creating = current is None
    v = Validator(Code.VALIDATION_ERROR)
    out = {k: _strip(val) for k, val in data.items() if k not in ("movie_ids", "product_ids")}
    for key in ("applies_to", "is_active", "minimum_order_amount"):
        if key in out and out[key] is None:
            del out[key]  # null: the default on create, unchanged on update
    if out.get("description") is None and "description" in out:
        out["description"] = ""
    if creating or "code" in out:
        code = clean_code(out.get("code") or "")
        out["code"] = code
        v.check(
            bool(PROMO_CODE_RE.match(code)),
            "code",
            "A code is 3 to 40 letters, digits, '-' or '_'.",
        )
    _check_text(v, out.get("description"), "description", PROMO_DESCRIPTION_MAX)
    if out.get("applies_to") is not None:
        out["applies_to"] = PromoCodeAppliesTo(out["applies_to"]).value

    # Exactly one discount. On update, giving one kind replaces the other.
    percent = out.get("percent_off", current.percent_off if current else None)
    amount = out.get("amount_off", current.amount_off if current else None)
    if out.get("percent_off") is not None and "amount_off" not in out:
        amount = out["amount_off"] = None
    if out.get("amount_off") is not None and "percent_off" not in out:
        percent = out["percent_off"] = None
    if (percent is None) == (amount is None):
        v.add("percentOff", "Give exactly one of percentOff and amountOff.")
    if out.get("percent_off") is not None:
        p = out["percent_off"]
        v.check(
            p.is_finite() and Decimal(0) < p <= 100 and p == p.quantize(CENT),
            "percentOff",
            "A percentage above 0 and at most 100, with at most 2 decimals.",
        )
    if out.get("amount_off") is not None:
        a = out["amount_off"]
        v.check(_money_ok(a) and a > 0, "amountOff", "An amount above 0, at most 2 decimals.")
    minimum = out.get("minimum_order_amount")
    if minimum is not None:
        v.check(_money_ok(minimum), "minimumOrderAmount", "An amount >= 0 with at most 2 decimals.")
    for key, api in (("valid_from", "validFrom"), ("valid_until", "validUntil")):
        value = out.get(key)
        if isinstance(value, datetime):
            v.check(value.tzinfo is not None, api, "A time with its UTC offset.")
    start = out.get("valid_from", current.valid_from if current else None)
    end = out.get("valid_until", current.valid_until if current else None)
    if (
        isinstance(start, datetime)
        and isinstance(end, datetime)
        and start.tzinfo is not None
        and end.tzinfo is not None
    ):
        v.check(end > start, "validUntil", "validUntil must be after validFrom.")
    limit = out.get("usage_limit")
    if limit is not None:
        v.check(0 <= limit <= MAX_LIMIT, "usageLimit", "A usage limit is >= 0 (null: none).")
    per_user = out.get("per_user_limit")
    if per_user is not None:
        v.check(
            1 <= per_user <= MAX_LIMIT, "perUserLimit", "A per-user limit is >= 1 (null: none)."
        )
    ids: dict[str, list[int] | None] = {}
    for key, api in (("movie_ids", "movieIds"), ("product_ids", "productIds")):
        given = data.get(key)
        ids[key] = None if given is None else list(dict.fromkeys(given))
        if given is not None:
            v.check(len(ids[key] or []) <= MAX_RESTRICTIONS, api, f"At most {MAX_RESTRICTIONS}.")
    v.raise_if_any()
    return out, ids["movie_ids"], ids["product_ids"]


async def _check_code(session: AsyncSession, code: str, promo_id: int | None) -> None:
    stmt = select(PromoCode.id).where(func.lower(PromoCode.code) == code.lower())
    if promo_id is not None:
        stmt = stmt.where(PromoCode.id != promo_id)
    if await session.scalar(stmt) is not None:
        raise DomainError(Code.CODE_TAKEN, "Another promo code has this code.", "code")


async def _check_ids(
    session: AsyncSession, column: Any, ids: Sequence[int], field: str, what: str
) -> None:
    if not ids:
        return
    found = set((await session.scalars(select(column).where(column.in_(list(ids))))).all())
    if any(i not in found for i in ids):
        raise DomainError(Code.NOT_FOUND, f"Some {what} do not exist.", field)


async def _set_restrictions(
    session: AsyncSession,
    promo_id: int,
    movie_ids: Sequence[int] | None,
    product_ids: Sequence[int] | None,
) -> None:
    if movie_ids is not None:
        await _check_ids(session, Movie.id, movie_ids, "movieIds", "movies")
        await session.execute(
            delete(PromoCodeMovie).where(PromoCodeMovie.promo_code_id == promo_id)
        )
        if movie_ids:
            await session.execute(
                insert(PromoCodeMovie),
                [{"promo_code_id": promo_id, "movie_id": m} for m in movie_ids],
            )
    if product_ids is not None:
        await _check_ids(session, Product.id, product_ids, "productIds", "products")
        await session.execute(
            delete(PromoCodeProduct).where(PromoCodeProduct.promo_code_id == promo_id)
        )
        if product_ids:
            await session.execute(
                insert(PromoCodeProduct),
                [{"promo_code_id": promo_id, "product_id": p} for p in product_ids],
            )


async def _flush_promo(session: AsyncSession) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        text = str(exc.orig)
        if _CODE_CONSTRAINT in text:
            raise DomainError(Code.CODE_TAKEN, "Another promo code has this code.", "code") from exc
        if _TIMES_USED_CONSTRAINT in text:
            raise _below_used() from exc
        raise


def _below_used(times_used: int | None = None) -> DomainError:
    used = "" if times_used is None else f" ({times_used})"
    return DomainError(
        Code.USAGE_LIMIT_BELOW_TIMES_USED,
        f"The usage limit cannot be lower than the uses so far{used}.",
        "usageLimit",
    )


async def create_promo_code(
    session: AsyncSession, data: Mapping[str, Any], *, currency: str
) -> int:
    """A new promo code; amounts are in `currency` (the server's). Its id."""
    values, movie_ids, product_ids = _clean_promo(data, current=None)
    await _check_code(session, values["code"], None)
    promo = PromoCode(**values, currency=currency)
    session.add(promo)
    await _flush_promo(session)
    await _set_restrictions(session, promo.id, movie_ids, product_ids)
    return promo.id


async def update_promo_code(
    session: AsyncSession, promo_id: int, changes: Mapping[str, Any]
) -> None:
    # The row lock orders this after any checkout counting a use of the code.
    promo = await session.scalar(
        select(PromoCode).where(PromoCode.id == promo_id).with_for_update()
    )
    if promo is None:
        raise DomainError(Code.NOT_FOUND, "No such promo code.", "id")
    values, movie_ids, product_ids = _clean_promo(changes, current=promo)
    if "code" in values:
        await _check_code(session, values["code"], promo_id)
    limit = values.get("usage_limit")
    if limit is not None and limit < promo.times_used:
        raise _below_used(promo.times_used)
    for key, value in values.items():
        setattr(promo, key, value)
    promo.updated_at = func.now()
    await _flush_promo(session)
    await _set_restrictions(session, promo_id, movie_ids, product_ids)
