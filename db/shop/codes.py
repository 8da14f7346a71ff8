"""Codes and enumerations of the shop domain (products, variants, promo codes)."""

from __future__ import annotations

import re
from enum import StrEnum


class ProductCategory(StrEnum):
    SNACK = "SNACK"
    DRINK = "DRINK"
    COMBO = "COMBO"
    MERCHANDISE = "MERCHANDISE"


class PromoCodeAppliesTo(StrEnum):
    ORDER = "ORDER"
    TICKETS = "TICKETS"
    PRODUCTS = "PRODUCTS"


class ShopErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_FOUND = "NOT_FOUND"
    # Another product (or variant) already has this SKU.
    SKU_TAKEN = "SKU_TAKEN"
    # Another promo code already has this code, in any letter case.
    CODE_TAKEN = "CODE_TAKEN"
    # The product has been sold (order lines name it): deactivate it instead of deleting.
    PRODUCT_SOLD = "PRODUCT_SOLD"
    # A promo code's usage limit may not go below the uses it already has.
    USAGE_LIMIT_BELOW_TIMES_USED = "USAGE_LIMIT_BELOW_TIMES_USED"


# SKUs: letters, digits, '.', '_' and '-', starting with a letter or digit; stored upper-case.
SKU_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,63}$")
# Promo codes: 3 to 40 letters, digits, '-' and '_'; stored upper-case, matched in any case.
PROMO_CODE_RE = re.compile(r"^[A-Z0-9_-]{3,40}$")
DEFAULT_VARIANT_NAME = "Standard"
MAX_VARIANTS = 20
MAX_CINEMAS = 100
MAX_RESTRICTIONS = 100
