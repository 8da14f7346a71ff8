"""Pricing a cart: a hold, products and a promo code (docs/shop.md, "Pricing").

The SQL function `marquee_price_cart` (migration 0012_shop_functions) prices from the
database's own prices and reports what is wrong as codes; `checkout` runs the same function
under lock and then reserves stock and the promo code's use. This module prepares its
arguments and turns its answer into lines and `ErrorDetail`s, for `previewCheckout` and
`checkout` alike, so the cart page and the order always agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson

from db.errors import DomainError, ErrorDetail
from db.orders.codes import OrderErrorCode

C = OrderErrorCode

# Before general sale, checkout and payment judge the customer's opening again: loyalty
# points taken back by a refund (or a deactivated presale code) no longer admit them.
NOT_ON_SALE_FOR_YOU = (
    "Tickets for this showtime are not on sale for you yet: the loyalty points or the code "
    "that let you hold these seats no longer count."
)
MAX_PRODUCT_LINES = 20
MAX_QUANTITY = 20
MAX_PROMO_CODE_LENGTH = 40


@dataclass(frozen=True, slots=True)
class GuessLimit:
    """Unknown promo codes a customer may try per window (0: no limit): beyond it, no code
    is answered until the window ends, so codes cannot be found by trying."""

    attempts: int
    window_seconds: int

    def key(self, user_id: int) -> str:
        return f"promo-guess:{user_id}"


NO_GUESS_LIMIT = GuessLimit(0, 600)


def guessed_wrong(errors: Sequence[ErrorDetail]) -> bool:
    """Whether these errors answer an unknown (or inactive) code: a guess to count."""
    return any(e.extra.get("guess") for e in errors)


def too_many_guesses() -> ErrorDetail:
    """RATE_LIMITED: the customer's unknown codes of this window are used up."""
    return ErrorDetail(
        C.RATE_LIMITED,
        "Too many unknown promo codes tried; try again in a few minutes.",
        "promoCode",
    )


def unknown_code() -> ErrorDetail:
    """PROMO_CODE_INVALID for a code that does not exist (or is inactive), marked as a
    wrong guess (`guessed_wrong`)."""
    return ErrorDetail(C.PROMO_CODE_INVALID, "No such promo code.", "promoCode", {"guess": True})


@dataclass(frozen=True, slots=True)
class ProductLine:
    """A product the client asks for: `index` is its place in the input (for error fields);
    `variant_id` None means the product's only variant."""

    index: int
    product_id: int
    variant_id: int | None
    quantity: int


@dataclass(frozen=True, slots=True)
class PricedLine:
    kind: str
    description: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    showtime_id: int | None
    seat_id: int | None
    product_id: int | None
    variant_id: int | None


@dataclass(frozen=True, slots=True)
class CartPrice:
    """What a checkout would cost now; `currency` is None when nothing could be priced."""

    currency: str | None
    subtotal: Decimal
    discount: Decimal
    total: Decimal
    promo_code: str | None
    lines: list[PricedLine]
    errors: list[ErrorDetail]


def cart_arguments(
    products: Sequence[ProductLine], promo_code: str | None
) -> tuple[str, str | None]:
    """The function's `p_products` (JSON text) and `p_promo`, after the checks no database
    is needed for. Lines of the same product and variant are merged (the first one's index
    names them in errors). Raises DomainError(VALIDATION_ERROR) listing every problem."""
    details: list[ErrorDetail] = []
    if len(products) > MAX_PRODUCT_LINES:
        details.append(
            ErrorDetail(
                C.VALIDATION_ERROR, f"At most {MAX_PRODUCT_LINES} product lines.", "products"
            )
        )
    merged: dict[tuple[int, int | None], dict[str, Any]] = {}
    for line in products:
        if not 1 <= line.quantity <= MAX_QUANTITY:
            details.append(
                ErrorDetail(
                    C.VALIDATION_ERROR,
                    f"Quantity must be 1 to {MAX_QUANTITY}.",
                    f"products.{line.index}.quantity",
                )
            )
            continue
        key = (line.product_id, line.variant_id)
        if key in merged:
            merged[key]["quantity"] += line.quantity
            if merged[key]["quantity"] > MAX_QUANTITY:
                details.append(
                    ErrorDetail(
                        C.VALIDATION_ERROR,
                        f"At most {MAX_QUANTITY} of one product and variant per order.",
                        f"products.{line.index}.quantity",
                    )
                )
        else:
            merged[key] = {
                "index": line.index,
                "product_id": line.product_id,
                "variant_id": line.variant_id,
                "quantity": line.quantity,
            }
    code = promo_code.strip() if promo_code is not None else None
    if code is not None and not 0 < len(code) <= MAX_PROMO_CODE_LENGTH:
        details.append(unknown_code())
    if details:
        raise DomainError(details=details)
    return orjson.dumps(list(merged.values())).decode(), code or None


def _money_text(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


def pricing_error(error: dict[str, Any]) -> ErrorDetail:
    """One error of `marquee_price_cart` (or of checkout under lock) as an ErrorDetail."""
    code = error["code"]
    index = error.get("index")
    name = error.get("name") or "This product"
    product_field = f"products.{index}" if index is not None else "products"
    detail = error.get("detail")
    match code:
        case "NOT_FOUND":
            return ErrorDetail(C.NOT_FOUND, "No such hold.", "holdId")
        case "HOLD_EXPIRED":
            return ErrorDetail(
                C.HOLD_EXPIRED,
                "This hold has expired (or its order was cancelled); hold the seats again.",
                "holdId",
            )
        case "EMPTY":
            return ErrorDetail(C.HOLD_EXPIRED, "This hold has no seats left.", "holdId")
        case "NOT_BOOKABLE":
            return ErrorDetail(
                C.SHOWTIME_NOT_BOOKABLE, "This showtime is cancelled or has started.", "holdId"
            )
        case "NOT_YET":
            return ErrorDetail(C.SHOWTIME_NOT_BOOKABLE, NOT_ON_SALE_FOR_YOU, "holdId")
        case "UNPRICED":
            return ErrorDetail(
                C.SHOWTIME_NOT_BOOKABLE, f"This showtime has no price for {detail} seats.", "holdId"
            )
        case "MIXED_CURRENCIES":
            return ErrorDetail(
                C.SHOWTIME_NOT_BOOKABLE, "This showtime's prices mix currencies.", "holdId"
            )
        case "PRODUCT_NOT_FOUND":
            return ErrorDetail(
                C.NOT_FOUND, "No such product on sale.", f"{product_field}.productId"
            )
        case "VARIANT_NOT_FOUND":
            return ErrorDetail(
                C.NOT_FOUND, f"{name} has no such variant on sale.", f"{product_field}.variantId"
            )
        case "VARIANT_REQUIRED":
            return ErrorDetail(
                C.VALIDATION_ERROR,
                f"{name} comes in several variants: choose one.",
                f"{product_field}.variantId",
            )
        case "NOT_SOLD_HERE":
            return ErrorDetail(
                C.NOT_FOUND, f"{name} is not sold at this cinema.", f"{product_field}.productId"
            )
        case "PRODUCT_CURRENCY":
            return ErrorDetail(
                C.VALIDATION_ERROR,
                f"{name} is priced in {detail}, unlike the tickets.",
                f"{product_field}.productId",
            )
        case "OUT_OF_STOCK":
            available = int(error["available"])
            message = (
                f"{name} is sold out." if available == 0 else f"Only {available} left of {name}."
            )
            return ErrorDetail(
                C.OUT_OF_STOCK,
                message,
                f"{product_field}.quantity" if index is not None else "products",
                {"variant_pk": int(error["variant_id"]), "available": available},
            )
        case "CUSTOMER_LIMIT":
            more = int(error["detail"])
            return ErrorDetail(
                C.VALIDATION_ERROR,
                f"At most {MAX_QUANTITY} of {name} per customer in orders awaiting payment; "
                + (f"you may add {more} more." if more else "pay or cancel those first."),
                f"{product_field}.quantity" if index is not None else "products",
            )
        case "PROMO_CODE_INVALID":
            return unknown_code()
        case "PROMO_CODE_GUESSES":
            return too_many_guesses()
        case "PROMO_CODE_NOT_YET":
            return ErrorDetail(
                C.PROMO_CODE_INVALID,
                f"This promo code is valid from {error['at']}.",
                "promoCode",
            )
        case "PROMO_CODE_ENDED":
            return ErrorDetail(
                C.PROMO_CODE_INVALID, f"This promo code ended at {error['at']}.", "promoCode"
            )
        case "PROMO_CODE_USED_UP":
            return ErrorDetail(
                C.PROMO_CODE_EXHAUSTED, "This promo code has been used up.", "promoCode"
            )
        case "PROMO_CODE_USER_LIMIT":
            times = "once" if str(detail) == "1" else f"{detail} times"
            return ErrorDetail(
                C.PROMO_CODE_EXHAUSTED,
                f"This promo code can be used {times} per customer, and you have.",
                "promoCode",
            )
        case "PROMO_CODE_NOTHING_ELIGIBLE":
            return ErrorDetail(
                C.PROMO_CODE_NOT_APPLICABLE,
                "This promo code applies to nothing in this order.",
                "promoCode",
            )
        case "PROMO_CODE_CURRENCY":
            return ErrorDetail(
                C.PROMO_CODE_NOT_APPLICABLE,
                f"This promo code is for orders in {detail}.",
                "promoCode",
            )
        case "PROMO_CODE_MINIMUM":
            return ErrorDetail(
                C.PROMO_CODE_NOT_APPLICABLE,
                f"This promo code needs an order of at least {_money_text(detail)} "
                f"{error.get('currency')}.",
                "promoCode",
            )
    raise ValueError(f"unknown pricing outcome {code!r}")


CENT = Decimal("0.01")


def decode_json(value: Any) -> Any:
    """A jsonb value as the driver returns it (text, numbers read as exact Decimals)."""
    return json.loads(value, parse_float=Decimal) if isinstance(value, (str, bytes)) else value


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value is not None else 0)).quantize(CENT)


def cart_price(raw: Any) -> CartPrice:
    """The answer of `marquee_price_cart` as a CartPrice."""
    data = decode_json(raw)
    lines = [
        PricedLine(
            kind=line["kind"],
            description=line["description"],
            quantity=int(line["quantity"]),
            unit_price=_money(line["unit_price"]),
            discount=_money(line["discount"]),
            showtime_id=line.get("showtime_id"),
            seat_id=line.get("seat_id"),
            product_id=line.get("product_id"),
            variant_id=line.get("variant_id"),
        )
        for line in data.get("lines") or []
    ]
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0.00"))
    discount = _money(data.get("discount"))
    return CartPrice(
        currency=data.get("currency"),
        subtotal=subtotal,
        discount=discount,
        total=subtotal - discount,
        promo_code=data.get("promo_code"),
        lines=lines,
        errors=[pricing_error(e) for e in data.get("errors") or []],
    )
