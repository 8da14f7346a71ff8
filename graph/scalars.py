"""Shared value types: Money (Decimal amount as a string + currency).

`DateTime` is strawberry's built-in `datetime` scalar: ISO-8601 with offset (the database
stores timestamptz, so every value carries its offset).
"""

from __future__ import annotations

from decimal import Decimal

import strawberry


@strawberry.type(description="An amount of money; the amount is a decimal string, never a float.")
class Money:
    amount: Decimal = strawberry.field(description='Decimal amount, e.g. "12.50".')
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. EUR.")
